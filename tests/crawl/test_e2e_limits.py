"""Crawl limits through the real components: decoded bitmaps in memory at once (crawl.max_rss_mb)
and response header size (crawl.max_header_bytes). The decode gate on its own is tested in
test_inspect_image.py.

The crawl runs the real CLI (a subprocess, as in test_e2e_hostile.py) against a loopback
server written here that floods one URL with header lines forever and serves real PNGs on
others.

    PYTHONPATH=. .venv/bin/python -m pytest -q tests/crawl/test_e2e_limits.py
"""

import csv
import json
import os
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image

from crawl import reasons
from tests.images import encode

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
MAX_HEADER_BYTES = 8192
TIMEOUT_S = 20.0  # crawl.timeout_s: without the cap the flood runs this long, twice
CRAWL_BOUND_S = 15  # ... so a crawl that ends within this was cut off by the cap
RSS_BOUND_MIB = 600  # the process alone is ~200 MiB; an uncapped flood keeps every header
PNG_SIDE = 2000  # 16 MB decoded as RGBA, more than the whole decode budget below


def png(side: int, colour: tuple) -> bytes:
    """One flat colour: a small file (under crawl.max_bytes) that decodes to side^2 x 4 bytes."""
    return encode(Image.new("RGBA", (side, side), colour), "PNG")


class _Handler(socketserver.BaseRequestHandler):
    """HTTP/1.0-style: one response per connection. /flood: a status line, then header lines
    until the client hangs up (or 30 s pass, so that a broken crawler cannot hang the test)."""

    def handle(self):
        conn = self.request
        conn.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        path = data.split(b" ", 2)[1].decode()
        server = self.server
        with server.lock:
            server.hits[path] = server.hits.get(path, 0) + 1
        if path == "/flood.png":
            block = b"".join(b"X-Flood-%d: %s\r\n" % (i, b"a" * 20) for i in range(1000))
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n")
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    conn.sendall(block)
                    with server.lock:
                        server.flood_bytes += len(block)
            except OSError:
                pass  # the client hung up: what the cap should make it do
            return
        body = server.files.get(path)
        if body is None:
            conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture(scope="module")
def hostile_crawl(tmp_path_factory):
    work = tmp_path_factory.mktemp("limits")
    server = _Server(("127.0.0.1", 0), _Handler)
    server.lock = threading.Lock()
    server.hits, server.flood_bytes = {}, 0
    good = [png(PNG_SIDE, (40 * i, 90, 160, 255)) for i in range(3)]
    server.files = {f"/big{i}.png": data for i, data in enumerate(good)}
    server.files["/cut.png"] = good[0][: len(good[0]) // 2]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    root = f"http://127.0.0.1:{server.server_address[1]}"
    names = ["flood.png", "big0.png", "big1.png", "big2.png", "cut.png"]
    with open(work / "list.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["url", "license"])
        writer.writerows([f"{root}/{name}", "Public Domain"] for name in names)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    common = params["crawl"]
    # max_rss_mb 300 with 16 x 3 MiB bodies leaves no decode budget: one decode at a time,
    # each 2000 px RGBA PNG over the budget on its own.
    common.update(progress=False, fsync=False, retries=1, backoff_base_s=0.05,
                  backoff_max_s=0.2, timeout_s=TIMEOUT_S, max_bytes=3 << 20, max_rss_mb=300,
                  max_header_bytes=MAX_HEADER_BYTES)
    common["sources"]["urls"].update(list=str(work / "list.csv"),
                                     object_types=["painting", "other"])
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    out = work / "out"
    started = time.monotonic()
    with open(work / "stderr.txt", "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawl", "urls", "--out", str(out), "--params",
             str(work / "params.yaml"), "--api-root", root,
             "--timings", str(work / "timings.json")],
            cwd=work, env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL, stderr=err)
        try:
            status = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    seconds = time.monotonic() - started
    server.shutdown()
    server.server_close()
    frame = pd.read_parquet(out / "records.parquet")
    rows = {url.rsplit("/", 1)[-1]: row for url, row in
            zip(frame["image_url"], frame.itertuples(), strict=True)}
    timings_file = work / "timings.json"  # absent if the crawl failed: the rc assertion says why
    timings = json.loads(timings_file.read_text()) if timings_file.exists() else {}
    return {"rc": status, "seconds": seconds, "rows": rows,
            "peak_rss_mib": timings.get("peak_rss_mib"), "hits": dict(server.hits),
            "stderr": (work / "stderr.txt").read_text(errors="replace")}


def test_an_endless_header_flood_is_cut_off_and_fails_its_row(hostile_crawl):
    run = hostile_crawl
    assert run["rc"] == 0, run["stderr"][-2000:]
    row = run["rows"]["flood.png"]
    assert (row.status, row.reason) == ("failed", reasons.CONNECTION), row.error
    assert f"response headers exceeded {MAX_HEADER_BYTES} bytes" in row.error
    assert run["hits"]["/flood.png"] == 2, "one try and crawl.retries=1 retry, no more"
    assert run["seconds"] < CRAWL_BOUND_S, f"took {run['seconds']:.1f} s: flood not cut off?"
    assert run["peak_rss_mib"] < RSS_BOUND_MIB


def test_images_bigger_than_the_decode_budget_are_still_checked_one_at_a_time(hostile_crawl):
    rows = hostile_crawl["rows"]
    # Their bodies are longer than the header cap: it counts header lines only.
    assert min(rows[f"big{i}.png"].bytes for i in range(3)) > MAX_HEADER_BYTES
    for name in ("big0.png", "big1.png", "big2.png"):
        assert (rows[name].status, rows[name].width) == ("stored", PNG_SIDE), rows[name].error
    assert (rows["cut.png"].status, rows["cut.png"].reason) == ("rejected", reasons.TRUNCATED)
