"""The losses of Gatys-style transfer, each split into statistics and a distance so that the
statistics can be summed tile by tile (exact tiling) and masked (guided Gram matrices).

Style statistics of a feature map F [C, H, W] under weights m [H, W] (a mask, or ones):
    n = sum m,   mean = sum m F / n,   gram = sum m F F^T / n
(the second moment: Gatys' Gram matrix divided by the pixel count, so that it does not grow
with the image). Losses between the statistics of the image (x) and of the style (s):

- ``gram``: |gram_x - gram_s|^2, mean over the C x C entries (Gatys et al. 2016);
- ``meancov``: |mean_x - mean_s|^2 / C + |cov_x - cov_s|^2 / C^2 (cov = gram - mean mean^T);
- ``wasserstein``: the squared 2-Wasserstein distance between the Gaussians (mean, cov), per
  channel: |mean_x - mean_s|^2 + tr(cov_x + cov_s - 2 (cov_s^1/2 cov_x cov_s^1/2)^1/2), over C.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

STYLE_LOSSES = ("gram", "meancov", "wasserstein")


@dataclass
class Moments:
    """Sums of one feature map's statistics: add two to combine tiles or images."""
    count: torch.Tensor   # [] sum of the weights
    first: torch.Tensor   # [C] sum of m F
    second: torch.Tensor  # [C, C] sum of m F F^T

    def __add__(self, other: Moments) -> Moments:
        return Moments(self.count + other.count, self.first + other.first,
                       self.second + other.second)

    def scaled(self, weight: float) -> Moments:
        return Moments(self.count * weight, self.first * weight, self.second * weight)

    def unit(self) -> Moments:
        """The same mean and Gram matrix with a count of one: an image weighs one in a blend,
        whatever its size."""
        return Moments(torch.ones_like(self.count), self.mean, self.gram)

    @property
    def mean(self) -> torch.Tensor:
        return self.first / self.count.clamp(min=1e-8)

    @property
    def gram(self) -> torch.Tensor:
        return self.second / self.count.clamp(min=1e-8)

    @property
    def cov(self) -> torch.Tensor:
        mean = self.mean
        return self.gram - torch.outer(mean, mean)


def moments(features: torch.Tensor, mask: torch.Tensor | None = None) -> Moments:
    """Moments of features [1, C, H, W] (or [C, H, W]) under mask [H, W] (None: all ones), in
    float64: sums over a million pixels and over tiles then agree to far below the losses'
    float32 (the 2-Wasserstein distance's square root magnifies their differences)."""
    f = features.reshape(features.shape[-3], -1).double()
    if mask is None:
        return Moments(torch.tensor(float(f.shape[1]), dtype=f.dtype, device=f.device),
                       f.sum(dim=1), f @ f.T)
    m = mask.reshape(-1).to(f.dtype)
    weighted = f * m
    return Moments(m.sum(), weighted.sum(dim=1), weighted @ f.T)


def style_distance(x: Moments, s: Moments, kind: str = "gram") -> torch.Tensor:
    """The style loss between the image's and the style's statistics (module docstring)."""
    channels = x.first.shape[0]
    if kind == "gram":
        return (x.gram - s.gram).square().mean()
    if kind == "meancov":
        return ((x.mean - s.mean).square().sum() / channels
                + (x.cov - s.cov).square().sum() / channels ** 2)
    if kind == "wasserstein":
        root_s = sqrtm_psd(s.cov.detach())
        trace = (torch.trace(x.cov) + torch.trace(s.cov)
                 - 2 * _trace_sqrtm_psd(root_s @ x.cov @ root_s))
        return ((x.mean - s.mean).square().sum() + trace.clamp(min=0)) / channels
    raise ValueError(f"style loss must be one of {', '.join(STYLE_LOSSES)}, not {kind!r}")


def sqrtm_psd(matrix: torch.Tensor) -> torch.Tensor:
    """The square root of a symmetric positive semi-definite matrix, differentiable (eigh in
    float64, eigenvalues clamped at 0)."""
    sym = (matrix + matrix.T).double() / 2
    values, vectors = torch.linalg.eigh(sym)
    root = (vectors * values.clamp(min=0).sqrt()) @ vectors.T
    return root.to(matrix.dtype)


def _trace_sqrtm_psd(matrix: torch.Tensor) -> torch.Tensor:
    """tr(matrix^1/2) from the eigenvalues alone: its gradient needs no eigenvectors'
    derivatives, which are infinite where eigenvalues repeat (a feature map with fewer pixels
    than channels, as a small masked region at a deep layer, has many zero eigenvalues). A
    floor of 1e-8 of the mean eigenvalue keeps the square root's slope finite at 0."""
    values = torch.linalg.eigvalsh((matrix + matrix.T).double() / 2).clamp(min=0)
    floor = 1e-8 * values.mean().detach() + 1e-30
    return (values + floor).sqrt().sum().to(matrix.dtype)


def content_distance(x: torch.Tensor, c: torch.Tensor,
                     mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared difference of two feature maps, over the masked pixels where given."""
    diff = (x - c).square()
    if mask is None:
        return diff.mean()
    m = mask.to(diff.dtype)
    return (diff * m).sum() / (m.sum() * diff.shape[-3]).clamp(min=1e-8)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring pixels, across and down."""
    return ((image[..., :, 1:] - image[..., :, :-1]).square().mean()
            + (image[..., 1:, :] - image[..., :-1, :]).square().mean())
