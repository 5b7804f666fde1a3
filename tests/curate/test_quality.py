"""curate.stage.dedup_quality: the clusters scored against the demo's ground truth, per
transform and on the hard negatives (other works of a series, a work's replica)."""

from __future__ import annotations

import pandas as pd

from curate.stage import dedup_quality


def test_precision_recall_per_transform_and_merged_series_pairs_are_counted():
    truth = pd.DataFrame({
        "source": ["met"] * 6, "source_id": [str(i) for i in range(6)],
        "artwork_id": [0, 0, 0, 1, 2, 3], "series_id": [-1, -1, -1, 5, 5, -1],
        "hand": [0, 0, 0, 0, 1, 0],  # artwork 2 is artwork 1's replica
        "transform": ["original", "mirror", "detail", "original", "original", "watermark"],
        "file_sha256": [None] * 6})
    records = pd.DataFrame({
        "source": ["met"] * 6, "source_id": [str(i) for i in range(6)],
        "sha256": [f"s{i}" for i in range(6)],
        # The mirrored copy found, the detail missed; the series' two works merged, and the
        # watermarked other painting merged into the first artwork's cluster.
        "cluster_id": [0, 0, 2, 3, 3, 0]})
    quality = dedup_quality(records, truth)
    assert quality["pairs_true"] == 3 and quality["series_pairs_merged"] == 1
    assert quality["replica_pairs_merged"] == 1
    mirror, detail = quality["per_transform"]["mirror"], quality["per_transform"]["detail"]
    assert mirror == {"pairs": 2, "recall": 0.5, "false_pairs": 1, "precision": 0.5}
    assert detail["recall"] == 0.0 and detail["false_pairs"] == 0
    assert quality["per_transform"]["watermark"] == {"pairs": 0, "recall": 1.0,
                                                     "false_pairs": 2, "precision": 0.0}
