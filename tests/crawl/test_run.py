"""crawl.run: which API roots count as loopback."""

from __future__ import annotations

from crawl.run import is_loopback


def test_loopback_detection():
    assert is_loopback("http://127.0.0.1:8765/met") and is_loopback("http://localhost/x")
    assert is_loopback("http://[::1]:80/") and not is_loopback("https://api.artic.edu")
    assert not is_loopback("http://10.0.0.1/")
