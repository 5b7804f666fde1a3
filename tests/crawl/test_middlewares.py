"""crawl.middlewares: Retry-After read as RFC 9110 says (or treated as absent), and a header no
parser trusts never cuts the retries short.
"""

from __future__ import annotations

import pytest

from crawl.middlewares import retry_after_seconds


def test_retry_after_header_forms():
    assert retry_after_seconds(b"5") == 5.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60.0
    assert retry_after_seconds(b"soon") is None and retry_after_seconds(None) is None


@pytest.mark.parametrize("value, seconds", [
    ("120", 120.0), (" 7 ", 7.0), ("0", 0.0),
    ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),  # a date in the past: now
    ("Sunday, 06-Nov-94 08:49:37 GMT", 0.0),  # RFC 850 form, also past
    ("Sun Nov  6 08:49:37 1994", 0.0),  # asctime form, no zone: GMT
    ("\u00b2", None), ("\u0663", None), ("-5", None), ("1.5", None), ("", None),
    ("Fri, 99 Foo 2026 soon", None), ("9" * 40, None), ("Mon, 01 Jan 99999 00:00:00 GMT", None),
    ("\xff\xfe", None)])
def test_retry_after_is_read_as_rfc_9110_says_or_treated_as_absent(value, seconds):
    assert retry_after_seconds(value) == seconds
    if value.isascii():
        assert retry_after_seconds(value.encode()) == seconds


def test_a_retry_after_no_parser_trusts_still_leaves_every_retry():
    from scrapy.http import Request, Response
    from scrapy.utils.test import get_crawler

    from crawl.middlewares import PoliteRetryMiddleware

    crawler = get_crawler(settings_dict={"MARCUS_RETRIES": 3, "MARCUS_BACKOFF_BASE_S": 0.0})
    crawler.spider = crawler._create_spider("probe")
    middleware = PoliteRetryMiddleware(crawler)
    request = Request("https://a.example/x.jpg")
    for attempt in range(1, 4):  # each bad header: a retry, never an exception
        answer = Response(request.url, status=503, headers={"Retry-After": b"\xb2"})
        request = middleware.process_response(request, answer)
        assert isinstance(request, Request) and request.meta["retry_times"] == attempt
    final = Response(request.url, status=503, headers={"Retry-After": b"\xb2"})
    assert middleware.process_response(request, final) is final  # retries used up: the 503
