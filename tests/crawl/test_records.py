"""crawl.records: the journal a killed crawl resumes from (a torn last line is dropped), and
records.parquet: its fixed schema, its stable order whatever the ids, and files written before
a column was added.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crawl.items import ArtworkImage
from crawl.records import RECORDS_SCHEMA, SCHEMA_VERSION, Journal, read_records, write_records


def test_journal_survives_a_torn_last_line(tmp_path):
    journal = Journal(tmp_path / "j.jsonl")
    journal.append({"source": "met", "source_id": "1", "status": "stored"})
    journal.append({"source": "met", "source_id": "2", "status": "failed"})
    journal.append({"source": "met", "source_id": "2", "status": "stored"})
    journal.close()
    with open(tmp_path / "j.jsonl", "ab") as f:
        f.write(b'{"source": "met", "source_id": "3", "sta')  # killed mid-write
    rows = Journal(tmp_path / "j.jsonl").load()
    assert {k: v["status"] for k, v in rows.items()} == {("met", "1"): "stored",
                                                         ("met", "2"): "stored"}
    again = Journal(tmp_path / "j.jsonl")
    again.append({"source": "met", "source_id": "4", "status": "stored"})
    again.close()
    assert set(Journal(tmp_path / "j.jsonl").load()) == {("met", "1"), ("met", "2"), ("met", "4")}


def test_records_parquet_has_the_fixed_schema_and_a_stable_order(tmp_path):
    from crawl.items import ArtworkImage
    from crawl.records import item_row

    rows = [item_row(ArtworkImage(source="met", source_id=i, status="stored"))
            for i in ("10", "9", "100")]
    write_records(rows, tmp_path / "r.parquet")
    table = pq.read_table(tmp_path / "r.parquet")
    assert table.schema.equals(RECORDS_SCHEMA)
    assert table.column("source_id").to_pylist() == ["9", "10", "100"]
    assert set(table.column("schema_version").to_pylist()) == {SCHEMA_VERSION}
    assert list(read_records(tmp_path / "r.parquet")) == [("met", "9"), ("met", "10"),
                                                           ("met", "100")]
    first = (tmp_path / "r.parquet").read_bytes()
    write_records(list(reversed(rows)), tmp_path / "r.parquet")
    assert (tmp_path / "r.parquet").read_bytes() == first


def test_records_with_odd_ids_sort_and_write(tmp_path):
    from crawl.records import item_row

    ids = ["10", "9", "4\u00b2", "\u0663", "0010", "1" * 300, "a"]
    rows = [item_row(ArtworkImage(source="met", source_id=i, status="stored")) for i in ids]
    write_records(rows, tmp_path / "r.parquet")
    assert list(read_records(tmp_path / "r.parquet")) == [
        ("met", "9"), ("met", "0010"), ("met", "10"), ("met", "1" * 300), ("met", "4\u00b2"),
        ("met", "a"), ("met", "\u0663")]


def test_records_written_before_a_column_was_added_still_load(tmp_path):
    import pyarrow as pa

    old = pa.table({"schema_version": [1], "source": ["met"], "source_id": ["7"],
                    "status": ["stored"]})
    pq.write_table(old, tmp_path / "r.parquet")
    row = read_records(tmp_path / "r.parquet")[("met", "7")]
    assert row["status"] == "stored" and row["etag"] is None
    newer = old.set_column(0, "schema_version", pa.array([99]))
    pq.write_table(newer, tmp_path / "r.parquet")
    with pytest.raises(ValueError, match="newer than this code"):
        read_records(tmp_path / "r.parquet")


def test_a_records_file_of_schema_1_reads_with_genre_movement_and_same_as_empty(tmp_path):
    old = pa.schema([f for f in RECORDS_SCHEMA
                     if f.name not in ("genre", "movement", "same_as", "found_via")])
    row = {f.name: None for f in old} | {"schema_version": 1, "source": "met",
                                         "source_id": "7", "status": "stored"}
    pq.write_table(pa.Table.from_pylist([row], schema=old), tmp_path / "records.parquet")
    (found,) = read_records(tmp_path / "records.parquet").values()
    assert found["status"] == "stored"
    assert (found["genre"], found["movement"], found["same_as"]) == (None, None, None)


# --- at a million records: rows stream, never all in memory -------------------------------------


def stored(source_id: str, title: str = "t", **fields) -> dict:
    from crawl.records import item_row

    return item_row(ArtworkImage(source="met", source_id=source_id, status="stored",
                                 title=title, raw_record=f'{{"id": "{source_id}"}}',
                                 sha256="0" * 64, bytes=10, **fields))


def test_records_are_written_a_row_group_at_a_time_in_one_order(tmp_path, monkeypatch):
    from crawl import records

    rows = [stored(str(i)) for i in range(25, 0, -1)]
    records.write_records(rows, tmp_path / "one.parquet")
    monkeypatch.setattr(records, "ROWS_PER_GROUP", 10)
    records.write_records(rows, tmp_path / "groups.parquet")
    groups = pq.ParquetFile(tmp_path / "groups.parquet")
    assert groups.metadata.num_row_groups == 3
    assert groups.read().equals(pq.read_table(tmp_path / "one.parquet"))
    assert groups.read().column("source_id").to_pylist() == [str(i) for i in range(1, 26)]
