"""Reading a pack: what training and evaluation import, apart from the writer (train/pack.py).

    from train.data import PackedImages, native_images, pack_fingerprint
    train = PackedImages("data/pack", "train")   # len(train), train.batch([0, 5]), train.labels
    for key, rgb in native_images("data/pack", "val"): ...

``PackedImages`` is one split of the GAN shards as a random-access array, each image decoded
from its shard when asked for (the training stream, train/stream.py, asks from DataLoader
workers); ``native_images`` streams the native-resolution copies; ``pack_fingerprint`` names
what GAN training reads (pack.json's ``fingerprint``). The layout itself is described in
train/pack.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from PIL import Image

from marcus.parquet import row_group_batches

SPLITS = ("train", "val")
NATIVE_READ_ROWS = 64  # native PNG rows decoded per batch: readers stream, not slurp
# pack.codec -> the Pillow format of the GAN shards' images: lossless PNG and WebP, lossy JPEG
CODECS = {"png": "PNG", "webp": "WEBP", "jpeg": "JPEG"}


def read_summary(out_dir: str | Path) -> dict:
    path = Path(out_dir) / "pack.json"
    if not path.is_file():
        raise FileNotFoundError(f"no pack at {out_dir} (run `dvc repro pack` first)")
    return json.loads(path.read_text(encoding="utf-8"))


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")


class PackedImages:
    """One split of a pack as a random-access array of uint8 [R, R, 3] images, decoded from
    its shards on demand; ``labels`` is that split's rows of labels.parquet in sample order.

    Each process opens the shards for itself (a DataLoader worker forked from the training
    process must not share its file offsets), so one object can be handed to workers."""

    def __init__(self, out_dir: str | Path, split: str = "train"):
        _check_split(split)
        self.out_dir, self.split = Path(out_dir), split
        summary = read_summary(self.out_dir)
        self.resolution = int(summary["resolution"])
        self.codec = summary.get("codec", "png")
        if self.codec not in CODECS:
            raise ValueError(f"{self.out_dir}: pack.json names the codec {self.codec!r}; "
                             f"this reader knows {', '.join(CODECS)} (a pack of another version?)")
        self.vocab = json.loads((self.out_dir / "vocab.json").read_text(encoding="utf-8"))
        self._names = list(summary["shards"][split])
        self._entries: list[list[zipfile.ZipInfo]] = []
        for name in self._names:
            with zipfile.ZipFile(self.out_dir / name) as shard:
                self._entries.append(shard.infolist())
        sizes = [len(e) for e in self._entries]
        self._starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._open: dict[int, zipfile.ZipFile] = {}
        self._pid = os.getpid()
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

    def __getstate__(self) -> dict:   # to a spawned worker: without the open files
        return {**self.__dict__, "_open": {}}

    def encoded(self, index: int) -> bytes:
        """The stored bytes of image ``index`` (0 <= index < len), as the codec wrote them."""
        shard = int(np.searchsorted(self._starts, index, side="right") - 1)
        return self._shard(shard).read(self._entries[shard][index - self._starts[shard]])

    def batch(self, indices) -> np.ndarray:
        """The images at ``indices`` (any int array-like, negatives count from the end) as
        one [B, R, R, 3] uint8 array, in the order given."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        if indices.size and (indices.min() < -n or indices.max() >= n):
            raise IndexError(f"index out of range for {n} {self.split} images")
        indices = np.where(indices < 0, indices + n, indices)
        out = np.empty((len(indices), self.resolution, self.resolution, 3), dtype=np.uint8)
        for row, index in enumerate(indices):
            out[row] = self.decode(int(index))
        return out

    def decode(self, index: int) -> np.ndarray:
        """Image ``index`` as uint8 [R, R, 3]; a shard entry that is not such an image raises
        ValueError naming it."""
        try:   # the zip's CRC check catches a changed byte before the decoder sees it
            data = self.encoded(index)
            with Image.open(io.BytesIO(data), formats=[CODECS[self.codec]]) as img:
                pixels = np.array(img.convert("RGB"))   # writable: torch takes it as is
        except (OSError, SyntaxError, ValueError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{self.out_dir}: {self.split} image {index} is not a readable "
                             f"{self.codec} ({exc}; a damaged pack?)") from None
        if pixels.shape != (self.resolution, self.resolution, 3):
            raise ValueError(f"{self.out_dir}: {self.split} image {index} is {pixels.shape}, "
                             f"not {self.resolution} x {self.resolution} RGB (a damaged pack?)")
        return pixels

    def _shard(self, shard: int) -> zipfile.ZipFile:
        if self._pid != os.getpid():   # forked: the parent's handles share our file offsets
            self._open, self._pid = {}, os.getpid()
        if shard not in self._open:
            self._open[shard] = zipfile.ZipFile(self.out_dir / self._names[shard])
        return self._open[shard]


def native_images(out_dir: str | Path, split: str = "train") -> Iterator[tuple[str, np.ndarray]]:
    """(key, RGB uint8 [H, W, 3]) of each artwork of a split, in key order, one row group of
    PNGs in memory at a time."""
    _check_split(split)
    summary = read_summary(out_dir)
    for name in summary["native_shards"][split]:
        shard = pq.ParquetFile(Path(out_dir) / name)
        for batch in row_group_batches(shard, NATIVE_READ_ROWS, ["key", "png"]):
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
