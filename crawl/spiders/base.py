"""What every source's spider shares: record bookkeeping, image requests, failure reasons.

A source spider only knows its API: it walks the listing, builds an ``ArtworkImage`` per record
with ``self.new_item(...)``, and hands it to ``self.fetch_image(item)``. This base class decides
whether the image needs fetching at all (resume, incremental re-crawl, ``--metadata-only``,
``--limit``), fetches it, and turns every kind of failure into an item with a reason, so that
each record the listing named ends as exactly one row.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError

from crawl import reasons
from crawl.items import ArtworkImage
from crawl.ledger import Ledger
from crawl.middlewares import OffsiteRequest, origins_of
from crawl.records import DONE_STATUSES, MAX_RAW_RECORD_CHARS, conform, raw_digest, valid_text
from crawl.storage import ContentStore
from marcus.config import list_of

# Record ids are opaque text, but somebody downstream will one day name a file after one:
# refuse ids that could act as a path or hide characters. No real source's ids look like this
# (numbers, accession numbers like 1915.534, SHA-1 prefixes).
_UNSAFE_ID = re.compile(r"[\x00-\x1f\x7f-\x9f/\\%\ud800-\udfff]|\.\.|^[\s.~]|\s$")
MAX_ID_CHARS = 200
# Image responses the spider sees itself (errors become rows with their status). Not the
# redirects: with handle_httpstatus_all Scrapy would not follow them at all; this way they
# are followed, and AllowedOriginsMiddleware checks every hop (other origins, file: URLs).
_REDIRECTS = {301, 302, 303, 307, 308}
IMAGE_STATUSES = [s for s in range(300, 600) if s not in _REDIRECTS]

# The keys of every ``crawl.sources.NAME`` section (key -> kind, as marcus.config.check takes
# them); each spider adds its own in ``KEYS``, next to the code that reads them.
SOURCE_KEYS = {
    "api_root": str,  # "demo" or the live API root (crawl/__main__.py; --api-root overrides)
    "allowed_origins": list_of(str),  # origins images may come from, beyond the API root's
    "delay_s": float,  # seconds between two requests to one host (crawl/run.py)
    "concurrency": int,  # requests in flight per host (crawl/run.py)
    "object_types": list_of(str),  # types whose images are fetched; others: metadata only
    "fetch_non_pd": bool,  # also fetch images the source does not mark public domain
}


def record_id(value: object, raw: object = None) -> tuple[str, str | None]:
    """(the key text of a record id, why the id is unusable or None).

    Sources give ids as numbers or text; anything else (a JSON object, true, a fraction, a
    number too long to print) is unusable, but the record still needs a key for its row: a
    digest of the value, or of the whole record when it has no id at all. The same record
    gets the same key in every run.
    """
    if isinstance(value, str) and len(value) > MAX_ID_CHARS:
        return f"long-id-{_digest(value)}", f"id of {len(value):,} characters (at most " \
                                            f"{MAX_ID_CHARS})"
    if isinstance(value, str) and value != "":
        return valid_text(value), None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) < 10**MAX_ID_CHARS:
            return str(value), None
        return f"number-{_digest(hex(value))}", "the id is a number of over " \
                                                 f"{MAX_ID_CHARS} digits"
    if value is None or value == "":
        return f"no-id-{_digest(raw)}", "the record has no id"
    return f"bad-id-{_digest(value)}", f"the id is {_kind_of(value)}, not text or a number"


def _digest(value: object) -> str:
    try:
        text = json.dumps(value, sort_keys=True, ensure_ascii=True, default=repr)
    except (ValueError, RecursionError):  # nested too deep, or a number too long to print
        text = repr(type(value))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _shown(value: object) -> str:
    """A non-text value shown as text (the JSON of a number, list or object, cut short)."""
    return (_bounded_json(value, 10_000) or repr(type(value)))[:2000]


def _kind_of(value: object) -> str:
    return {bool: "true or false", dict: "a JSON object", list: "a JSON list",
            float: "a fraction", int: "a number"}.get(type(value), type(value).__name__)


def image_url_problem(url: object, max_chars: int) -> str | None:
    """Why ``url`` cannot be fetched as an image, or None: absolute http(s) with a host only.

    Records carry relative paths, blanks, numbers, ``javascript:`` and ``data:`` URLs, and
    megabyte-long strings; each of these is a rejected row, never a request that Scrapy
    refuses or drops (a relative URL raises in ``scrapy.Request``; an over-long one was
    silently filtered by its URL-length middleware).
    """
    if not isinstance(url, str):
        return f"the image URL is {_kind_of(url)}, not text"
    if len(url) > max_chars:
        return f"an image URL of {len(url):,} characters (at most {max_chars:,})"
    shown = repr(url[:200])
    if not url.strip():
        return "the image URL is blank"
    if any(c.isspace() or ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in url):
        return f"the image URL {shown} holds spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        return f"the image URL {shown} is malformed ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        what = f"a {parts.scheme}: URL" if parts.scheme else "a relative URL"
        return f"the image URL {shown} is {what}, not http(s)"
    if not parts.hostname:
        return f"the image URL {shown} has no host"
    return None


def unsafe_id_problem(source_id: str) -> str | None:
    """Why ``source_id`` is unsafe, or None."""
    if not source_id:
        return "empty id"
    if len(source_id) > MAX_ID_CHARS:
        return f"id of {len(source_id)} characters (at most {MAX_ID_CHARS})"
    found = _UNSAFE_ID.search(source_id)
    if found:
        return f"id {source_id[:100]!r} holds {found.group()!r}"
    return None


@dataclass
class CrawlState:
    """What this run knows before it starts, and which records it has met so far."""

    ledger: Ledger  # what earlier runs finished and which records this run met, on disk
    store: ContentStore
    resume: bool = False  # trust finished records: do not even refetch their metadata
    limit: int | None = None  # stop after this many records (in listing order)
    metadata_only: bool = False
    listing_failures: int = 0
    listing_stops: list[str] = field(default_factory=list)  # why a listing ended early
    pages: Counter = field(default_factory=Counter)  # listing pages read, per listing

    @property
    def met(self) -> int:
        """How many records this run has met in its listings."""
        return self.ledger.met

    @property
    def full(self) -> bool:
        return self.limit is not None and self.met >= self.limit

    def visit(self, key: tuple[str, str]) -> bool:
        """Count a record met in the listing; False when the limit is reached or seen before."""
        return not self.full and self.ledger.meet(key)

    def finished(self, key: tuple[str, str]) -> bool:
        row = self.ledger.earlier(key)
        return self.resume and row is not None and row["status"] in DONE_STATUSES and (
            row["status"] != "stored" or self.store.has(row["sha256"]))


class SourceSpider(scrapy.Spider):
    """Base class; subclasses set ``source`` and implement ``async def start()``."""

    source: ClassVar[str]
    default_api_root: ClassVar[str]
    # This source's own keys of ``crawl.sources.NAME``, beyond SOURCE_KEYS.
    KEYS: ClassVar[dict] = {}

    @classmethod
    def config_spec(cls) -> dict:
        """Every key of this source's params section, with its kind."""
        return {**SOURCE_KEYS, **cls.KEYS}

    @classmethod
    def check_config(cls, config: dict, api_root: str) -> None:
        """Raise a UserError for what the keys' kinds cannot say is wrong (an id that is no
        id, a live crawl without its API key); called before any work."""

    @classmethod
    def with_api_root(cls, config: dict, api_root: str) -> dict:
        """This source's section once ``--api-root`` (or the demo) named the root: sources
        that talk to several services (wikidata) point them all at it."""
        return config

    @classmethod
    def scrapy_settings(cls, config: dict) -> dict:
        """Scrapy settings this source's section decides, on top of crawl/run.py's."""
        return {}

    def __init__(self, api_root: str | None = None, config: dict | None = None,
                 state: CrawlState | None = None, **kwargs: Any):
        super().__init__(name=self.source, **kwargs)
        self.api_root = (api_root or self.default_api_root).rstrip("/")
        self.config = config or {}
        self.state = state
        # What this source may reach: the origin (scheme, host, port) of its API root and the
        # configured image roots. A redirect to another port of an allowed host is offsite.
        self.allowed_origins = origins_of([self.api_root] if self.api_root else [],
                                          self.config["allowed_origins"])

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider._item_error, signal=signals.item_error)
        return spider

    def _request_dropped(self, request, spider=None):
        """The scheduler refused a request (its duplicate filter): say what that cost."""
        key = self._record_key_of(request)
        if key is not None:
            self.state.ledger.note_dropped(key, f"request for {request.url[:200]} dropped by "
                                                "the scheduler (a duplicate of an earlier one)")
        else:  # a listing page already read: a next link pointing back
            self.listing_stopped(f"next page {request.url[:300]} was already read")

    def _item_error(self, item, response=None, spider=None, failure=None):
        if isinstance(item, ArtworkImage):
            self.state.ledger.note_dropped(
                (self.source, record_id(item.source_id)[0]),
                f"an item pipeline failed: {reasons.describe(failure.value)}"
                if failure is not None else "an item pipeline failed")

    def _record_key_of(self, request) -> tuple[str, str] | None:
        item = request.cb_kwargs.get("item")
        if isinstance(item, ArtworkImage):
            return self.source, record_id(item.source_id)[0]
        if "source_id" in request.cb_kwargs:
            return self.source, record_id(request.cb_kwargs["source_id"])[0]
        return None

    # --- records -------------------------------------------------------------------------------

    def want(self, source_id: object, raw: object = None) -> bool:
        """Call once per record met in a listing: False means skip it (limit or resumed).

        ``source_id`` is the id as the source gave it, of any JSON type; ``raw`` (the record)
        keys a record that has no id at all.
        """
        key = (self.source, record_id(source_id, raw)[0])  # the key its row will carry
        if not self.state.visit(key):
            return False
        return not self.state.finished(key)

    def new_item(self, source_id: object, raw: Any, **fields: Any) -> ArtworkImage:
        """The record's item, every field conformed to the records schema where it is parsed.

        A field of the wrong type (a title that is an object, a year of 10^30, a flag that is
        a string) becomes None with a note in the row's ``error``; a record whose JSON is
        larger than ``MAX_RAW_RECORD_CHARS`` or cannot be written back is a rejected row.
        """
        notes, values = [], {}
        for name, value in fields.items():
            if name in ("page_url", "image_url") and value is not None \
                    and not isinstance(value, str):
                values[name], note = None, f"{name}: {_kind_of(value)} is not a URL"
                if name == "image_url":  # a reasoned row (bad_url), not "no image"
                    notes.append(note)
                    values["image_url"], note = _shown(value), None
            else:
                values[name], note = conform(name, value)
            if note:
                notes.append(note)
        item = ArtworkImage(source=self.source, source_id=record_id(source_id, raw)[0],
                            **values)
        item.extra["notes"] = notes
        try:
            item.raw_record = raw if isinstance(raw, str) or raw is None else json.dumps(
                raw, ensure_ascii=False, sort_keys=True)
        except (ValueError, TypeError, RecursionError) as exc:  # too deep, or a huge number
            item.status, item.reason = "rejected", reasons.BAD_RECORD
            item.error = f"the record cannot be kept as evidence: {reasons.describe(exc)}"
        if item.raw_record is not None and len(item.raw_record) > MAX_RAW_RECORD_CHARS:
            size = len(item.raw_record)
            item.raw_record = None
            item.status, item.reason = "rejected", reasons.TOO_LARGE
            item.error = (f"a record of {size:,} characters of JSON (at most "
                          f"{MAX_RAW_RECORD_CHARS:,}): not kept, not fetched")
        return item

    def listed(self, source_id: object, record: object, make_item):
        """One record met in a listing, as its row or its image request: nothing when
        ``want()`` says skip it, a rejected row for an unsafe id, a failed row when
        ``make_item()`` cannot read the record, else ``fetch_image`` of its item."""
        if not self.want(source_id, record):
            return
        if (unsafe := self.unsafe_id(source_id, record)) is not None:
            yield unsafe
            return
        try:
            item = make_item()
        except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
            yield self.failed_record(source_id, reasons.BAD_RECORD, reasons.describe(exc))
            return
        yield self.fetch_image(item)

    def unsafe_id(self, source_id: object, raw: object = None) -> ArtworkImage | None:
        """A rejected row for an id that is missing, not a number or text, could be a path or
        hides characters; else None.

        Call right after ``want()``, before building any URL or item from the id.
        """
        key, problem = record_id(source_id, raw)
        problem = problem or unsafe_id_problem(key)
        if problem is None:
            return None
        item = ArtworkImage(source=self.source, source_id=key, status="rejected",
                            reason=reasons.UNSAFE_ID, error=f"unsafe record id: {problem}")
        if raw is not None:
            item.raw_record = _bounded_json(raw)
        return item

    def failed_record(self, source_id: object, reason: str, error: str,
                      http_status: int | None = None) -> ArtworkImage:
        return ArtworkImage(source=self.source, source_id=record_id(source_id)[0],
                            status="failed", reason=reason, error=error[:500],
                            http_status=http_status)

    # --- images --------------------------------------------------------------------------------

    def fetch_image(self, item: ArtworkImage):
        """A Request for the item's image, or the finished item when no fetch is needed."""
        if item.status != "pending":  # rejected while parsing (a record too large, say)
            return item
        wanted_types = self.config["object_types"]
        if item.object_type not in wanted_types:
            item.status, item.reason = "metadata_only", reasons.OBJECT_TYPE
            item.error = f"object type {item.object_type!r} not in {wanted_types}"
            return item
        if item.is_public_domain_flag is False and not self.config["fetch_non_pd"]:
            item.status, item.reason = "metadata_only", reasons.NOT_PUBLIC_DOMAIN
            item.error = f"the source's licence is {item.license!r}"
            return item
        if not item.image_url:
            item.status, item.reason = "rejected", reasons.NO_IMAGE_URL
            item.error = item.error or "the record has no image"
            return item
        problem = image_url_problem(item.image_url, self.settings.getint("MARCUS_MAX_URL_CHARS",
                                                                           2083))
        if problem is not None:
            item.status, item.reason, item.error = "rejected", reasons.BAD_URL, problem
            item.image_url = item.image_url[:2000] if isinstance(item.image_url, str) else None
            return item
        if self.state.metadata_only:
            item.status = "metadata_only"
            return item
        # An image stored by an earlier run: a URL alone does not prove the bytes behind it are
        # the same (museums re-photograph works and reuse file names). With validators from
        # the earlier response, ask the server (a 304 costs no body); without them, reuse
        # only when the source still describes the record exactly as then.
        earlier = self.state.ledger.stored_at(item.image_url)
        headers = {}
        if earlier is not None and self.state.store.has(earlier["sha256"]):
            if earlier.get("etag"):
                headers["If-None-Match"] = earlier["etag"]
            if earlier.get("last_modified"):
                headers["If-Modified-Since"] = earlier["last_modified"]
            if not headers and earlier["raw_digest"] == raw_digest(item.raw_record):
                reuse(item, earlier)
                return item
        # dont_filter: two records may share one image URL (both get rows, one blob), and an
        # image that redirects to itself must end at REDIRECT_MAX_TIMES with a reason, not
        # vanish in the scheduler's duplicate filter.
        return scrapy.Request(
            item.image_url, callback=self.parse_image, errback=self.image_failed,
            cb_kwargs={"item": item}, headers=headers, dont_filter=True,
            meta={"handle_httpstatus_list": IMAGE_STATUSES,
                  "marcus_earlier": earlier if headers else None,
                  "download_maxsize": self.settings.getint("MARCUS_MAX_BYTES"),
                  "download_timeout": self.settings.getfloat("MARCUS_TIMEOUT_S")})

    def parse_image(self, response, item: ArtworkImage):
        earlier = response.meta.get("marcus_earlier")
        if response.status == 304 and earlier is not None:  # unchanged since we stored it
            reuse(item, earlier)
            yield item
            return
        item.http_status = response.status
        item.content_type = response.headers.get(b"Content-Type", b"").decode("latin-1") or None
        item.etag = response.headers.get(b"ETag", b"").decode("latin-1") or None
        item.last_modified = response.headers.get(b"Last-Modified", b"").decode("latin-1") or None
        if response.status >= 400:
            item.status, item.reason = "failed", reasons.HTTP_ERROR
            item.error = f"HTTP {response.status} for {response.url[:200]}"
        elif response.status >= 300:  # a redirect that was not followed
            refused = refused_redirect(response)
            item.status, item.reason = "failed", reasons.OFFSITE if refused else reasons.HTTP_ERROR
            item.error = refused or f"unfollowed redirect HTTP {response.status}"
        else:
            item.extra["body"] = response.body
        yield item

    def image_failed(self, failure):
        item: ArtworkImage = failure.request.cb_kwargs["item"]
        item.status, item.reason, item.error = "failed", *failure_reason(failure)
        if item.reason == reasons.TOO_LARGE:
            item.status = "rejected"
        yield item

    def record_failed(self, failure):
        """Errback for a per-record metadata request: the record ends as a failed row."""
        source_id = failure.request.cb_kwargs.get("source_id")
        reason, error = failure_reason(failure)
        status = failure.value.response.status if isinstance(failure.value, HttpError) else None
        item = self.failed_record(source_id, reason, error, status)
        if reason == reasons.TOO_LARGE:  # a record bigger than max_bytes will stay that big
            item.status = "rejected"
        yield item

    def listing_broken(self, url: str, error: str) -> None:
        """A listing that arrived but cannot be read: the crawl is incomplete."""
        self.state.listing_failures += 1
        self.logger.error("listing unreadable (%s): %s %s", reasons.BAD_RECORD, url[:300],
                          error[:500])

    def listing_json(self, response, expect: str) -> dict | None:
        """The listing page as a JSON object holding ``expect``, or None (a listing failure).

        An API may answer 200 with an error object (AIC: ``{"status": 403, "error": ...}``)
        or with something else entirely: that is a failed page, never an empty last one.
        """
        try:
            body = parse_json(response)
        except ValueError as exc:
            self.listing_broken(response.url, f"not JSON: {reasons.describe(exc)}")
            return None
        if not isinstance(body, dict):
            self.listing_broken(response.url, f"JSON {type(body).__name__}, not an object")
            return None
        error = api_error(body)
        if error is not None:
            self.listing_broken(response.url, f"an error in a {response.status}: {error}")
            return None
        if expect not in body:
            self.listing_broken(response.url, f"no {expect!r} in the page (keys: "
                                f"{', '.join(map(str, list(body)[:10]))[:200]})")
            return None
        return body

    def page_read(self, listing: str, response, new_records: int, records: int) -> bool:
        """Count a listing page; False (stop the listing, logged) when following it is futile.

        A listing that repeats its records, claims a total of 10^12 or a negative page size
        ends when a page brings no record not met before, and in any case after
        ``crawl.max_listing_pages`` pages. The crawl is still complete: what the listing gave
        was read.
        """
        self.state.pages[listing] += 1
        cap = self.settings.getint("MARCUS_MAX_LISTING_PAGES", 100_000)
        if records and not new_records and not self.state.full:
            self.listing_stopped(f"{listing}: page {response.url[:300]} brought no record not "
                                 "met before")
            return False
        if self.state.pages[listing] >= cap:
            self.listing_stopped(f"{listing}: {cap:,} pages read (crawl.max_listing_pages)")
            return False
        return True

    def listing_stopped(self, why: str) -> None:
        self.state.listing_stops.append(why)
        self.logger.warning("listing stopped early: %s", why)

    def listing_failed(self, failure):
        """Errback for a listing page: the crawl is incomplete; a rerun picks it up."""
        self.state.listing_failures += 1
        reason, error = failure_reason(failure)
        self.logger.error("listing request failed (%s): %s %s", reason, failure.request.url,
                          error)


