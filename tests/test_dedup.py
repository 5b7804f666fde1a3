"""curate.dedup on the session's demo collection: copies merge, series stay apart, ids are
deterministic; and the verification step on hand-made transforms."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from crawl.demo import transforms
from curate import dedup
from curate.hashing import hash_files, hash_image

# Transforms whose copies any de-duplicator must find (no framing, cropping or detail).
EASY = {"original", "resize", "colour", "squash", "watermark", "colour+resize",
        "watermark+colour", "colour+watermark", "squash+watermark", "watermark+squash",
        "watermark+resize", "resize+watermark"}


@pytest.fixture(scope="module")
def clustered(demo_root):
    truth = pd.read_parquet(demo_root / "ground_truth.parquet")
    truth = truth[truth["file"].notna() & (truth["defect"] == "")].reset_index(drop=True)
    rows = pd.DataFrame(hash_files([demo_root / f for f in truth["file"]], workers=2))
    rows["key"] = truth["copy_id"]
    return truth, rows, dedup.cluster(rows)


def test_known_copies_are_merged(clustered):
    truth, _, out = clustered
    easy = truth[truth["transform"].isin(EASY)]
    checked = 0
    for _, group in easy.groupby("artwork_id"):
        if len(group) > 1:
            clusters = out.loc[group.index, "cluster_id"]
            assert clusters.nunique() == 1, group[["copy_id", "transform"]]
            checked += 1
    assert checked >= 8
    # Framed and cropped copies: most must be found too (the plain-phash baseline finds few).
    hard = truth[truth["transform"].str.contains("frame|crop") & ~truth["transform"].str.contains(
        "detail")]
    found = [out.at[i, "cluster_id"] == out.loc[truth.index[truth.artwork_id == a], "cluster_id"]
             .min() and out.at[i, "cluster_size"] > 1
             for i, a in zip(hard.index, hard["artwork_id"], strict=True)]
    assert len(found) >= 5 and np.mean(found) >= 0.75, found


def test_series_and_distinct_works_stay_apart(clustered):
    truth, _, out = clustered
    works = out.groupby("cluster_id").apply(
        lambda g: truth.loc[g.index, "artwork_id"].nunique(), include_groups=False)
    # Paintings (the only object type curate/filters.py lets through) never mix works. Plain
    # studio photographs of sculptures (smooth shapes on one grey backdrop, no brushwork) can:
    # two such merges in this collection are the method's known weak spot; allow no more.
    paintings = truth["object_type"] == "painting"
    painting_works = out[paintings].groupby("cluster_id").apply(
        lambda g: truth.loc[g.index, "artwork_id"].nunique(), include_groups=False)
    assert (painting_works == 1).all(), painting_works[painting_works > 1]
    assert (works > 1).sum() <= 2
    series = truth[truth["series_id"] >= 0]
    assert series["artwork_id"].nunique() >= 6  # the collection does plant series
    for _, group in series.groupby("series_id"):
        per_work = out.loc[group.index].groupby(group["artwork_id"])["cluster_id"].first()
        assert per_work.is_unique


def test_output_columns_and_evidence(clustered):
    _, rows, out = clustered
    assert out.index.equals(rows.index)
    matched = out[out["cluster_size"] > 1]
    assert (matched["match_distance"] >= 0).all()
    assert set(matched["matched_by"]) <= {"sha256", "phash", "frame_or_centre"}
    assert (out.loc[out["cluster_size"] == 1, "match_distance"] == -1).all()


def test_cluster_ids_are_deterministic(clustered):
    _, rows, out = clustered
    shuffled = rows.sample(frac=1.0, random_state=3)
    again = dedup.cluster(shuffled)
    assert again["cluster_id"].reindex(rows.index).equals(out["cluster_id"])
    # The id is the smallest key-order position among the members.
    position = rows["key"].rank(method="first").astype(int) - 1
    assert (out["cluster_id"] == position.groupby(out["cluster_id"]).transform("min")).all()


def _thumb(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return hash_image(buf.getvalue())["thumb"]


def test_verify_accepts_transformed_copies_and_rejects_other_pictures(demo_root):
    files = sorted((demo_root / "files").glob("*/*.jpg"))[:6]
    pictures = [Image.open(f).convert("RGB") for f in files]
    pictures = [p for p in pictures if min(p.size) > 200][:3]
    assert len(pictures) == 3
    base = pictures[0]
    copies = [
        transforms.crop(base, 0.1, 0.05, 0.02, 0.12),
        transforms.add_frame(base, 0.1, "gilt", 1),
        transforms.colour_grade(transforms.squash(base, 0.88), 1.2, 0.8, 0.4),
    ]
    reference = _thumb(base)
    for copy in copies:
        assert dedup.verify(reference, _thumb(copy)) >= dedup.DEFAULTS["min_score"]
    for other in pictures[1:]:
        assert dedup.verify(reference, _thumb(other)) < dedup.DEFAULTS["min_score"]


def test_byte_copies_and_error_rows():
    a = hash_image(b"not an image")
    rows = pd.DataFrame([a, a, hash_image(b"other")])
    rows["key"] = ["b", "a", "c"]
    out = dedup.cluster(rows)
    assert list(out["cluster_id"]) == [0, 0, 2]
    assert list(out["matched_by"]) == ["sha256", "sha256", ""]
    with pytest.raises(TypeError):
        dedup.cluster(rows, no_such_option=1)


def test_pairs_found_are_symmetric_in_verify(demo_root):
    files = sorted((demo_root / "files").glob("*/*.jpg"))[:2]
    a, b = (hash_image(f.read_bytes())["thumb"] for f in files)
    assert abs(dedup.verify(a, b) - dedup.verify(b, a)) < 1e-6
