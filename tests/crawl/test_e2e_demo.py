"""Real crawls with the real CLI against the demo server, checked against its ground truth:
every copy ends as the right row, faults and a kill -9 change nothing, --limit,
--metadata-only and --resume, nothing written outside the output folder, changed records
fetched again.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from crawl.blobs import read_blobs
from crawl.records import RECORDS_SCHEMA
from demo.server import DemoServer

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("met", "aic", "cleveland", "nga", "commons", "urls", "wikidata", "smithsonian",
           "europeana")
# What a correct crawl makes of each byte-level defect the demo plants.
DEFECT_REASON = {"corrupt": "corrupt", "truncated": "truncated",
                 "decompression_bomb": "decompression_bomb", "not_image": "not_image",
                 "html_error": "html_page", "oversized": "too_large"}


@pytest.fixture(scope="module")
def test_params(tmp_path_factory):
    """params.yaml with fast retries, no progress bar, and every object type selected."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    common = params["crawl"]
    common.update(backoff_base_s=0.05, backoff_max_s=0.5, progress=False, max_bytes=3 << 20)
    for config in common["sources"].values():
        config["object_types"] = ["painting", "drawing", "print", "photograph", "sculpture",
                                  "other"]
    common["sources"]["met"]["department_ids"] = [1, 9, 11, 12, 19, 21]
    common["sources"]["cleveland"]["types"] = []
    common["sources"]["nga"]["classifications"] = ["Painting", "Drawing", "Print",
                                                   "Photograph", "Sculpture"]
    common["sources"]["commons"]["categories"] = ["Category:Demo collection"]
    common["sources"]["smithsonian"]["query"] = "online_media_type:Images"
    common["sources"]["europeana"]["reusability"] = ""  # in-copyright records listed too
    common["sources"]["aic"]["public_domain_only"] = False
    common["sources"]["cleveland"]["cc0_only"] = False
    path = tmp_path_factory.mktemp("params") / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def crawl_cli(source, out, api_root, params, *extra, wait=True):
    cmd = [sys.executable, "-m", "crawl", source, "--out", str(out), "--api-root", api_root,
           "--params", str(params), *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if not wait:
        return subprocess.Popen(cmd, cwd=out.parent, env=env, stderr=subprocess.PIPE)
    result = subprocess.run(cmd, cwd=out.parent, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def records(out: Path, server_url: str | None = None) -> pd.DataFrame:
    table = pq.read_table(out / "records.parquet")
    assert table.schema.equals(RECORDS_SCHEMA)
    frame = table.to_pandas()
    if server_url:  # URLs carry the server's port; compare runs on other servers without it
        for column in ("page_url", "image_url", "raw_record", "error"):
            frame[column] = frame[column].str.replace(server_url, "ROOT", regex=False)
    return frame


def stored_blobs(out: Path) -> dict[str, bytes]:
    return read_blobs(out / "images")


@pytest.fixture(scope="module")
def clean_crawls(demo_server, test_params, tmp_path_factory):
    outs = {}
    for source in SOURCES:
        out = tmp_path_factory.mktemp(f"crawl-{source}") / "out"
        crawl_cli(source, out, demo_server.api_roots[source], test_params)
        outs[source] = out
    return outs


@pytest.mark.parametrize("source", SOURCES)
def test_every_copy_ends_as_the_right_row(source, clean_crawls, demo_collection, demo_server):
    out = clean_crawls[source]
    rows = records(out)
    truth = pd.read_parquet(demo_collection.root / "ground_truth.parquet")
    truth = truth[truth["source"] == source]
    if source == "urls":  # the URL list names files, not records: join on the URL
        truth = truth.assign(key=truth["copy_id"])
        rows = rows.assign(key=rows["image_url"].str.rsplit("/", n=1).str[-1]
                           .str.split(".").str[0])
    else:
        truth = truth.assign(key=truth["source_id"])
        rows = rows.assign(key=rows["source_id"])
    if source == "nga":  # NGA lists only objects with a published image
        truth = truth[truth["has_image"]]
    if source == "cleveland":  # has_image=1: CMA publishes images for CC0 works only
        truth = truth[truth["is_public_domain_flag"]]
    assert sorted(rows["key"]) == sorted(truth["key"]), "each copy is exactly one row"
    merged = truth.merge(rows, on="key", suffixes=("_truth", ""))
    for row in merged.itertuples():
        label = f"{row.copy_id} ({row.defect or row.distractor or 'plain'})"
        if not row.is_public_domain_flag and source != "urls":
            assert (row.status, row.reason) == ("metadata_only", "not_public_domain"), label
        elif not row.has_image:  # a Wikidata item whose file was deleted from Commons
            assert (row.status, row.reason) == ("rejected", "no_image_url"), label
        elif row.defect:
            assert row.status == "rejected", label
            assert row.reason == DEFECT_REASON[row.defect], label
        else:
            assert row.status == "stored", f"{label}: {row.reason} {row.error}"
            assert (row.width, row.height) != (None, None)
    for sha, data in stored_blobs(out).items():
        assert hashlib.sha256(data).hexdigest() == sha
    stored = rows[rows["status"] == "stored"]
    assert set(stored["sha256"]) == set(stored_blobs(out))
    assert not (out / "journal.jsonl").exists()  # a finished crawl leaves no journal


def test_original_bytes_are_kept_byte_for_byte(clean_crawls, demo_collection):
    rows = records(clean_crawls["met"])
    truth = pd.read_parquet(demo_collection.root / "ground_truth.parquet")
    met = truth[(truth["source"] == "met") & truth["file_sha256"].notna()]
    stored = rows[rows["status"] == "stored"].merge(met, on="source_id")
    assert len(stored) and (stored["sha256"] == stored["file_sha256"]).all()


def test_wikidata_rows_link_the_museum_records_of_the_same_painting(clean_crawls,
                                                                  demo_collection):
    rows = records(clean_crawls["wikidata"]).set_index("source_id")
    artwork_of = {(c.source, c.source_id): c.artwork_id for c in demo_collection.catalog.copies}
    numbered: dict[str, list[str]] = {}  # "cleveland:accession:1958.31" -> the records with it
    for source in ("met", "cleveland", "smithsonian"):
        crawled = records(clean_crawls[source]).dropna(subset=["accession_number"])
        for number, source_id in zip(crawled["accession_number"], crawled["source_id"],
                                     strict=True):
            numbered.setdefault(f"{source}:accession:{number}", []).append(
                f"{source}:{source_id}")
    linked, by_number = 0, set()
    for copy in demo_collection.catalog.by_source("wikidata"):
        links = rows.loc[copy.source_id, "same_as"]
        links = set(links.split("|")) if isinstance(links, str) else set()
        named = set()
        for link in links:  # an object id, or an inventory number naming one record
            if ":accession:" in link:
                assert len(numbered.get(link, [])) == 1, link
                named.add(numbered[link][0])
                by_number.add(link.partition(":")[0])
            else:
                named.add(link)
        assert named == set(copy.extra["same_as"]), copy.source_id
        for link in named:  # each names a record another crawl holds, of the same painting
            source, _, source_id = link.partition(":")
            assert source_id in set(records(clean_crawls[source])["source_id"]), link
            assert artwork_of[(source, source_id)] == copy.artwork_id, link
            linked += 1
    assert linked >= 20
    assert {"met", "cleveland"} <= by_number  # and the Smithsonian where the demo links it


@pytest.mark.parametrize("source, field", [("met", "accessionNumber"),
                                           ("aic", "main_reference_number"),
                                           ("cleveland", "accession_number")])
def test_museum_rows_carry_the_accession_number_the_museum_prints(clean_crawls, source, field):
    rows = records(clean_crawls[source]).dropna(subset=["raw_record"])
    printed = rows["raw_record"].map(lambda raw: json.loads(raw).get(field))
    assert len(rows) > 0 and printed.notna().all()
    assert (rows["accession_number"] == printed).all()


def test_wikidata_rows_carry_genre_and_the_latest_possible_death_year(clean_crawls,
                                                                     demo_collection):
    rows = records(clean_crawls["wikidata"]).set_index("source_id")
    for copy in demo_collection.catalog.by_source("wikidata"):
        artwork, artist = demo_collection.artwork(copy), demo_collection.artist(copy)
        row = rows.loc[copy.source_id]
        assert row["genre"], copy.source_id
        assert row["date_start"] <= artwork.date_start <= artwork.date_end <= row["date_end"]
        if artwork.attribution_qualifier or artist.death_year is None:
            continue  # an unknown hand, or no known death: no death year for the gate
        # Stated to the year or day, or to a decade: the latest possible year of it.
        assert artist.death_year <= row["artist_death_year"] <= artist.death_year // 10 * 10 + 9


def test_faults_give_the_same_final_records_as_a_clean_crawl(demo_collection, test_params,
                                                           clean_crawls, demo_server, tmp_path):
    faults = "error_500=0.08,retry_after=0.08,reset=0.08,truncate=0.08,slow=0.02," \
             "slow_s=0.2,retry_after_s=1,attempts=2,seed=5"
    for source in ("met", "commons"):
        with DemoServer(demo_collection, faults=faults) as server:
            out = tmp_path / source
            crawl_cli(source, out, server.api_roots[source], test_params)
            assert sum(server.faults.injected.values()) > 5
            faulty = records(out, server.url)
        clean = records(clean_crawls[source], demo_server.url)
        pd.testing.assert_frame_equal(faulty, clean)
        assert stored_blobs(out) == stored_blobs(clean_crawls[source])


def test_kill_9_then_the_same_command_finishes_the_same_crawl(demo_collection, test_params,
                                                             clean_crawls, demo_server,
                                                             tmp_path):
    out = tmp_path / "commons"
    with DemoServer(demo_collection, faults="slow=0.3,slow_s=0.3") as server:
        proc = crawl_cli("commons", out, server.api_roots["commons"], test_params, wait=False)
        deadline = time.monotonic() + 60
        journal = out / "journal.jsonl"
        while time.monotonic() < deadline:
            if journal.is_file() and journal.read_bytes().count(b"\n") >= 5:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not (out / "records.parquet").exists(), "killed before it could finish"
        done = [json.loads(line) for line in journal.read_bytes().splitlines(keepends=True)
                if line.endswith(b"\n")]
        done_paths = {urlsplit(r["image_url"]).path for r in done if r["status"] == "stored"}
        assert done_paths, "some images were stored before the kill"
        served_before = sum(server.served.values())
        crawl_cli("commons", out, server.api_roots["commons"], test_params)
        refetched = [path for path in done_paths if server.served[path] > 1]
        assert not refetched, f"stored images fetched twice: {refetched[:3]}"
        assert sum(server.served.values()) > served_before
        resumed = records(out, server.url)
    clean = records(clean_crawls["commons"], demo_server.url)
    pd.testing.assert_frame_equal(resumed, clean)
    assert stored_blobs(out) == stored_blobs(clean_crawls["commons"])


def test_limit_metadata_only_and_resume(demo_server, test_params, tmp_path):
    out = tmp_path / "aic"
    crawl_cli("aic", out, demo_server.api_roots["aic"], test_params, "--limit", "5",
              "--metadata-only")
    rows = records(out)
    assert len(rows) == 5 and set(rows["status"]) <= {"metadata_only"}
    assert not (out / "images").exists() or not any((out / "images").iterdir())
    crawl_cli("aic", out, demo_server.api_roots["aic"], test_params, "--limit", "5", "--resume")
    assert set(records(out)["status"]) == {"metadata_only"}  # resume trusts finished records
    crawl_cli("aic", out, demo_server.api_roots["aic"], test_params, "--limit", "8")
    rows = records(out)
    assert len(rows) == 8 and "stored" in set(rows["status"])


def test_nothing_is_written_outside_the_output_folder(demo_server, test_params, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    out = work / "out"
    before = set(tmp_path.rglob("*"))
    crawl_cli("urls", out, demo_server.api_roots["urls"], test_params)
    created = set(tmp_path.rglob("*")) - before
    assert created and all(p == out or out in p.parents for p in created), sorted(created)[:5]


def test_a_changed_record_behind_the_same_url_is_fetched_again(demo_collection, test_params,
                                                               tmp_path):
    """Incremental re-crawls reuse stored images only for unchanged records."""
    from demo.build import build_collection

    other_root = tmp_path / "other"
    # Same seed, so the early source ids (hence URLs) repeat; another year changes the
    # licences, which reshuffles which painting sits behind each later id.
    build_collection(other_root, seed=7, artworks=120, reference_year=1990, oversized_mib=4)
    with DemoServer(demo_collection) as first:
        port = int(first.url.rsplit(":", 1)[1])
        crawl_cli("met", tmp_path / "reused", first.api_roots["met"], test_params)
    with DemoServer(other_root, port=port) as second:  # same URLs, other paintings
        crawl_cli("met", tmp_path / "reused", second.api_roots["met"], test_params)
        crawl_cli("met", tmp_path / "fresh", second.api_roots["met"], test_params)
    reused, fresh = records(tmp_path / "reused"), records(tmp_path / "fresh")
    pd.testing.assert_frame_equal(reused, fresh)


def test_an_unbuilt_demo_is_reported_as_unbuilt_not_as_a_port_conflict(test_params, tmp_path):
    params = yaml.safe_load(Path(test_params).read_text())
    params["paths"]["demo"] = str(tmp_path / "never-built")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run(
        [sys.executable, "-m", "crawl", "met", "--out", str(tmp_path / "out"), "--api-root",
         "demo", "--params", str(tmp_path / "params.yaml")],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
        text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "build it first: dvc repro demo" in result.stderr
    assert "cannot start" not in result.stderr and "Traceback" not in result.stderr
