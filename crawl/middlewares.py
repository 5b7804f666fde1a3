"""Downloader middleware for polite, persistent crawling.

``PoliteRetryMiddleware`` replaces Scrapy's RetryMiddleware, which retries at once and ignores
``Retry-After``. Here every retry waits: for the server's ``Retry-After`` when it sends one
(429/503), else for an exponential backoff with jitter. A "slow down" answer (429, 503, or a
403 HTML page from bot protection such as the Met's) also pauses the whole host for that long,
so the other queued requests do not hammer it meanwhile. Each item is retried on its own; a
failure never restarts a shard or the crawl.

Settings (filled from params by ``crawl/settings.py``): ``MARCUS_RETRIES``,
``MARCUS_BACKOFF_BASE_S``, ``MARCUS_BACKOFF_MAX_S``, ``MARCUS_RETRY_AFTER_MAX_S``,
``MARCUS_RETRY_403_HTML``.
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from datetime import UTC
from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.asyncio import sleep
from scrapy.utils.misc import load_object

RETRY_STATUSES = {408, 429, 500, 502, 503, 504, 522, 524}
SLOW_DOWN_STATUSES = {429, 503}


_DELTA_SECONDS = re.compile(r"[0-9]{1,12}")  # RFC 9110 10.2.3: 1*DIGIT, ASCII digits only


def retry_after_seconds(value: bytes | str | None, now: float | None = None) -> float | None:
    """Parse a Retry-After header (RFC 9110 10.2.3): delta-seconds or an HTTP-date.

    None when absent or invalid (garbage, a negative or fractional number, non-ASCII digits
    such as "²", a date no parser reads): the caller then backs off as if there were none,
    so a bad header never ends an item's retries early. A date in the past means "now" (0).
    A date without a zone is read as GMT, as HTTP-dates always are.
    """
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if _DELTA_SECONDS.fullmatch(text):
        return float(text)
    if not text or len(text) > 64 or not text.isascii():
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        stamp = when.timestamp()
    except (OverflowError, OSError, ValueError):
        return None
    return max(0.0, stamp - (time.time() if now is None else now))


class PoliteRetryMiddleware:
    def __init__(self, crawler):
        settings = crawler.settings
        if not settings.getbool("RETRY_ENABLED", True):
            raise NotConfigured
        self.crawler = crawler
        self.max_retries = settings.getint("MARCUS_RETRIES", 5)
        self.backoff_base_s = settings.getfloat("MARCUS_BACKOFF_BASE_S", 1.0)
        self.backoff_max_s = settings.getfloat("MARCUS_BACKOFF_MAX_S", 60.0)
        self.retry_after_max_s = settings.getfloat("MARCUS_RETRY_AFTER_MAX_S", 300.0)
        self.retry_403_html = settings.getbool("MARCUS_RETRY_403_HTML", False)
        self.exceptions = tuple(load_object(e) if isinstance(e, str) else e
                                for e in settings.getlist("RETRY_EXCEPTIONS"))
        self.host_paused_until: dict[str, float] = {}
        self._rng = random.Random()

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_request(self, request):
        """Hold a request until its own retry time and its host's pause have passed."""
        host = urlsplit(request.url).netloc
        not_before = max(request.meta.get("marcus_not_before", 0.0),
                         self.host_paused_until.get(host, 0.0))
        wait = not_before - time.monotonic()
        if wait > 0:
            await sleep(wait)
        return None

    def process_response(self, request, response):
        status = response.status
        if request.meta.get("dont_retry") or self._final(request, response):
            return response
        bot_wall = (status == 403 and self.retry_403_html
                    and b"html" in response.headers.get(b"Content-Type", b"").lower())
        if status not in RETRY_STATUSES and not bot_wall:
            return response
        server_wait = retry_after_seconds(response.headers.get(b"Retry-After"))
        slow_down = status in SLOW_DOWN_STATUSES or bot_wall
        return self._retry(request, f"HTTP {status}", server_wait, slow_down) or response

    def _final(self, request, response) -> bool:
        """Whether the spider takes this answer as it is (``response_is_final``): a SPARQL
        query that timed out is asked again on a smaller partition, never repeated as it was,
        while any other 500 of the same service is retried here like every other."""
        says = getattr(self.crawler.spider, "response_is_final", None)
        return bool(says is not None and says(request, response))

    def process_exception(self, request, exception):
        if request.meta.get("dont_retry") or not isinstance(exception, self.exceptions):
            return None
        return self._retry(request, f"{type(exception).__name__}: {exception}", None, False)

    def _retry(self, request, reason: str, server_wait: float | None, slow_down: bool):
        attempt = request.meta.get("retry_times", 0) + 1
        if server_wait is not None:
            delay = min(server_wait, self.retry_after_max_s)
        else:
            backoff = self.backoff_base_s * 2 ** (attempt - 1)
            delay = min(backoff, self.backoff_max_s) * self._rng.uniform(0.5, 1.5)
        retry = get_retry_request(request, spider=self.crawler.spider, reason=reason,
                                  max_retry_times=self.max_retries)
        if retry is None:
            return None
        now = time.monotonic()
        retry.meta["marcus_not_before"] = now + delay
        if slow_down:
            host = urlsplit(request.url).netloc
            self.host_paused_until[host] = max(self.host_paused_until.get(host, 0.0),
                                               now + delay)
        self.crawler.stats.inc_value(f"marcus/retry/{reason.split(':')[0]}")
        return retry


DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL, the port made explicit; None otherwise."""
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    return (scheme, host, port) if scheme in DEFAULT_PORTS and host else None


def origins_of(urls: list[str], entries: list[str]) -> list[tuple[str, str, int]]:
    """The origins of ``urls`` and of configured ``entries``, sorted.

    An entry is an origin (``https://images.metmuseum.org``, ``http://127.0.0.1:8765``), or a
    bare host (``upload.wikimedia.org``) meaning that host over https on 443 and http on 80;
    ``.wikimedia.org`` stands for its subdomains on those same ports. A port other than the
    scheme's default has to be written out.
    """
    found = set()
    for url in urls:
        if (o := origin(url)) is not None:
            found.add(o)
    for entry in entries:
        entry = str(entry).strip().lower()
        if "://" in entry:
            if (o := origin(entry)) is None:
                raise ValueError(f"allowed origin {entry!r} is not an http(s) origin")
            found.add(o)
        elif entry:
            found.update((scheme, entry, port) for scheme, port in DEFAULT_PORTS.items())
    return sorted(found)


def origin_allowed(url: str, allowed: list[tuple[str, str, int]]) -> bool:
    o = origin(url)
    if o is None:
        return False
    scheme, host, port = o
    return any(scheme == s and port == p and (host == h or (h.startswith(".") and
                                                            host.endswith(h)))
               for s, h, p in allowed)


def show_origin(o: tuple[str, str, int]) -> str:
    scheme, host, port = o
    return f"{scheme}://{host}" + ("" if DEFAULT_PORTS[scheme] == port else f":{port}")


class AllowedOriginsMiddleware:
    """Refuse any request (first try, retry or redirect) outside the source's allowed origins.

    An origin is scheme + host + port: a redirect to another port of an allowed host (another
    service on the same machine) is as offsite as another host. Scrapy's own offsite check is
    skipped for ``dont_filter`` requests, which retries and image requests are; this one is
    not. Only http and https: a redirect to ``file:`` or ``ftp:`` is refused. Origins come from
    the spider's ``allowed_origins`` (see ``origins_of``); an empty list allows every origin.
    """

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request):
        allowed = getattr(self.crawler.spider, "allowed_origins", None)
        if origin(request.url) is None:
            raise OffsiteRequest(f"refused non-http URL {request.url[:200]!r}")
        if allowed and not origin_allowed(request.url, allowed):
            shown = show_origin(origin(request.url))
            raise OffsiteRequest(f"refused origin {shown!r} of {request.url[:200]!r} (allowed: "
                                 f"{', '.join(show_origin(o) for o in allowed)[:300]})")
        return None


class RecordErrorsMiddleware:
    """A spider callback that raises never loses its record or its listing silently.

    Scrapy logs an exception in a callback and carries on: the record it was parsing would
    have no row and the crawl could never finish. Here a per-record callback's exception
    becomes that record's ``failed``/``bad_record`` row, and a listing callback's a listing
    failure (the run is incomplete and says why).
    """

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_spider_exception(self, response, exception):
        from crawl import reasons

        spider = self.crawler.spider
        request = response.request
        kwargs = request.cb_kwargs if request is not None else {}
        message = f"the record could not be parsed: {reasons.describe(exception)}"
        item = kwargs.get("item")
        if item is not None:
            item.status, item.reason, item.error = "failed", reasons.BAD_RECORD, message[:500]
            item.extra.pop("body", None)
            return [item]
        if "source_id" in kwargs:
            return [spider.failed_record(kwargs["source_id"], reasons.BAD_RECORD, message)]
        spider.listing_broken(response.url, f"the page could not be parsed: "
                                            f"{reasons.describe(exception)}")
        return []


class OffsiteRequest(IgnoreRequest):
    """A request refused by AllowedOriginsMiddleware; the spider records it as ``offsite``."""
