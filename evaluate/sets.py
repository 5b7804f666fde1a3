"""The image sets the evaluation compares, and how each is scored.

``gan_samples`` paints seeds 0..N-1 with the trained EMA generator; ``score`` compares a set
with the held-out paintings: SWD on Laplacian-pyramid patches, and FD, KID, precision and
recall in a feature space (:mod:`evaluate.metrics`). The stage (:mod:`evaluate.stage`) builds
the sets and calls these.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from evaluate import metrics
from train.data import PackedImages


def all_images(data: PackedImages) -> np.ndarray:
    return np.asarray(data.batch(np.arange(len(data))))


@torch.no_grad()
def gan_samples(model_dir: Path, count: int, truncation: float, batch: int = 64) -> np.ndarray:
    """uint8 NHWC samples for seeds 0..count-1 (seed i paints sample i, whatever the batch)."""
    from train.generate import latent, load_generator
    G = load_generator(model_dir)
    out = []
    for start in range(0, count, batch):
        z = torch.cat([latent(G, s) for s in range(start, min(start + batch, count))])
        ws = G.mapping(z, None, truncation_psi=truncation)
        out.append(metrics.to_uint8_nhwc(G.synthesis(ws, noise_mode="const")))
    return np.concatenate(out)


def score(name: str, images: np.ndarray, features: np.ndarray, real_images: np.ndarray,
          real_features: np.ndarray, seed: int) -> dict:
    kid_size = min(len(features), len(real_features), 1000)
    result = {"swd": metrics.swd(real_images, images, seed=seed)}
    result.update(metrics.feature_metrics(real_features, features, seed=seed,
                                          kid_subset_size=kid_size))
    print(f"evaluate: {name}: " + ", ".join(f"{k} {v if isinstance(v, dict) else round(v, 4)}"
                                             for k, v in result.items() if k != "swd")
          + f", swd {result['swd']['swd_mean']:.3f}")
    return result
