"""Synthetic painting-like images for the evaluation tests and benchmarks: cheap, seeded, and
varied enough that metrics can tell sets apart (colour, layout, texture differ per image).

    from train.synthetic import paintings
    images = paintings(100, 32, seed=0)   # uint8 [100, 32, 32, 3]
"""

from __future__ import annotations

import numpy as np


def paintings(n: int, px: int, seed: int) -> np.ndarray:
    """Synthetic 'paintings': a vertical two-colour gradient sky, a striped lower half with a
    random frequency and angle, and a disc. uint8 NHWC."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:px, 0:px] / px
    top, bottom, stripe = (rng.uniform(0, 255, (n, 1, 1, 3)) for _ in range(3))
    img = top * (1 - yy[None, :, :, None]) + bottom * yy[None, :, :, None]
    freq = rng.uniform(3, 9, (n, 1, 1))
    angle = rng.uniform(0, np.pi, (n, 1, 1))
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (xx * np.cos(angle) + yy * np.sin(angle)))
    lower = (yy > rng.uniform(0.4, 0.7, (n, 1, 1)))[..., None]
    img = np.where(lower, img * (1 - 0.6 * wave[..., None]) + stripe * 0.6 * wave[..., None], img)
    cx, cy, r = (rng.uniform(0.2, 0.8, (n, 1, 1)) for _ in range(3))
    disc = ((xx - cx) ** 2 + (yy - cy) ** 2 < (r * 0.3) ** 2)[..., None]
    img = np.where(disc, rng.uniform(0, 255, (n, 1, 1, 3)), img)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)
