"""Raw crawl records: a crash-safe journal while crawling, one fixed-schema Parquet at the end.

While a spider runs, every finished item is appended to ``journal.jsonl`` (one JSON object a
line, flushed at once and fsynced about once a second). A kill -9 can only cut the last line
short, and ``Journal.load`` ignores such a line. At the end, ``write_records`` turns the latest
row per record into ``records.parquet``, sorted, so the file is identical whatever order the
fetches finished in, and whether the crawl was interrupted or not.

What a run needs of its records while it crawls and to write that file (``resume_row`` of
every earlier row, the records met, where each final row lies) is kept on disk by
``crawl.ledger.Ledger``, and ``finish_records`` writes the rows it hands over
``ROWS_PER_GROUP`` at a time: memory stays flat however many records a source has.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from crawl.items import ArtworkImage
from marcus.atomic import atomic_path

SCHEMA_VERSION = 3  # 2: genre, movement, same_as, found_via; 3: accession_number

RECORDS_SCHEMA = pa.schema([
    ("schema_version", pa.int32()),
    ("source", pa.string()), ("source_id", pa.string()), ("accession_number", pa.string()),
    ("page_url", pa.string()), ("image_url", pa.string()),
    ("license", pa.string()), ("license_raw", pa.string()),
    ("is_public_domain_flag", pa.bool_()),
    ("title", pa.string()), ("artist", pa.string()),
    ("artist_birth_year", pa.int32()), ("artist_death_year", pa.int32()),
    ("attribution_qualifier", pa.string()),
    ("date_text", pa.string()), ("date_start", pa.int32()), ("date_end", pa.int32()),
    ("object_type", pa.string()), ("object_type_raw", pa.string()), ("medium", pa.string()),
    ("genre", pa.string()), ("movement", pa.string()), ("same_as", pa.string()),
    ("found_via", pa.string()),
    ("raw_record", pa.string()),
    ("status", pa.string()), ("reason", pa.string()), ("error", pa.string()),
    ("http_status", pa.int32()), ("content_type", pa.string()),
    ("etag", pa.string()), ("last_modified", pa.string()),
    ("sha256", pa.string()), ("bytes", pa.int64()),
    ("width", pa.int32()), ("height", pa.int32()), ("format", pa.string()),
])

FIELDS = [f.name for f in dataclasses.fields(ArtworkImage) if f.name != "extra"]
assert FIELDS == RECORDS_SCHEMA.names[1:], "items.py and records.py disagree on fields"

# A same_as link names a record by id ("met:436535") or, where a museum is known to Wikidata
# only by its inventory numbers, by number: "cleveland:accession:1958.31" is the cleveland
# record whose accession_number is 1958.31 (curate/identity.py resolves both).
ACCESSION_LINK = "accession:"


def accession_link(source: str, number: str) -> str:
    return f"{source}:{ACCESSION_LINK}{number}"


# Terminal states: a record in one of these is not fetched again on --resume.
DONE_STATUSES = {"stored", "rejected", "metadata_only"}


# Text from remote data, made safe to store: Parquet and the journal need valid UTF-8 (a lone
# surrogate from a "\\ud800" JSON escape would crash both), control characters (NUL, ESC,
# C1) corrupt terminals and CSV exports, and a megabyte title helps nobody. The evidence
# columns keep everything but surrogates; ids keep their control characters (they are keys,
# and an unsafe one is a rejected row already).
MAX_TEXT_CHARS = 2000
# A record's own JSON (raw_record) is evidence and kept whole, up to this: real records are a
# few KB (Commons with extmetadata tens of KB); a record holding a 50 MB string is rejected.
MAX_RAW_RECORD_CHARS = 1_000_000
_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_EVIDENCE = {"raw_record", "license_raw"}
_KEYS = {"source", "source_id"}
# URLs are kept whole up to here (a fetched one is at most crawl.max_url_chars long); a longer
# one, from a rejected row, is cut like other text.
_URLS = {"page_url", "image_url"}
MAX_URL_CHARS = 8192
_YEARS = {"artist_birth_year", "artist_death_year", "date_start", "date_end"}
_INT_BOUNDS = {pa.int32(): 2**31 - 1, pa.int64(): 2**63 - 1}
_TYPES = {f.name: f.type for f in RECORDS_SCHEMA}


def valid_text(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD (valid UTF-8 guaranteed)."""
    return _SURROGATES.sub("\ufffd", text)


def clean_text(name: str, text: str) -> str:
    text = valid_text(text)
    if name in _EVIDENCE or name in _KEYS:
        return text
    text = _CONTROLS.sub("", text)
    limit = MAX_URL_CHARS if name in _URLS else MAX_TEXT_CHARS
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return text


