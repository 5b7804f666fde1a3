"""Tiling (train/tiling.py): tiled equals untiled for every factor, with and without the projection
and on disk; too little overlap is refused (and would be wrong); clear errors; a chain of two
passes streams through disk and composes.

Networks are tiny (8 channels) with randomised weights, so the detail branch is far from zero
and a tiling or projection mistake shows.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.images import noise
from tests.train.helpers import random_model, to_tensor
from train.tiling import DiskImage, upscale, upscale_chain
from train.upscaler import CompactSR, box_down, receptive_radius


@pytest.mark.parametrize("factor", [2, 4, 8])
@pytest.mark.parametrize("with_projection", [False, True])
def test_tiled_equals_untiled(factor, with_projection, tmp_path):
    model = random_model(factor)
    image = noise((53, 70, 3), dtype=np.float32)
    radius = receptive_radius(model)
    whole = upscale(model, image, tile_px=200, project=with_projection)
    tiled = upscale(model, image, tile_px=2 * radius + 3, project=with_projection)
    on_disk = upscale(model, image, tile_px=2 * radius + 5, project=with_projection,
                      out=tmp_path / "out.f32")
    assert isinstance(on_disk, DiskImage)
    assert np.abs(whole - tiled).max() < 1e-4
    assert np.abs(whole - np.asarray(on_disk)).max() < 1e-4
    # The tiles really are different computations: too little overlap breaks equality.
    with torch.no_grad():
        direct = model(to_tensor(image))[0].permute(1, 2, 0).numpy()
    if not with_projection:
        assert np.abs(whole - direct).max() < 1e-4


def test_too_little_overlap_is_refused_and_would_be_wrong():
    model = random_model(4)
    image = noise((40, 40, 3), dtype=np.float32)
    radius = receptive_radius(model)
    with pytest.raises(ValueError, match="receptive radius"):
        upscale(model, image, tile_px=16, overlap_px=radius - 1)
    # What the check prevents: bypass it and the seams show.
    import train.tiling as tiling
    original = tiling.validate
    tiling.validate = lambda *args: None
    try:
        seamy = upscale(model, image, tile_px=16, overlap_px=radius - 2)
    finally:
        tiling.validate = original
    assert np.abs(seamy - upscale(model, image, tile_px=100)).max() > 1e-3


def test_bad_inputs_have_clear_errors(tmp_path):
    model = random_model(4)
    radius = receptive_radius(model)
    with pytest.raises(ValueError, match="leaves no core"):
        upscale(model, noise((20, 20, 3), dtype=np.float32), tile_px=2 * radius)
    with pytest.raises(ValueError, match=r"\[H, W, 3\]"):
        upscale(model, np.zeros((20, 20), np.float32))
    with pytest.raises(ValueError, match="factor must be one of"):
        CompactSR(factor=3)
    with pytest.raises(ValueError, match="out has shape"):
        upscale(model, noise((5, 5, 3), dtype=np.float32), out=np.zeros((10, 10, 3), np.float32))
    with pytest.raises(RuntimeError, match="on disk"):
        DiskImage(tmp_path / "huge.f32", 10**7, 10**7)  # 1.2 PB


def test_chain_of_two_passes_streams_through_disk_and_composes(tmp_path):
    model = random_model(4)
    image = noise((9, 14, 3), dtype=np.float32)
    radius = receptive_radius(model)
    out = upscale_chain([model, model], image, tile_px=2 * radius + 6, workdir=tmp_path)
    assert out.shape == (144, 224, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pass1.f32"]  # pass0 deleted
    once = upscale(model, image, tile_px=100, project=True)
    twice = upscale(model, once, tile_px=100, project=True)
    result = np.asarray(out)
    assert np.abs(result - twice).max() < 1e-4
    # Projections compose: the x16 print box-downscales to the painting itself.
    assert (box_down(to_tensor(result), 16) - to_tensor(image)).abs().max() < 1e-5
