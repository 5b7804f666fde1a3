"""benchmarks/retrieval: the inverted file's row at one size reads the bags the drawing process
left, as the stage holds them (on disk), and finds what an index built in memory finds."""

from __future__ import annotations

import numpy as np


def test_the_index_row_reads_the_drawn_bags_from_disk_and_finds_the_planted_copies(tmp_path):
    from benchmarks.retrieval import index_at, synthetic_bags, write_bags
    from curate.inverted_file import InvertedFile
    from curate.retrieval import tree_for

    images = 2000
    write_bags(images, str(tmp_path))
    row = index_at(images, str(tmp_path))
    depth, branching = tree_for(images)
    bags, copies, _ = synthetic_bags(images, branching ** depth)  # drawn again, held in memory
    index = InvertedFile.build(bags, branching ** depth)
    assert row["words"] == len(bags.words)
    assert row["bags_on_disk_mib"] == round((4 * len(bags.words) + bags.offsets.nbytes) / 2**20, 1)
    assert row["postings_scanned_per_query"] == round(float(
        (np.diff(index.starts).astype(np.float64) ** 2).sum() / images), 1)
    assert row["copies_found_in_5"] >= 0.9 and row["peak_rss_mib"] > 0
    assert len(copies) == images // 100
    assert sorted(p.name for p in tmp_path.iterdir()) == [  # the index's own file went with it
        "copies.npy", "offsets.npy", "originals.npy", "words.u32"]