def conform(name: str, value: object) -> tuple[object, str | None]:
    """``value`` as column ``name`` of RECORDS_SCHEMA can hold it, and a note when it could not.

    Remote JSON changes type between records and API versions. A value of the wrong type
    becomes None with a note saying what it was, so that no row can break the Parquet write:
    text columns take strings (numbers become their digits, finite floats their repr), year
    columns whole numbers from -2100 to 2100 but 0 (ASCII digits in text too), other integer
    columns what their width holds, the flag only true/false.
    """
    if value is None:
        return None, None
    kind = _TYPES[name]
    if kind == pa.string():
        if isinstance(value, str):
            return clean_text(name, value), None
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**100:
            return str(value), None
        if isinstance(value, float) and math.isfinite(value):
            return repr(value), None
    elif name in _YEARS:
        if (year := _year(value)) is not None:
            return year, None
    elif kind in _INT_BOUNDS:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if (isinstance(value, int) and not isinstance(value, bool)
                and abs(value) <= _INT_BOUNDS[kind]):
            return value, None
    elif kind == pa.bool_() and isinstance(value, bool):
        return value, None
    return None, f"{name}: {_describe_value(value)} is not {_KIND_WORDS.get(name, kind)}"


_YEAR_TEXT = re.compile(r"-?[0-9]{1,4}")
LATEST_YEAR = 2100  # as crawl/normalize.py: larger numbers are ids or measurements, not years


