"""De-duplicate any folder of images: ``python -m curate dedup DIR -o OUT.parquet``.

One row per file under DIR (recursively, hidden files skipped): ``path`` relative to DIR,
``sha256``, ``phash``, ``cluster_id``, ``is_canonical`` (per cluster, the largest image, then
the first path), ``matched_by`` and ``match_inliers`` (what decided the file's best pair, as
in :func:`curate.dedup.cluster`), ``error`` for files that are not readable images. The same
hashes, local features, retrieval and verifiers as the ``curate`` stage, at their defaults.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa

from curate import manifests
from curate.feature_store import FeatureStore
from curate.hash_stage import ROWS_PER_GROUP
from curate.hashing import hash_files
from curate.local_features import FeatureOptions, feature_fields
from marcus.atomic import scratch_dir

FOLDER_SCHEMA = pa.schema([
    ("schema_version", pa.int32()), ("path", pa.string()), ("sha256", pa.string()),
    ("phash", pa.string()), ("width", pa.int32()), ("height", pa.int32()),
    ("cluster_id", pa.int64()), ("is_canonical", pa.bool_()), ("matched_by", pa.string()),
    ("match_inliers", pa.int32()), ("error", pa.string()),
])


def dedup_folder(folder: Path, out: Path, max_distance: int = 10,
                 workers: int | None = None) -> dict:
    from curate.dedup import cluster

    files = sorted(p for p in folder.rglob("*") if p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    hashed = []  # the rows, without their local features, which go to the store as they come
    # The local features stay on disk, read back per image (gigabytes at 100,000 images).
    with scratch_dir(out) as scratch:
        with FeatureStore.write(scratch / "local_features",
                                _readable_features(files, workers, hashed)) as features:
            rows = pd.DataFrame(hashed)
            rows["path"] = [p.relative_to(folder).as_posix() for p in files]
            rows["key"] = rows["path"]
            rows["cluster_id"], rows["matched_by"], rows["match_inliers"] = -1, "", -1
            readable = rows[[_readable(row) for row in hashed]]
            if len(readable):
                found = cluster(readable.reset_index(drop=True), max_distance=max_distance,
                                workers=workers, features=features)
                for column in ("cluster_id", "matched_by", "match_inliers"):
                    rows.loc[readable.index, column] = found[column].to_numpy()
    rows["pixels"] = rows["width"].fillna(0) * rows["height"].fillna(0) if len(rows) else 0
    rows["is_canonical"] = False
    if len(readable):
        best = (rows[rows["cluster_id"] >= 0].sort_values(["pixels", "path"],
                                                          ascending=[False, True])
                .drop_duplicates("cluster_id").index)
        rows.loc[best, "is_canonical"] = True
    manifests.write(rows, FOLDER_SCHEMA, out)
    sizes = rows.loc[rows["cluster_id"] >= 0, "cluster_id"].value_counts()
    return {"files": len(rows), "errors": int(rows["error"].notna().sum()) if len(rows) else 0,
            "clusters": int((sizes > 1).sum())}


def _readable_features(files: list[Path], workers: int | None, rows: list) -> Iterator:
    """The local features of each readable image of ``files`` (those with a perceptual hash),
    in order, as ``files`` are hashed a group at a time; each file's row, without them, is
    appended to ``rows``."""
    extra = functools.partial(feature_fields, FeatureOptions())
    for start in range(0, len(files), ROWS_PER_GROUP):
        for row in hash_files(files[start: start + ROWS_PER_GROUP], workers, extra=extra):
            features = row.pop("local_features", None)
            rows.append(row)
            if _readable(row):
                yield features


def _readable(row: dict) -> bool:
    return row.get("error") is None and row.get("phash") is not None
