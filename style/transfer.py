"""Gatys et al.'s neural style transfer, coarse to fine, with masks and colour control.

    from style.features import load_feature_net
    from style.transfer import Style, TransferSettings, stylize
    out = stylize(content, [Style(image)], load_feature_net(None), TransferSettings(),
                  checkpoint_dir="run/")   # content, images: [1, 3, H, W] RGB in [0, 1]

The image is optimised (L-BFGS or Adam) to match the content's features on the content
layers and the styles' feature statistics (style/losses.py) on the style layers, plus a total
variation term. Every distance is divided by the same distance to zero (the style's own
statistics, the content's own features), so the weights mean the same for any feature network
and any layer: a network trained on BGR 0-255 input has features a hundred times larger than
one trained on normalised RGB.

Coarse to fine: the long side grows from ``min_px`` to ``max_px`` in steps of sqrt(2), each
scale starting from the previous result enlarged; the style images are taken at the same
scale relative to the content (times ``style_scale``). After each scale the image is written
to ``checkpoint_dir`` (atomically); a rerun of the same inputs and settings skips the scales
done, so a kill -9 loses at most one scale and the result is the same. A checkpoint of other
inputs or settings, or an unreadable one, is ignored and replaced.

The variables: with ``pyramid_levels`` > 1 (the default) the optimiser moves the octaves of a
Laplacian pyramid of the change to the image (``PyramidImage``), not its pixels: the same loss,
reached in fewer evaluations. ``variables="spectrum"`` moves the change's Fourier spectrum,
weighted as a picture's falls off, in decorrelated colours (``SpectrumImage``).

The first scale starts from the content (``init="content"``), from the content given the
styles' colours and octave contrast (``"matched"``, ``matched_start``), or from seeded noise.

Colour: ``all`` transfers colours too; ``luminance`` runs on luminance alone, the style's
luminance matched to the content's mean and spread, and puts the content's chroma back;
``original`` runs in colour and then keeps the output's luminance with the content's chroma.

Masks: a ``Style`` may carry a mask [H, W] in [0, 1] over the content: its statistics are
matched inside it only (guided Gram matrices: the mask is area-averaged to each layer's size),
several styles painting several regions. ``content_mask`` limits the content loss.
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import reduce
from pathlib import Path

import torch
import torch.nn.functional as F

from marcus.atomic import atomic_path
from marcus.errors import UserError
from style.features import FeatureNet
from style.losses import (
    STYLE_LOSSES,
    Moments,
    moments,
    sqrtm_psd,
    style_distance,
    total_variation,
)

COLOURS = ("all", "luminance", "original")
OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "matched", "noise")
VARIABLES = ("pyramid", "spectrum")


@dataclass(frozen=True)
class TransferSettings:
    content_layers: tuple[str, ...] = ("relu4_2",)            # Gatys et al.'s choice
    style_layers: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    content_weight: float = 1.0        # weight of the relative content distance
    style_weight: float = 10.0         # weight of the relative style distance, per layer mean
    tv_weight: float = 0.0             # total variation, per pixel step (0-1 intensities)
    style_loss: str = "gram"           # gram | meancov | wasserstein (style/losses.py)
    optimizer: str = "lbfgs"           # lbfgs | adam
    lr: float = 0.02                   # Adam's step (lbfgs: 1, its line search decides)
    min_px: int = 128                  # long side of the first scale
    max_px: int = 256                  # long side of the last scale (sqrt 2 steps between)
    steps_per_scale: tuple[int, ...] = (100,)  # evaluations per scale; the last repeats
    style_scale: float = 1.0           # style image size relative to the content's
    init: str = "content"              # content | matched | noise (the first scale's start;
                                       # matched: the content given the styles' colours and
                                       # octave contrast, matched_start)
    colour: str = "all"                # all | luminance | original
    seed: int = 0                      # noise init and nothing else
    tile_px: int = 0                   # > 0: loss and gradient tile by tile (style/tiling.py),
                                       # exact; memory of one tile of this side plus margins
    variables: str = "pyramid"         # pyramid | spectrum: what the optimiser moves (below)
    pyramid_levels: int = 4            # pyramid: > 1 optimises the change to the image as a
                                       # Laplacian pyramid of this many octaves; 1 = its pixels
    spectrum_decay: float = 1.0        # spectrum: frequency f's weight is 1/f^decay

    def check(self) -> None:
        for name, value, allowed in (("style_loss", self.style_loss, STYLE_LOSSES),
                                     ("optimizer", self.optimizer, OPTIMIZERS),
                                     ("init", self.init, INITS),
                                     ("variables", self.variables, VARIABLES),
                                     ("colour", self.colour, COLOURS)):
            if value not in allowed:
                raise UserError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        if not 16 <= self.min_px <= self.max_px:
            raise UserError(f"need 16 <= min_px <= max_px, not {self.min_px} and {self.max_px}")
        if not self.steps_per_scale or min(self.steps_per_scale) < 1:
            raise UserError("steps_per_scale: at least one scale of at least one step")
        if self.tile_px < 0:
            raise UserError(f"tile_px must be 0 (untiled) or positive, not {self.tile_px}")
        if self.style_scale <= 0:
            raise UserError(f"style_scale must be positive, not {self.style_scale}")
        if self.pyramid_levels < 1:
            raise UserError(f"pyramid_levels must be at least 1, not {self.pyramid_levels}")
        if not 0 <= self.spectrum_decay <= 2:
            raise UserError(f"spectrum_decay must be in [0, 2], not {self.spectrum_decay}")
        if not self.content_layers and not self.style_layers:
            raise UserError("no content layers and no style layers: nothing to optimise")


@dataclass
class Style:
    """One style image [1, 3, H, W] (RGB in [0, 1]) with its weight and, optionally, the region
    of the content [H, W] in [0, 1] it paints. Several images with one mask and weights are
    blended: their statistics are averaged with those weights."""
    image: torch.Tensor
    weight: float = 1.0
    mask: torch.Tensor | None = None
    name: str = field(default="")


def scales(long_side: int, min_px: int, max_px: int) -> list[int]:
    """Long sides from min_px to max_px (at most the content's) in steps of sqrt(2)."""
    top = min(max_px, long_side)
    sizes, size = [], float(min(min_px, top))
    while size < top - 0.5:
        sizes.append(round(size))
        size *= math.sqrt(2)
    return [*sizes, top]


def shape_for_long_side(hw: Sequence[int], long_side: int) -> tuple[int, int]:
    factor = long_side / max(hw)
    return max(round(hw[0] * factor), 1), max(round(hw[1] * factor), 1)


def resize_to(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """[N, C, H, W] resized to ``size`` (bicubic, antialiased when shrinking, clamped)."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    shrink = size[0] < image.shape[-2] or size[1] < image.shape[-1]
    out = F.interpolate(image, size=size, mode="bicubic", align_corners=False,
                        antialias=shrink)
    return out.clamp(0, 1)


def resize_long(image: torch.Tensor, long_side: int) -> torch.Tensor:
    """[N, C, H, W] resized (antialiased bicubic, clamped) so that max(H, W) == long_side."""
    return resize_to(image, shape_for_long_side(image.shape[-2:], long_side))


def resize_mask_to(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A [H, W] mask in [0, 1] brought to ``size`` by area averaging: what a pooled feature
    map, or a smaller scale of the image, sees of it."""
    return F.interpolate(mask[None, None].float(), size=size, mode="area")[0, 0]


# ----------------------------------------------------------------------------------------------
# Colour


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    matrix = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322],
                           [0.211, -0.523, 0.312]], dtype=image.dtype, device=image.device)
    return torch.einsum("ij,njhw->nihw", matrix, image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    matrix = torch.tensor([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.106, 1.703]],
                          dtype=image.dtype, device=image.device)
    return torch.einsum("ij,njhw->nihw", matrix, image).clamp(0, 1)


