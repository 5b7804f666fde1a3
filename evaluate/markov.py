"""The baseline generator: a Markov chain that paints pixels in raster order.

Any GAN worth training must beat this on every metric; if it does not, the metric or the GAN is
broken. The model:

- colours are quantised to a palette of ``palette_size`` colours (seeded k-means on a sample of
  training pixels, in RGB);
- each pixel's colour is drawn from the distribution of colours that followed the same context
  in the training images, the context being the already-painted causal neighbours (left,
  up-left, up, up-right; outside the image is a "border" symbol) and the pixel's horizontal band
  of the image (``bands`` of them, so skies stay at the top);
- a context never seen in training backs off to fewer neighbours: (left, up) and then (left)
  and finally the band's colour histogram, each with the band kept;
- probabilities are add-``alpha`` smoothed counts.

Sampling is vectorised over samples: for each pixel position one lookup and one draw for all n
samples, so 1,000 samples of 64x64 take seconds. Try it::

    python -c "import numpy as np; from evaluate.markov import MarkovPainter; \\
      x = np.random.default_rng(0).integers(0, 256, (20, 32, 32, 3), dtype=np.uint8); \\
      print(MarkovPainter.fit(x, seed=0).sample(4, seed=1).shape)"
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluate.metrics import check_images
from marcus.atomic import atomic_path

FORMAT = "marcus-markov-v1"

# Back-off levels, most specific first: which neighbours (of left, up-left, up, up-right) each
# context uses. The band is part of every level.
LEVELS: tuple[tuple[int, ...], ...] = ((0, 1, 2, 3), (0, 2), (0,), ())


def kmeans_palette(pixels: np.ndarray, size: int, seed: int, iterations: int = 20) -> np.ndarray:
    """`size` RGB cluster centres (float64 [size, 3]) of `pixels` [M, 3]: k-means++ seeding,
    then Lloyd iterations. An empty cluster keeps its previous centre."""
    pixels = np.asarray(pixels, dtype=np.float64)
    rng = np.random.default_rng(seed)
    distinct = np.unique(pixels, axis=0)
    if len(distinct) <= size:
        # Fewer colours than palette entries: the colours themselves, padded by repetition.
        return np.resize(distinct, (size, 3)).astype(np.float64)
    centres = [pixels[rng.integers(len(pixels))]]
    nearest_sq = ((pixels - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, size):
        weights = nearest_sq / nearest_sq.sum()
        centres.append(pixels[rng.choice(len(pixels), p=weights)])
        nearest_sq = np.minimum(nearest_sq, ((pixels - centres[-1]) ** 2).sum(axis=1))
    centres = np.array(centres)
    for _ in range(iterations):
        assignment = nearest_colour(pixels, centres)
        sums = np.zeros_like(centres)
        np.add.at(sums, assignment, pixels)
        counts = np.bincount(assignment, minlength=size)[:, None]
        centres = np.where(counts > 0, sums / np.maximum(counts, 1), centres)
    return centres


def nearest_colour(pixels: np.ndarray, palette: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """Index of the nearest palette colour (squared RGB distance) for each pixel [M, 3]."""
    pixels = np.asarray(pixels, dtype=np.float64)
    out = np.empty(len(pixels), dtype=np.int64)
    palette_sq = (palette**2).sum(axis=1)
    for start in range(0, len(pixels), chunk):
        block = pixels[start:start + chunk]
        out[start:start + chunk] = np.argmin(palette_sq[None, :] - 2.0 * block @ palette.T,
                                             axis=1)
    return out


def _neighbours(indices: np.ndarray, border: int) -> np.ndarray:
    """Causal neighbours [4, N, H, W] (left, up-left, up, up-right) of palette-index images
    [N, H, W], with `border` outside the image."""
    padded = np.pad(indices, ((0, 0), (1, 0), (1, 1)), constant_values=border)
    height, width = indices.shape[1:]
    return np.stack([padded[:, 1:, 0:width], padded[:, 0:height, 0:width],
                     padded[:, 0:height, 1:width + 1], padded[:, 0:height, 2:width + 2]])


def _keys(band: np.ndarray, neighbours: np.ndarray, level: tuple[int, ...], base: int
          ) -> np.ndarray:
    """One int64 key per context: the band and the level's neighbours in base `base`."""
    key = band.astype(np.int64)
    for which in level:
        key = key * base + neighbours[which]
    return key


