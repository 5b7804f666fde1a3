"""Does the generator copy its training images? Nearest training neighbours of every sample.

Two distances, each by exact brute force:

- perceptual hash: the 64-bit ``imagehash.phash`` of the sample's grayscale image
  (:func:`curate.hashing.phash_hex`), Hamming distance to every training image's hash (XOR and
  popcount on uint64). Robust to small colour and noise changes, blind to most else;
- feature space: L2 distance between encoder embeddings (:mod:`evaluate.encoder`).

The memorisation share needs a yardstick, because "close" depends on the data: how close do
*real* images that the generator never saw (held-out images) come to the training set?

    threshold = the ``percentile``-th percentile (default 5th) of the held-out images' nearest-
                training distances
    memorised = nearest-training distance < threshold   (strictly)
    share     = memorised samples / samples

A generator whose samples are as novel as fresh real paintings scores about ``percentile`` %
(5 %); a copying generator scores more, up to 100 %. The share is computed in feature space
(``memorised_share``, the headline) and with phash (``memorised_share_phash``). If the held-out
set's threshold is 0 (held-out images that duplicate training images), nothing can fall
strictly below it and the share is 0: de-duplicate across the split first (curate does).

Try it::

    python -c "import numpy as np; from evaluate.novelty import *; \\
      r = np.random.default_rng(0); t = r.integers(0, 256, (50, 32, 32, 3), np.uint8); \\
      print(phash_nearest(phash_codes(t[:3]), phash_codes(t)))"
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from curate.hashing import phash_hex
from evaluate.metrics import check_images, pairwise_sq_distances
from marcus.atomic import atomic_path

# ----------------------------------------------------------------------------------------------
# Nearest neighbours


def phash_codes(images: np.ndarray) -> np.ndarray:
    """The 64-bit perceptual hash of each uint8 NHWC image, as uint64 [N]."""
    images = check_images(images)
    return np.array([int(phash_hex(Image.fromarray(img).convert("L")), 16) for img in images],
                    dtype=np.uint64)


def phash_nearest(queries: np.ndarray, references: np.ndarray, chunk: int = 1024
                  ) -> tuple[np.ndarray, np.ndarray]:
    """For each query hash, (index of the nearest reference hash, Hamming distance), exact.
    Ties go to the lowest index."""
    queries = np.asarray(queries, dtype=np.uint64)
    references = np.asarray(references, dtype=np.uint64)
    if len(references) == 0:
        raise ValueError("no reference hashes to search")
    index = np.empty(len(queries), dtype=np.int64)
    distance = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        bits = np.bitwise_count(queries[start:start + chunk, None] ^ references[None, :])
        index[start:start + chunk] = np.argmin(bits, axis=1)
        distance[start:start + chunk] = bits[np.arange(len(bits)), index[start:start + chunk]]
    return index, distance


def feature_nearest(queries: np.ndarray, references: np.ndarray, chunk: int = 1024
                    ) -> tuple[np.ndarray, np.ndarray]:
    """For each query vector, (index of the nearest reference vector, L2 distance), exact, in
    float64. Ties go to the lowest index."""
    queries = np.asarray(queries, dtype=np.float64)
    references = np.asarray(references, dtype=np.float64)
    if queries.ndim != 2 or references.ndim != 2 or queries.shape[1] != references.shape[1]:
        raise ValueError(f"features must be [N, D] of one D: {queries.shape} vs "
                         f"{references.shape}")
    if len(references) == 0:
        raise ValueError("no reference features to search")
    index = np.empty(len(queries), dtype=np.int64)
    distance = np.empty(len(queries))
    for start in range(0, len(queries), chunk):
        d2 = pairwise_sq_distances(queries[start:start + chunk], references)
        index[start:start + chunk] = np.argmin(d2, axis=1)
        distance[start:start + chunk] = np.sqrt(d2[np.arange(len(d2)), index[start:start + chunk]])
    return index, distance


# ----------------------------------------------------------------------------------------------
# The report


@dataclass
class NoveltyReport:
    """Per-sample nearest training images and the memorisation verdicts (see the module doc)."""

    feature_index: np.ndarray       # nearest training image in feature space, per sample
    feature_distance: np.ndarray    # its L2 distance
    feature_pair_phash: np.ndarray  # Hamming distance between the sample and that image
    phash_index: np.ndarray         # nearest training image by phash, per sample
    phash_distance: np.ndarray      # its Hamming distance (0..64)
    heldout_feature_distance: np.ndarray  # held-out images' nearest-training distances
    heldout_phash_distance: np.ndarray
    feature_threshold: float        # percentile of heldout_feature_distance
    phash_threshold: float          # percentile of heldout_phash_distance
    percentile: float

    @property
    def memorised(self) -> np.ndarray:
        """Per sample: closer to the training set in feature space than all but `percentile` %
        of held-out real images."""
        return self.feature_distance < self.feature_threshold

    @property
    def memorised_phash(self) -> np.ndarray:
        return self.phash_distance < self.phash_threshold

    def summary(self) -> dict[str, float]:
        """Scalars for a metrics file."""
        return {
            "memorised_share": float(self.memorised.mean()),
            "memorised_share_phash": float(self.memorised_phash.mean()),
            "expected_share_if_novel": self.percentile / 100.0,
            "feature_threshold": self.feature_threshold,
            "phash_threshold": self.phash_threshold,
            "median_nn_feature_distance": float(np.median(self.feature_distance)),
            "median_nn_feature_distance_heldout": float(np.median(self.heldout_feature_distance)),
            "median_nn_phash_distance": float(np.median(self.phash_distance)),
            "median_nn_phash_distance_heldout": float(np.median(self.heldout_phash_distance)),
        }

    def closest_pairs(self, k: int) -> list[tuple[int, int, float, int]]:
        """The `k` samples closest to a training image in feature space, closest first:
        (sample index, training index, L2 feature distance, Hamming phash distance between the
        two). Ties go to the lower sample index."""
        order = np.lexsort((np.arange(len(self.feature_distance)), self.feature_distance))[:k]
        return [(int(i), int(self.feature_index[i]), float(self.feature_distance[i]),
                 int(self.feature_pair_phash[i])) for i in order]


def novelty_report(sample_features: np.ndarray, train_features: np.ndarray,
                   heldout_features: np.ndarray, sample_hashes: np.ndarray,
                   train_hashes: np.ndarray, heldout_hashes: np.ndarray,
                   percentile: float = 5.0,  # held-out percentile that defines "too close"
                   ) -> NoveltyReport:
    """Nearest training neighbours of samples and held-out images, and the thresholds.

    Features are encoder embeddings [N, D]; hashes come from :func:`phash_codes`. The held-out
    images must not be in the training set."""
    if not 0.0 < percentile < 100.0:
        raise ValueError(f"percentile must be in (0, 100), got {percentile}")
    if len(heldout_features) == 0 or len(heldout_hashes) == 0:
        raise ValueError("the memorisation threshold needs held-out images")
    for name, features, hashes in (("sample", sample_features, sample_hashes),
                                   ("training", train_features, train_hashes),
                                   ("held-out", heldout_features, heldout_hashes)):
        if len(features) != len(hashes):
            raise ValueError(f"{len(features)} {name} features but {len(hashes)} {name} hashes")
    feature_index, feature_distance = feature_nearest(sample_features, train_features)
    phash_index, phash_distance = phash_nearest(sample_hashes, train_hashes)
    _, heldout_feature = feature_nearest(heldout_features, train_features)
    _, heldout_phash = phash_nearest(heldout_hashes, train_hashes)
    sample_hashes = np.asarray(sample_hashes, dtype=np.uint64)
    train_hashes = np.asarray(train_hashes, dtype=np.uint64)
    pair_phash = np.bitwise_count(sample_hashes ^ train_hashes[feature_index]).astype(np.int64)
    return NoveltyReport(
        feature_index, feature_distance, pair_phash, phash_index, phash_distance, heldout_feature,
        heldout_phash, float(np.percentile(heldout_feature, percentile)),
        float(np.percentile(heldout_phash, percentile)), percentile)


# ----------------------------------------------------------------------------------------------
# Gallery


def write_gallery(path: str | os.PathLike, samples: np.ndarray, train_images: np.ndarray,
                  pairs: list[tuple], tile_px: int = 128, columns: int = 2,
                  gap_px: int = 8, caption_px: int = 14) -> None:
    """A PNG of (sample | nearest training image) pairs, `columns` pairs per row, each pair
    captioned with its sample and training indices and distances. `pairs` is what
    :meth:`NoveltyReport.closest_pairs` returns. Written atomically."""
    samples = check_images(samples, "samples")
    train_images = check_images(train_images, "train_images")
    if not pairs:
        raise ValueError("no pairs to draw")
    rows = -(-len(pairs) // columns)
    pair_w = 2 * tile_px + gap_px
    canvas = Image.new("RGB", (columns * pair_w + (columns + 1) * gap_px,
                               rows * (tile_px + caption_px + gap_px) + gap_px), "white")
    draw = ImageDraw.Draw(canvas)

    def tile(image: np.ndarray) -> Image.Image:
        # Nearest neighbour: the pixels as they are, not a smoothed impression of them.
        return Image.fromarray(image).resize((tile_px, tile_px), Image.Resampling.NEAREST)

    for n, (sample_index, train_index, feature_distance, phash_distance) in enumerate(pairs):
        x = gap_px + (n % columns) * (pair_w + gap_px)
        y = gap_px + (n // columns) * (tile_px + caption_px + gap_px)
        canvas.paste(tile(samples[sample_index]), (x, y))
        canvas.paste(tile(train_images[train_index]), (x + tile_px + gap_px, y))
        draw.text((x, y + tile_px + 1), f"s{sample_index} t{train_index} "
                  f"L2 {feature_distance:.2f} ph {phash_distance}", fill="black")
    with atomic_path(path) as tmp:
        canvas.save(tmp, format="PNG")
