"""benchmarks.dvc_scale: its packed store is the crawl's own, and every DVC step it times runs
for real on a tiny store."""

from __future__ import annotations

from benchmarks.dvc_scale import IMAGES_PER_PACK, RESUMED_FILES, measure


def test_a_resumed_packed_crawl_adds_packs_of_its_own_and_pulls_back_whole(tmp_path):
    row = measure(30, "packed", tmp_path)
    # 30 images in the first run's pack; the resumed run's 1,000 in packs of IMAGES_PER_PACK.
    resumed_packs = -(-RESUMED_FILES // IMAGES_PER_PACK)
    assert row["files"] == 2 * (1 + resumed_packs)  # a pack and its index each
    assert row["images"] == 30  # measure asserts that the pull brought back all 1,030


def test_the_loose_layout_is_one_file_per_image(tmp_path):
    row = measure(30, "loose", tmp_path)
    assert row["files"] == 30 + RESUMED_FILES
