"""Differentiable augmentation with an adaptive probability (ADA), for small datasets.

    pipe = AugmentPipe()                 # p = 0: identity
    pipe.p.fill_(0.3)
    y = pipe(x)                          # x: [N, 3, H, W] in [-1, 1]; gradients flow through

With a few thousand paintings, D memorises the training set and G's gradients collapse.
Showing D every image (real and generated alike) through the same random transformations,
each applied with probability p, stops the memorising without leaking the transformations
into G's output, as long as p stays below where they become unrecognisable (Karras et al.
2020). `AdaptiveAugment` steers p from the overfitting heuristic r_t = E[sign(D(real))]: above
the target, D is too sure of the reals, so p rises; below, it falls.

Geometric transformations (x-flip, 90-degree rotations, integer translation, isotropic
scaling, rotation) are composed into one affine matrix per image and applied with a single
`grid_sample` (reflection padding); colour transformations (brightness, contrast,
saturation) are per-image affine maps of the RGB values. Every draw comes from torch's global
RNG, which the training loop seeds and checkpoints.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class AugmentPipe(nn.Module):
    def __init__(self,
                 xflip: float = 1.0,          # relative strengths: 0 disables a transform
                 rotate90: float = 1.0,
                 xint: float = 1.0,
                 scale: float = 1.0,
                 rotate: float = 1.0,
                 brightness: float = 1.0,
                 contrast: float = 1.0,
                 saturation: float = 1.0,
                 xint_max: float = 0.125,     # integer translation, share of the image side
                 scale_std: float = 0.2,      # log2 standard deviation of the scale factor
                 rotate_max: float = 1.0,     # rotation range, share of +-180 degrees
                 brightness_std: float = 0.2,
                 contrast_std: float = 0.5,   # log2
                 saturation_std: float = 1.0):  # log2
        super().__init__()
        self.register_buffer("p", torch.zeros([]))
        self.weights = dict(xflip=xflip, rotate90=rotate90, xint=xint, scale=scale,
                            rotate=rotate, brightness=brightness, contrast=contrast,
                            saturation=saturation)
        self.xint_max, self.scale_std, self.rotate_max = xint_max, scale_std, rotate_max
        self.brightness_std, self.contrast_std = brightness_std, contrast_std
        self.saturation_std = saturation_std

    def _chosen(self, name: str, n: int, device) -> torch.Tensor:
        """Per image: 1.0 where transform `name` is applied this time."""
        prob = float(self.p) * self.weights[name]
        return (torch.rand([n], device=device) < prob).float()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if float(self.p) <= 0:
            return images
        n, _, h, w = images.shape
        dev = images.device
        eye = torch.eye(3, device=dev).repeat(n, 1, 1)
        m = eye.clone()

        def compose(matrix):
            nonlocal m
            m = m @ matrix

        def mat(a, b, c, d, tx, ty):
            out = eye.clone()
            out[:, 0, 0], out[:, 0, 1], out[:, 0, 2] = a, b, tx
            out[:, 1, 0], out[:, 1, 1], out[:, 1, 2] = c, d, ty
            return out

        ones, zeros = torch.ones(n, device=dev), torch.zeros(n, device=dev)
        flip = 1 - 2 * self._chosen("xflip", n, dev) * torch.randint(2, [n], device=dev)
        compose(mat(flip, zeros, zeros, ones, zeros, zeros))
        quarter = self._chosen("rotate90", n, dev) * torch.randint(4, [n], device=dev)
        angle = quarter * (math.pi / 2)
        compose(mat(torch.cos(angle), -torch.sin(angle), torch.sin(angle), torch.cos(angle),
                    zeros, zeros))
        shift = self._chosen("xint", n, dev)[:, None] * (
            torch.rand([n, 2], device=dev) * 2 - 1) * self.xint_max
        # whole pixels: grid coordinates span 2 units over the image
        tx = torch.round(shift[:, 0] * w) * 2 / w
        ty = torch.round(shift[:, 1] * h) * 2 / h
        compose(mat(ones, zeros, zeros, ones, tx, ty))
        s = torch.exp2(torch.randn([n], device=dev) * self.scale_std
                       * self._chosen("scale", n, dev))
        compose(mat(s, zeros, zeros, s, zeros, zeros))
        theta = (torch.rand([n], device=dev) * 2 - 1) * math.pi * self.rotate_max \
            * self._chosen("rotate", n, dev)
        compose(mat(torch.cos(theta), -torch.sin(theta), torch.sin(theta), torch.cos(theta),
                    zeros, zeros))
        if not torch.equal(m, eye):
            grid = F.affine_grid(m[:, :2, :], list(images.shape), align_corners=False)
            images = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection",
                                   align_corners=False)

        # colour: brightness (add), contrast (scale around the mean), saturation (scale the
        # distance from the per-pixel luma)
        b = torch.randn([n, 1, 1, 1], device=dev) * self.brightness_std \
            * self._chosen("brightness", n, dev)[:, None, None, None]
        images = images + b
        c = torch.exp2(torch.randn([n, 1, 1, 1], device=dev) * self.contrast_std
                       * self._chosen("contrast", n, dev)[:, None, None, None])
        mean = images.mean(dim=[1, 2, 3], keepdim=True)
        images = (images - mean) * c + mean
        sat = torch.exp2(torch.randn([n, 1, 1, 1], device=dev) * self.saturation_std
                         * self._chosen("saturation", n, dev)[:, None, None, None])
        luma = images.mean(dim=1, keepdim=True)
        return (images - luma) * sat + luma


class AdaptiveAugment:
    """The ADA controller: p moves by at most `batch_size * interval_steps / (speed_kimg *
    1000)` per adjustment, towards keeping E[sign(D(real))] at `target`."""

    def __init__(self, target: float = 0.6, speed_kimg: float = 500, batch_size: int = 64,
                 interval_steps: int = 4, p: float = 0.0):
        self.target, self.speed_kimg = target, speed_kimg
        self.batch_size, self.interval_steps = batch_size, interval_steps
        self.p = float(p)
        self.sign_sum, self.count = 0.0, 0

    def accumulate(self, real_logits_sign: torch.Tensor) -> None:
        self.sign_sum += float(real_logits_sign.sum())
        self.count += int(real_logits_sign.numel())

    def update(self, dist=None) -> float:
        """Adjust p from the signs gathered since the last call (over all ranks)."""
        totals = torch.tensor([self.sign_sum, float(self.count)], dtype=torch.float64)
        if dist is not None and dist.enabled:
            torch.distributed.all_reduce(totals)
        self.sign_sum, self.count = 0.0, 0
        if totals[1] == 0:
            return self.p
        rt = float(totals[0] / totals[1])
        step = self.batch_size * self.interval_steps / (self.speed_kimg * 1000)
        self.p = min(max(self.p + math.copysign(step, rt - self.target), 0.0), 1.0)
        return self.p

    def state_dict(self) -> dict:
        return {"p": self.p, "sign_sum": self.sign_sum, "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.p, self.sign_sum, self.count = state["p"], state["sign_sum"], state["count"]
