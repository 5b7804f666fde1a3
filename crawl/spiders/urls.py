"""A list of image URLs (CSV, TSV or Parquet, as img2dataset takes): one record per row.

    python -m crawl urls --out data/crawl/urls   # with crawl.sources.urls.list set in params

Params (``crawl.sources.urls``): ``list`` (a local path or an http(s) URL of the list; when it is
null, ``{api_root}/list.csv``: the demo's list under ``api_root: demo``), ``allowed_origins``,
``object_types`` (``[painting, other]``: a plain list says nothing about type), ``delay_s`` and
``concurrency`` (per host), and ``list_max_bytes`` for a list fetched over http.

The list needs a ``url`` column; ``title``, ``artist``, ``date``, ``license`` and ``type`` (or
``object_type``) are read when present (headers are case-insensitive). ``source_id`` is stable
across runs and list edits: the first 16 hex digits of the URL's SHA-1. A row without a usable
http(s) URL becomes a ``failed``/``bad_record`` row with id ``row-N`` (N counts data rows from 1).
Licence comes from the ``license`` column's text only; a blank licence is ``unknown``, which does
not stop the fetch (curation decides), a stated non-free licence does. The type is ``other``
unless a type column names one.

Allowed origins (scheme, host and port; see ``crawl.middlewares.origins_of``):
``allowed_origins`` plus, when the list is a URL, the list's own origin. When
``allowed_origins`` is empty, every origin named in the list's URLs is allowed (the list is read
twice: origins first, then records), so a redirect may still never leave the origins the list
names.
No site policy is known for arbitrary hosts: params ask for two requests in flight per host,
half a second apart.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import scrapy

from crawl import normalize, reasons
from crawl.middlewares import origin, origins_of
from crawl.spiders.base import SourceSpider
from marcus.config import optional
from marcus.parquet import row_group_batches

COLUMNS = ("url", "title", "artist", "date", "license", "type", "object_type")
CSV_FIELD_LIMIT = 16 * 2**20


class UrlListSpider(SourceSpider):
    source = "urls"
    default_api_root = ""  # no API: the list is the source
    KEYS = {"list": optional(str), "list_max_bytes": int}

    def __init__(self, api_root: str | None = None, config: dict | None = None, state=None,
                 **kwargs):
        super().__init__(api_root=api_root, config=config, state=state, **kwargs)
        location = (self.config["list"] or "").strip()
        if not location and self.api_root:
            location = f"{self.api_root}/list.csv"
        if location.startswith("file://"):
            location = urlsplit(location).path
        self.list_location = location
        self.list_is_url = urlsplit(location).scheme in ("http", "https")
        self.configured_origins = list(self.config["allowed_origins"])
        self.allowed_origins = origins_of([location] if self.list_is_url else [],
                                          self.configured_origins)

    async def start(self):
        if not self.list_location:
            self.list_unreadable("crawl.sources.urls.list is not set (a path or URL of the list)")
            return
        if self.list_is_url:
            yield scrapy.Request(
                self.list_location, callback=self.parse_list, errback=self.listing_failed,
                meta={"download_maxsize": self.config["list_max_bytes"]})
            return
        path = Path(self.list_location)
        try:
            self.allow_listed_hosts(read_rows(path, path.name))
            rows = read_rows(path, path.name)
            for item in self.items_from_rows(rows):
                yield item
        except (OSError, ValueError, csv.Error) as exc:
            self.list_unreadable(f"{path}: {reasons.describe(exc)}")

    def parse_list(self, response):
        name = urlsplit(response.url).path
        try:
            self.allow_listed_hosts(read_rows(response.body, name))
            yield from self.items_from_rows(read_rows(response.body, name))
        except (ValueError, csv.Error) as exc:
            self.list_unreadable(f"{response.url}: {reasons.describe(exc)}")

    def list_unreadable(self, error: str) -> None:
        self.listing_broken(self.list_location or "crawl.sources.urls.list", error)

    def allow_listed_hosts(self, rows: Iterable[dict]) -> None:
        """With no configured origins, allow exactly the origins the list names (and its own)."""
        if self.configured_origins:
            return
        found = set(self.allowed_origins)
        for row in rows:
            url = valid_url(row.get("url"))
            if url and (o := origin(url)) is not None:
                found.add(o)
        self.allowed_origins = sorted(found)

    def items_from_rows(self, rows: Iterable[dict]):
        for number, row in enumerate(rows, start=1):
            if self.state.full:
                return
            url = valid_url(row.get("url"))
            source_id = url_id(url) if url else f"row-{number}"
            if not self.want(source_id):
                continue
            if url is None:
                shown = _text(row.get("url")) or ""
                yield self.failed_record(source_id, reasons.BAD_RECORD,
                                         f"row {number}: no http(s) URL: {shown[:200]!r}")
                continue
            try:
                item = self.item_from_row(row, url)
            except (ValueError, TypeError, AttributeError) as exc:
                yield self.failed_record(source_id, reasons.BAD_RECORD,
                                         f"row {number}: {reasons.describe(exc)}")
                continue
            yield self.fetch_image(item)

    def item_from_row(self, row: dict, url: str):
        name, qualifier = normalize.split_attribution(_text(row.get("artist")))
        date_text = _text(row.get("date"))
        date_start, date_end = normalize.parse_year_range(date_text)
        licence, flag, licence_raw = normalize.normalise_license(
            "urls", license=_text(row.get("license")))
        type_raw = _text(row.get("object_type")) or _text(row.get("type"))
        return self.new_item(
            url_id(url), {k: _json_value(v) for k, v in row.items()},
            image_url=url, license=licence, license_raw=licence_raw,
            is_public_domain_flag=flag, title=_text(row.get("title")), artist=name,
            attribution_qualifier=qualifier, date_text=date_text, date_start=date_start,
            date_end=date_end,
            object_type=normalize.normalise_object_type(type_raw) if type_raw else "other",
            object_type_raw=type_raw)


def url_id(url: str) -> str:
    """A stable record id for a URL: the first 16 hex digits of its SHA-1."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest()[:16]


