"""What one crawl run knows of its records, kept on disk: flat memory at a million records.

A run needs, per record: what earlier runs finished (to resume, and to reuse an image already
stored), which records this run met in its listings, and at the end the latest row of each
record it met, in the order of records.parquet. Held in dicts, that is about 2 KB of memory a
record (``python -m benchmarks records_scale`` measures it). ``Ledger`` keeps it in an SQLite
file beside the crawl instead, so memory is SQLite's page cache (``CACHE_MIB``) whatever the
number of records:

    ledger = Ledger.beside(out)                  # out/.ledger-XXXX.sqlite, a scratch file
    ledger.load_earlier(records_parquet, journal)
    ledger.meet(key), ledger.earlier(key), ledger.stored_at(image_url)   # while crawling
    ledger.note_journal(journal); ledger.spill(records_parquet)          # at the end
    finish_records(path, ledger.final_rows(journal))
    ledger.close()                               # removes the file

The file is rebuilt by every run from ``records.parquet`` and the journal, which stay the only
state that counts: a run killed before ``close`` leaves it behind, and the next run's
``Ledger.beside`` removes it. ``Ledger()`` without a folder keeps it in memory (tests, small
runs).
"""

from __future__ import annotations

import itertools
import json
import os
import pickle
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow.parquet as pq

from crawl.records import (
    FIELDS,
    RESUME_FIELDS,
    ROWS_PER_GROUP,
    SPILL_BATCH_ROWS,
    Journal,
    check_version,
    record_key,
    resume_row,
    sort_key,
)
from marcus.parquet import row_group_batches

CACHE_MIB = 64  # SQLite's page cache: the ledger's memory, whatever the number of records
PREFIX, SUFFIX = ".ledger-", ".sqlite"
# What load_earlier reads of records.parquet: the key, and what resume_row keeps.
RESUME_COLUMNS = ("source", "source_id", "raw_record", *RESUME_FIELDS)

Key = tuple[str, str]

_SCHEMA = """
CREATE TABLE records (
    source      BLOB NOT NULL,   -- UTF-8 (surrogatepass): byte order is code point order
    source_id   BLOB NOT NULL,
    sort_kind   INTEGER NOT NULL,  -- crawl.records.sort_key, as columns
    sort_length INTEGER NOT NULL,
    sort_text   BLOB NOT NULL,
    earlier     BLOB,     -- pickled resume_row of the newest earlier row; NULL: none
    stored_url  BLOB,     -- that row's image URL, when it is stored
    in_parquet  INTEGER NOT NULL DEFAULT 0,  -- the last records.parquet has a row
    journal_at  INTEGER,  -- offset of the newest journal line (filled by note_journal)
    met         INTEGER,  -- met in this run's listings (1), else NULL
    why_dropped TEXT,     -- what discarded this run's request or item, if something said so
    final       BLOB,     -- pickled row to write when the journal has none: dropped or spilled
    UNIQUE (source, source_id)
);
CREATE INDEX by_stored_url ON records (stored_url) WHERE stored_url IS NOT NULL;
"""


