"""Hostile crawls: every source against the demo server's hostile mode (demo/hostile.py).

Each of the nine sources is crawled with the real CLI (a subprocess, as in test_e2e_demo.py)
against the plain demo server and then against a hostile one (nine crawls at a time). Checked:
every hostile case ends as its expected row (one test per source and case), or as a logged
listing error; nothing is written outside the output folders; the crawls end within a bound;
and every record that is not hostile comes out as in the plain crawl, with the same stored
bytes. A crawler bug a case reveals is an expected failure (KNOWN_BUGS) until it is fixed.

    PYTHONPATH=. python -m pytest -q tests/crawl/test_e2e_hostile.py
"""

import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from crawl.blobs import PACK_NAME, StoreIndex
from demo import hostile
from demo.server import DemoServer

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SOURCES = hostile.ALL_SOURCES
# Crawler bugs the hostile corpus reveals, per (source, case): expected failures until fixed.
KNOWN_BUGS: dict[tuple[str, str], str] = {}  # (source, case) -> the bug, while it lasts
CRAWL_BOUND_S = 150  # a hung crawl (an endless body not cut off) would blow through this
TIMEOUT_S = 8.0  # crawl.timeout_s here: what cuts the slow endless body (x2 with one retry)


def snapshot(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def launch(source: str, work: Path, api_root: str, params: Path) -> subprocess.Popen:
    work.mkdir(parents=True)
    cmd = [sys.executable, "-m", "crawl", source, "--out", str(work / "out"),
           "--api-root", api_root, "--params", str(params), "--stats", str(work / "stats.json")]
    # cwd is the crawl's own folder: a relative path built from remote data would land here.
    return subprocess.Popen(cmd, cwd=work, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_all(server: DemoServer, base: Path, params: Path) -> dict:
    started = time.monotonic()
    procs = {s: launch(s, base / s, server.api_roots[s], params) for s in SOURCES}
    runs = {}
    for source, proc in procs.items():
        _, stderr = proc.communicate(timeout=CRAWL_BOUND_S + 60)
        runs[source] = {"rc": proc.returncode, "stderr": stderr,
                        "seconds": time.monotonic() - started, "out": base / source / "out",
                        "root": server.url,
                        "stats": yaml.safe_load((base / source / "stats.json").read_text())}
    return runs


@pytest.fixture(scope="module")
def crawls(demo_collection, demo_server, tmp_path_factory):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    common = params["crawl"]
    # One retry and an 8 s timeout keep the slow endless body to ~16 s; 3 MiB max_bytes is
    # still above every real image of the small collection.
    common.update(backoff_base_s=0.05, backoff_max_s=0.5, progress=False, max_bytes=3 << 20,
                  timeout_s=TIMEOUT_S, retries=1, fsync=False)
    # One Commons listing: hostile mode appends its batch after each category's last one.
    common["sources"]["commons"]["categories"] = ["Category:Demo collection"]
    params_path = tmp_path_factory.mktemp("hostile-params") / "params.yaml"
    params_path.write_text(yaml.safe_dump(params))
    top = tmp_path_factory.getbasetemp()
    passwd = Path("/etc/passwd")
    passwd_before = passwd.stat() if passwd.exists() else None
    before = snapshot(top)
    clean = run_all(demo_server, tmp_path_factory.mktemp("plain"), params_path)
    base = tmp_path_factory.mktemp("hostile")
    with DemoServer(demo_collection, hostile=True) as server:
        bad = run_all(server, base, params_path)
        root = server.url
    created = snapshot(top) - before
    return {"clean": clean, "hostile": bad, "root": root, "created": created,
            "passwd": (passwd_before, passwd.stat() if passwd.exists() else None)}


def expected(source: str, root: str, demo_collection) -> dict:
    real_rows = len(demo_collection.catalog.by_source("urls")) if source == "urls" else 0
    return hostile.expected_rows(source, f"{root}/{source}", real_rows)


def rows_of(run: dict) -> pd.DataFrame:
    frame = pd.read_parquet(run["out"] / "records.parquet")
    return frame.astype(object).where(frame.notna(), None)


def blobs(run: dict) -> set[str]:
    return set(StoreIndex(run["out"] / "images").shas())


def case_params() -> list:
    """(source, case key) for every hostile record of every source; a known crawler bug is an
    expected failure (strict: fixing it makes the test fail until the mark goes)."""
    return [pytest.param(source, case.key, id=f"{source}-{case.key}",
                         marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[source, case.key])]
                         if (source, case.key) in KNOWN_BUGS else [])
            for source in SOURCES for case in hostile.record_cases(source)]


