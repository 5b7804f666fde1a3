"""The ``demo`` section of params.yaml (its keys and their kinds, checked before any work by
``marcus.config.check``) and the name of the collection's ground-truth file.

This module imports nothing: the ``crawl`` stage checks the section with it and the ``curate``
stage finds the ground truth with it, without loading the demo's builder or server.
"""

SPEC = {
    "seed": int, "artworks": int, "reference_year": int, "defect_share": float,
    "oversized_mib": int, "workers": int, "faults": str, "hostile": bool,
    "size_scale": float, "painter": str,
}

# One row per copy (demo/build.py writes it in the collection folder, ``paths.demo``);
# curate scores its de-duplication against it when it is there.
GROUND_TRUTH_FILE = "ground_truth.parquet"