def valid_url(value: object) -> str | None:
    """The cell as an http(s) URL with a host, else None."""
    url = _text(value)
    if url is None or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and host else None


def read_rows(source: Path | bytes, name: str) -> Iterator[dict]:
    """Rows of a CSV/TSV or Parquet list (from a path or a body), keys lower-cased."""
    parquet = name.lower().endswith((".parquet", ".pq"))
    if isinstance(source, bytes):
        parquet = parquet or source[:4] == b"PAR1"
    elif not parquet:
        with open(source, "rb") as f:
            parquet = f.read(4) == b"PAR1"
    if parquet:
        return _parquet_rows(source)
    return _csv_rows(source, "\t" if name.lower().endswith(".tsv") else ",")


def _parquet_rows(source: Path | bytes) -> Iterator[dict]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(pa.BufferReader(source) if isinstance(source, bytes) else source)
    by_lower = {n.lower(): n for n in parquet.schema_arrow.names}
    if "url" not in by_lower:
        raise ValueError(f"the list has no url column (columns: {', '.join(by_lower)[:200]})")
    columns = [by_lower[c] for c in COLUMNS if c in by_lower]
    for batch in row_group_batches(parquet, 10_000, columns):
        for row in batch.to_pylist():
            yield {k.lower(): v for k, v in row.items()}


def _csv_rows(source: Path | bytes, delimiter: str) -> Iterator[dict]:
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    raw = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
    # errors="replace": one bad byte must cost one cell, not the whole list.
    with io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="") as text:
        reader = csv.DictReader(text, delimiter=delimiter)
        header = [(f or "").strip().lower() for f in reader.fieldnames or ()]
        if "url" not in header:
            raise ValueError(f"the list has no url column (header: {','.join(header)[:200]})")
        reader.fieldnames = header
        for row in reader:
            yield {k: row.get(k) for k in COLUMNS if k in row}


def _text(value: object) -> str | None:
    """A cell as stripped text; None for blanks, NaN and values that are not text or numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value).strip() or None


def _json_value(value: object) -> object:
    """A cell as something json.dumps takes (Parquet may hold dates or bytes)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)
