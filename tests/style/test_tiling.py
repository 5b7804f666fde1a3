"""style/tiling.py: the loss and its gradient tile by tile equal the untiled ones, with masks,
several regions and every style loss; and a transfer run tiled ends where the untiled run does."""

from __future__ import annotations

import pytest
import torch

from style.features import random_feature_net
from style.tiling import margin_for, tiled_loss_and_grad, windows
from style.transfer import Objective, Style, TransferSettings, stylize

NET = random_feature_net(seed=0, depth=16, width_divisor=8)
LAYERS = dict(style_layers=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
              content_layers=("relu4_2",))


def _image(seed: int, h: int, w: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, h // 8 + 1, w // 8 + 1, generator=g)
    smooth = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear")
    return (0.7 * smooth + 0.3 * torch.rand(1, 3, h, w, generator=g)).clamp(0, 1)


def test_tiles_cover_the_image_once_with_cores_on_the_stride_grid():
    tiles = windows(200, 130, tile_px=208, margin=80, stride=16)
    covered = torch.zeros(200, 130, dtype=torch.int32)
    for t in tiles:
        covered[t.core_top:t.core_bottom, t.core_left:t.core_right] += 1
        assert t.top % 16 == 0 and t.left % 16 == 0
        assert t.core_top - t.top in (0, 80) or t.top == 0
    assert bool((covered == 1).all())
    assert len(tiles) == 5 * 3


@pytest.mark.parametrize("style_loss", ["gram", "meancov", "wasserstein"])
def test_the_tiled_gradient_equals_the_untiled_one(style_loss):
    content, image = _image(1, 200, 168), _image(2, 200, 168)
    left = torch.zeros(200, 168)
    left[:, :70] = 1
    styles = [Style(_image(3, 96, 96), mask=left), Style(_image(4, 80, 112), mask=1 - left),
              Style(_image(5, 64, 64), weight=0.5, mask=1 - left)]
    content_mask = torch.ones(200, 168)
    content_mask[150:] = 0.25
    settings = TransferSettings(style_loss=style_loss, tv_weight=0.5, **LAYERS)
    objective = Objective(NET, content, styles, settings, content_mask)
    margin, stride = margin_for(objective.net, objective.layers)
    assert (margin, stride) == (80, 16)

    whole = image.clone().requires_grad_(True)
    loss, parts = objective.loss(whole)
    loss.backward()
    tiled_loss, tiled_parts, grad = tiled_loss_and_grad(objective, image, tile_px=208)
    assert len(windows(200, 168, 208, margin, stride)) > 4
    torch.testing.assert_close(tiled_loss, loss.detach(), rtol=1e-4, atol=0)
    relative = (grad - whole.grad).abs().max() / whole.grad.abs().max()
    assert relative <= 1e-4, float(relative)


def test_without_margins_the_tiles_would_not_add_up():
    # The check above can fail: the same sum with cores read without their margins is wrong.
    content, image = _image(1, 160, 160), _image(2, 160, 160)
    objective = Objective(NET, content, [Style(_image(3, 96, 96))],
                          TransferSettings(**LAYERS), None)
    whole = image.clone().requires_grad_(True)
    objective.loss(whole)[0].backward()
    import style.tiling as tiling
    original = tiling.margin_for
    tiling.margin_for = lambda net, layers: (0, 16)
    try:
        _, _, grad = tiled_loss_and_grad(objective, image, tile_px=64)
    finally:
        tiling.margin_for = original
    assert (grad - whole.grad).abs().max() / whole.grad.abs().max() > 1e-2


def test_a_tiled_transfer_ends_where_the_untiled_one_does():
    content, style = _image(1, 96, 80), _image(3, 96, 96)
    common = dict(min_px=96, max_px=96, steps_per_scale=(5,), optimizer="adam", lr=0.02,
                  pyramid_levels=1,   # Adam's sign-like steps would amplify rounding in octaves
                  style_layers=("relu1_1", "relu2_1", "relu3_1"), content_layers=("relu3_1",))
    untiled = stylize(content, [Style(style)], NET, TransferSettings(**common))
    tiled = stylize(content, [Style(style)], NET, TransferSettings(**common, tile_px=64))
    # Adam's steps amplify float rounding where a gradient is near 0: well below 1/255 here
    assert (tiled - untiled).abs().max() < 1e-3


@pytest.mark.parametrize("variables", [{"pyramid_levels": 3}, {"variables": "spectrum"}],
                         ids=["pyramid", "spectrum"])
def test_through_pyramid_octaves_or_a_spectrum_a_tiled_transfer_ends_where_the_untiled_one_does(
        variables):
    # L-BFGS without line search: its steps are linear in the gradients, so a difference in
    # the variables' gradients would show (Adam's sign-like first steps would amplify rounding)
    content, style = _image(1, 96, 80), _image(3, 96, 96)
    common = dict(min_px=96, max_px=96, steps_per_scale=(4,), **variables,
                  style_layers=("relu1_1", "relu2_1", "relu3_1"), content_layers=("relu3_1",))
    untiled = stylize(content, [Style(style)], NET, TransferSettings(**common))
    tiled = stylize(content, [Style(style)], NET, TransferSettings(**common, tile_px=64))
    assert (untiled - content).abs().max() > 0.01                 # it did move
    assert (tiled - untiled).abs().max() < 1e-4
