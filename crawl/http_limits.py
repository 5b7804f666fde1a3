"""A cap on the size of a response's header section, in the HTTP/1.1 client Scrapy uses.

Twisted's parser caps one header line (16 KiB, LineReceiver.MAX_LENGTH) but not how many lines
come: a server that sends short header lines and never the blank line that ends them is read,
and every header kept in memory, until ``crawl.timeout_s``; at loopback speed that is
gigabytes. With the cap, the connection is dropped as soon as the status line and headers of
one response (1xx interim responses included) pass ``crawl.max_header_bytes``. The request
then fails like any lost connection (reason ``connection``, retried ``crawl.retries`` times,
each try cut at the same cap) with an error saying "response headers exceeded N bytes".

Installed by the ``ResponseHeaderLimit`` extension (crawl/run.py puts it in EXTENSIONS, with
MARCUS_MAX_HEADER_BYTES). Scrapy's HTTP/1.1 handler swaps each new parser's class for
``_LenientHTTPClientParser`` after creating it, reading that name from its module at every
request; ``install`` points that name at a subclass that counts header bytes. One limit per
process (the last one installed), which is all ``python -m crawl`` needs.
"""

from __future__ import annotations

from scrapy.exceptions import NotConfigured


class ResponseHeadersTooLarge(Exception):
    """The server sent more header bytes than the cap without ending its headers."""


_installed: type | None = None


def install(max_header_bytes: int) -> None:
    """Cap response headers at ``max_header_bytes`` in every later Scrapy HTTP/1.1 download."""
    global _installed
    from scrapy.core.downloader.handlers import http11

    if _installed is None:
        lenient = getattr(http11, "_LenientHTTPClientParser", None)
        if lenient is None or not hasattr(lenient, "lineReceived"):
            # Fail loudly: a silently missing cap would leave the crawler open to the flood.
            raise RuntimeError("this Scrapy has no http11._LenientHTTPClientParser: "
                               "crawl/http_limits.py needs updating")

        class HeaderCappedParser(lenient):
            """Counts the bytes of every line it parses (header lines only: the body is read
            in raw mode) and gives up past the cap. The count lives on the parser, which
            serves one request; Scrapy swaps the class in after __init__, hence getattr."""

            max_header_bytes = 0

            def lineReceived(self, line: bytes) -> None:
                seen = getattr(self, "_marcus_header_bytes", 0) + len(line) + 1  # + b"\n"
                self._marcus_header_bytes = seen
                if seen > self.max_header_bytes:
                    # Raised into HTTP11ClientProtocol.dataReceived, which drops the
                    # connection and fails the request with this as the reason.
                    raise ResponseHeadersTooLarge(
                        f"response headers exceeded {self.max_header_bytes} bytes "
                        f"(crawl.max_header_bytes)")
                super().lineReceived(line)

        http11._LenientHTTPClientParser = HeaderCappedParser
        _installed = HeaderCappedParser
    _installed.max_header_bytes = int(max_header_bytes)


class ResponseHeaderLimit:
    """Scrapy extension: installs the cap from MARCUS_MAX_HEADER_BYTES (0 or unset: no cap)."""

    def __init__(self, max_header_bytes: int):
        install(max_header_bytes)

    @classmethod
    def from_crawler(cls, crawler):
        limit = crawler.settings.getint("MARCUS_MAX_HEADER_BYTES", 0)
        if limit <= 0:
            raise NotConfigured
        return cls(limit)
