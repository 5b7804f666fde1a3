"""Augmentation (train/augment.py): exactness of the integer transforms, the colour transforms,
gradients through the pipeline, and the ADA controller.

Everything runs on 16 px synthetic paintings, in seconds on a CPU.
"""

from __future__ import annotations

import types

import pytest
import torch

from tests.images import painting_tensors
from train.augment import AdaptiveAugment, AugmentPipe

GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate")
COLOUR = ("brightness", "contrast", "lumaflip", "hue", "saturation")


def only(*names: str, p: float = 1.0) -> AugmentPipe:
    pipe = AugmentPipe(**{name: float(name in names) for name in GEOMETRIC + COLOUR})
    pipe.p.fill_(p)
    return pipe


# ---- augmentation ------------------------------------------------------------------------------


def test_p_zero_is_the_identity():
    x = painting_tensors(4)
    assert AugmentPipe()(x) is x
    assert only(*GEOMETRIC, *COLOUR, p=0.0)(x) is x


def test_flip_and_quarter_turns_are_exact():
    torch.manual_seed(0)
    x = painting_tensors(16)
    flipped = only("xflip")(x)
    kinds = set()
    for a, b in zip(x, flipped, strict=True):
        same, mirror = torch.allclose(a, b, atol=1e-5), torch.allclose(a.flip(-1), b, atol=1e-5)
        assert same or mirror
        kinds.add(mirror)
    assert kinds == {False, True}
    turned = only("rotate90")(x)
    quarters = set()
    for a, b in zip(x, turned, strict=True):
        k = [k for k in range(4) if torch.allclose(torch.rot90(a, k, dims=(1, 2)), b, atol=1e-5)]
        assert len(k) == 1
        quarters.add(k[0])
    assert len(quarters) >= 3


def test_integer_translation_moves_whole_pixels():
    torch.manual_seed(0)
    x = painting_tensors(8)
    shifted = only("xint")(x)
    moved = 0
    for a, b in zip(x, shifted, strict=True):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if torch.allclose(b[:, 2:-2, 2:-2], a[:, 2 + dy:14 + dy, 2 + dx:14 + dx],
                                   atol=1e-5)]
        assert found, "not a whole-pixel shift"
        moved += found[0] != (0, 0)
    assert moved >= 4


def test_colour_transforms():
    torch.manual_seed(0)
    x = painting_tensors(8)
    y = only("brightness")(x)
    offset = (y - x).flatten(1)
    torch.testing.assert_close(offset, offset[:, :1].expand_as(offset), atol=1e-5, rtol=0)
    assert offset[:, 0].abs().max() > 0.01
    # Hue rotates about the grey axis: the mean of R, G, B is kept, the colours are not.
    y = only("hue")(x)
    torch.testing.assert_close(y.mean(dim=1), x.mean(dim=1), atol=1e-5, rtol=0)
    assert (y - x).abs().max() > 0.1
    # Greys are fixed points of hue and saturation; luma flip negates them or keeps them.
    grey = torch.rand(8, 1, 16, 16).repeat(1, 3, 1, 1) * 2 - 1
    torch.testing.assert_close(only("hue", "saturation")(grey), grey, atol=1e-5, rtol=0)
    flipped = only("lumaflip")(grey)
    for a, b in zip(grey, flipped, strict=True):
        assert torch.allclose(a, b, atol=1e-5) or torch.allclose(-a, b, atol=1e-5)


def test_geometric_transforms_pass_gradients_and_are_seeded():
    x = painting_tensors(8).requires_grad_(True)
    pipe = only(*GEOMETRIC, p=0.8)
    torch.manual_seed(5)
    y = pipe(x)
    (y * torch.linspace(-1, 1, 16)).sum().backward()
    assert torch.isfinite(x.grad).all() and (x.grad.abs().sum(dim=[1, 2, 3]) > 0).all()
    torch.manual_seed(5)
    assert torch.equal(pipe(x), y)
    assert not torch.equal(pipe(x), y)   # the next draw differs


def test_full_pipeline_keeps_range_plausible_and_shape():
    torch.manual_seed(0)
    pipe = AugmentPipe()
    pipe.p.fill_(0.5)
    x = painting_tensors(16)
    y = pipe(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert not torch.equal(x, y)
    with pytest.raises(ValueError, match="N, C, H, W"):
        pipe(x[0])


# ---- the ADA controller ------------------------------------------------------------------------


def test_controller_moves_p_by_the_ada_step():
    ada = AdaptiveAugment(target=0.6, speed_kimg=1, batch_size=10, interval_steps=5)
    step = 10 * 5 / 1000
    ada.accumulate(torch.ones(10))
    assert ada.update() == pytest.approx(step) and ada.rt == 1.0
    ada.accumulate(torch.tensor([1.0, 1.0, 1.0, -1.0]))          # r_t = 0.5 < 0.6
    assert ada.update() == pytest.approx(0.0)
    ada.accumulate(-torch.ones(10))
    assert ada.update() == 0.0                                     # clamped at 0
    assert ada.update() == 0.0                                     # no signs: unchanged
    for _ in range(30):
        ada.accumulate(torch.ones(4))
        ada.update()
    assert ada.p == ada.p_max < 1                                  # clamped below 1
    ada.accumulate(torch.tensor([1.0, -1.0]))
    saved = ada.state_dict()
    other = AdaptiveAugment(target=0.6, speed_kimg=1, batch_size=10, interval_steps=5)
    other.load_state_dict(saved)
    assert other.update() == ada.update() < ada.p_max              # r_t = 0: p falls
    with pytest.raises(ValueError):
        AdaptiveAugment(p=1.0)


def test_controller_reads_dist_like_objects():
    """update() all-reduces only when told the run is distributed."""
    ada = AdaptiveAugment(speed_kimg=1, batch_size=4, interval_steps=1)
    ada.accumulate(torch.ones(4))
    assert ada.update(types.SimpleNamespace(enabled=False)) == pytest.approx(0.004)