@dataclass
class _Table:
    """One back-off level: sorted context keys and each context's colour counts."""

    keys: np.ndarray            # int64 [contexts], sorted
    counts: np.ndarray          # uint32 [contexts, palette_size]

    def cdf(self, rows: np.ndarray, alpha: float) -> np.ndarray:
        """Cumulative add-alpha smoothed colour probabilities of some contexts (computed per
        lookup: storing them for every context would cost 8 bytes per count)."""
        probs = self.counts[rows].astype(np.float64) + alpha
        return np.cumsum(probs, axis=1) / probs.sum(axis=1, keepdims=True)


class MarkovPainter:
    """A fitted Markov-chain painter; build one with :meth:`fit` or :meth:`load`."""

    def __init__(self, palette: np.ndarray, height: int, width: int, bands: int, alpha: float,
                 tables: list[_Table], config: dict) -> None:
        self.palette = palette
        self.height, self.width, self.bands, self.alpha = height, width, bands, alpha
        self.tables = tables
        self.config = config

    @property
    def palette_uint8(self) -> np.ndarray:
        return np.clip(np.rint(self.palette), 0, 255).astype(np.uint8)

    # ------------------------------------------------------------------------------------------

    @classmethod
    def fit(cls, images: np.ndarray, seed: int = 0,
            palette_size: int = 48,          # colours after quantisation
            bands: int = 4,                  # horizontal bands of the image in every context
            alpha: float = 0.01,             # add-alpha smoothing of the colour counts
            palette_pixels: int = 200_000,   # training pixels the k-means palette is fitted on
            kmeans_iterations: int = 20,     # Lloyd iterations
            chunk_images: int = 256,         # images quantised and counted at once
            ) -> MarkovPainter:
        """Count colour transitions in uint8 NHWC training `images` (all of one size)."""
        images = check_images(images)
        if not 2 <= palette_size <= 255:
            raise ValueError(f"palette_size must be in 2..255, got {palette_size}")
        n, height, width, _ = images.shape
        if chunk_images < 1:
            raise ValueError(f"chunk_images must be >= 1, got {chunk_images}")
        if not 1 <= bands <= height:
            raise ValueError(f"bands must be in 1..{height} (image height), got {bands}")
        pixels = images.reshape(-1, 3)
        rng = np.random.default_rng(seed)
        sample = pixels[rng.choice(len(pixels), min(palette_pixels, len(pixels)), replace=False)]
        palette = kmeans_palette(sample, palette_size, seed, kmeans_iterations)
        # Counted in chunks of images, so memory follows the number of distinct (context,
        # colour) pairs rather than the number of pixels.
        pair_codes: list[list[np.ndarray]] = [[] for _ in LEVELS]
        pair_counts: list[list[np.ndarray]] = [[] for _ in LEVELS]
        band_of_row = cls._band_of_rows(height, bands)
        for start in range(0, n, chunk_images):
            chunk = images[start:start + chunk_images]
            indices = nearest_colour(chunk.reshape(-1, 3), palette).reshape(chunk.shape[:3])
            neighbours = _neighbours(indices, border=palette_size)
            band = np.broadcast_to(band_of_row[None, :, None], indices.shape)
            for level_index, level in enumerate(LEVELS):
                keys = _keys(band, neighbours, level, palette_size + 1)
                codes, counts = np.unique((keys * palette_size + indices).ravel(),
                                          return_counts=True)
                pair_codes[level_index].append(codes)
                pair_counts[level_index].append(counts)
        tables = []
        for codes_list, counts_list in zip(pair_codes, pair_counts, strict=True):
            codes, inverse = np.unique(np.concatenate(codes_list), return_inverse=True)
            counts = np.bincount(inverse, weights=np.concatenate(counts_list))
            contexts, row = np.unique(codes // palette_size, return_inverse=True)
            table = np.zeros((len(contexts), palette_size), dtype=np.uint32)
            table[row, codes % palette_size] = counts
            tables.append(_Table(contexts, table))
        config = {"seed": seed, "palette_size": palette_size, "bands": bands, "alpha": alpha,
                  "palette_pixels": palette_pixels, "kmeans_iterations": kmeans_iterations,
                  "training_images": n}
        return cls(palette, height, width, bands, alpha, tables, config)

    @staticmethod
    def _band_of_rows(height: int, bands: int) -> np.ndarray:
        return (np.arange(height) * bands) // height

    # ------------------------------------------------------------------------------------------

    def quantise(self, images: np.ndarray) -> np.ndarray:
        """uint8 NHWC images with every pixel replaced by its nearest palette colour."""
        images = check_images(images)
        index = nearest_colour(images.reshape(-1, 3), self.palette)
        return self.palette_uint8[index].reshape(images.shape)

    def sample(self, n: int, seed: int, batch: int = 1024) -> np.ndarray:
        """`n` new images, uint8 NHWC at the training size, painted in raster order, `batch`
        samples at a time. The same (seed, batch) gives the same images, and fewer samples are a
        prefix of more."""
        if n < 1 or batch < 1:
            raise ValueError(f"n and batch must be >= 1, got {n}, {batch}")
        out = np.empty((n, self.height, self.width), dtype=np.int64)
        for start in range(0, n, batch):
            stop = min(start + batch, n)
            # One generator per batch, sample-major draws: sample(k) is a prefix of sample(n).
            rng = np.random.default_rng([seed, start])
            out[start:stop] = self._paint(rng.random((stop - start, self.height * self.width)).T)
        return self.palette_uint8[out]

    def _paint(self, uniforms: np.ndarray) -> np.ndarray:
        n = uniforms.shape[1]
        size, border = len(self.palette), len(self.palette)
        base = size + 1
        # One border column each side and a border row on top, so every neighbour exists.
        canvas = np.full((n, self.height + 1, self.width + 2), border, dtype=np.int64)
        band_of_row = self._band_of_rows(self.height, self.bands)
        for y in range(self.height):
            band = np.full(n, band_of_row[y], dtype=np.int64)
            above = canvas[:, y]
            row = canvas[:, y + 1]
            for x in range(self.width):
                neighbours = (row[:, x], above[:, x], above[:, x + 1], above[:, x + 2])
                cdf = np.empty((n, size))
                todo = np.arange(n)
                for level, table in zip(LEVELS, self.tables, strict=True):
                    key = band[todo]
                    for which in level:
                        key = key * base + neighbours[which][todo]
                    slot = np.minimum(np.searchsorted(table.keys, key), len(table.keys) - 1)
                    found = table.keys[slot] == key
                    cdf[todo[found]] = table.cdf(slot[found], self.alpha)
                    todo = todo[~found]
                    if len(todo) == 0:
                        break
                if len(todo):  # a band without any training pixel: cannot happen after fit
                    cdf[todo] = np.linspace(1.0 / size, 1.0, size)
                u = uniforms[y * self.width + x][:, None]
                row[:, x + 1] = np.minimum((u >= cdf).sum(axis=1), size - 1)
        return canvas[:, 1:, 1:-1]

    # ------------------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Write the model to `path` (.npz), atomically."""
        arrays = {"palette": self.palette}
        for i, table in enumerate(self.tables):
            arrays[f"keys_{i}"] = table.keys
            arrays[f"counts_{i}"] = table.counts
        meta = {"format": FORMAT, "height": self.height, "width": self.width, **self.config}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> MarkovPainter:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no Markov painter at {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                if meta.get("format") != FORMAT:
                    raise ValueError(f"{path} is not a {FORMAT} file")
                tables = [_Table(data[f"keys_{i}"], data[f"counts_{i}"])
                          for i in range(len(LEVELS))]
                palette = data["palette"]
        except (OSError, KeyError, ValueError, json.JSONDecodeError) as error:
            raise ValueError(f"{path} is not a readable Markov painter: {error}") from error
        return cls(palette, meta["height"], meta["width"], meta["bands"], meta["alpha"], tables,
                   {k: v for k, v in meta.items() if k not in ("format", "height", "width")})
