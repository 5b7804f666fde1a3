"""Curation end to end with the real command lines: crawl the demo, hash, curate; check the
manifests against ground truth; dedup any folder."""

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from crawl.blobs import CrawlStores
from curate import manifests

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("met", "aic", "cleveland", "nga", "commons", "urls", "wikidata", "smithsonian",
           "europeana")


def cli(*args, cwd):
    result = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def curated_run(demo_server, demo_root, tmp_path_factory):
    work = tmp_path_factory.mktemp("curate")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["crawl"].update(progress=False, backoff_base_s=0.05)
    # The demo's folder holds the ground truth that curate scores de-duplication against.
    params["paths"].update(demo=str(demo_root), crawl=str(work / "crawl"),
                           hashes=str(work / "hashes"), curate=str(work / "out"),
                           curate_metrics=str(work / "metrics.json"),
                           curate_plots=str(work / "plots"),
                           curate_verdicts=str(work / "verdicts"))
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    for source in SOURCES:
        cli("-m", "crawl", source, "--api-root", demo_server.api_roots[source], "--params",
            "params.yaml", cwd=work)
        cli("-m", "curate", "--params", "params.yaml", "hash", source, cwd=work)
    cli("-m", "curate", "--params", "params.yaml", "run", cwd=work)
    return work


def test_manifests_have_their_schemas_and_round_trip(curated_run):
    out = curated_run / "out"
    assert pq.read_schema(out / "curated.parquet").equals(manifests.CURATED_SCHEMA)
    assert pq.read_schema(out / "rejects.parquet").equals(manifests.REJECTS_SCHEMA)
    assert pq.read_schema(out / "clusters.parquet").equals(manifests.CLUSTERS_SCHEMA)
    met = pd.read_parquet(out / "records", filters=[("source", "==", "met")])
    assert len(met) and set(met["source"].astype(str)) == {"met"}
    records = pd.read_parquet(out / "records")
    curated = pd.read_parquet(out / "curated.parquet")
    rejects = pd.read_parquet(out / "rejects.parquet")
    assert len(curated) + len(rejects) == len(records)
    assert curated["width"].dtype == "int32" and curated["copies"].map(len).min() >= 1
    assert rejects["reasons"].map(len).min() >= 1, "every reject names its reasons"
    stores = CrawlStores(curated_run / "crawl")
    for row in curated.itertuples():  # each image is in its source's store, whole
        blob = stores.locate(row.source, row.sha256)
        assert hashlib.sha256(blob.read()).hexdigest() == row.sha256


def test_the_records_manifest_copies_each_record_s_raw_record_from_its_crawl(curated_run):
    # curate leaves raw records on disk and reads them back a source at a time for this copy.
    records = pd.read_parquet(curated_run / "out" / "records")
    for source in ("met", "wikidata"):
        crawl = pd.read_parquet(curated_run / "crawl" / source / "records.parquet",
                                columns=["source_id", "raw_record"])
        mine = records[records["source"].astype(str) == source]
        assert len(mine) == len(crawl) and mine["raw_record"].notna().any()
        assert dict(zip(mine["source_id"], mine["raw_record"], strict=True)) == \
            dict(zip(crawl["source_id"], crawl["raw_record"], strict=True))


def test_curated_set_holds_no_trap_and_most_good_artworks_once(curated_run, demo_root):
    curated = pd.read_parquet(curated_run / "out" / "curated.parquet")
    truth = pd.read_parquet(demo_root / "ground_truth.parquet")
    by_id = truth.set_index(["source", "source_id"])
    by_sha = truth.dropna(subset=["file_sha256"]).drop_duplicates("file_sha256") \
        .set_index("file_sha256")
    artworks = []
    for row in curated.itertuples():
        if row.source == "urls":
            t = by_sha.loc[row.sha256]
        else:
            t = by_id.loc[(row.source, row.source_id)]
        assert len(t["expected_reject"]) == 0, (row.key, list(t["expected_reject"]))
        artworks.append(t["artwork_id"])
    good = set(truth.loc[truth["expected_reject"].map(len) == 0, "artwork_id"])
    assert len(set(artworks) & good) >= 0.95 * len(good)
    repeated = len(artworks) - len(set(artworks))
    assert repeated <= 0.05 * len(artworks), f"{repeated} artworks curated more than once"


