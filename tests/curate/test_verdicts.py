"""curate.verdicts: pair verdicts kept between curate runs, on the session's demo collection
with local features: the clusters never depend on what the cache held, a killed run resumes
from its journal, and the folder a run leaves depends on that run's pairs alone."""

from __future__ import annotations

import functools

import pandas as pd
import pytest

from curate import dedup, verdicts
from curate.hashing import hash_files
from curate.local_features import FeatureOptions, feature_fields
from curate.verdicts import VerdictCache, verdict_key, verdict_namespace

NAMESPACE = verdict_namespace({"long_side_px": 512, "max_keypoints": 1000})


@pytest.fixture(scope="module")
def rows(demo_root) -> pd.DataFrame:
    truth = pd.read_parquet(demo_root / "ground_truth.parquet")
    truth = truth[truth["file"].notna() & (truth["defect"] == "")].reset_index(drop=True)
    rows = pd.DataFrame(hash_files([demo_root / f for f in truth["file"]], workers=2,
                                   extra=functools.partial(feature_fields, FeatureOptions())))
    rows["key"] = truth["copy_id"]
    return rows


@pytest.fixture(scope="module")
def reference(rows) -> pd.DataFrame:
    return dedup.cluster(rows, workers=1)


def _clustered(rows: pd.DataFrame, folder, namespace: str = NAMESPACE
               ) -> tuple[pd.DataFrame, VerdictCache]:
    with VerdictCache.open(folder, namespace) as stored:
        out = dedup.cluster(rows, workers=1, verdicts=stored)
    return out, stored


def test_clusters_are_the_same_judged_afresh_or_answered_from_stored_verdicts(
        rows, reference, tmp_path):
    first, stored = _clustered(rows, tmp_path)
    pd.testing.assert_frame_equal(first, reference)
    assert stored.hits == 0 and stored.computed > 100
    again, reused = _clustered(rows, tmp_path)
    pd.testing.assert_frame_equal(again, reference)
    # Every verification of the second run was answered: thumbnails (crop and detail), the
    # local features' confirmations and their own verdicts alike.
    assert (reused.hits, reused.computed) == (stored.computed, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["verdicts.bin"]


def test_a_run_killed_part_way_resumes_from_its_journal_and_leaves_the_same_file(
        rows, reference, tmp_path, monkeypatch):
    _, uninterrupted = _clustered(rows, tmp_path / "whole")
    monkeypatch.setattr(verdicts, "CHUNK_VERDICTS", 16)
    judged = []
    real = dedup._local_verdict

    def dies_part_way(task):
        if len(judged) == 40:
            raise KeyboardInterrupt  # as a kill would, but here the journal can be checked
        judged.append(task)
        return real(task)

    monkeypatch.setattr(dedup, "_local_verdict", dies_part_way)
    with pytest.raises(KeyboardInterrupt):
        _clustered(rows, tmp_path / "killed")
    journal = sorted((tmp_path / "killed" / "journal").iterdir())
    assert journal and not (tmp_path / "killed" / "verdicts.bin").exists()
    monkeypatch.setattr(dedup, "_local_verdict", real)
    resumed, stored = _clustered(rows, tmp_path / "killed")
    pd.testing.assert_frame_equal(resumed, reference)
    # Everything judged before the kill was reused (the thumbnails' verdicts with the 40
    # local ones), nothing was judged twice, and the folder is as if never killed.
    assert stored.hits > 40 and stored.hits + stored.computed == uninterrupted.computed
    assert (tmp_path / "killed" / "verdicts.bin").read_bytes() == \
        (tmp_path / "whole" / "verdicts.bin").read_bytes()
    assert not (tmp_path / "killed" / "journal").exists()


def test_the_folder_keeps_only_the_verdicts_its_last_run_used(rows, tmp_path):
    half = rows.iloc[: len(rows) // 2].reset_index(drop=True)
    _clustered(rows, tmp_path / "all then half")
    out, stored = _clustered(half, tmp_path / "all then half")
    # Some of the half's pairs were judged in the first run, not all: among half the images,
    # an image's nearest few are partly others.
    assert stored.hits > 0
    fresh, _ = _clustered(half, tmp_path / "half")
    pd.testing.assert_frame_equal(out, fresh)
    assert (tmp_path / "all then half" / "verdicts.bin").read_bytes() == \
        (tmp_path / "half" / "verdicts.bin").read_bytes()


def test_verdicts_of_other_code_or_feature_settings_or_a_torn_file_are_never_used(rows,
                                                                                  tmp_path):
    _clustered(rows, tmp_path)
    assert len(VerdictCache.open(tmp_path, NAMESPACE)) > 100
    other = verdict_namespace({"long_side_px": 1024, "max_keypoints": 1000})
    assert other != NAMESPACE
    assert len(VerdictCache.open(tmp_path, other)) == 0
    # A file cut short (a disk that filled up) or of another format is judged again.
    whole = (tmp_path / "verdicts.bin").read_bytes()
    (tmp_path / "verdicts.bin").write_bytes(whole[:-8])
    assert len(VerdictCache.open(tmp_path, NAMESPACE)) == 0
    (tmp_path / "verdicts.bin").write_bytes(b"PK\x03\x04 not verdicts")
    assert len(VerdictCache.open(tmp_path, NAMESPACE)) == 0
    with pytest.raises(ValueError, match="32 ASCII"):
        VerdictCache.open(tmp_path, "short")


def test_a_key_tells_apart_the_order_of_the_files_and_every_argument():
    a, b = "a" * 64, "b" * 64
    keys = {verdict_key("crop", a, b, 0.7, 0.6), verdict_key("crop", b, a, 0.7, 0.6),
            verdict_key("crop", a, b, 0.7, 0.5), verdict_key("detail", a, b, 0.7, 0.6),
            verdict_key("local", a, b, 40, 20, 0.35, None),
            verdict_key("local", a, b, 40, 20, 0.35, False)}
    assert len(keys) == 6 and all(len(k) == 16 for k in keys)
