"""crawl.ledger: a crawl run's bookkeeping on disk. What earlier runs finished (the journal newer
than the last records.parquet), the records met, and the final rows in the order of
records.parquet, with flat memory (``python -m benchmarks records_scale`` measures that).
"""

from __future__ import annotations

import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from crawl.items import ArtworkImage
from crawl.ledger import PREFIX, SUFFIX, Ledger
from crawl.records import (
    RESUME_FIELDS,
    Journal,
    finish_records,
    item_row,
    raw_digest,
    sort_key,
    write_records,
)


def stored(source_id: str, title: str = "t", **fields) -> dict:
    return item_row(ArtworkImage(source="met", source_id=source_id, status="stored",
                                 title=title, raw_record=f'{{"id": "{source_id}"}}',
                                 sha256="0" * 64, bytes=10, **fields))


def met(*ids: str) -> list[tuple[str, str]]:
    return [("met", i) for i in ids]


def test_a_resumed_run_keeps_only_what_resuming_needs_of_earlier_rows(tmp_path):
    write_records([stored("1", image_url="https://x/1.jpg", etag='"e"')], tmp_path / "r.parquet")
    with Ledger() as ledger:
        assert ledger.load_earlier(tmp_path / "r.parquet", Journal(tmp_path / "none")) == 1
        row = ledger.earlier(("met", "1"))
        assert set(row) == {*RESUME_FIELDS, "raw_digest"}  # no title, no raw record
        assert (row["etag"], row["image_url"]) == ('"e"', "https://x/1.jpg")
        assert row["raw_digest"] == raw_digest('{"id": "1"}') != raw_digest('{"id": "2"}')
        assert ledger.earlier(("met", "2")) is None
    with Ledger() as ledger:
        assert ledger.load_earlier(tmp_path / "missing.parquet", Journal(tmp_path / "none")) == 0


def test_the_journal_is_newer_than_the_last_records_parquet(tmp_path):
    write_records([stored("1", etag='"old"'), stored("2", etag='"two"')], tmp_path / "r.parquet")
    journal = Journal(tmp_path / "journal.jsonl")
    journal.append(stored("1", etag='"first try"'))
    journal.append(stored("1", etag='"new"'))
    journal.append({"source": "met", "source_id": 7, "status": "stored"})  # no run writes that
    journal.close()
    with Ledger() as ledger:
        assert ledger.load_earlier(tmp_path / "r.parquet", journal) == 2
        assert ledger.earlier(("met", "1"))["etag"] == '"new"'
        assert ledger.earlier(("met", "2"))["etag"] == '"two"'


def test_a_record_is_met_once_and_counted_once():
    with Ledger() as ledger:
        assert [ledger.meet(k) for k in met("1", "2", "1")] == [True, True, False]
        assert ledger.met == 2
        assert ledger.was_met(("met", "2")) and not ledger.was_met(("met", "3"))


def test_an_image_stored_earlier_is_found_by_its_url_the_latest_row_first(tmp_path):
    rows = [stored("1", image_url="https://x/a.jpg", etag='"1"'),
            stored("2", image_url="https://x/a.jpg", etag='"2"'),
            {**stored("3", image_url="https://x/b.jpg"), "status": "failed"}]
    write_records(rows, tmp_path / "r.parquet")
    journal = Journal(tmp_path / "journal.jsonl")
    journal.append(stored("1", image_url="https://x/a.jpg", etag='"1 again"'))
    journal.close()
    with Ledger() as ledger:
        ledger.load_earlier(tmp_path / "r.parquet", journal)
        # As a dict filled from the Parquet then the journal: record 2 came after record 1.
        assert ledger.stored_at("https://x/a.jpg")["etag"] == '"2"'
        assert ledger.stored_at("https://x/b.jpg") is None  # not stored
        assert ledger.stored_at("https://x/c.jpg") is None


def final_titles(ledger: Ledger, journal: Journal, path) -> tuple[list, dict]:
    ledger.note_journal(journal)
    ledger.spill(path)
    summary = finish_records(path, ledger.final_rows(journal))
    return pq.read_table(path).column("title").to_pylist(), summary


def test_the_final_rows_are_the_newest_of_each_record_met_and_only_those(tmp_path):
    path = tmp_path / "records.parquet"
    write_records([stored("1", "old 1"), stored("2", "old 2"), stored("3", "old 3")], path)
    journal = Journal(tmp_path / "journal.jsonl")
    journal.append(stored("2", "first try"))
    journal.close()
    with Ledger() as ledger:
        ledger.load_earlier(path, journal)
        for key in met("5", "4", "2", "1"):  # 3 not met this run: left out
            ledger.meet(key)
        journal.append(stored("2", "journal 2"))  # this run's lines
        journal.append(stored("4", "journal 4"))
        journal.close()
        ledger.note_journal(journal)
        ledger.note_dropped(("met", "5"), "an item pipeline failed")
        ledger.note_dropped(("met", "5"), "said second")
        assert list(ledger.without_row()) == [(("met", "5"), "an item pipeline failed")]
        ledger.set_final(("met", "5"), {**stored("5", "dropped 5"), "status": "failed"})
        titles, summary = final_titles(ledger, journal, path)
    assert titles == ["old 1", "journal 2", "journal 4", "dropped 5"]
    assert summary == {"records": 4, "counts": {"stored": 3, "failed": 1}, "reasons": {},
                       "stored_bytes": 30}


def test_records_met_without_any_row_are_listed_page_by_page(tmp_path, monkeypatch):
    from crawl import ledger as module

    monkeypatch.setattr(module, "ROWS_PER_GROUP", 2)
    with Ledger() as ledger:
        for i in range(5):
            ledger.meet(("met", str(i)))
        nothing = Journal(tmp_path / "none")
        ledger.note_journal(nothing)
        seen = []
        for key, _why in ledger.without_row():  # final rows set while paging
            seen.append(key)
            ledger.set_final(key, {**stored(key[1]), "status": "failed"})
        assert seen == met("0", "1", "2", "3", "4")
        assert [row["source_id"] for row in ledger.final_rows(nothing)] == [str(i)
                                                                             for i in range(5)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 10**25).map(str),
                          st.from_regex("0[0-9]{0,3}", fullmatch=True),
                          st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1,
                                  max_size=6)),
                min_size=1, max_size=25, unique=True))
def test_the_final_order_is_the_order_of_records_parquet_whatever_the_ids(tmp_path_factory, ids):
    folder = tmp_path_factory.mktemp("order")
    journal = Journal(folder / "journal.jsonl")
    for i in ids:
        journal.append(stored(i, title=i))
    journal.close()
    with Ledger() as ledger:
        for i in reversed(ids):
            ledger.meet(("met", i))
        titles, _ = final_titles(ledger, journal, folder / "records.parquet")
    assert titles == [k[1] for k in sorted(met(*ids), key=sort_key)]


def test_a_ledger_is_a_scratch_file_removed_at_the_end_and_after_a_kill(tmp_path):
    left = tmp_path / f"{PREFIX}killed{SUFFIX}"
    left.write_bytes(b"what a kill -9 left")
    with Ledger.beside(tmp_path) as ledger:
        assert not left.exists()
        assert ledger.path.parent == tmp_path and ledger.path.is_file()
        ledger.meet(("met", "1"))
    assert list(tmp_path.iterdir()) == []