def test_metrics_plots_and_disagreements(curated_run):
    import json

    metrics = json.loads((curated_run / "metrics.json").read_text())
    assert metrics["curated"] > 0 and metrics["duplicate_clusters"] > 0
    quality = metrics["dedup_vs_ground_truth"]
    assert quality["precision"] >= 0.95, quality
    assert quality["recall_without_details"] >= 0.9 and quality["recall"] >= 0.7, quality
    assert "licence:source_not_pd" in metrics["rejected_by_rule"]
    assert (curated_run / "plots" / "hamming.csv").read_text().startswith("distance,pairs")
    disagreements = pd.read_parquet(curated_run / "out" / "licence_disagreements.parquet")
    assert set(disagreements["disagreement"]) <= {"flag_pd_dates_not", "dates_pd_flag_not"}
    assert len(disagreements) > 0


def test_same_as_links_join_the_records_of_one_painting_and_each_is_reported(curated_run,
                                                                            demo_root):
    import json

    truth = pd.read_parquet(demo_root / "ground_truth.parquet")
    artwork = dict(zip(truth["source"] + ":" + truth["source_id"], truth["artwork_id"],
                       strict=True))
    report = pd.read_parquet(curated_run / "out" / "same_as.parquet")
    assert len(report) > 0 and set(report["state"]) <= {"agree", "merged", "unstored",
                                                         "unresolved", "ambiguous"}
    resolved = report[report["resolved"]]
    assert len(resolved) >= 0.5 * len(report)
    for link in resolved.itertuples():  # every resolved link joins two records of one work
        assert artwork[link.key] == artwork[link.resolved_key], link
    records = pd.read_parquet(curated_run / "out" / "records")
    cluster = dict(zip(records["key"], records["cluster_id"], strict=True))
    joined = resolved[resolved["state"].isin(["agree", "merged"])]
    assert len(joined) > 0
    assert all(cluster[a] == cluster[b] >= 0 for a, b in zip(joined["key"],
                                                              joined["resolved_key"], strict=True))
    curated = pd.read_parquet(curated_run / "out" / "curated.parquet")
    for row in curated.itertuples():  # every record of the painting, stored or not
        assert row.key in row.provenance and set(row.copies) <= set(row.provenance)
    metrics = json.loads((curated_run / "metrics.json").read_text())
    assert metrics["same_as"]["links"] == len(report)
    # Cleveland has no object-id property on Wikidata: its paintings are named by inventory
    # number (P217 qualified by the collection), resolved through the records' accession_number.
    by_number = report[report["linked_key"].str.startswith("cleveland:accession:")]
    assert by_number["resolved"].any()
    assert (by_number.loc[by_number["resolved"], "resolved_key"].str.startswith("cleveland:")).all()


def test_one_param_keeps_portraits_only_and_the_rerun_judges_no_pair_again(curated_run):
    work = curated_run
    params = yaml.safe_load((work / "params.yaml").read_text())
    params["curate"]["genres"] = ["portrait"]
    params["paths"].update(curate=str(work / "portraits"),
                           curate_metrics=str(work / "portraits.json"),
                           curate_plots=str(work / "portraits-plots"))
    (work / "portraits.yaml").write_text(yaml.safe_dump(params))
    rerun = cli("-m", "curate", "--params", "portraits.yaml", "run", cwd=work)
    # The genre rule does not change which pairs are copies: the first run's verdicts
    # (paths.curate_verdicts) answer every pair.
    kept = re.search(r"pair verdicts kept in [\d.]+ s, ([\d,]+) reused, ([\d,]+) judged",
                     rerun.stderr)
    assert kept and int(kept[1].replace(",", "")) > 100 and kept[2] == "0", rerun.stderr
    everyone = pd.read_parquet(work / "out" / "curated.parquet")
    portraits = pd.read_parquet(work / "portraits" / "curated.parquet")
    assert 0 < len(portraits) < len(everyone)
    assert portraits["genre"].str.contains("portrait").all()
    # Museum records carry no genre of their own: they take it from the painting's Wikidata
    # record, through a same_as link or a shared cluster.
    assert (portraits["source"] != "wikidata").any()


