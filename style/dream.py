"""DeepDream ("inceptionism"): gradient ascent on the activations of chosen layers, octave by
octave.

    from style.dream import DreamSettings, dream
    out = dream(image, load_feature_net(None), DreamSettings(layers=("relu4_3",)))

Each octave enlarges the image by ``octave_scale`` (the last reaches ``max_px`` on its long
side) and takes ``steps_per_octave`` steps: the image is rolled by a random offset (seeded),
the gradient of the layers' mean activation is taken, divided by its mean absolute value (so
that the step size means the same at every layer and octave), and added times ``step_size``;
then the roll is undone. With ``tile_px`` the gradient is taken tile by tile with margins of
the deepest receptive radius, so it equals the untiled one (the objective is a sum over
feature pixels, each owned by one tile); the roll still moves the tile borders every step, as
in the TensorFlow tutorial, which is all that tutorial relies on.

Any net of style/dream_nets.py can dream: a VGG, the FID Inception file, the pipeline's encoder
(its stages, or a label head's class: the encoder's idea of a period). Those others cannot be
tiled exactly; each tile then climbs its own objective.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from marcus.errors import UserError
from style.features import FeatureNet
from style.tiling import margin_for, windows
from style.transfer import owned, resize_to, shape_for_long_side


@dataclass(frozen=True)
class DreamSettings:
    layers: tuple[str, ...] = ("relu4_3",)  # layers whose mean activation is raised
    octaves: int = 4                  # image sizes, each octave_scale times the last
    octave_scale: float = 1.4         # size ratio between octaves
    steps_per_octave: int = 10        # gradient steps at each size
    step_size: float = 0.01           # per step, in image units after the gradient's normalisation
    jitter_px: int = 32               # largest random roll per step, px
    max_px: int = 512                 # long side of the last octave
    tile_px: int = 0                  # > 0: exact gradient tile by tile; memory of one tile
    seed: int = 0                     # the rolls, and nothing else

    def check(self, net: FeatureNet) -> None:
        unknown = set(self.layers) - set(net.names)
        if not self.layers or unknown:
            raise UserError(f"dream layers {sorted(unknown) or '(none)'}: choose among "
                            f"{', '.join(net.names)}")
        if self.octaves < 1 or self.steps_per_octave < 1:
            raise UserError("octaves and steps_per_octave must be at least 1")
        if self.octave_scale < 1:
            raise UserError(f"octave_scale must be at least 1, not {self.octave_scale}")
        if self.max_px < 16 or self.step_size <= 0 or self.jitter_px < 0 or self.tile_px < 0:
            raise UserError("max_px >= 16, step_size > 0, jitter_px >= 0, tile_px >= 0")


def activation_gradient(net: FeatureNet, image: torch.Tensor, layers: tuple[str, ...],
                        tile_px: int = 0) -> tuple[float, torch.Tensor]:
    """(objective, its gradient): the sum over ``layers`` of the mean activation."""
    hw = (image.shape[-2], image.shape[-1])
    if not tile_px or max(hw) <= tile_px:
        return _mean_activation_gradient(net, image, layers)
    if not hasattr(net, "receptive_radius"):
        return _tiles_on_their_own(net, image, layers, tile_px)
    margin, stride = margin_for(net, layers)
    counts = {name: net.channels(name) * (hw[0] // net.stride(name)) * (hw[1] // net.stride(name))
              for name in layers}   # the untiled feature maps' sizes: a mean is a sum / count
    grad, total = torch.zeros_like(image), 0.0
    for window in windows(*hw, tile_px, margin, stride):
        part = image[..., window.top:window.bottom, window.left:window.right]
        part = part.detach().clone().requires_grad_(True)
        feats = net(part, layers)
        value = sum(owned(feats[name], net.stride(name), hw, window)[0].sum() / counts[name]
                    for name in layers)
        value.backward()
        total += float(value.detach())
        grad[..., window.top:window.bottom, window.left:window.right] += part.grad
    return total, grad


def _mean_activation_gradient(net, image: torch.Tensor, layers: tuple[str, ...]
                              ) -> tuple[float, torch.Tensor]:
    """(objective, its gradient) of ``image`` taken as a whole picture."""
    x = image.detach().clone().requires_grad_(True)
    feats = net(x, layers)
    value = sum(feats[name].mean() for name in layers)
    value.backward()
    return float(value.detach()), x.grad


def _tiles_on_their_own(net, image: torch.Tensor, layers: tuple[str, ...], tile_px: int
                        ) -> tuple[float, torch.Tensor]:
    """A net without a receptive radius (style/dream_nets.py): each tile of ``tile_px`` (its
    core and TILE_CONTEXT_PX of context, as the VGG's tiles with their margins) climbs its own
    objective, its core keeping its gradient; the objective is the cores' area-weighted mean."""
    from style.dream_nets import TILE_CONTEXT_PX

    h, w = image.shape[-2:]
    grad, total = torch.zeros_like(image), 0.0
    for t in windows(h, w, tile_px, TILE_CONTEXT_PX, 1):
        value, part = _mean_activation_gradient(net, image[..., t.top:t.bottom, t.left:t.right],
                                                layers)
        area = (t.core_bottom - t.core_top) * (t.core_right - t.core_left)
        total += value * area / (h * w)
        rows, cols = slice(t.core_top, t.core_bottom), slice(t.core_left, t.core_right)
        grad[..., rows, cols] = part[..., rows.start - t.top:rows.stop - t.top,
                                     cols.start - t.left:cols.stop - t.left]
    return total, grad


def octave_sizes(settings: DreamSettings) -> list[int]:
    """Long sides of the octaves, the last ``max_px``."""
    return [max(16, round(settings.max_px / settings.octave_scale ** (settings.octaves - 1 - i)))
            for i in range(settings.octaves)]


def dream(image: torch.Tensor, net: FeatureNet, settings: DreamSettings, log=None
          ) -> torch.Tensor:
    """The dreamed image [1, 3, H', W'] at ``max_px`` on its long side; ``image`` is RGB in
    [0, 1]. ``log(octave, long_side, objective)`` after each octave."""
    settings.check(net)
    if image.ndim != 4 or image.shape[:2] != (1, 3):
        raise UserError(f"images must be [1, 3, H, W] RGB, not {list(image.shape)}")
    rolls = torch.Generator().manual_seed(settings.seed)
    current = image
    for octave, long_side in enumerate(octave_sizes(settings)):
        # Every octave's size from the input's own shape, so that the aspect ratio never drifts.
        current = resize_to(current, shape_for_long_side(image.shape[-2:], long_side))
        value = 0.0
        for _ in range(settings.steps_per_octave):
            dy, dx = (int(v) for v in torch.randint(-settings.jitter_px, settings.jitter_px + 1,
                                                    (2,), generator=rolls))
            rolled = current.roll((dy, dx), dims=(2, 3))
            value, grad = activation_gradient(net, rolled, settings.layers, settings.tile_px)
            grad = grad / grad.abs().mean().clamp(min=1e-8)
            rolled = (rolled + settings.step_size * grad).clamp(0, 1)
            current = rolled.roll((-dy, -dx), dims=(2, 3))
        if log:
            log(octave, long_side, value)
    return current