def _text(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def _params(key: Key) -> tuple[bytes, bytes]:
    """``key`` as the ``source = ? AND source_id = ?`` parameters."""
    return _text(key[0]), _text(key[1])


def _batches(items: Iterable, size: int = ROWS_PER_GROUP) -> Iterator[list]:
    items = iter(items)
    while batch := list(itertools.islice(items, size)):
        yield batch


def _key_of(row: dict) -> Key | None:
    key = record_key(row)
    return key if all(isinstance(part, str) for part in key) else None


def _sort_columns(key: Key) -> tuple[int, int, bytes]:
    _source, (kind, length, text) = sort_key(key)
    return kind, length, _text(text)


class Ledger:
    """The records of one crawl run: see the module's docstring."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else None
        # One thread uses it (Scrapy's reactor thread), but not always the one that made it.
        self._db = sqlite3.connect(str(path) if path is not None else ":memory:",
                                   check_same_thread=False)
        # A scratch file: nothing is lost if it is, so no rollback journal and no fsync; one
        # transaction for the whole run (never committed: close drops the file).
        self._db.executescript(f"""
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            PRAGMA cache_size = -{CACHE_MIB * 1024};
            PRAGMA temp_store = FILE;
            {_SCHEMA}""")
        self._met = 0

    @classmethod
    def beside(cls, folder: str | os.PathLike) -> Ledger:
        """A ledger in a new scratch file in ``folder``, after removing any a killed run left."""
        folder = Path(folder)
        for stale in folder.glob(f"{PREFIX}*{SUFFIX}"):
            stale.unlink(missing_ok=True)
        handle, name = tempfile.mkstemp(prefix=PREFIX, suffix=SUFFIX, dir=folder)
        os.close(handle)
        os.unlink(name)  # SQLite makes its own file there
        return cls(name)

    def close(self) -> None:
        self._db.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- before the crawl: what earlier runs finished ------------------------------------------

    def load_earlier(self, records_path: str | os.PathLike, journal: Journal) -> int:
        """Note the ``resume_row`` of every row of the last records.parquet, then of every
        journal line (newer: a later line of a record replaces what came before); returns how
        many records that is."""
        records_path = Path(records_path)
        if records_path.is_file():
            source = pq.ParquetFile(records_path)
            check_version(source, records_path)
            names = set(source.schema_arrow.names)
            wanted = [n for n in RESUME_COLUMNS if n in names]
            for batch in row_group_batches(source, ROWS_PER_GROUP, wanted):
                self._note_earlier(batch.to_pylist(), in_parquet=True)
        for batch in _batches(row for _, row in journal.scan()):
            self._note_earlier(batch, in_parquet=False)
        return self._db.execute("SELECT count(*) FROM records").fetchone()[0]

    def _note_earlier(self, rows: Iterable[dict], in_parquet: bool) -> None:
        values = []
        for row in rows:
            key = _key_of(row)
            if key is None:
                continue  # a line no run could have written: no record is met by that key
            earlier = resume_row(row)
            url = earlier["image_url"]
            stored = earlier["status"] == "stored" and isinstance(url, str) and url
            values.append((*_params(key), *_sort_columns(key),
                           pickle.dumps(earlier, pickle.HIGHEST_PROTOCOL),
                           _text(url) if stored else None, int(in_parquet)))
        # An upsert keeps a record's first place (its rowid): stored_at's "the latest earlier
        # row of that URL" is then the order of a dict filled the same way.
        self._db.executemany(
            "INSERT INTO records (source, source_id, sort_kind, sort_length, sort_text, "
            "earlier, stored_url, in_parquet) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (source, source_id) DO UPDATE SET earlier = excluded.earlier, "
            "stored_url = excluded.stored_url, in_parquet = in_parquet OR excluded.in_parquet",
            values)

    # --- while crawling ------------------------------------------------------------------------

    def meet(self, key: Key) -> bool:
        """Note a record met in a listing; False when this run met it before."""
        params = _params(key)
        found = self._db.execute("SELECT met FROM records WHERE source = ? AND source_id = ?",
                                 params).fetchone()
        if found is None:
            self._db.execute(
                "INSERT INTO records (source, source_id, sort_kind, sort_length, sort_text, "
                "met) VALUES (?, ?, ?, ?, ?, 1)", (*params, *_sort_columns(key)))
        elif found[0] is None:
            self._db.execute("UPDATE records SET met = 1 WHERE source = ? AND source_id = ?",
                             params)
        else:
            return False
        self._met += 1
        return True

    @property
    def met(self) -> int:
        """How many records this run met."""
        return self._met

    def was_met(self, key: Key) -> bool:
        found = self._db.execute("SELECT met FROM records WHERE source = ? AND source_id = ?",
                                 _params(key)).fetchone()
        return found is not None and found[0] is not None

    def earlier(self, key: Key) -> dict | None:
        """The ``resume_row`` of the newest earlier row of ``key``, or None."""
        found = self._db.execute(
            "SELECT earlier FROM records WHERE source = ? AND source_id = ?",
            _params(key)).fetchone()
        return None if found is None or found[0] is None else pickle.loads(found[0])

    def stored_at(self, image_url: str) -> dict | None:
        """The ``resume_row`` of the latest earlier record stored from ``image_url``, or None."""
        found = self._db.execute(
            "SELECT earlier FROM records WHERE stored_url = ? ORDER BY rowid DESC LIMIT 1",
            (_text(image_url),)).fetchone()
        return None if found is None else pickle.loads(found[0])

    def note_dropped(self, key: Key, why: str) -> None:
        """What discarded a record's request or item (the first reason given is kept)."""
        self._db.execute(
            "UPDATE records SET why_dropped = ? WHERE source = ? AND source_id = ? "
            "AND why_dropped IS NULL", (why, *_params(key)))

    # --- after the crawl: the final rows -------------------------------------------------------

    def note_journal(self, journal: Journal) -> None:
        """Where the newest line of each record starts in the journal, this run's included."""
        lines = ((at, _key_of(row)) for at, row in journal.scan())
        for batch in _batches((at, *_params(key)) for at, key in lines if key is not None):
            self._db.executemany(
                "UPDATE records SET journal_at = ? WHERE source = ? AND source_id = ?", batch)

    def without_row(self) -> Iterator[tuple[Key, str | None]]:
        """Records met by this run that neither the journal nor the last records.parquet
        has a row of, with what dropped them (None: nothing said so); after note_journal.
        Read a page at a time, so that the caller may ``set_final`` as it goes."""
        after = 0
        while True:
            page = self._db.execute(
                "SELECT rowid, source, source_id, why_dropped FROM records WHERE rowid > ? "
                "AND met IS NOT NULL AND journal_at IS NULL AND NOT in_parquet "
                "ORDER BY rowid LIMIT ?", (after, ROWS_PER_GROUP)).fetchall()
            if not page:
                return
            for _rowid, source, source_id, why in page:
                yield (source.decode("utf-8", "surrogatepass"),
                       source_id.decode("utf-8", "surrogatepass")), why
            after = page[-1][0]

    def set_final(self, key: Key, row: dict) -> None:
        """The final row of a record that has none elsewhere (a dropped one)."""
        self._db.execute("UPDATE records SET final = ? WHERE source = ? AND source_id = ?",
                         (pickle.dumps(row, pickle.HIGHEST_PROTOCOL), *_params(key)))

    def spill(self, records_path: str | os.PathLike) -> None:
        """Copy the rows of the last records.parquet that this run's final file keeps (met,
        with nothing newer in the journal) into the ledger: the writer then reads every row by
        one lookup, holding none. Call after note_journal, before the file is replaced."""
        records_path = Path(records_path)
        if not records_path.is_file():
            return
        source = pq.ParquetFile(records_path)
        for batch in row_group_batches(source, SPILL_BATCH_ROWS):
            values = []
            for row in batch.to_pylist():
                key = _key_of(row)
                if key is not None:
                    values.append((pickle.dumps({k: row.get(k) for k in FIELDS},
                                                pickle.HIGHEST_PROTOCOL), *_params(key)))
            self._db.executemany(
                "UPDATE records SET final = ? WHERE source = ? AND source_id = ? "
                "AND met IS NOT NULL AND journal_at IS NULL AND final IS NULL", values)

    def final_rows(self, journal: Journal) -> Iterator[dict]:
        """The final row of every record met that has one, in the order of records.parquet:
        its own (``set_final`` or spilled), else the journal's newest line."""
        self._db.execute("CREATE INDEX IF NOT EXISTS in_order ON records "
                         "(source, sort_kind, sort_length, sort_text)")
        cursor = self._db.execute(
            "SELECT final, journal_at FROM records WHERE met IS NOT NULL "
            "AND (journal_at IS NOT NULL OR final IS NOT NULL) "
            "ORDER BY source, sort_kind, sort_length, sort_text")
        with (open(journal.path, "rb") if journal.path.is_file()
              else tempfile.TemporaryFile()) as lines:
            for final, at in cursor:
                if final is not None:
                    yield pickle.loads(final)  # our own bytes, written above
                else:
                    lines.seek(at)
                    yield json.loads(lines.readline())
