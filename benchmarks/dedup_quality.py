"""De-duplication quality on a demo collection: pairwise precision and recall against the truth.

Run: ``python -m benchmarks dedup_quality [--quick]`` (quick: 200 artworks, full: 1000).

Every stored file of a freshly built demo collection is hashed (`curate.hashing.hash_files`)
and clustered (`curate.dedup.cluster`). Two files are a true pair when they show the same
``artwork_id``; distinct works of one ``series_id`` (same composition) must stay apart.
Files with a planted defect are excluded (the count that hashed with an error is reported).
Scores are pairwise: precision = true pairs among the predicted pairs, recall = predicted among
the true pairs, overall, without "detail" copies (a close-up of part of the work), per object
type of the false pairs, and per transform (a pair is attributed to the transform of its
non-original member, or to both transforms' names joined when neither is the original).
Plain phash at Hamming <= 10 with union-find is reported beside it as the baseline.

Targets: precision >= 0.99 and recall >= 0.95 over the planted transforms, details included.
Speed: ``cluster_seconds`` for the whole collection, and the verifiers' milliseconds per pair
on a fixed sample of candidate pairs (BLAS pinned to one thread, as ``cluster`` does).
"""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd

from curate import dedup
from curate.hashing import hash_files
from demo.build import build_collection


def _brute_near_pairs(hashes: np.ndarray, max_distance: int):
    """Stand-in for curate.pairs.near_pairs while that module does not exist yet."""
    h = np.asarray(hashes, dtype=np.uint64)
    out_i, out_j, out_d = [], [], []
    for i in range(len(h) - 1):
        x = (h[i] ^ h[i + 1:]).view(np.uint8).reshape(-1, 8)
        d = np.unpackbits(x, axis=1).sum(1)
        k = np.flatnonzero(d <= max_distance)
        out_i.append(np.full(len(k), i))
        out_j.append(k + i + 1)
        out_d.append(d[k])
    if not out_i:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0, int)
    return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_d)


def _near_pairs():
    try:
        from curate.pairs import near_pairs
    except ImportError:
        module = types.ModuleType("curate.pairs")
        module.near_pairs = _brute_near_pairs
        sys.modules["curate.pairs"] = module
        near_pairs = _brute_near_pairs
    return near_pairs


def _pairs(labels: np.ndarray) -> set[tuple[int, int]]:
    out = set()
    for members in pd.Series(np.arange(len(labels))).groupby(labels).groups.values():
        out.update(itertools.combinations(sorted(members), 2))
    return out


def _attribution(truth: pd.DataFrame, a: int, b: int) -> str:
    ta, tb = truth["transform"].iat[a], truth["transform"].iat[b]
    if ta == "original":
        return tb
    if tb == "original":
        return ta
    return f"{ta} & {tb}"


def score(truth: pd.DataFrame, predicted_labels: np.ndarray) -> dict:
    true_pairs = _pairs(truth["artwork_id"].to_numpy())
    predicted = _pairs(predicted_labels)
    hits = true_pairs & predicted
    series = truth["series_id"].to_numpy()
    artwork = truth["artwork_id"].to_numpy()
    series_merged = sum(1 for a, b in predicted - true_pairs
                        if series[a] >= 0 and series[a] == series[b] and artwork[a] != artwork[b])
    is_detail = truth["transform"].str.contains("detail").to_numpy()
    no_detail = {p for p in true_pairs if not (is_detail[p[0]] or is_detail[p[1]])}
    per_transform: dict[str, dict] = {}
    for a, b in sorted(true_pairs):
        entry = per_transform.setdefault(_attribution(truth, a, b), {"pairs": 0, "found": 0})
        entry["pairs"] += 1
        entry["found"] += (a, b) in predicted
    for entry in per_transform.values():
        entry["recall"] = round(entry["found"] / entry["pairs"], 3)
    return {
        "true_pairs": len(true_pairs),
        "predicted_pairs": len(predicted),
        "precision": round(len(hits) / max(len(predicted), 1), 4),
        "recall": round(len(hits) / max(len(true_pairs), 1), 4),
        "recall_without_details": round(len(hits & no_detail) / max(len(no_detail), 1), 4),
        "false_pairs": len(predicted - true_pairs),
        "false_pairs_by_object_type": dict(sorted(pd.Series(
            [f"{truth['object_type'].iat[a]} & {truth['object_type'].iat[b]}"
             for a, b in predicted - true_pairs], dtype=object).value_counts().items())),
        "false_pairs_within_a_series": series_merged,
        "per_transform": dict(sorted(per_transform.items())),
    }


def baseline_labels(rows: pd.DataFrame, max_distance: int = 10) -> np.ndarray:
    """Plain phash within `max_distance`, union-find, no verification."""
    ok = rows["phash"].notna().to_numpy()
    pos = np.flatnonzero(ok)
    ints = np.array([int(h, 16) for h in rows["phash"][ok]], dtype=np.uint64)
    parent = np.arange(len(rows))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    i, j, _ = _near_pairs()(ints, max_distance)
    for a, b in zip(pos[i], pos[j], strict=True):
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(x) for x in range(len(rows))])


def verify_milliseconds(rows: pd.DataFrame, pairs: int = 100) -> dict:
    """Mean ms per pair of dedup.verify and dedup.verify_detail (no hint: the full search) on
    the first `pairs` consecutive row pairs, mostly unrelated images (the common case)."""
    thumbs = list(rows["thumb"])[: pairs + 1]
    timings = {}
    with dedup.single_threaded_blas():
        for name, function in (("verify", dedup.verify), ("verify_detail", dedup.verify_detail)):
            started = time.perf_counter()
            for a, b in itertools.pairwise(thumbs):
                function(a, b)
            timings[f"{name}_ms_per_pair"] = round(
                1e3 * (time.perf_counter() - started) / max(len(thumbs) - 1, 1), 2)
    return timings


def evaluate(root: Path, workers: int | None = None) -> dict:
    _near_pairs()
    truth = pd.read_parquet(root / "ground_truth.parquet")
    truth = truth[truth["file"].notna()].reset_index(drop=True)
    started = time.perf_counter()
    rows = pd.DataFrame(hash_files([root / f for f in truth["file"]], workers=workers))
    hash_s = time.perf_counter() - started
    rows["key"] = truth["copy_id"]
    clean = (truth["defect"] == "").to_numpy()
    errors_clean = int(rows["error"][clean].notna().sum())
    errors_defective = int(rows["error"][~clean].notna().sum())
    truth, rows = truth[clean].reset_index(drop=True), rows[clean].reset_index(drop=True)
    started = time.perf_counter()
    clusters = dedup.cluster(rows)
    cluster_s = time.perf_counter() - started
    return {
        "files": int(len(clean)),
        "defective_files_excluded": int((~clean).sum()),
        "defective_files_hashed_with_error": errors_defective,
        "clean_files_hashed_with_error": errors_clean,
        "hash_seconds": round(hash_s, 1),
        "cluster_seconds": round(cluster_s, 1),
        **verify_milliseconds(rows),
        "matched_by": clusters["matched_by"].replace("", "unmatched").value_counts().to_dict(),
        "method": score(truth, clusters["cluster_id"].to_numpy()),
        "baseline_phash_10": score(truth, baseline_labels(rows)),
    }


def run(quick: bool = False) -> dict:
    artworks = 200 if quick else 1000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "demo"
        build_collection(root, seed=5, artworks=artworks, oversized_mib=4)
        result = evaluate(root, workers=min(2, os.cpu_count() or 1))
    return {"artworks": artworks, **result}
