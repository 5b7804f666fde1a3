"""Listings that misbehave: real crawls (the CLI, Scrapy, loopback) against a small API server.

Each scenario is a root on one threaded server that answers in the real APIs' formats (AIC,
Cleveland, Commons, the Met) but breaks its listing: a page nested 10,000 levels deep, an
error object inside a 200, pages that repeat forever under a total of 10^12 or a negative
page size, a continuation pointing back at itself, a listing that never ends. Each must end,
quickly, as a logged listing failure (exit 3) or a logged early stop (exit 0), with every
record it did read as a row.

    PYTHONPATH=. python -m pytest -q tests/crawl/test_e2e_listings.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
import yaml

from tests.images import encode, painting

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
MAX_PAGES = 4  # crawl.max_listing_pages for these crawls
CRAWL_BOUND_S = 60


def png(n: int) -> bytes:
    return encode(painting((16 + n, 12), seed=n), "PNG")


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def aic_page(root: str, ids: list[int], pagination: dict) -> dict:
    return {"pagination": pagination, "config": {"iiif_url": f"{root}/iiif"},
            "data": [{"id": i, "title": f"Painting {i}", "is_public_domain": True,
                      "artwork_type_title": "Painting", "image_id": f"img{i}",
                      "date_start": 1650, "date_end": 1650} for i in ids]}


def cleveland_page(root: str, ids: list[int], total: int) -> dict:
    return {"info": {"total": total}, "data": [
        {"id": i, "title": f"Painting {i}", "type": "Painting", "share_license_status": "CC0",
         "creation_date_earliest": 1650, "creation_date_latest": 1650,
         "images": {"print": {"url": f"{root}/img/{i}.png"}}} for i in ids]}


def commons_batch(root: str, ids: list[int], continuation: dict | None) -> dict:
    pages = [{"pageid": i, "ns": 6, "title": f"File:Painting {i}.png", "imageinfo": [
        {"url": f"{root}/img/{i}.png", "descriptionurl": f"{root}/wiki/File:P{i}.png",
         "width": 20, "height": 12,
         "extmetadata": {"LicenseShortName": {"value": "Public domain"},
                         "Categories": {"value": "Paintings|Oil paintings"}}}]} for i in ids]
    body = {"batchcomplete": True, "query": {"pages": pages}}
    if continuation:
        body["continue"] = continuation
    return body


def answer(scenario: str, root: str, path: str, query: dict) -> tuple[int, bytes]:
    """(status, JSON body) of a scenario's listing page."""
    page = int(query.get("page", ["1"])[0])
    skip = int(query.get("skip", ["0"])[0])
    body: object
    if scenario == "aic_deep":
        return 200, b'{"pagination": {"total": 1}, "data": ' + deep(10_000) + b"}"
    if scenario == "aic_error_200":
        body = {"status": 403, "error": "Forbidden", "detail": "You are not allowed in here"}
    elif scenario == "aic_repeating":  # the same two records on every page, forever
        body = aic_page(root, [1, 2], {"total": 10**12, "limit": -5, "total_pages": 10**12,
                                       "current_page": page})
    elif scenario == "cleveland_repeating":
        body = cleveland_page(root, [1, 2], 10**12)
    elif scenario == "cleveland_endless":  # new records on every page: only the cap ends it
        body = cleveland_page(root, [skip + 1, skip + 2], 10**12)
    elif scenario == "commons_loop":  # the continuation points back at itself
        body = commons_batch(root, [1, 2], {"gcmcontinue": "same|1", "continue": "gcmcontinue||"})
    elif scenario == "met_error_200":
        if path.endswith("/objects"):
            body = {"message": "Something went wrong; try again later"}
        else:
            body = {}
    elif scenario == "met_bad_records":
        if path.endswith("/objects"):
            body = {"total": 3, "objectIDs": [1, 2, 3]}
        elif path.endswith("/objects/1"):
            body = {"message": "Not a valid object"}  # an error object inside a 200
        elif path.endswith("/objects/2"):
            return 200, b'{"objectID": 2, "title": ' + deep(10_000) + b"}"
        else:
            body = {"objectID": 3, "title": "Fine", "isPublicDomain": True,
                    "primaryImage": f"{root}/img/3.png", "classification": "Paintings"}
    else:
        return 404, b"{}"
    return 200, json.dumps(body).encode()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        parts = urlsplit(self.path)
        scenario, _, rest = parts.path.lstrip("/").partition("/")
        root = f"http://127.0.0.1:{self.server.server_address[1]}/{scenario}"
        if "/img/" in parts.path or "/iiif/" in parts.path:
            status, body, kind = 200, png(len(parts.path) % 7), "image/png"
        elif parts.path == "/robots.txt":
            status, body, kind = 404, b"", "text/plain"
        else:
            status, body = answer(scenario, root, "/" + rest, parse_qs(parts.query))
            kind = "application/json"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


