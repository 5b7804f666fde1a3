"""The pixel lattice of an enlarged picture: how far its strongest isolated spectral peak stands
above the spectrum around it.

    from evaluate.lattice import lattice_peak
    peak = lattice_peak(image)   # image: [H, W, 3] or [H, W], uint8 or float in [0, 1]
    peak.db, peak.period_px      # e.g. 40.1 dB at 2.94 px: a lattice; ~18 dB: none
    print_lattice(print_image, lanczos_reference(print_image, 32))  # beside its reference

Why: an upscaler whose last layer is a sub-pixel convolution (pixel shuffle) can print the
same small pattern in every output cell, and a chain of passes prints it again at each pass. On
a canvas it is a regular dot lattice across the whole picture. A painting's spectrum falls off
smoothly with frequency (brushwork, craquelure and weave included); a lattice is a few sharp
bins far above their neighbours. So the score is a ratio, not a level: the luma's power
spectrum, averaged over Hann-windowed patches from the picture's centre (Welch), each bin in dB
against the median of its ``NEIGHBOURHOOD`` x ``NEIGHBOURHOOD`` bins, the largest such excess
at periods below ``MAX_PERIOD_PX`` (coarser structure is the picture's own). The number means
most next to the same score of a plain Lanczos enlargement of the same picture, which the
callers report beside it: a JPEG's 8 px blocks or a textile's pattern raise both alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy.ndimage import median_filter

PATCH_PX = 256          # side of the patches whose spectra are averaged
MIN_PATCH_PX = 64       # the smallest patch its callers score: a coarser spectrum says little
MAX_PATCHES = 16        # at most this many patches, in a square grid around the centre
NEIGHBOURHOOD = 9       # bins per side of the neighbourhood a bin is compared with
MAX_PERIOD_PX = 16.0    # only peaks at shorter periods count: longer ones are composition
GOAL_EXCESS_DB = 3.0    # issue 20: a print's peak at most this far above its Lanczos reference's
LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601, as the PSNR/SSIM of the upscaler


@dataclass(frozen=True)
class LatticePeak:
    db: float           # the strongest bin's excess over its neighbourhood's median, in dB
    period_px: float    # the period of that bin's frequency, in pixels
    cycles_per_px: tuple[float, float]  # that frequency, (vertical, horizontal)
    patches: int        # patches averaged

    def as_dict(self) -> dict:
        return {"db": round(self.db, 2), "period_px": round(self.period_px, 3),
                "cycles_per_px": [round(f, 4) for f in self.cycles_per_px],
                "patches": self.patches}


def luma(image: np.ndarray) -> np.ndarray:
    """Float64 luma in [0, 1] of an [H, W, 3] or [H, W] image, uint8 or float in [0, 1]."""
    image = np.asarray(image)
    scale = 255.0 if image.dtype == np.uint8 else 1.0
    image = image.astype(np.float64) / scale
    return image @ LUMA if image.ndim == 3 else image


def central_patches(y: np.ndarray, patch_px: int = PATCH_PX, most: int = MAX_PATCHES
                    ) -> list[np.ndarray]:
    """Up to ``most`` non-overlapping ``patch_px`` squares, a centred grid of them."""
    per_side = int(np.sqrt(most))
    rows, cols = (min(per_side, side // patch_px) for side in y.shape)
    if rows == 0 or cols == 0:
        raise ValueError(f"a {y.shape[1]}x{y.shape[0]} picture is smaller than one "
                         f"{patch_px} px patch")
    top = (y.shape[0] - rows * patch_px) // 2
    left = (y.shape[1] - cols * patch_px) // 2
    return [y[top + r * patch_px: top + (r + 1) * patch_px,
              left + c * patch_px: left + (c + 1) * patch_px]
            for r in range(rows) for c in range(cols)]


def welch_db(patches: list[np.ndarray]) -> np.ndarray:
    """The mean power spectrum of the patches (each mean-free, Hann-windowed), in dB, zero
    frequency at the centre."""
    side = patches[0].shape[0]
    window = np.outer(np.hanning(side), np.hanning(side))
    power = np.zeros((side, side))
    for patch in patches:
        power += np.abs(np.fft.fft2((patch - patch.mean()) * window)) ** 2
    return 10 * np.log10(np.fft.fftshift(power / len(patches)) + 1e-20)


def lattice_peak(image: np.ndarray, patch_px: int = PATCH_PX) -> LatticePeak:
    """The strongest isolated spectral peak of ``image`` (see the module docstring)."""
    patches = central_patches(luma(image), patch_px)
    spectrum = welch_db(patches)
    excess = spectrum - median_filter(spectrum, size=NEIGHBOURHOOD, mode="wrap")
    frequency = np.fft.fftshift(np.fft.fftfreq(patch_px))  # cycles per pixel
    radius = np.hypot(*np.meshgrid(frequency, frequency, indexing="ij"))
    excess[radius < 1 / MAX_PERIOD_PX] = -np.inf
    row, col = np.unravel_index(np.argmax(excess), excess.shape)
    return LatticePeak(float(excess[row, col]), float(1 / radius[row, col]),
                       (float(frequency[row]), float(frequency[col])), len(patches))


def lanczos_reference(image: np.ndarray, source_px: int) -> np.ndarray:
    """The same picture without an upscaler's fine structure: box-averaged down until its
    long side is ``source_px`` (the size the upscaler chain started from; the average of a
    whole output cell erases whatever pattern the chain put in it), then enlarged back to
    the same size by Lanczos. uint8 [H, W, 3] in and out."""
    h, w = image.shape[:2]
    scale = source_px / max(h, w)
    small = Image.fromarray(image).resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                          Image.Resampling.BOX)
    return np.asarray(small.resize((w, h), Image.Resampling.LANCZOS))


def print_lattice(image: np.ndarray, reference: np.ndarray, patch_px: int = PATCH_PX) -> dict:
    """A print's lattice peak beside its Lanczos reference's (``lanczos_reference``), and
    the excess in dB: what the upscaler chain added, whatever the picture's own spectrum."""
    ours, reference = lattice_peak(image, patch_px), lattice_peak(reference, patch_px)
    return {**ours.as_dict(), "lanczos_db": round(reference.db, 2),
            "excess_db": round(ours.db - reference.db, 2)}
