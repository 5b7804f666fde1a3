"""Raw crawl records: a crash-safe journal while crawling, one fixed-schema Parquet at the end.

While a spider runs, every finished item is appended to ``journal.jsonl`` (one JSON object a
line, flushed at once and fsynced about once a second). A kill -9 can only cut the last line
short, and ``Journal.load`` ignores such a line. At the end, ``write_records`` turns the latest
row per record into ``records.parquet``, sorted, so the file is identical whatever order the
fetches finished in, and whether the crawl was interrupted or not.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from crawl.items import ArtworkImage
from marcus.atomic import atomic_path

SCHEMA_VERSION = 1

RECORDS_SCHEMA = pa.schema([
    ("schema_version", pa.int32()),
    ("source", pa.string()), ("source_id", pa.string()),
    ("page_url", pa.string()), ("image_url", pa.string()),
    ("license", pa.string()), ("license_raw", pa.string()),
    ("is_public_domain_flag", pa.bool_()),
    ("title", pa.string()), ("artist", pa.string()),
    ("artist_birth_year", pa.int32()), ("artist_death_year", pa.int32()),
    ("attribution_qualifier", pa.string()),
    ("date_text", pa.string()), ("date_start", pa.int32()), ("date_end", pa.int32()),
    ("object_type", pa.string()), ("object_type_raw", pa.string()), ("medium", pa.string()),
    ("raw_record", pa.string()),
    ("status", pa.string()), ("reason", pa.string()), ("error", pa.string()),
    ("http_status", pa.int32()), ("content_type", pa.string()),
    ("etag", pa.string()), ("last_modified", pa.string()),
    ("sha256", pa.string()), ("bytes", pa.int64()),
    ("width", pa.int32()), ("height", pa.int32()), ("format", pa.string()),
])

_FIELDS = [f.name for f in dataclasses.fields(ArtworkImage) if f.name != "extra"]
assert _FIELDS == RECORDS_SCHEMA.names[1:], "items.py and records.py disagree on fields"

# Terminal states: a record in one of these is not fetched again on --resume.
DONE_STATUSES = {"stored", "rejected", "metadata_only"}


# Text from remote data, made safe to store: Parquet and the journal need valid UTF-8 (a lone
# surrogate from a "\\ud800" JSON escape would crash both), control characters (NUL, ESC,
# C1) corrupt terminals and CSV exports, and a megabyte title helps nobody. The evidence
# columns keep everything but surrogates; ids keep their control characters (they are keys,
# and an unsafe one is a rejected row already).
MAX_TEXT_CHARS = 2000
_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_EVIDENCE = {"raw_record", "license_raw"}
_KEYS = {"source", "source_id"}


def valid_text(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD (valid UTF-8 guaranteed)."""
    return _SURROGATES.sub("\ufffd", text)


def clean_text(name: str, text: str) -> str:
    text = valid_text(text)
    if name in _EVIDENCE or name in _KEYS:
        return text
    text = _CONTROLS.sub("", text)
    if len(text) > MAX_TEXT_CHARS:
        text = text[: MAX_TEXT_CHARS - 1] + "\u2026"
    return text


def item_row(item: ArtworkImage) -> dict:
    row = {name: getattr(item, name) for name in _FIELDS}
    return {name: clean_text(name, value) if isinstance(value, str) else value
            for name, value in row.items()}


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
        rows: dict[tuple[str, str], dict] = {}
        if not self.path.is_file():
            return rows
        with open(self.path, "rb") as f:
            for line in f:
                if not line.endswith(b"\n"):
                    break  # torn write at a crash: everything before it is intact
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                rows[record_key(row)] = row
        return rows

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
    table = pq.read_table(path)
    version = table.column("schema_version")[0].as_py() if table.num_rows else SCHEMA_VERSION
    if version > SCHEMA_VERSION:
        raise ValueError(f"{path} has records schema {version}, newer than this code's "
                         f"{SCHEMA_VERSION}: update Marcus or crawl into a new folder")
    # Columns added since a file was written read as missing (None): a re-crawl refills them.
    return {record_key(r): {k: r.get(k) for k in _FIELDS} for r in table.to_pylist()}


def write_records(rows: list[dict], path: str | os.PathLike) -> int:
    """Write rows as records.parquet atomically, sorted by (source, source_id)."""
    rows = sorted(rows, key=lambda r: (r["source"], _id_sort_key(r["source_id"])))
    columns = {name: [r.get(name) for r in rows] for name in _FIELDS}
    columns = {"schema_version": [SCHEMA_VERSION] * len(rows), **columns}
    table = pa.Table.from_pydict(columns, schema=RECORDS_SCHEMA)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return len(rows)


def _id_sort_key(source_id: str) -> tuple[int, int | str]:
    # Numeric ids sort as numbers, others as text, never mixing the two.
    return (0, int(source_id)) if source_id.isdigit() else (1, source_id)