@pytest.mark.parametrize("source", SOURCES)
def test_every_hostile_listing_is_read_to_its_end_with_one_row_per_hostile_record(
        source, crawls, demo_collection):
    run = crawls["hostile"][source]
    listing = hostile.listing_case(source)
    assert run["rc"] == (3 if listing else 0), run["stderr"][-2000:]
    assert run["stats"]["complete"] is (listing is None)
    if listing is not None:  # one page unreadable: logged, counted, the records before it kept
        assert run["stats"]["listing_failures"] == 1
        assert f"({listing.reason})" in run["stderr"] and "listing" in run["stderr"]
    rows = rows_of(run).set_index("source_id")
    assert rows.index.is_unique
    cases = expected(source, crawls["root"], demo_collection)
    assert cases and set(cases) <= set(rows.index), "each hostile record is exactly one row"
    by_key = {case.key: rows.loc[source_id] for source_id, case in cases.items()}
    if "shared_image_1" in by_key:  # one image URL, two records: two rows, one blob
        assert by_key["shared_image_1"].sha256 == by_key["shared_image_2"].sha256
    if source in ("met", "aic", "cleveland"):  # wrong types: null with a note, never a crash
        mixed = by_key["types_mixed"]
        assert mixed.title is None and mixed.date_start is None and mixed.medium == "3.5"
        assert "unusable fields left empty" in mixed.error and "title:" in mixed.error
        assert by_key["types_as_text"].title == "1984"
        if source != "met":  # the Met's text year only counts with objectDate's (template's)
            assert by_key["types_as_text"].date_start == 1650
    if source in ("wikidata", "smithsonian", "europeana"):  # wrong types: read around them
        assert by_key["types_mixed"].date_start is None
        assert by_key["types_as_text"].title and by_key["types_as_text"].title != "1984"
    if source in ("met",):  # each refused per-record document is its own row
        assert rows.loc[hostile.hostile_id("met", hostile.BY_KEY["record_enormous"])].error
    if source == "wikidata":  # the page of bad ids is refused whole: none of them is a row
        assert "rows name no item" in run["stderr"]
        assert all(re.fullmatch(r"Q[1-9][0-9]*", q) for q in rows.index), list(rows.index)


@pytest.mark.parametrize(("source", "key"), case_params())
def test_every_hostile_case_ends_as_its_row(source, key, crawls, demo_collection):
    run = crawls["hostile"][source]
    rows = rows_of(run).set_index("source_id")
    found = {c.key: source_id for source_id, c in
             expected(source, crawls["root"], demo_collection).items()}
    case = hostile.BY_KEY[key]
    assert found[key] in rows.index, f"{key}: no row"
    row = rows.loc[found[key]]
    assert (row.status, row.reason) == (case.status, case.reason), \
        f"{case.key}: {row.status} {row.reason} {row.error}"
    if case.kind == "id" and case.reason == "unsafe_id":
        assert row.error.startswith("unsafe record id") and row.image_url is None
    if case.reason == "bad_url":
        assert row.error and "image URL" in row.error, row.error
    if case.key == "redirect_port":  # another port of the allowed host: refused unfetched
        assert f"127.0.0.1:{hostile.OFFSITE_PORT}" in row.error, row.error
    if case.key == "record_huge_string":
        assert "characters of JSON" in row.error and row.raw_record is None, row.error
    if case.key.startswith("redirect_") and case.reason == "offsite":  # refused unfetched
        assert row.error and ("198.51.100.7" in row.error or "localhost.evil" in row.error
                              or "file:" in row.error or "127.0.0.1:9'" in row.error), \
            row.error
    if case.kind == "record":  # a broken metadata document: its row says why
        assert row.error and row.sha256 is None, row.error
    if row.status == "stored":
        blob = StoreIndex(run["out"] / "images").locate(row.sha256)
        assert hashlib.sha256(blob.read()).hexdigest() == row.sha256
    for value in (row.title, row.artist, row.error, row.raw_record):
        if value is not None:  # valid UTF-8, whatever came in
            value.encode("utf-8")
    if case.kind == "meta":
        title = row.title
        assert len(title) <= 2000
        assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in title), repr(title)
        if case.key in ("meta_invalid_utf8", "meta_surrogate"):
            assert "\ufffd" in title, repr(title)
        if case.key == "meta_long":
            assert len(title) == 2000 and len(row.raw_record) > hostile.LONG_TEXT


