"""benchmarks/parquet_reading: both ways read every row of hash-file-shaped files in processes
of their own, and reading by row group keeps its peak as the file grows fourfold."""

from __future__ import annotations


def test_the_quick_run_reads_every_row_both_ways_and_row_groups_stay_flat():
    from benchmarks.parquet_reading import WAYS, run

    result = run(quick=True)
    for rows, figures in result["sizes"].items():
        for way in WAYS:
            assert figures[way]["rows"] == int(rows)
            assert figures[way]["arrow_max_mib"] > 0 and figures[way]["peak_rss_mib"] > 0
    assert result["row_groups"]["flat"] and result["meets_target"]
