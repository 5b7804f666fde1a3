"""Reading a Parquet file in batches with memory bounded by one row group, not by the file.

pyarrow's ``ParquetFile.iter_batches`` over a whole file holds the decoded columns of every
row group it has read until the iterator ends, so its memory grows with the file
(``python -m benchmarks parquet_reading`` measures it against this module, as the file grows:
benchmarks/results/parquet_reading.json). Iterating one row group at a time holds one::

    from marcus.parquet import row_group_batches
    for batch in row_group_batches(pq.ParquetFile(path), 4096, columns=["sha256", "thumb"]):
        ...

Every reader of a file that grows with the collection (hash files, crawl records, pack
shards, user URL lists) goes through this.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pyarrow as pa
import pyarrow.parquet as pq


def row_group_batches(file: pq.ParquetFile, batch_rows: int,
                      columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
    """The batches of ``file`` (``batch_rows`` rows at most, ``columns`` or all), in order,
    one row group read at a time."""
    for group in range(file.num_row_groups):
        yield from file.iter_batches(batch_rows, row_groups=[group],
                                     columns=None if columns is None else list(columns))
