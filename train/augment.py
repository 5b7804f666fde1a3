"""Differentiable augmentation with an adaptive probability (ADA, Karras et al. 2020), for
training a GAN on a few hundred or thousand paintings.

    pipe = AugmentPipe()                 # p = 0: the identity
    pipe.p.fill_(0.3)
    y = pipe(x)                          # x: [N, 3, H, W] in [-1, 1]; gradients flow to x
    ada = AdaptiveAugment(target=0.6, speed_kimg=500, batch_size=64, interval_steps=4)
    ada.accumulate(real_logits.sign())   # every D step
    pipe.p.fill_(ada.update())           # every interval_steps steps

With little data, D memorises the training set and its feedback to G becomes useless. Showing
D every image, real and generated alike, through the same random transformations, each applied
with probability p, stops the memorising; as long as p stays well below 1 the transformations
do not leak into G's output, because G cannot tell which images D saw transformed.
`AdaptiveAugment` steers p with the overfitting heuristic r_t = E[sign(D(real))]: above the
target, D is too sure of the reals, so p rises; below it, p falls.

Geometric transformations (x-flip, 90-degree rotation, integer translation, isotropic scaling,
arbitrary rotation) are composed into one 3x3 matrix per image and applied with one bilinear
`grid_sample` with reflection padding, so gradients reach the generator. Colour
transformations (brightness, contrast, luma flip, hue rotation, saturation) are composed into
one 4x4 matrix per image acting on RGB, as in ADA. Every random number comes from torch's
global RNG (which the training loop seeds and checkpoints), and the same numbers are drawn
whatever p is, so a run is deterministic given that state.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _matrices(n: int, size: int, device: torch.device) -> torch.Tensor:
    return torch.eye(size, device=device).repeat(n, 1, 1)


def _rotation2d(angle: torch.Tensor) -> torch.Tensor:
    m = _matrices(len(angle), 3, angle.device)
    m[:, 0, 0], m[:, 0, 1] = torch.cos(angle), -torch.sin(angle)
    m[:, 1, 0], m[:, 1, 1] = torch.sin(angle), torch.cos(angle)
    return m


def _scale2d(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    m = _matrices(len(sx), 3, sx.device)
    m[:, 0, 0], m[:, 1, 1] = sx, sy
    return m


def _translate2d(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    m = _matrices(len(tx), 3, tx.device)
    m[:, 0, 2], m[:, 1, 2] = tx, ty
    return m


class AugmentPipe(nn.Module):
    def __init__(self,
                 xflip: float = 1.0,            # per-transform multipliers of p: 0 disables
                 rotate90: float = 1.0,
                 xint: float = 1.0,
                 scale: float = 1.0,
                 rotate: float = 1.0,
                 brightness: float = 1.0,
                 contrast: float = 1.0,
                 lumaflip: float = 1.0,
                 hue: float = 1.0,
                 saturation: float = 1.0,
                 xint_max: float = 0.125,       # integer translation, share of the image side
                 scale_std: float = 0.2,        # log2 standard deviation of the scale factor
                 rotate_max: float = 1.0,       # rotation range, share of +-180 degrees
                 brightness_std: float = 0.2,   # standard deviation of the added offset
                 contrast_std: float = 0.5,     # log2 standard deviation of the contrast factor
                 hue_max: float = 1.0,          # hue rotation range, share of +-180 degrees
                 saturation_std: float = 1.0):  # log2 standard deviation of the saturation
        super().__init__()
        self.strengths = dict(xflip=xflip, rotate90=rotate90, xint=xint, scale=scale,
                              rotate=rotate, brightness=brightness, contrast=contrast,
                              lumaflip=lumaflip, hue=hue, saturation=saturation)
        for name, value in self.strengths.items():
            if value < 0:
                raise ValueError(f"augmentation strength {name} must be >= 0, not {value}")
        self.xint_max, self.scale_std, self.rotate_max = xint_max, scale_std, rotate_max
        self.brightness_std, self.contrast_std = brightness_std, contrast_std
        self.hue_max, self.saturation_std = hue_max, saturation_std
        # The probability is a buffer: the loop sets it from AdaptiveAugment with p.fill_().
        self.register_buffer("p", torch.zeros([]))

    def _chosen(self, name: str, n: int, p: float, device: torch.device) -> torch.Tensor:
        """[N] float: 1 where transform `name` is applied to that image this time."""
        return (torch.rand([n], device=device) < p * self.strengths[name]).float()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4:
            raise ValueError(f"images must be [N, C, H, W], not {list(images.shape)}")
        p = float(self.p)
        if p <= 0:
            return images
        n, channels, h, w = images.shape
        dev = images.device
        images = self._geometric(images, n, h, w, p, dev)
        if channels == 3:
            images = self._colour(images, n, p, dev)
        return images

    def _geometric(self, images: torch.Tensor, n: int, h: int, w: int, p: float,
                   dev: torch.device) -> torch.Tensor:
        # The matrix maps output pixel coordinates (centred, in pixels) to input coordinates.
        m = _matrices(n, 3, dev)
        flip = self._chosen("xflip", n, p, dev) * torch.randint(2, [n], device=dev)
        m = m @ _scale2d(1 - 2 * flip, torch.ones(n, device=dev))
        quarter = self._chosen("rotate90", n, p, dev) * torch.randint(4, [n], device=dev)
        m = m @ _rotation2d(quarter * (math.pi / 2))
        shift = (torch.rand([n, 2], device=dev) * 2 - 1) * self.xint_max
        shift = shift * self._chosen("xint", n, p, dev)[:, None]
        m = m @ _translate2d(torch.round(shift[:, 0] * w), torch.round(shift[:, 1] * h))
        s = torch.exp2(torch.randn([n], device=dev) * self.scale_std
                       * self._chosen("scale", n, p, dev))
        m = m @ _scale2d(s, s)
        theta = (torch.rand([n], device=dev) * 2 - 1) * (math.pi * self.rotate_max)
        m = m @ _rotation2d(theta * self._chosen("rotate", n, p, dev))
        if torch.equal(m, _matrices(n, 3, dev)):
            return images  # no image drew a geometric transform
        # Pixel coordinates to affine_grid's [-1, 1] (align_corners=False: pixel edges).
        to_unit = _scale2d(torch.full([n], 2 / w, device=dev), torch.full([n], 2 / h, device=dev))
        to_pixels = _scale2d(torch.full([n], w / 2, device=dev), torch.full([n], h / 2, device=dev))
        m = to_unit @ m @ to_pixels
        grid = F.affine_grid(m[:, :2, :].to(images.dtype), [n, images.shape[1], h, w],
                             align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection",
                             align_corners=False)

    def _colour(self, images: torch.Tensor, n: int, p: float, dev: torch.device
                ) -> torch.Tensor:
        # A 4x4 matrix on homogeneous RGB; images are in [-1, 1], so 0 is mid grey.
        c = _matrices(n, 4, dev)
        luma = torch.tensor([1.0, 1.0, 1.0, 0.0], device=dev) / math.sqrt(3)
        luma_outer = torch.outer(luma, luma)                 # projection onto the grey axis
        eye = torch.eye(4, device=dev)
        b = torch.randn([n], device=dev) * self.brightness_std
        b = b * self._chosen("brightness", n, p, dev)
        t = _matrices(n, 4, dev)
        t[:, :3, 3] = b[:, None]
        c = t @ c
        k = torch.exp2(torch.randn([n], device=dev) * self.contrast_std
                       * self._chosen("contrast", n, p, dev))
        scale = _matrices(n, 4, dev)
        scale[:, 0, 0] = scale[:, 1, 1] = scale[:, 2, 2] = k
        c = scale @ c
        flip = self._chosen("lumaflip", n, p, dev) * torch.randint(2, [n], device=dev)
        c = (eye - 2 * luma_outer * flip[:, None, None]) @ c
        theta = (torch.rand([n], device=dev) * 2 - 1) * (math.pi * self.hue_max)
        theta = theta * self._chosen("hue", n, p, dev)
        c = _rotation_about(luma[:3], theta) @ c
        s = torch.exp2(torch.randn([n], device=dev) * self.saturation_std
                       * self._chosen("saturation", n, p, dev))
        c = (luma_outer + (eye - luma_outer) * s[:, None, None]) @ c
        if torch.equal(c, _matrices(n, 4, dev)):
            return images
        c = c.to(images.dtype)
        rgb = images.reshape(n, 3, -1)
        out = torch.baddbmm(c[:, :3, 3:], c[:, :3, :3], rgb)
        return out.reshape(images.shape)


def _rotation_about(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """[N, 4, 4]: rotation by `angle` about the unit 3-vector `axis` (Rodrigues)."""
    x, y, z = axis.tolist()
    cross = torch.tensor([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]], device=angle.device)
    outer = torch.outer(axis, axis)
    cos, sin = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    r = cos * torch.eye(3, device=angle.device) + sin * cross + (1 - cos) * outer
    m = _matrices(len(angle), 4, angle.device)
    m[:, :3, :3] = r
    return m


class AdaptiveAugment:
    """The ADA controller. Every `interval_steps` steps, p moves by
    sign(r_t - target) * batch_size * interval_steps / (speed_kimg * 1000), where r_t is the
    mean sign of D's logits on the reals since the last update; so p can cross [0, 1] in
    `speed_kimg` thousand images. p stays in [0, p_max]."""

    def __init__(self,
                 target: float = 0.6,        # r_t above this means D overfits: raise p
                 speed_kimg: float = 500,    # thousands of images for p to go from 0 to 1
                 batch_size: int = 64,       # images per step, all processes together
                 interval_steps: int = 4,    # steps between updates
                 p: float = 0.0,             # initial probability
                 p_max: float = 0.99):       # below 1: D must still see untransformed images
        if speed_kimg <= 0 or batch_size < 1 or interval_steps < 1:
            raise ValueError("speed_kimg must be > 0, batch_size and interval_steps >= 1")
        if not 0 <= p <= p_max < 1:
            raise ValueError(f"need 0 <= p <= p_max < 1, got p={p}, p_max={p_max}")
        self.target, self.speed_kimg = target, speed_kimg
        self.batch_size, self.interval_steps, self.p_max = batch_size, interval_steps, p_max
        self.p = float(p)
        self.sign_sum, self.count = 0.0, 0
        self.rt = float("nan")  # the last r_t, for logging

    def accumulate(self, real_logits_sign: torch.Tensor) -> None:
        """Add the signs of D's logits on a batch of (augmented) reals."""
        self.sign_sum += float(real_logits_sign.detach().sum())
        self.count += int(real_logits_sign.numel())

    def update(self, dist=None) -> float:
        """Adjust p from the signs gathered since the last call (summed over all ranks when
        `dist` is an enabled train.distributed.Dist) and return it."""
        totals = torch.tensor([self.sign_sum, float(self.count)], dtype=torch.float64)
        if dist is not None and dist.enabled:
            if dist.device.type == "cuda":
                totals = totals.to(dist.device)
            torch.distributed.all_reduce(totals)
            totals = totals.cpu()
        self.sign_sum, self.count = 0.0, 0
        if totals[1] == 0:
            return self.p
        self.rt = float(totals[0] / totals[1])
        step = self.batch_size * self.interval_steps / (self.speed_kimg * 1000)
        direction = (self.rt > self.target) - (self.rt < self.target)   # sign, 0 at the target
        self.p = min(max(self.p + direction * step, 0.0), self.p_max)
        return self.p

    def state_dict(self) -> dict:
        return {"p": self.p, "sign_sum": self.sign_sum, "count": self.count, "rt": self.rt}

    def load_state_dict(self, state: dict) -> None:
        self.p, self.sign_sum, self.count = state["p"], state["sign_sum"], state["count"]
        self.rt = state.get("rt", float("nan"))
