"""benchmarks/curate_scale.py's synthetic crawls: in the real formats, curated by the real stage,
with the planted copies found; and curate.stage.Phases, which times each step."""

from __future__ import annotations

import pandas as pd
import pytest

from benchmarks.curate_scale import COPY_KINDS, SOURCES, phash_of, write_crawls
from crawl.blobs import StoreIndex
from curate.settings import SPEC
from curate.stage import Phases, curate
from marcus.config import check
from marcus.params import load_params


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    return root, write_crawls(root, 600, seed=1)


def test_a_synthetic_crawl_is_read_and_curated_by_the_real_stage_step_by_step(synthetic,
                                                                                capsys):
    root, made = synthetic
    config = check("curate", load_params("curate", "params.yaml"), SPEC)
    phases = Phases()
    metrics = curate(config, list(SOURCES), root / "crawl", root / "hashes", root / "curate",
                     phases=phases)
    assert metrics["records"] == 600 and metrics["stored"] == made["stored"]
    assert 0 < metrics["curated"] < made["stored"]
    # Copies of one painting across sources are planted, and some are found (byte copies
    # at least: the same sha256 in two sources).
    assert sum(made["copies"].values()) > 0 and made["copies"]["same_bytes"] > 0
    assert metrics["duplicate_clusters"] >= made["copies"]["same_bytes"] // 2
    names = [row["phase"] for row in phases.rows]
    assert names[0] == "load records and hashes" and names[-1] == "metrics and plots"
    assert "dedup: window search" in names
    assert all(row["wall_s"] >= 0 and row["peak_rss_mib"] > 0 for row in phases.rows)
    assert "curate: dedup: window search in" in capsys.readouterr().err


def test_every_source_gets_records_and_hashes_in_the_stage_formats(synthetic):
    root, made = synthetic
    records = pd.concat(pd.read_parquet(root / "crawl" / s / "records.parquet") for s in SOURCES)
    assert len(records) == 600 and set(records["source"]) == set(SOURCES)
    stored = records[records["status"] == "stored"]
    assert len(stored) == made["stored"] and stored["sha256"].notna().all()
    for source in SOURCES:
        hashes = pd.read_parquet(root / "hashes" / f"{source}.parquet")
        mine = set(stored.loc[stored["source"] == source, "sha256"])
        assert set(hashes["sha256"]) == mine
        assert hashes["thumb"].map(len).eq(64 * 64).all()
        store = StoreIndex(root / "crawl" / source / "images")
        assert all(store.locate(sha) is not None for sha in mine)  # stored, by its sha256
    assert set(made["copies"]) == set(COPY_KINDS)


def test_the_synthetic_phash_is_64_bits_half_set_and_equal_for_equal_pixels():
    import numpy as np

    thumbs = np.random.default_rng(0).integers(0, 256, (3, 64, 64), dtype=np.uint8)
    thumbs[2] = thumbs[0]
    hashes = phash_of(thumbs)
    assert all(len(h) == 16 for h in hashes) and hashes[0] == hashes[2] != hashes[1]
    assert bin(int(hashes[0], 16)).count("1") == 32  # above the median: half the bits

