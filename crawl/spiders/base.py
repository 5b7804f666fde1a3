"""What every source's spider shares: record bookkeeping, image requests, failure reasons.

A source spider only knows its API: it walks the listing, builds an ``ArtworkImage`` per record
with ``self.new_item(...)``, and hands it to ``self.fetch_image(item)``. This base class decides
whether the image needs fetching at all (resume, incremental re-crawl, ``--metadata-only``,
``--limit``), fetches it, and turns every kind of failure into an item with a reason, so that
each record the listing named ends as exactly one row.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError

from crawl import reasons
from crawl.items import ArtworkImage
from crawl.middlewares import OffsiteRequest
from crawl.records import DONE_STATUSES, valid_text
from crawl.storage import ContentStore

# Record ids are opaque text, but somebody downstream will one day name a file after one:
# refuse ids that could act as a path or hide characters. No real source's ids look like this
# (numbers, accession numbers like 1915.534, SHA-1 prefixes).
_UNSAFE_ID = re.compile(r"[\x00-\x1f\x7f-\x9f/\\%\ud800-\udfff]|\.\.|^[\s.~]|\s$")
MAX_ID_CHARS = 200
# Image responses the spider sees itself (errors become rows with their status). Not the
# redirects: with handle_httpstatus_all Scrapy would not follow them at all; this way they
# are followed, and AllowedHostsMiddleware checks every hop (other hosts, file: URLs).
_REDIRECTS = {301, 302, 303, 307, 308}
IMAGE_STATUSES = [s for s in range(300, 600) if s not in _REDIRECTS]


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

    previous: dict[tuple[str, str], dict]  # latest row per record from earlier runs
    store: ContentStore
    resume: bool = False  # trust finished records: do not even refetch their metadata
    limit: int | None = None  # stop after this many records (in listing order)
    metadata_only: bool = False
    visited: list[tuple[str, str]] = field(default_factory=list)
    listing_failures: int = 0
    _visited_set: set = field(default_factory=set)

    def __post_init__(self):
        # Images already stored, by URL, for incremental re-crawls.
        self.stored_by_url = {row["image_url"]: row for row in self.previous.values()
                              if row["status"] == "stored" and row["image_url"]}

    @property
    def full(self) -> bool:
        return self.limit is not None and len(self.visited) >= self.limit

    def visit(self, key: tuple[str, str]) -> bool:
        """Count a record met in the listing; False when the limit is reached or seen before."""
        if key in self._visited_set or self.full:
            return False
        self._visited_set.add(key)
        self.visited.append(key)
        return True

    def finished(self, key: tuple[str, str]) -> bool:
        row = self.previous.get(key)
        return self.resume and row is not None and row["status"] in DONE_STATUSES and (
            row["status"] != "stored" or self.store.has(row["sha256"]))


class SourceSpider(scrapy.Spider):
    """Base class; subclasses set ``source`` and implement ``async def start()``."""

    source: ClassVar[str]
    default_api_root: ClassVar[str]

    def __init__(self, api_root: str | None = None, config: dict | None = None,
                 state: CrawlState | None = None, **kwargs: Any):
        super().__init__(name=self.source, **kwargs)
        self.api_root = (api_root or self.default_api_root).rstrip("/")
        self.config = config or {}
        self.state = state
        hosts = {urlsplit(self.api_root).hostname} | set(self.config.get("allowed_hosts", []))
        self.allowed_hosts = sorted(h.lower() for h in hosts if h)

    # --- records -------------------------------------------------------------------------------

    def want(self, source_id: str | int) -> bool:
        """Call once per record met in a listing: False means skip it (limit or resumed)."""
        key = (self.source, valid_text(str(source_id)))  # the key its row will carry
        if not self.state.visit(key):
            return False
        return not self.state.finished(key)

    def new_item(self, source_id: str | int, raw: Any, **fields: Any) -> ArtworkImage:
        raw_json = raw if isinstance(raw, str) or raw is None else json.dumps(
            raw, ensure_ascii=False, sort_keys=True)
        return ArtworkImage(source=self.source, source_id=str(source_id), raw_record=raw_json,
                            **fields)

    def unsafe_id(self, source_id: str | int) -> ArtworkImage | None:
        """A rejected row for an id that could be a path or hides characters, else None.

        Call right after ``want()``, before building any URL or item from the id.
        """
        problem = unsafe_id_problem(str(source_id))
        if problem is None:
            return None
        return ArtworkImage(source=self.source, source_id=str(source_id), status="rejected",
                            reason=reasons.UNSAFE_ID, error=f"unsafe record id: {problem}")

    def failed_record(self, source_id: str | int, reason: str, error: str,
                      http_status: int | None = None) -> ArtworkImage:
        return ArtworkImage(source=self.source, source_id=str(source_id), status="failed",
                            reason=reason, error=error[:500], http_status=http_status)

    # --- images --------------------------------------------------------------------------------

    def fetch_image(self, item: ArtworkImage):
        """A Request for the item's image, or the finished item when no fetch is needed."""
        wanted_types = self.config.get("object_types") or ["painting"]
        if item.object_type not in wanted_types:
            item.status, item.reason = "metadata_only", reasons.OBJECT_TYPE
            item.error = f"object type {item.object_type!r} not in {wanted_types}"
            return item
        if item.is_public_domain_flag is False and not self.config.get("fetch_non_pd", False):
            item.status, item.reason = "metadata_only", reasons.NOT_PUBLIC_DOMAIN
            item.error = f"the source's licence is {item.license!r}"
            return item
        if not item.image_url:
            item.status, item.reason = "rejected", reasons.NO_IMAGE_URL
            item.error = item.error or "the record has no image"
            return item
        if self.state.metadata_only:
            item.status = "metadata_only"
            return item
        # An image stored by an earlier run: a URL alone does not prove the bytes behind it are
        # the same (museums re-photograph works and reuse file names). With validators from
        # the earlier response, ask the server (a 304 costs no body); without them, reuse
        # only when the source still describes the record exactly as then.
        earlier = self.state.stored_by_url.get(item.image_url)
        headers = {}
        if earlier is not None and self.state.store.has(earlier["sha256"]):
            if earlier.get("etag"):
                headers["If-None-Match"] = earlier["etag"]
            if earlier.get("last_modified"):
                headers["If-Modified-Since"] = earlier["last_modified"]
            if not headers and earlier["raw_record"] == item.raw_record:
                reuse(item, earlier)
                return item
        return scrapy.Request(
            item.image_url, callback=self.parse_image, errback=self.image_failed,
            cb_kwargs={"item": item}, headers=headers,
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

    def listing_json(self, response) -> dict | None:
        """The listing page as a JSON object, or None (counted as a listing failure)."""
        try:
            body = response.json()
        except ValueError as exc:
            self.listing_broken(response.url, f"not JSON: {exc}")
            return None
        if not isinstance(body, dict):
            self.listing_broken(response.url, f"JSON {type(body).__name__}, not an object")
            return None
        return body

    def listing_failed(self, failure):
        """Errback for a listing page: the crawl is incomplete; a rerun picks it up."""
        self.state.listing_failures += 1
        reason, error = failure_reason(failure)
        self.logger.error("listing request failed (%s): %s %s", reason, failure.request.url,
                          error)


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
        return reasons.TOO_LARGE, message
    if isinstance(exc, IgnoreRequest):
        return (reasons.ROBOTS if "robots" in text else reasons.OFFSITE), message
    if isinstance(exc, (DownloadTimeoutError, TimeoutError)):
        return reasons.TIMEOUT, message
    return reasons.CONNECTION, message