# Numbers longer than this stay text when a body is parsed: Python refuses to read integers of
# over 4,300 digits (a ValueError that would cost the whole page), and no real id is that long.
_MAX_INT_DIGITS = 4000


def _parse_int(digits: str) -> int | str:
    return int(digits) if len(digits) <= _MAX_INT_DIGITS else digits


def parse_json(response) -> object:
    """The response body as JSON; ValueError (with a reason) for anything unreadable.

    Bodies are decoded as Scrapy decodes text (invalid UTF-8 becomes U+FFFD, one field's
    worth, not the page). Nesting deeper than Python's recursion limit and absurdly long
    numbers are errors or text here, never a crash of the callback.
    """
    text = response.text if hasattr(response, "text") else response.body.decode(
        "utf-8", "replace")
    try:
        return json.loads(text, parse_int=_parse_int)
    except RecursionError:
        raise ValueError("JSON nested deeper than this parser follows") from None


def api_error(body: object) -> str | None:
    """The error an API put in a 200 response body, or None.

    AIC answers ``{"status": 403, "error": "...", "detail": "..."}``, the Met ``{"message":
    "Not a valid object"}``, MediaWiki ``{"error": {"code": ..., "info": ...}}``.
    """
    if not isinstance(body, dict):
        return None
    error = body.get("error") or body.get("errors")
    status = body.get("status")
    if not error and isinstance(status, int) and not isinstance(status, bool) and status >= 400:
        error = f"status {status}"
    if not error and set(body) <= {"message", "detail", "status", "code"} and body.get("message"):
        error = body["message"]
    if not error:
        return None
    if isinstance(error, dict):
        error = ": ".join(str(error[k]) for k in ("code", "info", "message") if k in error) \
            or _bounded_json(error, 300)
    elif not isinstance(error, str):
        error = _bounded_json(error, 300) or type(error).__name__
    detail = body.get("detail") or (body.get("message") if body.get("message") != error
                                    else None)
    if isinstance(detail, str) and detail:
        error = f"{error}: {detail}"
    return str(error)[:300]


