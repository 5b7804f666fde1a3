"""De-duplicate any folder of images: ``python -m curate dedup DIR -o OUT.parquet``.

One row per file under DIR (recursively, hidden files skipped): ``path`` relative to DIR,
``sha256``, ``phash``, ``cluster_id``, ``is_canonical`` (per cluster, the largest image, then
the first path), ``error`` for files that are not readable images.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from curate import manifests

FOLDER_SCHEMA = pa.schema([
    ("schema_version", pa.int32()), ("path", pa.string()), ("sha256", pa.string()),
    ("phash", pa.string()), ("width", pa.int32()), ("height", pa.int32()),
    ("cluster_id", pa.int64()), ("is_canonical", pa.bool_()), ("error", pa.string()),
])


def dedup_folder(folder: Path, out: Path, max_distance: int = 10,
                 workers: int | None = None) -> dict:
    from curate.dedup import cluster
    from curate.hashing import hash_files

    files = sorted(p for p in folder.rglob("*") if p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    rows = pd.DataFrame(hash_files(files, workers=workers))
    rows["path"] = [p.relative_to(folder).as_posix() for p in files]
    rows["key"] = rows["path"]
    readable = rows[rows["error"].isna() & rows["phash"].notna()] if len(rows) else rows
    rows["cluster_id"] = -1
    if len(readable):
        found = cluster(readable.reset_index(drop=True), max_distance=max_distance,
                        workers=workers)
        rows.loc[readable.index, "cluster_id"] = found["cluster_id"].to_numpy()
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
