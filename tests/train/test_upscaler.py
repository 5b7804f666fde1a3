"""The upscaler network (train/upscaler.py): shapes for every factor and odd sizes, a fresh model
near bilinear, an exact receptive radius, and the projection onto the images that box-downscale
to the input. Tiling is tested in test_tiling.py, training in test_train_upscaler.py.

Networks are tiny (8 channels) with randomised weights, so the detail branch is far from zero.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.images import noise
from tests.train.helpers import random_model, to_tensor
from train.tiling import upscale
from train.upscaler import (
    CompactSR,
    PatchDiscriminator,
    box_down,
    lattice_loss,
    nearest_up,
    phase_pattern,
    project,
    receptive_radius,
)


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_shapes_for_every_factor_and_odd_sizes(factor):
    model = random_model(factor)
    for h, w in [(13, 7), (1, 1), (5, 16)]:
        out = model(to_tensor(noise((h, w, 3), dtype=np.float32)))
        assert out.shape == (1, 3, h * factor, w * factor)
        image = noise((h, w, 3), dtype=np.float32)
        assert upscale(model, image, tile_px=64).shape == (h * factor, w * factor, 3)
    logits = PatchDiscriminator(channels=4)(torch.rand(2, 3, 32, 48))
    assert logits.shape == (2, 1, 8, 12)


def test_a_fresh_model_starts_near_bilinear():
    model = CompactSR(factor=4, channels=8, body_convs=2)
    x = to_tensor(noise((12, 10, 3), dtype=np.float32))
    bilinear = torch.nn.functional.interpolate(x, scale_factor=4, mode="bilinear")
    assert (model(x) - bilinear).abs().mean() < 0.05


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_a_fresh_model_s_detail_is_the_same_in_every_pixel_of_a_cell(factor):
    """ICNR: the sub-pixel convolution starts with one kernel shared by a cell's pixels, so
    at the start it cannot print a pattern from pixel to pixel within the cell."""
    torch.manual_seed(0)
    model = CompactSR(factor=factor, channels=8, body_convs=1)
    detail = model.shuffle(model.features(to_tensor(noise((9, 7, 3), dtype=np.float32))))
    cells = detail.reshape(1, 3, 9, factor, 7, factor)
    assert detail.abs().max() > 0
    assert torch.equal(cells, cells[:, :, :, :1, :, :1].expand_as(cells))


def test_the_lattice_loss_sees_a_pattern_repeated_in_every_cell_and_crop_not_the_pictures():
    torch.manual_seed(0)
    hr = torch.rand(8, 3, 32, 48)
    dots = torch.zeros(1, 3, 32, 48)
    dots[..., ::4, ::4] = 0.02                                    # one sub-pixel of every cell
    assert lattice_loss(hr, hr, 4) == 0
    pattern = phase_pattern(hr + dots, 4) - phase_pattern(hr, 4)
    torch.testing.assert_close(pattern, phase_pattern(dots, 4).expand_as(pattern))
    assert float(pattern[0, 0, 0, 0]) == pytest.approx(0.02 * 15 / 16, rel=1e-5)
    assert float(lattice_loss(hr + dots, hr, 4)) == pytest.approx(
        float(pattern[0].square().mean()), rel=1e-4)
    # Detail that differs from cell to cell and crop to crop (noise) costs far less than a
    # lattice of the same power: the per-cell means and the batch mean average it away.
    rough = torch.randn(8, 3, 32, 48) * float(dots.std())
    assert lattice_loss(hr + rough, hr, 4) < lattice_loss(hr + dots, hr, 4) / 100


def test_receptive_radius_is_exact():
    """Changing one input pixel changes output blocks exactly `radius` pixels away, never
    further: the radius is neither an underestimate (tiles would differ) nor an overestimate."""
    model = random_model(4, body_convs=3)
    radius = receptive_radius(model)
    assert radius == 3 + 2
    x = to_tensor(noise((31, 31, 3), dtype=np.float32))
    y = x.clone()
    y[0, :, 15, 15] += 0.5
    with torch.no_grad():
        changed = (box_down((model(x) - model(y)).abs(), 4).amax(dim=1)[0] > 0).nonzero()
    reach = (changed - 15).abs().max().item()
    assert reach == radius


def test_projection_is_exact_clamped_and_nearest():
    torch.manual_seed(1)
    x = torch.rand(2, 3, 9, 11)
    x[0, 0, :3] = 0.0  # blocks whose target is the edge of [0, 1]
    x[0, 1, :3] = 1.0
    y = torch.randn(2, 3, 36, 44) * 0.5 + 0.5  # far outside [0, 1] in places
    p = project(y, x, 4)
    assert (box_down(p, 4) - x).abs().max() < 1e-6
    assert p.min() > -1e-6 and p.max() < 1 + 1e-6
    unclamped = project(y, x, 4, clamp=False)
    assert (box_down(unclamped, 4) - x).abs().max() < 1e-6
    assert (unclamped - y - nearest_up(x - box_down(y, 4), 4)).abs().max() < 1e-6
    # Idempotent, and it moves an already consistent image by nothing.
    assert (project(p, x, 4) - p).abs().max() < 1e-6
    # Nearest: any other feasible point (here the flat upscale of x) is no closer to y.
    assert (p - y).square().sum() <= (nearest_up(x, 4) - y).square().sum()