def as_int(value: object) -> int | None:
    """A count or size from an API (``total``, ``limit``): a whole number or ASCII digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,18}", value.strip()):
        return int(value)
    return None


def _bounded_json(value: object, limit: int = MAX_RAW_RECORD_CHARS) -> str | None:
    try:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                               sort_keys=True)
    except (ValueError, TypeError, RecursionError):
        return None
    return text if len(text) <= limit else None


def reuse(item: ArtworkImage, earlier: dict) -> None:
    """Take the fetch results of an earlier run's row for the same, unchanged image."""
    for name in ("status", "http_status", "content_type", "etag", "last_modified", "sha256",
                 "bytes", "width", "height", "format", "reason", "error"):
        setattr(item, name, earlier.get(name))


def refused_redirect(response) -> str | None:
    """Why a 3xx response was not followed, when it points at a non-http URL; else None.

    Scrapy's RedirectMiddleware hands back a redirect to file:, data:, ftp: ... unfollowed
    (and HttpErrorMiddleware then fails it as a plain HTTP 302): it is a refused offsite hop.
    """
    if not 300 <= response.status < 400:
        return None
    location = response.headers.get(b"Location", b"").decode("latin-1").strip()
    target = urljoin(response.url, location) if location else ""
    if target and urlsplit(target).scheme.lower() not in ("http", "https"):
        return f"refused redirect to non-http URL {target[:200]!r}"
    return None


