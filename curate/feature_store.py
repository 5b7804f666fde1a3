"""The local features of a whole collection in one file on disk, read back one image at a time,
so that curate holds an offset per image in memory and not the features themselves (about
80 KB per image: 14 GB at 170,000 images, more than the machine's memory at a million). The
64 px thumbnails (4 KB per image) wait in one the same way (``column="thumb"``).

Gather them from the hash files for the rows being clustered, in a scratch folder (or
``FeatureStore.write`` them as they are computed)::

    from curate.feature_store import FeatureStore
    with FeatureStore.gather(hashes_root, sources, rows["sha256"], scratch / "features") as store:
        store[i]            # the bytes of row i's features, or None
        store.keypoints(i)  # its keypoint count, without reading it

Reads are ``os.pread`` calls, safe from threads; the operating system's page cache, not this
process, holds what was read recently. ``store[i] = None`` leaves a row out (a byte copy of
an earlier row), as on a list.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from curate.local_features import LocalFeatures, keypoint_count
from marcus.parquet import row_group_batches

BATCH_ROWS = 256  # hash-file rows read at a time (about 20 MB of features)


class FeatureStore:
    """Bytes of local features (or nothing) per row, in one file (see the module docstring)."""

    def __init__(self, path: Path, offsets: np.ndarray, sizes: np.ndarray):
        self.path = Path(path)
        self.offsets = np.asarray(offsets, np.int64)
        self.sizes = np.asarray(sizes, np.int64)  # -1: the row has no features
        self._fd = os.open(self.path, os.O_RDONLY)

    @classmethod
    def gather(cls, hashes_root: Path, sources: Iterable[str], shas: pd.Series, path: Path,
               column: str = "local_features") -> FeatureStore:
        """The ``column`` of the hash files of ``sources`` for each of ``shas`` (by sha256; the
        first file that has it), written once per sha256 to ``path``."""
        position = pd.Series(np.arange(len(shas)), index=np.asarray(shas)).groupby(level=0)
        rows_of = {sha: members.to_numpy() for sha, members in position}
        offsets = np.zeros(len(shas), np.int64)
        sizes = np.full(len(shas), -1, np.int64)
        written = 0
        with open(path, "wb") as out:
            for source in sources:
                file = pq.ParquetFile(Path(hashes_root) / f"{source}.parquet")
                if column not in file.schema_arrow.names:
                    continue  # a hash file from before the column existed
                for batch in row_group_batches(file, BATCH_ROWS, ["sha256", column]):
                    values = batch[column]
                    for i, sha in enumerate(batch["sha256"].to_pylist()):
                        rows = rows_of.get(sha)
                        if rows is None or not values[i].is_valid:
                            continue  # not wanted, written already, or no features here
                        del rows_of[sha]  # the first file that has its features wins
                        data = values[i].as_py()
                        out.write(data)
                        offsets[rows], sizes[rows] = written, len(data)
                        written += len(data)
        return cls(path, offsets, sizes)

    @classmethod
    def write(cls, path: Path, features: Iterable[bytes | None]) -> FeatureStore:
        """Each of ``features`` (bytes, or None for a row without), in order, to ``path``: for
        features computed as they stream, never all held at once."""
        offsets, sizes, written = [], [], 0
        with open(path, "wb") as out:
            for data in features:
                offsets.append(written)
                sizes.append(-1 if data is None else len(data))
                if data is not None:
                    out.write(data)
                    written += len(data)
        return cls(path, np.array(offsets, np.int64), np.array(sizes, np.int64))

    def __len__(self) -> int:
        return len(self.sizes)

    def __getitem__(self, i: int) -> bytes | None:
        size = int(self.sizes[i])
        if size < 0:
            return None
        data = os.pread(self._fd, size, int(self.offsets[i]))
        if len(data) != size:
            raise OSError(f"{self.path}: {len(data)} bytes where {size} were written")
        return data

    def __setitem__(self, i: int, value: None) -> None:
        if value is not None:
            raise TypeError("a FeatureStore is written by gather(); a row can only be emptied")
        self.sizes[i] = -1

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def keypoints(self, i: int) -> int:
        """Row ``i``'s keypoint count (0 without features), from its size alone."""
        size = int(self.sizes[i])
        return 0 if size < 0 else keypoint_count(size)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def keypoint_counts(features) -> np.ndarray:
    """Each row's keypoint count (0 without features) of a `FeatureStore` (from the sizes,
    reading nothing) or of a list of feature bytes, `LocalFeatures` or None."""
    if isinstance(features, FeatureStore):
        return np.array([features.keypoints(i) for i in range(len(features))], np.int64)
    return np.array([0 if f is None else len(f) if isinstance(f, LocalFeatures)
                     else keypoint_count(len(f)) for f in features], np.int64)
