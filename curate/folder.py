"""De-duplicate any folder of images: ``python -m curate dedup DIR -o OUT.parquet``.

One row per file under DIR (recursively, hidden files skipped): ``path`` relative to DIR,
``sha256``, ``phash``, ``cluster_id``, ``is_canonical`` (per cluster, the largest image, then
the first path), ``matched_by`` and ``match_inliers`` (what decided the file's best pair, as
in :func:`curate.dedup.cluster`), ``error`` for files that are not readable images. The same
hashes, local features, retrieval and verifiers as the ``curate`` stage, at their defaults.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd
import pyarrow as pa

from curate import manifests

FOLDER_SCHEMA = pa.schema([
    ("schema_version", pa.int32()), ("path", pa.string()), ("sha256", pa.string()),
    ("phash", pa.string()), ("width", pa.int32()), ("height", pa.int32()),
    ("cluster_id", pa.int64()), ("is_canonical", pa.bool_()), ("matched_by", pa.string()),
    ("match_inliers", pa.int32()), ("error", pa.string()),
])


def dedup_folder(folder: Path, out: Path, max_distance: int = 10,
                 workers: int | None = None) -> dict:
    from curate.dedup import cluster
    from curate.hashing import hash_files
    from curate.local_features import FeatureOptions, feature_fields

    files = sorted(p for p in folder.rglob("*") if p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    rows = pd.DataFrame(hash_files(files, workers=workers,
                                   extra=functools.partial(feature_fields, FeatureOptions())))
    rows["path"] = [p.relative_to(folder).as_posix() for p in files]
    rows["key"] = rows["path"]
    readable = rows[rows["error"].isna() & rows["phash"].notna()] if len(rows) else rows
    rows["cluster_id"], rows["matched_by"], rows["match_inliers"] = -1, "", -1
    if len(readable):
        found = cluster(readable.reset_index(drop=True), max_distance=max_distance,
                        workers=workers)
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