def luminance_image(image: torch.Tensor) -> torch.Tensor:
    """The luminance repeated in three channels: what the network sees in ``luminance`` mode."""
    return rgb_to_yiq(image)[:, :1].expand(-1, 3, -1, -1).contiguous()


def match_luminance(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The style's luminance with the content's mean and standard deviation."""
    y_s, y_c = rgb_to_yiq(style)[:, :1], rgb_to_yiq(content)[:, :1]
    matched = (y_s - y_s.mean()) / y_s.std().clamp(min=1e-6) * y_c.std() + y_c.mean()
    return matched.clamp(0, 1).expand(-1, 3, -1, -1).contiguous()


def with_chroma_of(image: torch.Tensor, colours: torch.Tensor) -> torch.Tensor:
    """``image``'s luminance with ``colours``' chroma (I and Q), resized to match."""
    if colours.shape[-2:] != image.shape[-2:]:
        colours = F.interpolate(colours, size=image.shape[-2:], mode="bicubic",
                                align_corners=False)
    yiq = torch.cat([rgb_to_yiq(image)[:, :1], rgb_to_yiq(colours)[:, 1:]], dim=1)
    return yiq_to_rgb(yiq)


# ----------------------------------------------------------------------------------------------
# One scale


class Objective:
    """The loss of one scale: targets computed once, then ``loss(image)`` per evaluation."""

    def __init__(self, net: FeatureNet, content: torch.Tensor, styles: Sequence[Style],
                 settings: TransferSettings, content_mask: torch.Tensor | None):
        self.net, self.settings = net, settings
        layers = [*settings.content_layers, *settings.style_layers]
        with torch.no_grad():
            feats = net(content, settings.content_layers)
            self.content = {name: feats[name] for name in settings.content_layers}
            self.content_norm = {name: f.square().mean().clamp(min=1e-12)
                                 for name, f in self.content.items()}
        self.content_mask = content_mask
        self.layers = layers
        self._masks: dict = {}
        # Styles grouped by region: each region matches the weighted blend of its images.
        self.regions: list[tuple[torch.Tensor | None, dict[str, Moments],
                                 dict[str, torch.Tensor]]] = []
        groups: dict[int, list[Style]] = {}
        for style in styles:
            groups.setdefault(id(style.mask) if style.mask is not None else 0, []).append(style)
        for group in groups.values():
            total = sum(s.weight for s in group)
            if total <= 0:
                raise UserError("style weights must sum to more than 0")
            targets: dict[str, Moments] = {}
            with torch.no_grad():
                for s in group:
                    f = net(s.image, settings.style_layers)
                    for name in settings.style_layers:
                        m = moments(f[name]).unit().scaled(s.weight / total)
                        targets[name] = m if name not in targets else targets[name] + m
                zero = {name: Moments(torch.ones_like(t.count), torch.zeros_like(t.first),
                                      torch.zeros_like(t.second))
                        for name, t in targets.items()}
                norms = {name: style_distance(zero[name], t, settings.style_loss).clamp(
                    min=1e-12) for name, t in targets.items()}
            self.regions.append((group[0].mask, targets, norms))

    # The loss is a function of sums over feature pixels (style/losses.py Moments, and the
    # content's squared differences): ``statistics`` takes them from feature maps, or from the
    # part of them a tile owns, and ``loss_from`` turns their totals into the loss. Summed over
    # tiles they are the untiled statistics, which is what makes tiling exact (style/tiling.py).

    def statistics(self, feats: dict[str, torch.Tensor], image_hw: tuple[int, int],
                   window: Window | None = None) -> dict:
        """{key: sums} of the feature maps ``feats`` of an image of size ``image_hw``; with a
        ``window``, of the feature pixels it owns alone (feats then come from its input)."""
        stats: dict = {}
        for name, target in self.content.items():
            f, (rows, cols) = owned(feats[name], self.net.stride(name), image_hw, window)
            t = target[..., rows, cols]
            mask = self._layer_mask(self.content_mask, name, image_hw)
            diff = (f - t).square().sum(dim=-3)[0].double()   # float64 sums, as moments
            weights = torch.ones_like(diff) if mask is None else mask[rows, cols].double()
            stats[("content", name)] = ((diff * weights).sum(),
                                        weights.sum() * f.shape[-3])
        for index, (mask, targets, _) in enumerate(self.regions):
            for name in targets:
                f, (rows, cols) = owned(feats[name], self.net.stride(name), image_hw, window)
                layer_mask = self._layer_mask(mask, name, image_hw)
                stats[("style", index, name)] = moments(
                    f, None if layer_mask is None else layer_mask[rows, cols])
        return stats

    def loss_from(self, stats: dict, image: torch.Tensor | None
                  ) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss from total statistics (and the total variation of ``image``, if given)."""
        s = self.settings
        content = torch.zeros(())
        for name in self.content:
            numerator, denominator = stats[("content", name)]
            content = content + numerator / denominator.clamp(min=1e-8) / self.content_norm[name]
        style = torch.zeros(())
        for index, (_, targets, norms) in enumerate(self.regions):
            for name, target in targets.items():
                x = stats[("style", index, name)]
                style = style + style_distance(x, target, s.style_loss) / norms[name]
        n_style = max(len(self.settings.style_layers) * len(self.regions), 1)
        n_content = max(len(self.content), 1)
        tv = total_variation(image) if image is not None else torch.zeros(())
        total = (s.content_weight * content / n_content + s.style_weight * style / n_style
                 + s.tv_weight * tv)
        parts = {"content": content / n_content, "style": style / n_style, "tv": tv,
                 "total": total}
        return total, {name: float(value.detach()) for name, value in parts.items()}

    def loss(self, image: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of the whole image in one pass, differentiable."""
        hw = tuple(image.shape[-2:])
        return self.loss_from(self.statistics(self.net(image, self.layers), hw), image)

    def _layer_mask(self, mask: torch.Tensor | None, name: str, image_hw: tuple[int, int]
                    ) -> torch.Tensor | None:
        """``mask`` area-averaged to the layer's size for the whole image (cached)."""
        if mask is None:
            return None
        stride = self.net.stride(name)
        size = (image_hw[0] // stride, image_hw[1] // stride)
        key = (id(mask), size)
        if key not in self._masks:
            self._masks[key] = resize_mask_to(mask, size)
        return self._masks[key]


@dataclass(frozen=True)
class Window:
    """A tile: its input rows and columns [top, bottom) x [left, right) of the image, and the
    core it owns, [core_top, core_bottom) x [core_left, core_right). Input corners lie on
    multiples of the largest stride, so every layer's pixel grid lines up with the image's."""
    top: int
    bottom: int
    left: int
    right: int
    core_top: int
    core_bottom: int
    core_left: int
    core_right: int


def owned(features: torch.Tensor, stride: int, image_hw: tuple[int, int],
           window: Window | None) -> tuple[torch.Tensor, tuple[slice, slice]]:
    """The feature pixels a window owns (all without one) and their rows and columns in the
    whole image's feature map. A layer pixel covers image rows [r * stride, (r + 1) * stride);
    the last row and column of the image own the rest of the map."""
    if window is None:
        return features, (slice(None), slice(None))
    h, w = image_hw[0] // stride, image_hw[1] // stride

    def span(core0: int, core1: int, size_px: int, size: int) -> slice:
        return slice(core0 // stride, size if core1 >= size_px else core1 // stride)

    rows = span(window.core_top, window.core_bottom, image_hw[0], h)
    cols = span(window.core_left, window.core_right, image_hw[1], w)
    top, left = window.top // stride, window.left // stride
    local = features[..., rows.start - top:rows.stop - top, cols.start - left:cols.stop - left]
    return local, (rows, cols)


def optimise(objective: Objective, start: torch.Tensor, steps: int, settings: TransferSettings,
             trace: list[float] | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """``steps`` loss evaluations from ``start``; the result is clamped to [0, 1]. ``trace``
    gets each evaluation's loss. The variables: the spectrum of the change to ``start``
    (``SpectrumImage``), or with ``pyramid_levels`` > 1 the octaves of its Laplacian pyramid
    (``PyramidImage``), else its pixels."""
    on_pixels = False
    if settings.variables == "spectrum":
        spectrum = SpectrumImage(start, settings.spectrum_decay)
        variables, compose = [spectrum.spectrum], spectrum.image
    elif settings.pyramid_levels > 1:
        pyramid = PyramidImage(start, settings.pyramid_levels)
        variables, compose = pyramid.octaves, pyramid.image
    else:
        on_pixels = True
        image = start.clone().requires_grad_(True)
        variables, compose = [image], lambda: image
    last: dict[str, float] = {}
    tiled = settings.tile_px > 0 and max(start.shape[-2:]) > settings.tile_px

    def evaluate() -> torch.Tensor:
        for v in variables:
            v.grad = None
        image = compose()
        if tiled:
            from style.tiling import tiled_loss_and_grad

            # The tiles give the exact gradient of the image; the pyramid or the spectrum is
            # a linear map in front of it, so back-propagating that gradient through it keeps
            # it exact.
            loss, parts, grad = tiled_loss_and_grad(objective, image.detach(), settings.tile_px)
            image.backward(grad)
        else:
            loss, parts = objective.loss(image)
            loss.backward()
        last.update(parts)
        if trace is not None:
            trace.append(parts["total"])
        return loss.detach()

    if settings.optimizer == "lbfgs":
        opt = torch.optim.LBFGS(variables, lr=1, max_iter=steps, max_eval=steps,
                                tolerance_grad=-1, tolerance_change=-1, history_size=50,
                                line_search_fn=None)
        opt.step(evaluate)
    else:
        opt = torch.optim.Adam(variables, lr=settings.lr)
        for _ in range(steps):
            evaluate()
            opt.step()
            if on_pixels:
                with torch.no_grad():
                    variables[0].clamp_(0, 1)
    with torch.no_grad():
        return compose().detach().clamp(0, 1), last


class PyramidImage:
    """An image as ``start`` plus a Laplacian pyramid of changes: octave k (k = 0 is full size)
    has 1/2^k of the long side, is enlarged bilinearly and weighted 1/2^k. The optimiser's
    steps then move broad areas through a few coarse variables instead of every pixel one by
    one, so the composition settles early (Kolkin et al.'s STROTSS optimises its image the same
    way). The loss is unchanged; only the variables differ. Octaves stop at 16 px on the short
    side. Why 1/2^k: an octave's variable gathers the gradients of the 4^k pixels it is
    enlarged over, and the weight enters both its gradient and its step, so with 1/2^k a
    smooth gradient moves every octave alike; equal weights took too large coarse steps and
    ended slower than the pixels (measured at 256 px; 512 px: style_print.json ``parity``)."""

    def __init__(self, start: torch.Tensor, levels: int):
        self.start = start.detach()
        hw = tuple(start.shape[-2:])
        self.octaves = []
        for k in range(levels):
            shape = shape_for_long_side(hw, max(hw) // 2 ** k)
            if k > 0 and min(shape) < 16:
                break
            self.octaves.append(torch.zeros((*start.shape[:2], *shape), dtype=start.dtype,
                                            requires_grad=True))

    def image(self) -> torch.Tensor:
        hw = tuple(self.start.shape[-2:])
        image = self.start
        for k, octave in enumerate(self.octaves):
            change = octave if k == 0 else F.interpolate(octave, size=hw, mode="bilinear",
                                                         align_corners=False)
            image = image + change * 0.5 ** k
        return image


class SpectrumImage:
    """An image as ``start`` plus a change held as its Fourier spectrum, each frequency f
    (cycles per pixel) weighted 1/f^``decay`` and the colours mixed by the square root of
    ``start``'s colour covariance (Mordvintsev et al.'s "decorrelated" parameterisation, Distill
    2018). A photograph's or a painting's spectrum falls off about as 1/f and its three channels
    move mostly together, so these variables scale each frequency and colour axis by about its
    share in a picture. Whether L-BFGS then needs fewer evaluations than on the pyramid's
    octaves is measured by benchmarks/style_print.py (``parity``): so far it depends on the
    size. The loss is unchanged and the map is linear, so tiled gradients stay exact.
    ``decay`` 0 weights every frequency alike (then only the colours are reweighted)."""

    def __init__(self, start: torch.Tensor, decay: float):
        self.start = start.detach()
        self.hw = tuple(start.shape[-2:])
        h, w = self.hw
        frequency = torch.sqrt(torch.fft.fftfreq(h)[:, None] ** 2
                               + torch.fft.rfftfreq(w)[None, :] ** 2)
        # The zero frequency (the mean) is weighted as the lowest non-zero one.
        weight = frequency.clamp_min(1 / max(h, w)) ** -decay
        self.weight = (weight / weight.max()).to(start.dtype)
        self.colours = colour_square_root(self.start)
        self.spectrum = torch.zeros((*start.shape[:2], h, w // 2 + 1, 2), dtype=start.dtype,
                                    requires_grad=True)

    def image(self) -> torch.Tensor:
        change = torch.fft.irfft2(torch.view_as_complex(self.spectrum) * self.weight, s=self.hw,
                                  norm="ortho")
        return self.start + torch.einsum("ij,bjhw->bihw", self.colours, change)


def matched_start(content: torch.Tensor, styles: Sequence[Style]) -> torch.Tensor:
    """The content with the styles' colour distribution and contrast per octave, a start for
    the optimiser that costs no evaluation. Its colours are moved by the least-moving map
    between the two colour Gaussians (mean and covariance; the Monge map), then each octave
    of its Laplacian pyramid gets, channel by channel, the spread the styles have at that
    octave (Heeger and Bergen match each octave's whole histogram, repeatedly; the spread,
    once, is enough for a start). These are what the style loss's first layers ask for; from
    the content itself, L-BFGS spends its first steps on them and pulls the image far from
    the content (the content distance rises to its highest) before bringing it back. Several
    styles: their statistics averaged by weight, over the whole image (masks are not used).
    Measured: benchmarks/results/style_print.json ``parity``."""
    total = sum(s.weight for s in styles)
    target = reduce(operator.add, (moments(s.image).unit().scaled(s.weight / total)
                                   for s in styles))
    source = moments(content)
    pixels = content.reshape(3, -1).double()
    mapped = _gaussian_monge_map(source.cov, target.cov) @ (pixels - source.mean[:, None])
    image = (mapped + target.mean[:, None]).reshape(content.shape).to(content.dtype)
    octaves = _octave_count(content.shape[-2:])
    bands = _laplacian(image, octaves)
    variance = torch.zeros(octaves, 3, dtype=torch.float64)
    weight = torch.zeros(octaves, 1, dtype=torch.float64)
    for s in styles:
        style_bands = _laplacian(s.image, octaves)[:-1]    # fewer when the style is small
        for k, band in enumerate(style_bands):
            variance[k] += s.weight * band.double().var(dim=(0, 2, 3))
            weight[k] += s.weight
    for k in range(len(bands) - 1):
        if weight[k] == 0:
            continue
        own = bands[k].double().std(dim=(0, 2, 3))
        # A nearly flat octave would have its noise magnified without the cap.
        gain = ((variance[k] / weight[k]).sqrt() / own.clamp(min=1e-3)).clamp(max=4.0)
        bands[k] = bands[k] * gain.to(content.dtype).view(1, 3, 1, 1)
    return _from_laplacian(bands).clamp(0, 1)


def _gaussian_monge_map(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """[3, 3] T with T source T^T = target moving points least (float64 covariances)."""
    eye = torch.eye(len(source), dtype=source.dtype)
    # A grey or flat image has a singular covariance; the floor keeps its inverse finite.
    source = source + (1e-4 * source.trace() / len(source) + 1e-10) * eye
    values, vectors = torch.linalg.eigh(source)
    root = vectors @ torch.diag(values.sqrt()) @ vectors.T
    inverse_root = vectors @ torch.diag(values.rsqrt()) @ vectors.T
    return inverse_root @ sqrtm_psd(root @ target @ root) @ inverse_root


def _octave_count(hw: Sequence[int]) -> int:
    """Band-pass octaves of a Laplacian pyramid whose low-pass rest keeps 8 px on its short
    side."""
    count, short = 0, min(hw)
    while short // 2 >= 8:
        count, short = count + 1, short // 2
    return count


def _laplacian(image: torch.Tensor, octaves: int) -> list[torch.Tensor]:
    """``octaves`` band-pass images, full size first, then the low-pass rest."""
    bands = []
    for _ in range(octaves):
        if min(image.shape[-2:]) < 2:
            break
        smaller = F.interpolate(image, scale_factor=0.5, mode="area")
        bands.append(image - F.interpolate(smaller, size=image.shape[-2:], mode="bilinear",
                                           align_corners=False))
        image = smaller
    return [*bands, image]


def _from_laplacian(bands: list[torch.Tensor]) -> torch.Tensor:
    image = bands[-1]
    for band in reversed(bands[:-1]):
        image = F.interpolate(image, size=band.shape[-2:], mode="bilinear",
                              align_corners=False) + band
    return image


def colour_square_root(image: torch.Tensor) -> torch.Tensor:
    """[3, 3]: the symmetric square root of the image's colour covariance, scaled to a mean
    diagonal of 1 (about the identity for a flat image or independent noise)."""
    cov = moments(image).cov            # float64
    # The floor keeps a flat image's root the identity rather than 0 / 0.
    root = sqrtm_psd(cov + 1e-8 * torch.eye(len(cov), dtype=cov.dtype))
    return (root / root.diagonal().mean()).to(image.dtype)


# ----------------------------------------------------------------------------------------------
# Coarse to fine


def stylize(content: torch.Tensor, styles: Sequence[Style], net: FeatureNet,
            settings: TransferSettings, content_mask: torch.Tensor | None = None,
            checkpoint_dir: str | Path | None = None, log=None) -> torch.Tensor:
    """The stylised content at ``settings.max_px`` on its long side (or the content's size if
    smaller); see the module docstring. ``log(scale_index, long_side, parts)`` per scale."""
    settings.check()
    if not styles:
        raise UserError("no style image")
    for image in (content, *(s.image for s in styles)):
        if image.ndim != 4 or image.shape[:2] != (1, 3):
            raise UserError(f"images must be [1, 3, H, W] RGB, not {list(image.shape)}")
    original = content
    if settings.colour == "luminance":
        styles = [Style(match_luminance(s.image, content), s.weight, s.mask, s.name)
                  for s in styles]
        content = luminance_image(content)
    sizes = scales(max(content.shape[-2:]), settings.min_px, settings.max_px)
    layers = [*settings.content_layers, *settings.style_layers]
    deepest = max(layers, key=net.stride)
    stride = net.stride(deepest)
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
    inputs = fingerprint(content, styles, content_mask, net, settings)
    image = None
    for index, long_side in enumerate(sizes):
        steps = settings.steps_per_scale[min(index, len(settings.steps_per_scale) - 1)]
        saved = _load_scale(checkpoint_dir, index, long_side, inputs)
        if saved is not None:
            # A finished scale: its image and its losses, logged as when it ran, so that a
            # resumed run's record equals an uninterrupted one's.
            image, parts = saved
            if log:
                log(index, long_side, parts)
            continue
        c = resize_long(content, long_side)
        size = tuple(c.shape[-2:])
        if min(size) < stride:
            raise UserError(f"at {long_side} px the content is {size[1]}x{size[0]} px, smaller "
                            f"than the {stride} px that layer {deepest} needs: raise min_px")
        ratio = long_side / max(content.shape[-2:])
        scaled_styles = [Style(resize_long(s.image, style_side(
            s.image, ratio * settings.style_scale, 2 * stride)), s.weight,
            None if s.mask is None else resize_mask_to(s.mask, size), s.name) for s in styles]
        # One mask tensor per region object: group styles that shared a mask before resizing.
        shared: dict[int, torch.Tensor] = {}
        for before, after in zip(styles, scaled_styles, strict=True):
            if before.mask is not None:
                after.mask = shared.setdefault(id(before.mask), after.mask)
        mask = None if content_mask is None else resize_mask_to(content_mask, size)
        objective = Objective(net, c, scaled_styles, settings, mask)
        if image is None:
            if settings.init == "content":
                start = c
            elif settings.init == "matched":
                start = matched_start(c, scaled_styles)
            else:
                start = torch.rand(c.shape,
                                   generator=torch.Generator().manual_seed(settings.seed))
        else:
            start = F.interpolate(image, size=size, mode="bicubic",
                                  align_corners=False).clamp(0, 1)
        image, parts = optimise(objective, start, steps, settings)
        _save_scale(checkpoint_dir, index, long_side, inputs, image, parts)
        if log:
            log(index, long_side, parts)
    if settings.colour in ("luminance", "original"):
        image = with_chroma_of(image, original)
    return image


def fingerprint(content: torch.Tensor, styles: Sequence[Style],
                content_mask: torch.Tensor | None, net: FeatureNet,
                settings: TransferSettings) -> str:
    """What a scale's result depends on: the images and masks, the network, the settings."""
    digest = hashlib.sha256(json.dumps([asdict(settings), net.card], sort_keys=True,
                                       default=str).encode())
    tensors = [content, content_mask, *(t for s in styles for t in (s.image, s.mask))]
    for tensor in tensors:
        digest.update(b"-" if tensor is None else tensor.detach().cpu().contiguous()
                      .numpy().tobytes())
    digest.update(json.dumps([s.weight for s in styles]).encode())
    if net.card.get("sha256") is None:  # a random net: its weights are the identity
        for p in net.parameters():
            digest.update(p.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def style_side(image: torch.Tensor, factor: float, min_short: int = 1) -> int:
    """The long side a style image is taken at: ``factor`` times its own, but never so small
    that its short side falls below ``min_short`` (what the deepest layer needs to see it)."""
    h, w = image.shape[-2:]
    return max(round(max(h, w) * factor), math.ceil(min_short * max(h, w) / min(h, w)))


def _scale_path(checkpoint_dir: Path, index: int, long_side: int) -> Path:
    return checkpoint_dir / f"scale{index:02d}_{long_side}px.pt"


def _load_scale(checkpoint_dir: Path | None, index: int, long_side: int,
                inputs: str) -> tuple[torch.Tensor, dict[str, float]] | None:
    """A finished scale's (image, losses), or None: none kept, unreadable, or made from other
    inputs or settings (then the scale runs again and replaces it, as train_gan does with
    last.pt)."""
    if checkpoint_dir is None:
        return None
    path = _scale_path(checkpoint_dir, index, long_side)
    if not path.is_file():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a damaged file is not resumed from
        print(f"ignoring unreadable checkpoint {path}: {type(exc).__name__}: {exc}")
        return None
    if not isinstance(saved, dict) or saved.get("inputs") != inputs or "parts" not in saved:
        print(f"ignoring checkpoint {path}: made from other images or settings")
        return None
    return saved["image"], saved["parts"]


def _save_scale(checkpoint_dir: Path | None, index: int, long_side: int, inputs: str,
                image: torch.Tensor, parts: dict[str, float]) -> None:
    if checkpoint_dir is None:
        return
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(_scale_path(checkpoint_dir, index, long_side)) as tmp:
        torch.save({"image": image, "inputs": inputs, "parts": parts}, tmp)


# ----------------------------------------------------------------------------------------------
# Zentangle


def silhouette_mask(silhouette: torch.Tensor, alpha: torch.Tensor | None = None,
                    threshold: float = 0.5) -> torch.Tensor:
    """[H, W] in [0, 1]: the shape to fill. Its alpha channel where it has one, else its dark
    pixels (luminance below ``threshold``): a black figure on white paper."""
    if alpha is not None:
        return alpha.reshape(alpha.shape[-2:]).float().clamp(0, 1)
    luminance = rgb_to_yiq(silhouette)[0, 0]
    return (luminance < threshold).float()


def zentangle(silhouette: torch.Tensor, patterns: Sequence[Style], net: FeatureNet,
              settings: TransferSettings, mask: torch.Tensor,
              background: torch.Tensor | tuple[float, float, float] = (1.0, 1.0, 1.0),
              checkpoint_dir: str | Path | None = None, log=None) -> torch.Tensor:
    """The "zentangle machine": the silhouette's inside filled with the pattern(s) by masked
    style transfer (style statistics and content loss inside ``mask`` only), the outside the
    ``background`` colour (RGB in [0, 1]) or image; the edge is the mask's own, anti-aliased
    where it is soft."""
    if mask.shape != silhouette.shape[-2:]:
        raise UserError(f"mask {tuple(mask.shape)} and silhouette "
                        f"{tuple(silhouette.shape[-2:])} differ in size")
    if float(mask.sum()) < 1:
        raise UserError("the silhouette's mask is empty: nothing to fill")
    styles = [Style(p.image, p.weight, mask, p.name) for p in patterns]
    filled = stylize(silhouette, styles, net, settings, content_mask=mask,
                     checkpoint_dir=checkpoint_dir, log=log)
    size = filled.shape[-2:]
    inside = resize_mask_to(mask, size)[None, None]
    if isinstance(background, torch.Tensor):
        back = F.interpolate(background, size=size, mode="bicubic",
                             align_corners=False).clamp(0, 1)
    else:
        back = torch.tensor(background, dtype=filled.dtype).view(1, 3, 1, 1).expand_as(filled)
    return filled * inside + back * (1 - inside)
