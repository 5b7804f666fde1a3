"""The print upscaler: a compact super-resolution network, its discriminator, the downscale
filter that defines the training pairs, the losses, and the consistency projection.

Nothing here runs on its own: ``train/train_upscaler.py`` trains it, ``train/tiling.py``
applies it to images of any size and ``train/render.py`` turns generator samples into prints.

The network (``CompactSR``) follows Real-ESRGAN's SRVGG "compact" model: every convolution runs
at the low input resolution (conv in, ``body_convs`` 3x3 convolutions with PReLU, conv out to
3 x factor^2 channels), one pixel shuffle makes the high-resolution image, and the input
upsampled bilinearly is added, so the convolutions only learn the missing detail. It is fully
convolutional (any input size) and its receptive field is small and known exactly
(``receptive_radius``), which is what makes tiled inference equal untiled inference.

The training pairs come from the curated paintings alone: a high-resolution crop y and its
downscale x = box_down(y). The filter is box (area) averaging over factor x factor blocks,
chosen for three reasons:

1. an exact projection exists: ``project(y, x)`` = y + nearest_up(x - box_down(y)) satisfies
   box_down(project(y, x)) == x up to float rounding, so an upscaled print provably downscales
   back to the painting the generator made (``project=True`` at inference). With clamping to
   [0, 1] the projection adds one scalar per block (a bisection), still exact;
2. it is tile-local: each output block depends on one input pixel, so the projection needs no
   overlap between tiles, and projections compose (x4 then x4 projected = x16 projected);
3. it models how a photograph of a canvas integrates light over each sensor pixel.

The same filter makes the pairs and the downscale-consistency loss
L1(box_down(SR(x)), x); a different filter in the loss would fight the one in the data.

Losses: L1 to the high-resolution crop (the PSNR-oriented part), the consistency loss, and an
adversarial loss from a spectrally normalised patch discriminator on the high-resolution
output. L1 alone averages over the plausible details and paints smooth, "smeared" texture;
that is also what Real-ESRGAN users complain of on oil paintings (brush strokes and canvas
weave turn into flat, plastic-looking patches, because its degradation model teaches it to
remove texture as if it were noise). Here the degradation is only the box downscale, and the
high-resolution discriminator is what pushes the output back towards the texture statistics of
real paint; the consistency projection keeps that invented texture from shifting the colours.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from marcus.model_files import ModelKind, load_model

FACTORS = (2, 4, 8)


# ----------------------------------------------------------------------------------------------
# The downscale filter and the exact projection


def box_down(y: torch.Tensor, factor: int) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, H/f, W/f]: the mean of each factor x factor block. H and W must be
    multiples of ``factor`` (crops and network outputs always are)."""
    if y.shape[-1] % factor or y.shape[-2] % factor:
        raise ValueError(f"box_down: size {tuple(y.shape[-2:])} is not a multiple of {factor}")
    return F.avg_pool2d(y, factor)


def nearest_up(x: torch.Tensor, factor: int) -> torch.Tensor:
    return x.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)


