"""The loss of style transfer and its gradient, computed tile by tile, equal to the untiled ones.

    loss, parts, grad = tiled_loss_and_grad(objective, image, tile_px=512)

The loss depends on the image only through sums over feature pixels (style/transfer.py
``Objective.statistics``). Each feature pixel is owned by exactly one tile: the one whose core
holds the image pixels it sits on. A tile reads its core plus a margin of at least the deepest
layer's receptive radius (rounded up to the largest stride, so that every layer's grid lines
up), so the features of its core are exactly the untiled ones. Two passes (as in Galerne et
al., "Scaling painting style transfer", 2024):

1. without gradients, every tile's statistics, summed: the totals, hence the loss;
2. each tile again, with gradients, through the surrogate totals - own.detach() + own: its
   gradient with respect to the tile's own features is the global loss's, so backpropagating
   it into the tile's input gives that tile's share of the image gradient. The shares of
   overlapping inputs add up to the untiled gradient (every feature pixel's contribution is
   counted once, by its owner).

Memory is one tile's forward and backward; time is about twice an untiled evaluation plus the
margins. The total variation term is computed on the whole image (it is cheap).
"""

from __future__ import annotations

import math

import torch

from style.features import FeatureNet
from style.transfer import Objective, Window


def windows(height: int, width: int, tile_px: int, margin: int, stride: int) -> list[Window]:
    """Tiles covering the image: cores on a grid of multiples of ``stride``, each input the
    core grown by ``margin`` (a multiple of ``stride``) and clipped to the image."""
    core = max((tile_px - 2 * margin) // stride * stride, stride)
    out = []
    for top in range(0, height, core):
        for left in range(0, width, core):
            bottom, right = min(top + core, height), min(left + core, width)
            out.append(Window(top=max(top - margin, 0), bottom=min(bottom + margin, height),
                              left=max(left - margin, 0), right=min(right + margin, width),
                              core_top=top, core_bottom=bottom, core_left=left,
                              core_right=right))
    return out


def margin_for(net: FeatureNet, layers) -> tuple[int, int]:
    """(margin, stride): the deepest receptive radius among ``layers``, rounded up to a
    multiple of the largest stride among them."""
    stride = max(net.stride(name) for name in layers)
    radius = max(net.receptive_radius(name) for name in layers)
    return math.ceil(radius / stride) * stride, stride


def tiled_loss_and_grad(objective: Objective, image: torch.Tensor, tile_px: int
                        ) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
    """(loss, its parts, d loss / d image) of ``objective`` at ``image`` [1, 3, H, W], tile by
    tile; equal to the untiled ones up to float rounding."""
    image = image.detach()
    hw = (image.shape[-2], image.shape[-1])
    margin, stride = margin_for(objective.net, objective.layers)
    tiles = windows(*hw, tile_px, margin, stride)
    net, layers = objective.net, objective.layers

    totals: dict = {}
    with torch.no_grad():
        for window in tiles:
            part = image[..., window.top:window.bottom, window.left:window.right]
            own = objective.statistics(net(part, layers), hw, window)
            totals = own if not totals else {k: _add(totals[k], v) for k, v in own.items()}

    grad = torch.zeros_like(image)
    for window in tiles:
        part = image[..., window.top:window.bottom, window.left:window.right]
        part = part.clone().requires_grad_(True)
        own = objective.statistics(net(part, layers), hw, window)
        surrogate = {k: _add(_sub(totals[k], _detach(v)), v) for k, v in own.items()}
        loss, _ = objective.loss_from(surrogate, None)
        loss.backward()
        grad[..., window.top:window.bottom, window.left:window.right] += part.grad

    whole = image.clone().requires_grad_(True)
    loss, parts = objective.loss_from(totals, whole)   # adds the total variation
    loss.backward()
    return loss.detach(), parts, grad + whole.grad


def _add(a, b):
    if isinstance(a, tuple):
        return tuple(x + y for x, y in zip(a, b, strict=True))
    return a + b


def _sub(a, b):
    if isinstance(a, tuple):
        return tuple(x - y for x, y in zip(a, b, strict=True))
    return a + b.scaled(-1.0)


def _detach(a):
    if isinstance(a, tuple):
        return tuple(x.detach() for x in a)
    return type(a)(a.count.detach(), a.first.detach(), a.second.detach())
