"""Fault modes: each misbehaves as real servers do, on the same URLs every run, then recovers."""

import http.client
import socket
import time
from urllib.parse import urlsplit

import pytest
import requests

from demo.faults import MODES, FaultConfig, FaultInjector
from demo.server import DemoServer


def test_parse_spec_and_validation():
    config = FaultConfig.parse("error_500=0.1,retry_after=0.05,attempts=2,slow_s=0.5")
    assert (config.error_500, config.retry_after, config.attempts, config.slow_s) == (
        0.1, 0.05, 2, 0.5)
    assert FaultConfig.parse("all=0.1").reset == 0.1
    assert not FaultConfig.parse("").enabled
    with pytest.raises(ValueError, match="unknown fault"):
        FaultConfig.parse("explode=1")
    with pytest.raises(ValueError, match="sum to at most 1"):
        FaultConfig.parse("error_500=0.7,reset=0.7")


def test_the_same_urls_fail_in_every_run_and_share_matches_rate():
    urls = [f"/met/public/collection/v1/objects/{i}" for i in range(4000)]
    config = FaultConfig(error_500=0.2, truncate=0.1, seed=3)
    first = [FaultInjector(config).mode_for(u) for u in urls]
    second = [FaultInjector(config).mode_for(u) for u in urls]
    assert first == second
    assert 0.17 < first.count("error_500") / len(urls) < 0.23
    assert 0.08 < first.count("truncate") / len(urls) < 0.12
    other_seed = [FaultInjector(FaultConfig(error_500=0.2, truncate=0.1, seed=4)).mode_for(u)
                  for u in urls]
    assert other_seed != first


def test_a_faulty_url_recovers_after_its_attempts():
    injector = FaultInjector(FaultConfig(error_500=1.0, attempts=2))
    assert [injector.mode_for("/x") for _ in range(4)] == ["error_500", "error_500", None, None]


def _raw_get(url: str) -> tuple[int, dict, bytes]:
    """One request on a fresh connection, reading the body without trusting Content-Length."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("GET", parts.path + ("?" + parts.query if parts.query else ""))
    response = conn.getresponse()
    try:
        body = response.read()
    except http.client.IncompleteRead as exc:
        body = exc.partial
    conn.close()
    return response.status, dict(response.getheaders()), body


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_misbehaves_once_then_serves_the_clean_response(demo_collection, mode):
    clean_url = None
    with DemoServer(demo_collection) as clean:
        good = next(c for c in demo_collection.source_copies("met") if c.has_image
                    and not c.defect)
        path = f"/met/public/collection/v1/objects/{good.source_id}"
        clean_status, _, clean_body = _raw_get(clean.url + path)
        clean_url = clean.url
        clean_body = clean_body.replace(clean.url.encode(), b"ROOT")
    assert clean_url and clean_status == 200
    faults = FaultConfig(**{mode: 1.0}, slow_s=0.3, retry_after_s=2)
    with DemoServer(demo_collection, faults=faults) as server:
        url = server.url + path

        def normalised(body: bytes) -> bytes:  # records carry the server's own address
            return body.replace(server.url.encode(), b"ROOT")

        started = time.monotonic()
        if mode == "reset":
            with pytest.raises((ConnectionError, http.client.HTTPException, socket.error)):
                _raw_get(url)
        else:
            status, headers, body = _raw_get(url)
            if mode == "error_500":
                assert status == 500
            elif mode == "retry_after":
                assert status in (429, 503) and headers["Retry-After"] == "2"
            elif mode == "slow":
                assert status == 200 and time.monotonic() - started >= 0.3
                assert normalised(body) == clean_body
            elif mode == "truncate":
                assert status == 200 and int(headers["Content-Length"]) > len(body)
        assert server.faults.injected[mode] == 1
        assert normalised(_raw_get(url)[2]) == clean_body  # the second attempt is clean


def test_robots_txt_is_never_faulted(demo_collection):
    with DemoServer(demo_collection, faults="error_500=1") as server:
        assert requests.get(server.url + "/robots.txt", timeout=5).status_code == 200