def _year(value: object) -> int | None:
    """A year from a whole number or its ASCII digits; year 0 does not exist (missing)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and _YEAR_TEXT.fullmatch(value.strip()):
        value = int(value)
    return value if isinstance(value, int) and 0 < abs(value) <= LATEST_YEAR else None


_KIND_WORDS = {**{n: "a year" for n in _YEARS}, "is_public_domain_flag": "true or false"}


def _describe_value(value: object) -> str:
    """A short, safe description of a remote value for a note ("JSON object", "'abc…'")."""
    if isinstance(value, bool):
        return f"JSON {str(value).lower()}"
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list | tuple):
        return "a JSON list"
    if isinstance(value, int):
        digits = len(str(value)) if abs(value) < 10**100 else "100+"
        return f"a number of {digits} digits" if abs(value) >= 10**9 else f"the number {value}"
    if isinstance(value, float):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = valid_text(value[:40]) + ("\u2026" if len(value) > 40 else "")
        return f"the text {shown!r}"
    return f"a {type(value).__name__}"


def conform_row(row: dict) -> dict:
    """Every column of ``row`` conformed (see ``conform``); notes are added to ``error``.

    A stored row normally has no error; one with notes says which source fields were unusable
    and left empty. ``source`` and ``source_id`` are keys: always text.
    """
    out, notes = {}, list(row.get("notes") or ())
    for name in FIELDS:
        value = row.get(name)
        if name in _KEYS:
            out[name] = valid_text(value if isinstance(value, str) else str(value))
            continue
        out[name], note = conform(name, value)
        if note:
            notes.append(note)
    if notes:
        text = "unusable fields left empty: " + "; ".join(dict.fromkeys(notes))
        out["error"] = clean_text("error", f"{out['error']} ({text})" if out["error"] else text)
    return out


def item_row(item: ArtworkImage) -> dict:
    """The journal and Parquet row of an item: every value conformed to RECORDS_SCHEMA."""
    row = {name: getattr(item, name) for name in FIELDS}
    return conform_row({**row, "notes": item.extra.get("notes")})


def record_key(row: dict) -> tuple[str, str]:
    return row["source"], row["source_id"]


class Journal:
    """Append-only JSON-lines log of finished items; survives kill -9 up to the last line."""

    def __init__(self, path: str | os.PathLike, fsync_every_s: float = 1.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = None
        self._fsync_every_s = fsync_every_s
        self._last_sync = time.monotonic()

    def load(self) -> dict[tuple[str, str], dict]:
        """The latest row per record; a torn last line (from a crash) is skipped."""
        return {record_key(row): row for _, row in self.scan()}

    def scan(self):
        """(offset, row) of every intact line, in order: a torn last line (from a crash) ends
        it, a line that is no JSON object with a key is skipped."""
        if not self.path.is_file():
            return
        with open(self.path, "rb") as f:
            offset = 0
            for line in f:
                if not line.endswith(b"\n"):
                    break  # torn write at a crash: everything before it is intact
                at, offset = offset, offset + len(line)
                try:
                    row = json.loads(line)
                    record_key(row)
                except (ValueError, TypeError, KeyError):
                    continue
                yield at, row

    def append(self, row: dict) -> None:
        if self._file is None:
            self._repair()
            self._file = open(self.path, "ab")
        self._file.write(json.dumps(row, ensure_ascii=False, sort_keys=True).encode() + b"\n")
        # Hand every line to the kernel at once: a killed process loses nothing it wrote.
        # fsync (surviving a power cut too) is batched, as it costs milliseconds.
        self._file.flush()
        now = time.monotonic()
        if now - self._last_sync >= self._fsync_every_s:
            self.sync()
            self._last_sync = now

    def sync(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self.sync()
            self._file.close()
            self._file = None

    def _repair(self) -> None:
        """Cut a torn last line so that new lines start on a line of their own."""
        if not self.path.is_file():
            return
        with open(self.path, "rb+") as f:
            data = f.read()
            if data and not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)


def read_records(path: str | os.PathLike) -> dict[tuple[str, str], dict]:
    """Rows of an existing records.parquet, keyed like the journal (for incremental crawls)."""
    path = Path(path)
    if not path.is_file():
        return {}
    check_version(pq.ParquetFile(path), path)
    # Columns added since a file was written read as missing (None): a re-crawl refills them.
    return {record_key(r): {k: r.get(k) for k in FIELDS}
            for r in pq.read_table(path).to_pylist()}


def write_records(rows: list[dict], path: str | os.PathLike) -> int:
    """Write rows as records.parquet atomically, sorted by (source, source_id)."""
    by_key = {record_key(r): r for r in rows}
    return finish_records(path, (by_key[k] for k in sorted(by_key, key=sort_key)))["records"]


ROWS_PER_GROUP = 10_000  # rows conformed, held and written at a time (one Parquet row group)
SPILL_BATCH_ROWS = 1_000  # rows of the last records.parquet decoded at a time


def sort_key(key: tuple[str, str]) -> tuple:
    """The order of records.parquet: by source, then numeric ids as numbers, others as text."""
    return key[0], _id_sort_key(key[1])


def finish_records(path: str | os.PathLike, rows: Iterable[dict]) -> dict:
    """Write ``rows``, which come in ``sort_key`` order, as records.parquet, atomically,
    ``ROWS_PER_GROUP`` rows at a time; returns what they hold: ``records``, ``counts`` (per
    status), ``reasons`` (per reason), ``stored_bytes``."""
    summary = {"records": 0, "counts": {}, "reasons": {}, "stored_bytes": 0}
    rows = iter(rows)
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, RECORDS_SCHEMA) as writer:
        while True:
            # Rows from a journal or Parquet written by older code are conformed again: the
            # final write must never fail on a value, or every good row would be lost with it.
            group = [conform_row(row) for row in itertools.islice(rows, ROWS_PER_GROUP)]
            if not group and summary["records"]:
                break
            columns = {name: [r.get(name) for r in group] for name in FIELDS}
            columns = {"schema_version": [SCHEMA_VERSION] * len(group), **columns}
            writer.write_table(pa.Table.from_pydict(columns, schema=RECORDS_SCHEMA),
                               row_group_size=ROWS_PER_GROUP)
            for row in group:
                _count(summary, row)
            if not group:
                break  # no rows at all: the file still has its schema
    return summary


def _count(summary: dict, row: dict) -> None:
    summary["records"] += 1
    counts, by_reason = summary["counts"], summary["reasons"]
    counts[row["status"]] = counts.get(row["status"], 0) + 1
    if row["reason"]:
        by_reason[row["reason"]] = by_reason.get(row["reason"], 0) + 1
    if row["status"] == "stored":
        summary["stored_bytes"] += row["bytes"] or 0


# What a run keeps of an earlier run's row to resume and to reuse a stored image (crawl.spiders
# .base: CrawlState.finished, SourceSpider.fetch_image, reuse): not the evidence, which stays
# on disk until finish_records copies it; ``raw_digest`` stands for the record's JSON.
RESUME_FIELDS = ("status", "image_url", "http_status", "content_type", "etag", "last_modified",
                 "sha256", "bytes", "width", "height", "format", "reason", "error")


def raw_digest(raw: object) -> bytes | None:
    """A digest of a record's JSON: equal digests, the same record as the source gave it."""
    if not isinstance(raw, str):
        return None
    return hashlib.blake2b(raw.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def resume_row(row: dict) -> dict:
    return {**{name: row.get(name) for name in RESUME_FIELDS},
            "raw_digest": raw_digest(row.get("raw_record"))}


def check_version(source: pq.ParquetFile, path: Path) -> None:
    if source.metadata.num_rows == 0:
        return
    first = source.read_row_group(0, columns=["schema_version"]).column(0)
    version = first[0].as_py() if len(first) else SCHEMA_VERSION
    if version > SCHEMA_VERSION:
        raise ValueError(f"{path} has records schema {version}, newer than this code's "
                         f"{SCHEMA_VERSION}: update Marcus or crawl into a new folder")


def _id_sort_key(source_id: str) -> tuple[int, int, str]:
    # Numeric ids sort as numbers, others as text, never mixing the two. ASCII digits only:
    # str.isdigit() is also true for "4²" and "٣", which int() refuses or reads differently.
    # Comparing (length, text) orders ASCII numbers of any length without int().
    if _ASCII_DIGITS.fullmatch(source_id):
        digits = source_id.lstrip("0") or "0"
        return (0, len(digits), digits + "\x00" + source_id)
    return (1, 0, source_id)


_ASCII_DIGITS = re.compile("[0-9]+")