def project(y: torch.Tensor, x: torch.Tensor, factor: int, clamp: bool = True,
            iterations: int = 30) -> torch.Tensor:
    """The point nearest to ``y`` (L2) whose box downscale is ``x``.

    Without ``clamp``: y + nearest_up(x - box_down(y)), exact in one step. With ``clamp`` the
    result must also stay in [0, 1]; the nearest such point is clamp(y + t) with one scalar t
    per block (the KKT conditions of a box-constrained mean), found by bisection: the block
    mean of clamp(y + t) grows with t, lies below x at t = x - max(block) and above it at
    t = x - min(block). ``x`` must lie in [0, 1] (it is clamped) so that a solution exists.
    """
    if not clamp:
        return y + nearest_up(x - box_down(y, factor), factor)
    x = x.clamp(0, 1)
    n, c, h, w = y.shape
    blocks = y.reshape(n, c, h // factor, factor, w // factor, factor)
    target = x[:, :, :, None, :, None]
    lo = target - blocks.amax(dim=(3, 5), keepdim=True)
    hi = target - blocks.amin(dim=(3, 5), keepdim=True)
    for _ in range(iterations):  # 30 halvings of a range <= 2: below float32 resolution
        mid = (lo + hi) / 2
        too_low = (blocks + mid).clamp(0, 1).mean(dim=(3, 5), keepdim=True) < target
        lo = torch.where(too_low, mid, lo)
        hi = torch.where(too_low, hi, mid)
    out = (blocks + (lo + hi) / 2).clamp(0, 1)
    # The bisection leaves an error of ~1e-8 in t; one unclamped correction of what remains
    # makes the mean exact again (it moves values by < 1e-7, so [0, 1] holds to rounding).
    out = out.reshape(n, c, h, w)
    return out + nearest_up(x - box_down(out, factor), factor)


# ----------------------------------------------------------------------------------------------
# The networks


class CompactSR(nn.Module):
    """SRVGG-style compact upscaler: [N, 3, H, W] in [0, 1] -> [N, 3, fH, fW] (not clamped)."""

    def __init__(self,
                 factor: int = 4,        # upscaling factor: 2, 4 or 8
                 channels: int = 32,     # feature channels of every low-resolution conv
                 body_convs: int = 8):   # 3x3 convs between the first and the last
        super().__init__()
        if factor not in FACTORS:
            raise ValueError(f"CompactSR: factor must be one of {FACTORS}, got {factor}")
        if channels < 1 or body_convs < 0:
            raise ValueError(f"CompactSR: need channels >= 1 and body_convs >= 0, "
                             f"got {channels}, {body_convs}")
        self.init_kwargs = dict(factor=factor, channels=channels, body_convs=body_convs)
        self.factor = factor
        layers: list[nn.Module] = [nn.Conv2d(3, channels, 3, padding=1), nn.PReLU(channels)]
        for _ in range(body_convs):
            layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.PReLU(channels)]
        layers += [nn.Conv2d(channels, 3 * factor * factor, 3, padding=1)]
        self.features = nn.Sequential(*layers)
        self.shuffle = nn.PixelShuffle(factor)
        # Start as plain bilinear upscaling: the detail branch begins near zero, so early
        # training refines a sensible image instead of recovering from noise. ICNR (Aitken
        # et al. 2017): the f x f sub-pixels of each output channel start with one shared
        # kernel, so the shuffled detail starts as a nearest-neighbour enlargement with no
        # pattern of its own from cell to cell.
        with torch.no_grad():
            last = self.features[-1]
            shared = last.weight.view(3, factor * factor, channels, 3, 3)[:, :1] * 0.1
            last.weight.copy_(shared.expand(-1, factor * factor, -1, -1, -1).reshape_as(
                last.weight))
            last.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = F.interpolate(x, scale_factor=self.factor, mode="bilinear", align_corners=False)
        return base + self.shuffle(self.features(x))


