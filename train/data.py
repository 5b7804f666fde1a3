"""Reading a pack: what training and evaluation import, apart from the writer (train/pack.py).

    from train.data import PackedImages, native_images, pack_fingerprint
    train = PackedImages("data/pack", "train")   # len(train), train.batch([0, 5]), train.labels
    for key, rgb in native_images("data/pack", "val"): ...

``PackedImages`` is one split of the GAN shards as a random-access, memory-mapped array;
``native_images`` streams the native-resolution copies; ``pack_fingerprint`` names what GAN
training reads (pack.json's ``fingerprint``). The layout itself is described in train/pack.py.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from PIL import Image

SPLITS = ("train", "val")
NATIVE_READ_ROWS = 64  # native PNG rows decoded per batch: readers stream, not slurp


def read_summary(out_dir: str | Path) -> dict:
    path = Path(out_dir) / "pack.json"
    if not path.is_file():
        raise FileNotFoundError(f"no pack at {out_dir} (run `dvc repro pack` first)")
    return json.loads(path.read_text(encoding="utf-8"))


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")


class PackedImages:
    """One split of a pack as a random-access array of uint8 [R, R, 3] images, memory-mapped
    across its shards; ``labels`` is that split's rows of labels.parquet in sample order."""

    def __init__(self, out_dir: str | Path, split: str = "train"):
        _check_split(split)
        self.out_dir, self.split = Path(out_dir), split
        summary = read_summary(self.out_dir)
        self.resolution = int(summary["resolution"])
        self.vocab = json.loads((self.out_dir / "vocab.json").read_text(encoding="utf-8"))
        self._shards = [np.load(self.out_dir / name, mmap_mode="r")
                        for name in summary["shards"][split]]
        sizes = [len(s) for s in self._shards]
        self._starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        labels = pd.read_parquet(self.out_dir / "labels.parquet",
                                 filters=[("split", "==", split)])
        self.labels = labels.sort_values("sample_index", ignore_index=True)
        if len(self.labels) != len(self):
            raise ValueError(f"{self.out_dir}: labels.parquet has {len(self.labels)} {split} rows "
                             f"but the shards hold {len(self)} images (a damaged pack?)")

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getitem__(self, index: int) -> np.ndarray:
        return self.batch([index])[0]

    def batch(self, indices) -> np.ndarray:
        """The images at ``indices`` (any int array-like, negatives count from the end) as
        one [B, R, R, 3] uint8 array, in the order given."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        if indices.size and (indices.min() < -n or indices.max() >= n):
            raise IndexError(f"index out of range for {n} {self.split} images")
        indices = np.where(indices < 0, indices + n, indices)
        out = np.empty((len(indices), self.resolution, self.resolution, 3), dtype=np.uint8)
        shard_of = np.searchsorted(self._starts, indices, side="right") - 1
        for shard in np.unique(shard_of):
            picked = shard_of == shard
            out[picked] = self._shards[shard][indices[picked] - self._starts[shard]]
        return out


def native_images(out_dir: str | Path, split: str = "train") -> Iterator[tuple[str, np.ndarray]]:
    """(key, RGB uint8 [H, W, 3]) of each artwork of a split, in key order, one row group of
    PNGs in memory at a time."""
    _check_split(split)
    summary = read_summary(out_dir)
    for name in summary["native_shards"][split]:
        shard = pq.ParquetFile(Path(out_dir) / name)
        for batch in shard.iter_batches(batch_size=NATIVE_READ_ROWS, columns=["key", "png"]):
            for key, png in zip(batch.column("key").to_pylist(), batch.column("png").to_pylist(),
                                strict=True):
                with Image.open(io.BytesIO(png)) as img:
                    yield key, np.asarray(img.convert("RGB"))


def pack_fingerprint(out_dir: str | Path, verify: bool = False) -> str:
    """The sha256 that names what GAN training reads (GAN shards, labels, vocab). With
    ``verify`` every file is hashed again and a mismatch raises ValueError."""
    summary = read_summary(out_dir)
    if verify:
        for name, sha in summary["files"].items():
            if sha256_file(Path(out_dir) / name) != sha:
                raise ValueError(f"{out_dir}/{name} does not match pack.json (modified?)")
    return summary["fingerprint"]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
