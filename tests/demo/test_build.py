"""Building the demo collection (demo/build.py): deterministic bytes, honest ground truth, real
broken files.
"""

import hashlib
import io
import json

import pandas as pd
import pytest
from PIL import Image

from demo.build import GROUND_TRUTH_SCHEMA, build_collection
from demo.catalog import expected_size


@pytest.fixture(scope="module")
def truth(demo_root):
    return pd.read_parquet(demo_root / "ground_truth.parquet")


@pytest.mark.e2e  # two builds of the collection
def test_same_params_give_identical_files_whatever_the_worker_count(tmp_path):
    a = tmp_path / "a"
    b = tmp_path / "b"
    build_collection(a, seed=5, artworks=25, oversized_mib=1, workers=1)
    build_collection(b, seed=5, artworks=25, oversized_mib=1, workers=2)
    files_a = pd.read_parquet(a / "files.parquet")
    files_b = pd.read_parquet(b / "files.parquet")
    pd.testing.assert_frame_equal(files_a, files_b)
    for rel in files_a["file"]:
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
    assert (a / "ground_truth.parquet").read_bytes() == (b / "ground_truth.parquet").read_bytes()


@pytest.mark.e2e  # two builds of the collection
def test_a_scaled_fast_build_has_the_same_records_in_smaller_files(tmp_path):
    from demo.collection import DemoCollection

    build_collection(tmp_path / "full", seed=5, artworks=20, oversized_mib=1, workers=1)
    build_collection(tmp_path / "small", seed=5, artworks=20, oversized_mib=1, workers=1,
                     size_scale=0.5, painter="fast")
    full, small = (pd.read_parquet(tmp_path / n / "ground_truth.parquet")
                   for n in ("full", "small"))
    files = ["file", "file_sha256", "file_bytes", "width", "height"]
    pd.testing.assert_frame_equal(full.drop(columns=files), small.drop(columns=files))
    info = json.loads((tmp_path / "small" / "collection.json").read_text())
    assert (info["size_scale"], info["painter"]) == (0.5, "fast")
    served = DemoCollection(tmp_path / "small")        # the server rebuilds the same catalogue
    good = small[(small["defect"] == "") & small["file"].notna()]
    assert len(good) and (good["file_bytes"].sum() < 0.5 * full.loc[good.index, "file_bytes"].sum())
    for row in good.itertuples():
        copy = served.copies[row.copy_id]
        assert (row.width, row.height) == expected_size(served.artwork(copy), copy, 0.5)
    with pytest.raises(ValueError, match="painter"):
        build_collection(tmp_path / "bad", seed=5, artworks=20, painter="quick")


def test_rebuild_replaces_the_folder_atomically(tmp_path):
    out = tmp_path / "demo"
    build_collection(out, seed=1, artworks=12, oversized_mib=1)
    (out / "stale.txt").write_text("from an older build")
    build_collection(out, seed=1, artworks=12, oversized_mib=1)
    assert not (out / "stale.txt").exists()
    assert json.loads((out / "collection.json").read_text())["artworks"] == 12
    assert not [p for p in tmp_path.iterdir() if p.name != "demo"]  # no temp folders left


def test_ground_truth_schema_and_file_hashes(demo_root, truth):
    import pyarrow.parquet as pq

    assert pq.read_schema(demo_root / "ground_truth.parquet").equals(GROUND_TRUTH_SCHEMA)
    stored = truth.dropna(subset=["file"])
    assert len(stored) == (truth["defect"] != "oversized").sum()
    for row in stored.itertuples():
        data = (demo_root / row.file).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row.file_sha256
        assert len(data) == row.file_bytes


def test_image_sizes_match_catalogue_and_span_300_to_3000(demo_collection, truth):
    good = truth[truth["defect"] == ""].dropna(subset=["file"])
    for row in good.itertuples():
        copy = demo_collection.copies[row.copy_id]
        assert (row.width, row.height) == expected_size(demo_collection.artwork(copy), copy)
    long_sides = good[["width", "height"]].max(axis=1)
    # A small web image, and a close-up of a small part of a reduced copy, can be smaller.
    small = good["transform"].str.contains("low_res|detail")
    regular = long_sides[(good["distractor"] != "tiny") & ~small]
    assert regular.min() >= 150 and regular.max() <= 3400
    assert long_sides[small].between(60, 3400).all()
    assert (good["file_format"] == "PNG").any() and (good["file_format"] == "JPEG").any()


def test_exact_copies_share_bytes_and_transformed_copies_do_not(truth):
    exact = truth[truth["is_exact_copy_of"] != ""]
    assert len(exact)
    by_id = truth.set_index("copy_id")
    for row in exact.itertuples():
        assert row.file_sha256 == by_id.loc[row.is_exact_copy_of, "file_sha256"]
    # Transformed copies each have bytes of their own, but for exact copies of them (which
    # carry the transforms that made those bytes).
    transformed = truth[(truth["transform"] != "original") & (truth["defect"] == "")
                        & (truth["is_exact_copy_of"] == "")]
    assert transformed["file_sha256"].is_unique


@pytest.mark.parametrize("defect", ["corrupt", "truncated", "decompression_bomb", "not_image",
                                    "html_error"])
def test_broken_files_really_are_broken(demo_root, truth, defect):
    rows = truth[truth["defect"] == defect]
    assert len(rows) >= 1
    for row in rows.itertuples():
        data = (demo_root / row.file).read_bytes()
        with pytest.raises((OSError, Image.DecompressionBombError, SyntaxError)):
            with Image.open(io.BytesIO(data)) as im:
                im.load()


def test_tiny_images_are_tiny(truth):
    tiny = truth[truth["distractor"] == "tiny"]
    assert len(tiny) and (tiny[["width", "height"]].max(axis=1) <= 150).all()
    assert all("resolution" in r for r in tiny["expected_reject"])