def test_hugging_face_export_has_an_image_column(curated_run):
    table = pq.read_table(curated_run / "out" / "hf" / "train-00000-of-00001.parquet")
    image = table.column("image").to_pylist()[0]
    assert image["bytes"][:2] in (b"\xff\xd8", b"\x89P") and image["path"]
    assert b'"_type": "Image"' in table.schema.metadata[b"huggingface"]


def test_hugging_face_datasets_loads_the_export(curated_run, tmp_path, monkeypatch):
    """The real `datasets` library, offline, reads the export with a decoded image column."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # its cache, not the user's
    datasets = pytest.importorskip("datasets", reason="dev dependency: pip install -e .[dev]")
    export = curated_run / "out" / "hf" / "train-*.parquet"
    ds = datasets.load_dataset("parquet", data_files={"train": str(export)}, split="train",
                               cache_dir=str(tmp_path / "hf-cache"))
    curated = pd.read_parquet(curated_run / "out" / "curated.parquet")
    assert ds.num_rows == len(curated)
    assert isinstance(ds.features["image"], datasets.Image)
    first = ds[0]
    assert first["key"] == curated["key"].iloc[0]
    assert first["image"].size == (curated["width"].iloc[0], curated["height"].iloc[0])


def test_dedup_any_folder(demo_root, tmp_path):
    out = tmp_path / "folder.parquet"
    cli("-m", "curate", "dedup", str(demo_root / "files"), "-o", str(out), cwd=tmp_path)
    rows = pd.read_parquet(out)
    files = [p for p in (demo_root / "files").rglob("*") if p.is_file()]
    assert len(rows) == len(files)
    assert list(rows.columns)[:2] == ["schema_version", "path"]
    assert rows["error"].notna().sum() >= 4  # the planted broken files
    assert rows["phash"].dropna().str.len().eq(16).all()
    truth = pd.read_parquet(demo_root / "ground_truth.parquet").dropna(subset=["file"])
    truth["path"] = truth["file"].str.removeprefix("files/")
    merged = rows.merge(truth, on="path")
    for _, exact in merged[merged["is_exact_copy_of"] != ""].iterrows():
        original = merged[merged["copy_id"] == exact["is_exact_copy_of"]].iloc[0]
        if exact["defect"] == "" and original["defect"] == "":
            assert exact["cluster_id"] == original["cluster_id"] >= 0
    per_cluster = rows[rows["cluster_id"] >= 0].groupby("cluster_id")["is_canonical"].sum()
    assert (per_cluster == 1).all()
    # The local features reached the clustering (they alone find the demo's details)...
    assert rows["matched_by"].isin(["local", "local_mirrored"]).any()
    # ...from a scratch file beside the output, which is gone.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.parquet"]


def test_dedup_of_an_empty_folder_writes_no_rows(tmp_path):
    (tmp_path / "empty").mkdir()
    out = tmp_path / "folder.parquet"
    cli("-m", "curate", "dedup", str(tmp_path / "empty"), "-o", str(out), cwd=tmp_path)
    assert len(pd.read_parquet(out)) == 0


def test_curate_refuses_hashes_from_two_hash_pipelines(curated_run, tmp_path):
    from curate.hashing import HASH_PIPELINE
    from curate.stage import load_records

    hashes = tmp_path / "hashes"
    hashes.mkdir()
    for source in SOURCES:
        frame = pd.read_parquet(curated_run / "hashes" / f"{source}.parquet")
        assert set(frame["hash_pipeline"]) == {HASH_PIPELINE}
        if source == "nga":  # one source left over from an older code version
            frame["hash_pipeline"] = "draft-v1-old"
        frame.to_parquet(hashes / f"{source}.parquet")
    assert len(load_records(curated_run / "crawl", curated_run / "hashes", list(SOURCES)))
    with pytest.raises(ValueError, match="different hash pipelines.*nga"):
        load_records(curated_run / "crawl", hashes, list(SOURCES))
