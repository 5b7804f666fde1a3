"""marcus.parquet: a file read in batches, one row group at a time, gives every row in order
and holds one row group of Arrow memory, however large the file."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq

from marcus.parquet import row_group_batches


def write(path, groups: int, rows_per_group: int, value_bytes: int) -> None:
    schema = pa.schema([("i", pa.int64()), ("blob", pa.binary()), ("note", pa.string())])
    with pq.ParquetWriter(path, schema) as writer:
        for g in range(groups):
            ids = range(g * rows_per_group, (g + 1) * rows_per_group)
            writer.write_table(pa.table({"i": list(ids),
                                         "blob": [bytes([i % 256]) * value_bytes for i in ids],
                                         "note": [str(i) for i in ids]}, schema=schema))


def test_every_row_comes_in_order_in_batches_that_never_cross_a_row_group(tmp_path):
    path = tmp_path / "f.parquet"
    write(path, groups=3, rows_per_group=10, value_bytes=4)
    batches = list(row_group_batches(pq.ParquetFile(path), 4, ["i", "blob"]))
    assert [b.num_rows for b in batches] == [4, 4, 2] * 3
    assert batches[0].schema.names == ["i", "blob"]
    assert [i for b in batches for i in b["i"].to_pylist()] == list(range(30))
    assert [b.num_columns for b in row_group_batches(pq.ParquetFile(path), 100)] == [3] * 3


def test_reading_by_row_group_holds_one_row_group_not_the_file(tmp_path):
    path = tmp_path / "big.parquet"
    write(path, groups=40, rows_per_group=16, value_bytes=64 * 1024)  # 1 MiB a group, 40 in all
    code = ("import json, sys, pyarrow as pa, pyarrow.parquet as pq\n"
            "from marcus.parquet import row_group_batches\n"
            "rows = sum(b.num_rows for b in row_group_batches(pq.ParquetFile(sys.argv[1]), 4))\n"
            "print(json.dumps([rows, pa.default_memory_pool().max_memory()]))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], check=True,
                         capture_output=True, text=True)
    rows, arrow_max = json.loads(out.stdout)
    assert rows == 640
    assert arrow_max < 8 * 2**20  # a few row groups' worth at most, of a 40 MiB file