@pytest.mark.parametrize("source", SOURCES)
def test_the_rest_of_the_crawl_is_as_without_hostile_records(source, crawls, demo_collection):
    run, clean = crawls["hostile"][source], crawls["clean"][source]
    assert clean["rc"] == 0, clean["stderr"][-2000:]
    cases = expected(source, crawls["root"], demo_collection)
    rows = rows_of(run)
    plain, reference = rows[~rows["source_id"].isin(cases)], rows_of(clean)
    if source == "urls":  # ids hash the URL, port included: key the rows by the URL's path
        plain = plain.assign(source_id=plain["image_url"].str.replace(run["root"], ""))
        reference = reference.assign(
            source_id=reference["image_url"].str.replace(clean["root"], ""))
    plain, reference = plain.set_index("source_id"), reference.set_index("source_id")
    assert sorted(plain.index) == sorted(reference.index)
    columns = ["status", "reason", "sha256", "width", "height", "title", "artist"]
    pd.testing.assert_frame_equal(plain.loc[reference.index, columns], reference[columns])
    hostile_stored = set(rows.loc[rows["source_id"].isin(cases) & (rows["status"] == "stored"),
                                  "sha256"])
    assert blobs(run) == blobs(clean) | hostile_stored


def test_nothing_is_written_outside_the_output_folders(crawls):
    outs = [run["out"] for kind in ("clean", "hostile") for run in crawls[kind].values()]
    allowed_files = {run["out"].parent / "stats.json"
                     for kind in ("clean", "hostile") for run in crawls[kind].values()}
    strays = [p for p in crawls["created"]
              if p not in allowed_files
              and not (p.is_symlink() and p.name.endswith("current"))  # pytest's own links
              and not any(p == o or o in p.parents for o in outs)
              and not any(p in o.parents for o in outs)]  # the folders holding out/ and stats
    assert not strays, sorted(strays)[:10]
    assert not [p for p in crawls["created"] if "passwd" in p.name or "\x00" in str(p)]
    before, after = crawls["passwd"]
    if before is not None:
        assert (before.st_mtime_ns, before.st_size) == (after.st_mtime_ns, after.st_size)
    for run in crawls["hostile"].values():  # only packs and their indexes under out/images
        names = [p.name for p in (run["out"] / "images").rglob("*")]
        assert names and all(PACK_NAME.fullmatch(n) for n in names), names


def test_hostile_crawls_end_in_bounded_time(crawls):
    for source, run in crawls["hostile"].items():
        assert run["seconds"] < CRAWL_BOUND_S, (source, run["seconds"])
    # The slow endless body is cut by the timeout, twice (one retry): the crawl waited for it.
    assert max(run["seconds"] for run in crawls["hostile"].values()) >= 2 * TIMEOUT_S


def test_absurd_images_are_hashed_and_then_rejected_by_curation(crawls):
    from curate.filters import FilterConfig, failed_rules
    from curate.hashing import hash_image

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    config = FilterConfig.from_params(params["curate"])
    run = crawls["hostile"]["met"]
    rows = rows_of(run).set_index("source_id")
    for key, size in (("aspect_tall", (1, 100_000)), ("aspect_wide", (100_000, 1))):
        row = rows.loc[hostile.hostile_id("met", hostile.BY_KEY[key])].to_dict()
        assert (row["width"], row["height"]) == size
        data = StoreIndex(run["out"] / "images").locate(row["sha256"]).read()
        hashed = hash_image(data)  # must not crash on a 1 px wide image
        assert hashed["error"] is None and (hashed["width"], hashed["height"]) == size
        reasons, _ = failed_rules(row, config)
        assert any(r.startswith("aspect_ratio:") for r in reasons), reasons
