"""Memory of reading a Parquet file in batches: pyarrow's ``iter_batches`` over the whole file
against ``marcus.parquet.row_group_batches`` (one row group at a time), as the file grows.

    .venv/bin/python -m benchmarks parquet_reading   # about a minute; writes
                                                     # benchmarks/results/parquet_reading.json

The files are shaped like a hash file (curate/hash_stage.py): a sha256 and 80 KB of local
features per row (random bytes: descriptors barely compress), ``ROWS_PER_GROUP`` rows per row
group, at two sizes four times apart. Each way reads every batch of 256 rows of the two
columns (what ``FeatureStore.gather`` reads) in a process of its own, which reports Arrow's
largest allocation (``arrow_max_mib``, the memory pool's high-water mark) and its peak RSS
(``peak_rss_mib``, VmHWM). Target: reading by row group, Arrow's high-water mark at the larger
file is within 10 % of the smaller's (``row_groups.flat``): memory bounded by a row group, not
by the file, as curate at a million records needs. The peak RSS is reported beside it, and
its ratio, but does not decide: the allocator keeps freed row groups mapped for a while, so it
varies from run to run by about a row group (80 MB here) whatever the file's size. Both files
hold several row groups.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FEATURE_BYTES = 80_000  # local features per image on the scaled demo (README, curate)
BATCH_ROWS = 256  # FeatureStore.gather's batch
WAYS = ("whole_file", "row_groups")
FLAT_WITHIN = 0.10


def write_file(path: Path, rows: int) -> None:
    from curate.hash_stage import ROWS_PER_GROUP

    schema = pa.schema([("sha256", pa.string()), ("local_features", pa.binary())])
    rng = np.random.default_rng(0)
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, ROWS_PER_GROUP):
            ids = range(start, min(rows, start + ROWS_PER_GROUP))
            writer.write_table(pa.table(
                {"sha256": [hashlib.sha256(str(i).encode()).hexdigest() for i in ids],
                 "local_features": [rng.bytes(FEATURE_BYTES) for _ in ids]}, schema=schema))


def read_all(path: str, way: str) -> dict:
    """Run in a process of its own (``python -m benchmarks.parquet_reading PATH WAY``)."""
    import time

    from marcus.parquet import row_group_batches
    from marcus.timings import peak_rss_mib

    file = pq.ParquetFile(path)
    columns = ["sha256", "local_features"]
    batches = file.iter_batches(BATCH_ROWS, columns=columns) if way == "whole_file" \
        else row_group_batches(file, BATCH_ROWS, columns)
    started, rows, checksum = time.perf_counter(), 0, 0
    for batch in batches:
        rows += batch.num_rows
        checksum ^= hash(batch["sha256"][0].as_py())  # touch what was read
    return {"rows": rows, "seconds": round(time.perf_counter() - started, 2),
            "arrow_max_mib": round(pa.default_memory_pool().max_memory() / 2**20, 1),
            "peak_rss_mib": round(peak_rss_mib(), 1)}


def measure(path: Path, way: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.parquet_reading", str(path), way],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def run(quick: bool = False) -> dict:
    sizes = (2048, 8192) if quick else (4096, 16384)
    result: dict = {"feature_bytes": FEATURE_BYTES, "batch_rows": BATCH_ROWS,
                    "pyarrow": pa.__version__, "sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            path = Path(tmp) / f"{rows}.parquet"
            write_file(path, rows)
            result["sizes"][str(rows)] = {
                "file_mib": round(path.stat().st_size / 2**20, 1),
                **{way: measure(path, way) for way in WAYS}}
            path.unlink()
    small, large = (result["sizes"][str(n)] for n in sizes)
    for way in WAYS:
        growth = large[way]["arrow_max_mib"] / small[way]["arrow_max_mib"]
        result[way] = {"arrow_max_large_over_small": round(growth, 2),
                       "peak_rss_large_over_small": round(
                           large[way]["peak_rss_mib"] / small[way]["peak_rss_mib"], 2),
                       "flat": growth <= 1 + FLAT_WITHIN}
    result["meets_target"] = result["row_groups"]["flat"]
    return result


if __name__ == "__main__":
    print(json.dumps(read_all(sys.argv[1], sys.argv[2])))
