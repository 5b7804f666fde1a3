"""style/metrics.py: the texture distance to the style falls when the style is taken, and the
content's structure is measured at a quarter of the size."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from style.features import random_feature_net
from style.metrics import style_scores
from style.transfer import Style, TransferSettings, stylize


def _content() -> torch.Tensor:
    y, x = torch.meshgrid(torch.linspace(0, 1, 96), torch.linspace(0, 1, 96), indexing="ij")
    disc = ((y - 0.5) ** 2 + (x - 0.5) ** 2 < 0.08).float()
    return torch.stack([0.2 + 0.6 * x, 0.3 + 0.4 * y, 0.5 * (1 - disc) + 0.4 * disc])[None]


def _style() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    stripes = (torch.sin(torch.arange(128).float() / 1.5)[None, :] * torch.ones(128, 1) + 1) / 2
    base = torch.stack([0.9 * stripes, 0.3 * stripes, 0.1 * (1 - stripes)])
    return (base + 0.1 * torch.rand(3, 128, 128, generator=g)).clamp(0, 1)[None]


def test_the_content_scores_as_itself_and_a_transfer_moves_towards_the_style():
    content, style = _content(), _style()
    same = style_scores(content, content, [style], crop_px=64, count=8)
    assert same["ssim_y_quarter"] == 1.0 and same["swd_ratio"] == 1.0
    net = random_feature_net(seed=0, depth=16, width_divisor=8)
    out = stylize(content, [Style(style)], net, TransferSettings(
        min_px=64, max_px=96, steps_per_scale=(30,), style_weight=30.0,
        style_layers=("relu1_1", "relu2_1", "relu3_1"), content_layers=("relu3_1",)))
    scores = style_scores(out, content, [style], crop_px=64, count=8)
    assert scores["swd_ratio"] < 0.8, scores
    assert 0 < scores["ssim_y_quarter"] < 1
    assert scores == style_scores(out, content, [style], crop_px=64, count=8)  # seeded


def test_the_style_is_scored_at_the_scale_the_transfer_took_it():
    """A result at two thirds of the content's size whose texture is the style reduced alike
    (what a perfect transfer at style_scale 1 paints) is close to the style; scored against
    the style at its own size, the same texture would look twice as far. style_scale counts
    too: the same result is far from a style asked for at twice the size."""
    content, style = _content(), _style()                    # 96 px and 128 px
    result = F.interpolate(style, size=(85, 85), mode="bicubic", align_corners=False,
                           antialias=True).clamp(0, 1)[..., :64, :64]
    scores = style_scores(result, content, [style], crop_px=32, count=8)
    unscaled = style_scores(result, content[..., :64, :64], [style], crop_px=32, count=8)
    doubled = style_scores(result, content, [style], crop_px=32, count=8, style_scale=2.0)
    assert scores["swd_to_style"] < 0.5 * unscaled["swd_to_style"], (scores, unscaled)
    assert scores["swd_to_style"] < 0.5 * doubled["swd_to_style"], (scores, doubled)