def failure_reason(failure) -> tuple[str, str]:
    """Map a download failure to (reason code, message)."""
    from scrapy.exceptions import (
        DownloadCancelledError,
        DownloadTimeoutError,
        UnsupportedURLSchemeError,
    )

    exc = failure.value
    message = reasons.describe(exc)
    text = str(exc).lower()
    if isinstance(exc, HttpError):
        refused = refused_redirect(exc.response)
        if refused:
            return reasons.OFFSITE, refused
        return reasons.HTTP_ERROR, f"HTTP {exc.response.status}"
    if isinstance(exc, (OffsiteRequest, UnsupportedURLSchemeError)):
        return reasons.OFFSITE, message
    # Before IgnoreRequest: HttpCompressionMiddleware refuses a body that inflates past
    # DOWNLOAD_MAXSIZE (a gzip bomb) with an IgnoreRequest saying so.
    if (isinstance(exc, DownloadCancelledError) or "max size" in text
            or "download_maxsize" in text):
        return reasons.TOO_LARGE, (message if str(exc).strip() else
                                   "the answer is larger than crawl.max_bytes (cancelled)")
    if isinstance(exc, IgnoreRequest) and "redirection" in text:  # RedirectMiddleware's limit
        return reasons.REDIRECT_LOOP, message
    if isinstance(exc, IgnoreRequest):
        return (reasons.ROBOTS if "robots" in text else reasons.OFFSITE), message
    if isinstance(exc, (DownloadTimeoutError, TimeoutError)):
        return reasons.TIMEOUT, message
    return reasons.CONNECTION, message