SCENARIOS = {  # name: (source, exit code, listing failures, rows, stopped early)
    "aic_deep": ("aic", 3, 1, 0, False),
    "aic_error_200": ("aic", 3, 1, 0, False),
    "aic_repeating": ("aic", 0, 0, 2, True),
    "cleveland_repeating": ("cleveland", 0, 0, 2, True),
    "cleveland_endless": ("cleveland", 0, 0, 2 * MAX_PAGES, True),
    "commons_loop": ("commons", 0, 0, 2, True),
    "met_error_200": ("met", 3, 1, 0, False),
    "met_bad_records": ("met", 0, 0, 3, False),
}


@pytest.fixture(scope="module")
def crawls(tmp_path_factory):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["crawl"].update(backoff_base_s=0.05, backoff_max_s=0.2, progress=False, fsync=False,
                           timeout_s=8.0, retries=1, max_listing_pages=MAX_PAGES)
    base = tmp_path_factory.mktemp("listings")
    params_path = base / "params.yaml"
    params_path.write_text(yaml.safe_dump(params))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    procs = {}
    for name, (source, *_) in SCENARIOS.items():
        work = base / name
        work.mkdir()
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "crawl", source, "--out", str(work / "out"),
             "--api-root", f"{url}/{name}", "--params", str(params_path),
             "--stats", str(work / "stats.json")],
            cwd=work, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
    runs = {}
    try:
        for name, proc in procs.items():
            _, stderr = proc.communicate(timeout=CRAWL_BOUND_S)
            work = base / name
            runs[name] = {"rc": proc.returncode, "stderr": stderr,
                          "stats": json.loads((work / "stats.json").read_text()),
                          "rows": pd.read_parquet(work / "out" / "records.parquet")}
    finally:
        for proc in procs.values():
            proc.kill()
        server.shutdown()
    return runs


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_broken_listing_ends_as_a_logged_failure_or_a_logged_stop(crawls, name):
    source, rc, failures, rows, stopped = SCENARIOS[name]
    run = crawls[name]
    assert run["rc"] == rc, run["stderr"][-2000:]
    assert run["stats"]["listing_failures"] == failures
    assert run["stats"]["complete"] is (failures == 0)
    assert len(run["rows"]) == rows, run["rows"][["source_id", "status", "error"]]
    assert bool(run["stats"]["listing_stops"]) is stopped, run["stats"]["listing_stops"]
    if stopped:
        assert "listing stopped early" in run["stderr"]
    if failures:
        assert "listing" in run["stderr"] and "Traceback" not in run["stderr"]


def test_a_deep_page_and_an_error_in_a_200_say_what_was_wrong(crawls):
    assert "nested deeper" in crawls["aic_deep"]["stderr"]
    assert "You are not allowed in here" in crawls["aic_error_200"]["stderr"]
    assert "Something went wrong" in crawls["met_error_200"]["stderr"]


def test_a_repeating_listing_stops_when_a_page_brings_nothing_new(crawls):
    for name in ("aic_repeating", "cleveland_repeating"):
        assert "brought no record not met before" in crawls[name]["stats"]["listing_stops"][0]
        assert set(crawls[name]["rows"]["status"]) == {"stored"}
    assert "already read" in crawls["commons_loop"]["stats"]["listing_stops"][0]
    assert "max_listing_pages" in crawls["cleveland_endless"]["stats"]["listing_stops"][0]


def test_bad_records_in_a_good_listing_are_rows_with_reasons(crawls):
    rows = crawls["met_bad_records"]["rows"].set_index("source_id")
    assert (rows.loc["1", "status"], rows.loc["1", "reason"]) == ("failed", "bad_record")
    assert "Not a valid object" in rows.loc["1", "error"]
    assert (rows.loc["2", "status"], rows.loc["2", "reason"]) == ("failed", "bad_record")
    assert "nested deeper" in rows.loc["2", "error"]
    assert rows.loc["3", "status"] == "stored"
