"""The stage ``hash@SOURCE``: hash every stored image of one crawl, once.

Run it as ``python -m curate hash SOURCE`` (what ``dvc repro hash@SOURCE`` does). Hashing is
its own stage, apart from ``curate``, so that varying curation params
(``dvc exp run -S curate.date_window=[1500,1800]``) or the de-duplication code never rehashes:
this module imports only :mod:`curate.hashing`, :mod:`curate.local_features` and the store's
reader (:mod:`crawl.blobs`), and the stage lists just those as code. The local features'
params (``curate.features``) are the stage's params: changing them recomputes the features.

Memory stays flat in the number of images: rows are hashed and written a row group
(``ROWS_PER_GROUP``) at a time, with a fixed schema (``HASHES_SCHEMA``).
"""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from crawl.blobs import StoreIndex
from curate.hashing import HASH_PIPELINE, hash_files
from curate.local_features import FEATURES_PIPELINE, FeatureOptions, feature_fields
from marcus.atomic import atomic_path

HASHES_SCHEMA = pa.schema([
    ("sha256", pa.string()), ("phash", pa.string()), ("phash_trim", pa.string()),
    ("phash_centre", pa.string()), ("trim", pa.list_(pa.float64())), ("thumb", pa.binary()),
    ("width", pa.int64()), ("height", pa.int64()), ("format", pa.string()),
    ("mode", pa.string()), ("error", pa.string()), ("hash_pipeline", pa.string()),
    ("local_features", pa.binary()), ("features_pipeline", pa.string()),
])
# Rows hashed (by a process pool per group), held and written at a time; a row is ~4.5 KB
# plus ~136 bytes per local-feature keypoint (~140 KB at 1,000).
ROWS_PER_GROUP = 1024


def hash_source(crawl_dir: Path, out: Path, workers: int | None = None,
                features: FeatureOptions = FeatureOptions()) -> int:
    """Hash each distinct stored image of one source's crawl into ``out`` (Parquet), with its
    local features (``features``)."""
    records = pd.read_parquet(crawl_dir / "records.parquet", columns=["status", "sha256"])
    shas = sorted(set(records.loc[records["status"] == "stored", "sha256"]))
    del records
    store = StoreIndex(crawl_dir / "images")
    with atomic_path(out) as tmp, pq.ParquetWriter(tmp, HASHES_SCHEMA) as writer:
        for start in range(0, len(shas), ROWS_PER_GROUP):
            group = shas[start: start + ROWS_PER_GROUP]
            # An image the store lacks is hashed from the name it would have as a loose file,
            # which does not exist: its row says FileNotFoundError and curate rejects it.
            rows = hash_files([store.locate(s) or store.root / s[:2] / s for s in group],
                              workers, extra=functools.partial(feature_fields, features))
            for row, sha in zip(rows, group, strict=True):
                # The stored name; a mismatch would mean a corrupted store.
                row.update(sha256=sha, hash_pipeline=HASH_PIPELINE,
                           features_pipeline=FEATURES_PIPELINE)
            writer.write_table(pa.Table.from_pylist(rows, schema=HASHES_SCHEMA))
    return len(shas)