def receptive_radius(model: CompactSR) -> int:
    """How many input pixels beyond a pixel can change its output block: the sum of the
    radii of the serial convolutions, or 1 for the bilinear branch (whichever is larger).
    Tiles overlapping by at least this much give the same output as the whole image."""
    convs = [m for m in model.features.modules() if isinstance(m, nn.Conv2d)]
    radius = 0
    for conv in convs:
        k, d = conv.kernel_size[0], conv.dilation[0]
        if conv.kernel_size[0] != conv.kernel_size[1] or conv.stride != (1, 1):
            raise ValueError(f"receptive_radius: unexpected layer {conv}")
        radius += (k // 2) * d
    bilinear_radius = 1  # align_corners=False reads the two nearest input pixels per axis
    return max(radius, bilinear_radius)


class PatchDiscriminator(nn.Module):
    """Spectrally normalised patch discriminator on high-resolution images in [0, 1]: a map of
    logits, one per ~(16 + 2 * 4 * 3) px patch; strides of 2 twice."""

    def __init__(self,
                 channels: int = 32,     # width of the first conv; doubles twice
                 ):
        super().__init__()
        self.init_kwargs = dict(channels=channels)
        sn = nn.utils.parametrizations.spectral_norm
        c = channels
        self.net = nn.Sequential(
            sn(nn.Conv2d(3, c, 3, padding=1)), nn.LeakyReLU(0.2),
            sn(nn.Conv2d(c, 2 * c, 4, stride=2, padding=1)), nn.LeakyReLU(0.2),
            sn(nn.Conv2d(2 * c, 4 * c, 4, stride=2, padding=1)), nn.LeakyReLU(0.2),
            sn(nn.Conv2d(4 * c, 4 * c, 3, padding=1)), nn.LeakyReLU(0.2),
            sn(nn.Conv2d(4 * c, 1, 3, padding=1)),
        )

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.net(y * 2 - 1)


# ----------------------------------------------------------------------------------------------
# Losses


def consistency_loss(sr: torch.Tensor, lr: torch.Tensor, factor: int) -> torch.Tensor:
    """L1(box_down(SR(x)), x): the upscale must downscale back to its input."""
    return (box_down(sr, factor) - lr).abs().mean()


def phase_pattern(image: torch.Tensor, factor: int) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, f, f]: the mean of each sub-pixel phase over the image's f x f
    cells, less the mean over phases. A pixel-shuffle layer's lattice is this pattern repeated
    in every cell; a painting's is next to nothing."""
    n, c, h, w = image.shape
    cells = image[..., : h // factor * factor, : w // factor * factor]
    means = cells.reshape(n, c, h // factor, factor, w // factor, factor).mean(dim=(2, 4))
    return means - means.mean(dim=(2, 3), keepdim=True)


def lattice_loss(sr: torch.Tensor, hr: torch.Tensor, factor: int) -> torch.Tensor:
    """Squared gap between the output's and the target's phase patterns, averaged over the
    batch first: a crop's own texture gives it a pattern of its own that no upscaler can
    predict, but one that changes from crop to crop and averages out over a batch, while a
    lattice is the same in every crop and every cell (the dot lattice a chain of passes
    prints again and again). Zero for the targets themselves."""
    gap = (phase_pattern(sr, factor) - phase_pattern(hr, factor)).mean(dim=0)
    return gap.square().mean()


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating logistic loss, as for the GAN (train/losses.py)."""
    return F.softplus(-fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


# ----------------------------------------------------------------------------------------------
# Reconstruction metrics (on the luma channel, as super-resolution papers report them)


def pil_upscale(image: np.ndarray, factor: int, method: Image.Resampling) -> np.ndarray:
    """A float [H, W, 3] image upscaled by Pillow channel by channel in float ("F") mode, so the
    baseline sees the same unquantised input as the upscaler."""
    h, w = image.shape[:2]
    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(image[..., c], np.float32))
                           .resize((w * factor, h * factor), method)) for c in range(3)]
    return np.stack(channels, axis=-1)


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """[N, 3, H, W] RGB in [0, 1] -> [N, 1, H, W] ITU-R BT.601 luma in [16/255, 235/255], the
    convention of the SR literature (MATLAB's rgb2ycbcr)."""
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return (16 + 65.481 * r + 128.553 * g + 24.966 * b) / 255


def psnr_y(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of the luma of two [N, 3, H, W] images in [0, 1] (clamped first)."""
    mse = (rgb_to_y(a.clamp(0, 1)) - rgb_to_y(b.clamp(0, 1))).square().mean().item()
    return float("inf") if mse == 0 else 10 * torch.log10(torch.tensor(1 / mse)).item()


def ssim_y(a: torch.Tensor, b: torch.Tensor) -> float:
    """SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, valid region) of the luma."""
    x, y = rgb_to_y(a.clamp(0, 1)).double(), rgb_to_y(b.clamp(0, 1)).double()
    t = torch.arange(11, dtype=torch.float64, device=x.device) - 5
    g = torch.exp(-t.square() / (2 * 1.5**2))
    g = g / g.sum()
    # The Gaussian window is separable: a column pass then a row pass (22 taps, not 121, ~9x
    # faster), the five local statistics in one grouped call.
    stats = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    stats = F.conv2d(stats, g.view(1, 1, 11, 1).repeat(5, 1, 1, 1), groups=5)
    mx, my, xx, yy, xy = F.conv2d(stats, g.view(1, 1, 1, 11).repeat(5, 1, 1, 1),
                                  groups=5).unbind(dim=1)
    vx, vy, cxy = xx - mx**2, yy - my**2, xy - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return s.mean().item()


def build_upscaler(kwargs: dict) -> CompactSR:
    """A CompactSR from its ``init_kwargs`` (what checkpoints store)."""
    unknown = set(kwargs) - {"factor", "channels", "body_convs"}
    if unknown:
        raise ValueError(f"unknown upscaler settings: {sorted(unknown)}")
    return CompactSR(**kwargs)


def load_upscaler(path, device: torch.device | str = "cpu") -> CompactSR:
    """The upscaler saved by train_upscaler: its model file ``upscaler.pt``, a folder holding
    one, or a training checkpoint (``last.pt``); evaluation mode, no gradients."""
    return load_model(path, UPSCALER, device)


def card_chain(model: torch.nn.Module) -> dict | None:
    """The chain scores and pick that train_upscaler wrote into a loaded model's card
    (``metrics.chain``), or None (a training checkpoint, a model from before the chains, or
    one built in memory)."""
    return ((getattr(model, "card", None) or {}).get("metrics") or {}).get("chain")


# The model file train_upscaler writes and load_upscaler reads; a training checkpoint
# (last.pt) holds the same keys.
UPSCALER = ModelKind(format="marcus.upscaler", filename="upscaler.pt",
                     build=lambda **kwargs: build_upscaler(kwargs),
                     hint="train one with `dvc repro train_upscaler`",
                     checkpoint_keys=("model", "model_kwargs"))
