"""style/dream.py and the zentangle mode of style/transfer.py."""

from __future__ import annotations

import pytest
import torch

from marcus.errors import UserError
from style.dream import DreamSettings, activation_gradient, dream, octave_sizes
from style.features import random_feature_net
from style.transfer import Style, TransferSettings, silhouette_mask, zentangle

NET = random_feature_net(seed=0, depth=16, width_divisor=8)


def _image(seed: int, h: int, w: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, h // 8 + 1, w // 8 + 1, generator=g)
    return torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear").clamp(0, 1)


def test_octaves_grow_by_their_scale_to_the_largest_size():
    assert octave_sizes(DreamSettings(octaves=3, octave_scale=2.0, max_px=400)) == [100, 200,
                                                                                     400]


def climb(net, image: torch.Tensor, settings: DreamSettings
          ) -> tuple[float, float, torch.Tensor]:
    """(objective before, after, the dreamed image)."""
    before, _ = activation_gradient(net, image, settings.layers)
    out = dream(image, net, settings)
    return before, activation_gradient(net, out, settings.layers)[0], out


def test_dreaming_raises_the_layers_activation_and_is_reproducible():
    image = _image(1, 64, 48)
    settings = DreamSettings(layers=("relu3_1",), octaves=2, steps_per_octave=6, max_px=64,
                             jitter_px=8, step_size=0.02)
    before, after, out = climb(NET, image, settings)
    assert out.shape == (1, 3, 64, 48)
    assert after > 1.2 * before, (before, after)
    assert torch.equal(out, dream(image, NET, settings))
    assert not torch.equal(out, dream(image, NET, DreamSettings(**{**settings.__dict__,
                                                                   "seed": 1})))


def test_the_tiled_dream_gradient_equals_the_untiled_one():
    image = _image(2, 200, 136)
    layers = ("relu3_3", "relu4_1")
    value, grad = activation_gradient(NET, image, layers)
    tiled_value, tiled = activation_gradient(NET, image, layers, tile_px=120)
    assert abs(tiled_value - value) <= 1e-5 * abs(value)
    assert (tiled - grad).abs().max() <= 1e-4 * grad.abs().max()


def test_dream_settings_are_checked_against_the_network():
    with pytest.raises(UserError, match=r"dream layers \['relu9_9'\]"):
        dream(_image(1, 32, 32), NET, DreamSettings(layers=("relu9_9",)))
    with pytest.raises(UserError, match="octaves"):
        dream(_image(1, 32, 32), NET, DreamSettings(octaves=0))


def test_a_zentangle_fills_the_silhouette_with_the_pattern_and_keeps_the_background():
    h = w = 48
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    figure = ((yy - 24) ** 2 + (xx - 24) ** 2 < 15 ** 2).float()
    silhouette = (1 - figure).expand(1, 3, h, w).contiguous()      # black disc on white
    mask = silhouette_mask(silhouette)
    assert torch.equal(mask, figure)
    stripes = (torch.sin(torch.arange(64).float() / 1.2)[None, :] * torch.ones(64, 1) + 1) / 2
    pattern = torch.stack([0.9 * stripes, 0.2 * stripes, 0.1 + 0.0 * stripes])[None]
    settings = TransferSettings(min_px=32, max_px=48, steps_per_scale=(25,),
                                style_layers=("relu1_1", "relu2_1", "relu3_1"),
                                content_layers=("relu3_1",), content_weight=0.05)
    out = zentangle(silhouette, [Style(pattern)], NET, settings, mask,
                    background=(0.0, 0.5, 0.0))
    outside = out[0, :, figure == 0]
    assert torch.allclose(outside, torch.tensor([0.0, 0.5, 0.0])[:, None])
    inside = out[0, :, figure == 1]
    assert inside[0].mean() > inside[2].mean() + 0.2          # red stripes, not the black disc
    assert inside[0].std() > 0.05                             # a pattern, not a flat fill
    with pytest.raises(UserError, match="mask is empty"):
        zentangle(silhouette, [Style(pattern)], NET, settings, torch.zeros(h, w))
