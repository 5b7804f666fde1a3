"""The stage ``hash@SOURCE``: hash every stored image of one crawl, once.

Run it as ``python -m curate hash SOURCE`` (what ``dvc repro hash@SOURCE`` does). Hashing is
its own stage, apart from ``curate``, so that varying curation params
(``dvc exp run -S curate.date_window=[1500,1800]``) or the de-duplication code never rehashes:
this module imports only :mod:`curate.hashing`, and the stage lists just those two as code.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from curate.hashing import HASH_PIPELINE, hash_files
from marcus.atomic import atomic_path


def hash_source(crawl_dir: Path, out: Path, workers: int | None = None) -> int:
    """Hash each distinct stored image of one source's crawl into ``out`` (Parquet)."""
    records = pd.read_parquet(crawl_dir / "records.parquet", columns=["status", "sha256"])
    shas = sorted(set(records.loc[records["status"] == "stored", "sha256"]))
    paths = [crawl_dir / "images" / s[:2] / s for s in shas]
    rows = hash_files(paths, workers=workers)
    frame = pd.DataFrame(rows)
    frame["sha256"] = shas  # the stored name; a mismatch below would mean a corrupted store
    frame["hash_pipeline"] = HASH_PIPELINE
    with atomic_path(out) as tmp:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
    return len(frame)
