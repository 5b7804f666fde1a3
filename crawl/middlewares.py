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
import time
from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.asyncio import sleep
from scrapy.utils.misc import load_object

RETRY_STATUSES = {408, 429, 500, 502, 503, 504, 522, 524}
SLOW_DOWN_STATUSES = {429, 503}


def retry_after_seconds(value: bytes | str | None, now: float | None = None) -> float | None:
    """Parse a Retry-After header: delta-seconds or an HTTP date. None when absent or invalid."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


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
        if request.meta.get("dont_retry"):
            return response
        status = response.status
        bot_wall = (status == 403 and self.retry_403_html
                    and b"html" in response.headers.get(b"Content-Type", b"").lower())
        if status not in RETRY_STATUSES and not bot_wall:
            return response
        server_wait = retry_after_seconds(response.headers.get(b"Retry-After"))
        slow_down = status in SLOW_DOWN_STATUSES or bot_wall
        return self._retry(request, f"HTTP {status}", server_wait, slow_down) or response

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


class AllowedHostsMiddleware:
    """Refuse any request (first try, retry or redirect) outside the source's allowed hosts.

    Scrapy's own offsite check is skipped for ``dont_filter`` requests, which retries are; this
    one is not. Only http and https are allowed: a redirect to ``file:`` or ``ftp:`` is refused.
    Hosts come from the spider's ``allowed_hosts`` (exact names or ``.suffix`` for subdomains).
    """

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request):
        parts = urlsplit(request.url)
        allowed = getattr(self.crawler.spider, "allowed_hosts", None)
        if parts.scheme not in ("http", "https"):
            raise OffsiteRequest(f"refused non-http URL {request.url[:200]!r}")
        host = (parts.hostname or "").lower()
        if allowed and host not in allowed and not any(
                a.startswith(".") and host.endswith(a) for a in allowed):
            raise OffsiteRequest(f"refused host {host!r} (allowed: {', '.join(allowed)})")
        return None


class OffsiteRequest(IgnoreRequest):
    """A request refused by AllowedHostsMiddleware; the spider records it as ``offsite``."""
