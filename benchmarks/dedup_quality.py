"""De-duplication quality on a demo collection: pairwise precision and recall against the truth.

Run: ``python -m benchmarks dedup_quality [--quick]`` (quick: 200 artworks, full: 1000).

Every stored file of a freshly built demo collection is hashed with its local features
(`curate.hashing.hash_files`, `curate.local_features`) and clustered (`curate.dedup.cluster`)
twice, side by side: with the thumbnails alone (``thumbnails_only``, the verifier before local
features) and with local features and their retrieval (``method``, what the pipeline runs).
Two files are a true pair when they show the same ``artwork_id``; distinct works of one
``series_id`` (other versions of a composition, a work and its replica by another hand) must
stay apart. Files with a planted defect are excluded (the count that hashed with an error is
reported). Scores are pairwise: precision = true pairs among the predicted pairs, recall =
predicted among the true pairs, overall, without "detail" copies (a close-up of part of the
work), per object type of the false pairs, and per transform (a pair is attributed to the
transform of its non-original member, or to both transforms' names joined when neither is the
original; a false pair counts against the transforms of both its members). Plain phash at
Hamming <= 10 with union-find is reported beside it as the baseline.

``missed_pairs``: each true pair the method leaves apart and why (`missed_pairs`).
``candidates_reaching_the_verifier``: the share of true pairs that some candidate search
hands to a verifier (hash, window, local-feature retrieval), directly and after joining
candidate pairs transitively. ``retrieval_direct_by_shortlist``: the retrieval's direct share for
other lengths of the shortlist it re-ranks (5: by shared words alone). ``sensitivity``: the
method's precision and recall for other ``review_inliers`` / ``accept_inliers`` (the rule's
plateau, not one point).

Targets: precision >= 0.99 and recall >= 0.98 with local features, per transform too.
Speed: ``cluster_seconds`` for the whole collection, per image the hashing and the local
features (``ms_per_image``, one core), and each verifier's milliseconds per pair on a fixed
sample of candidate pairs (BLAS pinned to one thread, as ``cluster`` does).
``local_verification``: the local verification's two economies, each side by side with the
way it replaced on the candidate pairs it is spent on, verdicts compared (see
`local_verification_milliseconds`). ``second_looks``: the method beside matching every pair
the thumbnails rejected again (``second_looks`` "all"), whole clusterings side by side
(`second_looks_compared`). ``window_search``: the method (``window_search`` "auto": no window
search where the local-feature retrieval runs) beside forcing the window search "on", whole
clusterings side by side (`window_search_compared`). ``enlargement``: the method (a small image
enlarged to the features' working size, `curate.local_features.working_gray`) beside features
extracted from the reduced decode, small images as they are (the second look below on both
sides); ``picture_region``: the
method (a picture filling a small part of its image looked at again,
`curate.local_features.with_picture_region`) beside features without that second look:
recall per transform and extraction cost side by side (`features_compared`), and
``on_walls``: originals photographed on walls wider than the demo's, retrieved and verified
both ways (`on_walls`); ``spread``: the method (keypoints spread over the image,
`curate.local_features.spread`) beside the strongest keypoints wherever they are.
"""

from __future__ import annotations

import functools
import itertools
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from curate import dedup
from curate.hashing import hash_files, hash_image
from curate.local_features import (
    FeatureOptions,
    LocalFeatures,
    detect,
    extract,
    feature_fields,
    match_pair,
    reduced_gray,
    spread,
    with_picture_region,
    working_gray,
)
from curate.pairs import near_pairs
from curate.parallel import map_ordered, process_pool
from curate.stage import Phases
from demo.build import build_collection

SHORTLISTS = (5, 10, 25, 50, 100)
SENSITIVITY = ((12, 40), (16, 40), (20, 40), (25, 40), (30, 40), (20, 30), (20, 60))
WALL_SHARES = (0.25, 0.33, 0.45)  # on_walls: the picture's share of the photograph's width


def _decoded(stored) -> LocalFeatures | None:
    """A row's stored local features, or None where it has none."""
    return LocalFeatures.from_bytes(stored) if isinstance(stored, bytes) else None


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
    hand = truth["hand"].to_numpy() if "hand" in truth else np.zeros(len(truth), int)
    merged = [(a, b) for a, b in predicted - true_pairs
              if series[a] >= 0 and series[a] == series[b] and artwork[a] != artwork[b]]
    series_merged = len(merged)
    replica_files = {(a, b) for a, b in itertools.combinations(range(len(truth)), 2)
                     if series[a] >= 0 and series[a] == series[b] and hand[a] != hand[b]}
    is_detail = truth["transform"].str.contains("detail").to_numpy()
    no_detail = {p for p in true_pairs if not (is_detail[p[0]] or is_detail[p[1]])}
    per_transform: dict[str, dict] = {}
    for a, b in sorted(true_pairs):
        entry = per_transform.setdefault(_attribution(truth, a, b),
                                         {"pairs": 0, "found": 0, "false_pairs": 0})
        entry["pairs"] += 1
        entry["found"] += (a, b) in predicted
    for a, b in sorted(predicted - true_pairs):
        for name in {truth["transform"].iat[a], truth["transform"].iat[b]}:
            entry = per_transform.setdefault(name, {"pairs": 0, "found": 0, "false_pairs": 0})
            entry["false_pairs"] += 1
    # Each single transform (a copy shows one to three, "crop+colour+mirror"): every pair
    # whose members show it, alone or with others.
    per_single: dict[str, dict] = {}

    def singles(*members: int) -> set:
        names = {n for m in members for n in str(truth["transform"].iat[m]).split("+")}
        return names - {"original", "", "nan"}

    for a, b in sorted(true_pairs):
        for name in singles(a, b):
            entry = per_single.setdefault(name, {"pairs": 0, "found": 0, "false_pairs": 0})
            entry["pairs"] += 1
            entry["found"] += (a, b) in predicted
    for a, b in sorted(predicted - true_pairs):
        for name in singles(a, b):
            entry = per_single.setdefault(name, {"pairs": 0, "found": 0, "false_pairs": 0})
            entry["false_pairs"] += 1
    for entry in [*per_transform.values(), *per_single.values()]:
        entry["recall"] = round(entry["found"] / entry["pairs"], 3) if entry["pairs"] else 1.0
        judged = entry["found"] + entry["false_pairs"]
        entry["precision"] = round(entry["found"] / judged, 3) if judged else 1.0
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
        # a work's file and its replica's (another hand): how many, how many merged
        "replica_pairs": len(replica_files),
        "replica_pairs_merged": sum(1 for a, b in merged if hand[a] != hand[b]),
        "per_single_transform": dict(sorted(per_single.items())),
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

    i, j, _ = near_pairs(ints, max_distance)
    for a, b in zip(pos[i], pos[j], strict=True):
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(x) for x in range(len(rows))])


def verify_milliseconds(rows: pd.DataFrame, truth: pd.DataFrame, pairs: int = 100) -> dict:
    """Mean ms per pair of dedup.verify and dedup.verify_detail (no hint: the full search) and
    dedup.verify_local on the first `pairs` consecutive row pairs, mostly unrelated images
    (the common case); verify_local also on up to `pairs` true pairs (a copy: the full
    match, fit and dense check)."""
    thumbs = list(rows["thumb"])[: pairs + 1]
    timings = {}

    def local(i: int, j: int) -> None:
        dedup.verify_local(rows["local_features"].iat[i], rows["local_features"].iat[j],
                           rows["thumb"].iat[i], rows["trim"].iat[i], rows["thumb"].iat[j],
                           rows["trim"].iat[j])

    same = sorted(_pairs(truth["artwork_id"].to_numpy()))[:pairs]
    with dedup.single_threaded_blas():
        for name, function in (("verify", dedup.verify), ("verify_detail", dedup.verify_detail)):
            started = time.perf_counter()
            for a, b in itertools.pairwise(thumbs):
                function(a, b)
            timings[f"{name}_ms_per_pair"] = round(
                1e3 * (time.perf_counter() - started) / max(len(thumbs) - 1, 1), 2)
        for name, chosen in (("verify_local", list(itertools.pairwise(range(len(thumbs))))),
                             ("verify_local_true_pairs", same)):
            started = time.perf_counter()
            for i, j in chosen:
                local(i, j)
            timings[f"{name}_ms_per_pair"] = round(
                1e3 * (time.perf_counter() - started) / max(len(chosen), 1), 2)
    return timings


def local_verification_milliseconds(rows: pd.DataFrame, retrieved: pd.DataFrame,
                                    hashed: pd.DataFrame, pairs: int = 300) -> dict:
    """What the two economies of the local verification save, each timed side by side on a
    fixed sample of the candidate pairs ``cluster`` sends to it (BLAS on one thread, two
    rounds in both orders), with the verdicts compared:

    - ``bounded_ransac``: on the local-feature retrieval's candidates (each with the
      orientation its query found), RANSAC stopped at the hypotheses a verdict needs against
      RANSAC drawing all its ``ransac_iterations``;
    - ``hash_pairs_plain``: on the hash candidates the thumbnails reject (matched again where
      the retrieval proposes them too, or all with ``second_looks`` "all"), matched as they
      are against matched both ways."""
    from curate.local_features import MatchOptions

    def sample(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.iloc[:: max(1, len(frame) // pairs)].iloc[:pairs]

    def verdicts(chosen: pd.DataFrame, mirrored, options: MatchOptions) -> list:
        return [dedup.verify_local(
            rows["local_features"].iat[a], rows["local_features"].iat[b], rows["thumb"].iat[a],
            rows["trim"].iat[a], rows["thumb"].iat[b], rows["trim"].iat[b],
            mirrored=mirrored(m), options=options)[:2]
            for a, b, m in zip(chosen["a"], chosen["b"], chosen["mirrored"], strict=True)]

    retrieved = sample(retrieved)
    crop = (dedup.DEFAULTS["min_scale"], dedup.DEFAULTS["min_overlap"])
    with dedup.single_threaded_blas():
        rejected = [dedup.verify(rows["thumb"].iat[a], rows["thumb"].iat[b], *crop)
                    < dedup.DEFAULTS["min_score"]
                    for a, b in zip(hashed["a"], hashed["b"], strict=True)]
    hashed = sample(hashed[rejected].assign(mirrored=False))
    sides = {  # name: (pairs, the pipeline's way, the way it is compared with, described)
        "bounded_ransac": (retrieved, (bool, MatchOptions()),
                           (bool, MatchOptions(bounded_ransac=False)),
                           "every RANSAC drawing its ransac_iterations"),
        "hash_pairs_plain": (hashed, (bool, MatchOptions()), (lambda m: None, MatchOptions()),
                             "matched both as they are and mirrored"),
    }
    out = {}
    with dedup.single_threaded_blas():
        for name, (chosen, new_way, old_way, versus) in sides.items():
            seconds, found = {"new": 0.0, "old": 0.0}, {}
            for order in (("new", "old"), ("old", "new")):
                for side in order:
                    mirrored, options = new_way if side == "new" else old_way
                    started = time.perf_counter()
                    found[side] = verdicts(chosen, mirrored, options)
                    seconds[side] += time.perf_counter() - started
            accepted = [[v[0] for v in found[side]] for side in ("new", "old")]
            out[name] = {
                "pairs": len(chosen),
                "ms_per_pair": round(1e3 * seconds["new"] / 2 / max(len(chosen), 1), 2),
                "versus": versus,
                "versus_ms_per_pair": round(1e3 * seconds["old"] / 2 / max(len(chosen), 1), 2),
                "speed_up": round(seconds["old"] / max(seconds["new"], 1e-9), 2),
                "verdicts_differing": sum(x != y for x, y in zip(*accepted, strict=True)),
                "accepted": sum(accepted[0]),
            }
    return out


def _side_by_side(rows: pd.DataFrame, truth: pd.DataFrame, clusters: pd.DataFrame,
                  workers: int | None, option: str, method: str, versus: str,
                  steps: tuple[str, ...]) -> dict:
    """Whole clusterings with the tuning key ``option`` at ``method`` (the default, whose
    ``clusters`` ran before, so compiling and caches are warm) and at ``versus``, timed side
    by side, one round in each order. Per way: the clustering's seconds and the ``steps``'
    (mean of the two rounds), the pairs those steps verify, and the true and false pairs only
    one of the two predicts."""
    seconds = {method: 0.0, versus: 0.0}
    step_seconds, step_pairs, rerun_same, found = dict(seconds), {}, True, {}
    for order in ((versus, method), (method, versus)):
        for way in order:
            phases = Phases(echo=False)
            started = time.perf_counter()
            found[way] = dedup.cluster(rows, workers=workers, phases=phases, **{option: way})
            seconds[way] += time.perf_counter() - started
            mine = [r for r in phases.rows if r["phase"] in steps]
            step_seconds[way] += sum(r["wall_s"] for r in mine)
            step_pairs[way] = sum(r.get("pairs", 0) for r in mine)
            if way == method:
                rerun_same &= found[way]["cluster_id"].equals(clusters["cluster_id"])
    true_pairs = _pairs(truth["artwork_id"].to_numpy())
    mine = _pairs(clusters["cluster_id"].to_numpy())
    theirs = _pairs(found[versus]["cluster_id"].to_numpy())
    return {
        "pairs": step_pairs[method],
        "seconds": round(step_seconds[method] / 2, 1),
        "cluster_seconds": round(seconds[method] / 2, 1),
        "versus": f"{option}: {versus}",
        "versus_pairs": step_pairs[versus],
        "versus_seconds": round(step_seconds[versus] / 2, 1),
        "versus_cluster_seconds": round(seconds[versus] / 2, 1),
        # None where the method verifies nothing in those steps (the window search under
        # "auto": a few milliseconds of bookkeeping, no ratio worth the name).
        "speed_up": round(step_seconds[versus] / step_seconds[method], 2)
        if step_pairs[method] else None,
        "cluster_speed_up": round(seconds[versus] / max(seconds[method], 1e-9), 2),
        "true_pairs_only_versus_finds": len((theirs - mine) & true_pairs),
        "false_pairs_only_versus_finds": len((theirs - mine) - true_pairs),
        "true_pairs_only_method_finds": len((mine - theirs) & true_pairs),
        "method_rerun_gives_the_same_clusters": bool(rerun_same),
    }


def second_looks_compared(rows: pd.DataFrame, truth: pd.DataFrame, clusters: pd.DataFrame,
                          workers: int | None) -> dict:
    """The method (``second_looks`` "retrieved": of the pairs the thumbnails rejected, the
    local features match again those the retrieval proposes too) beside ``second_looks``
    "all" (every pair the thumbnails rejected matched again), side by side (`_side_by_side`):
    the step ``pairs`` and ``seconds`` are the local verification's."""
    return _side_by_side(rows, truth, clusters, workers, "second_looks", "retrieved", "all",
                         ("dedup: local features verified",))


def window_search_compared(rows: pd.DataFrame, truth: pd.DataFrame, clusters: pd.DataFrame,
                           workers: int | None) -> dict:
    """The method (``window_search`` "auto", which skips the window search wherever the
    local-feature retrieval runs) beside the window search forced "on", side by side
    (`_side_by_side`): the step ``pairs`` and ``seconds`` are the window search's and its
    candidates' verification."""
    return _side_by_side(rows, truth, clusters, workers, "window_search", "auto", "on",
                         ("dedup: window search", "dedup: window candidates verified"))


def _unenlarged(data: bytes, options: FeatureOptions = FeatureOptions()) -> LocalFeatures:
    """The method's features, but the working decode's as they were before small images
    were enlarged: SIFT on the reduced decode, a small image as it is."""
    return with_picture_region(data, detect(reduced_gray(data, options.long_side_px), options),
                               options)


def _without_region(data: bytes, options: FeatureOptions = FeatureOptions()) -> LocalFeatures:
    """The method's features without the second look at a picture in a plain surround."""
    return extract(data, replace(options, picture_region=False))


def _strongest(data: bytes, options: FeatureOptions = FeatureOptions()) -> LocalFeatures:
    """The method's features, but the strongest keypoints wherever they are, not spread."""
    return extract(data, replace(options, spread_cells=1))


FEATURE_WAYS = {  # name in the results: (what the method is compared with, its extraction)
    "enlargement": ("features of the reduced decode, small images not enlarged", _unenlarged),
    "picture_region": ("no second look at a picture filling a small part of its image",
                       _without_region),
    "spread": ("the strongest keypoints wherever they are, not spread over the image",
               _strongest),
}


def _way_bytes(way: str, path: Path) -> bytes | None:
    """``way``'s features of a file, stored (None for an unreadable file)."""
    try:
        return FEATURE_WAYS[way][1](path.read_bytes()).to_bytes()
    except Exception:  # noqa: BLE001 - the method's rows carry the same file's error
        return None


def features_compared(way: str, files: list[Path], rows: pd.DataFrame, truth: pd.DataFrame,
                      clusters: pd.DataFrame, workers: int | None, images: int = 60
                      ) -> tuple[dict, list]:
    """The method's features beside ``way``'s (`FEATURE_WAYS`) on the same files: recall per
    transform (the transforms where the two differ), the pairs only one finds, and the
    extraction's milliseconds per image on one core (the first ``images`` files, each way in
    turn, twice); and ``way``'s features of every file (bytes or None)."""
    with process_pool(workers, len(files) >= 64) as pool:
        theirs_features = map_ordered(pool, functools.partial(_way_bytes, way), files)
    has = rows["local_features"].notna().to_numpy()
    versus = dedup.cluster(rows.assign(local_features=[
        f if ok else None for f, ok in zip(theirs_features, has, strict=True)]),
        workers=workers)
    mine, theirs = (score(truth, c["cluster_id"].to_numpy()) for c in (clusters, versus))
    differ = {name: {"method": entry["recall"],
                     "versus": theirs["per_single_transform"].get(name, {}).get("recall")}
              for name, entry in mine["per_single_transform"].items()
              if entry["recall"] != theirs["per_single_transform"].get(name, {}).get("recall")}
    options, data = FeatureOptions(), [f.read_bytes() for f in files[:images]]
    ms = {"method": 0.0, "versus": 0.0}
    for order in (("versus", "method"), ("method", "versus")):
        for name in order:
            started = time.perf_counter()
            for d in data:
                (extract if name == "method" else FEATURE_WAYS[way][1])(d, options)
            ms[name] += (time.perf_counter() - started) / 2
    true_pairs = _pairs(truth["artwork_id"].to_numpy())
    a, b = (_pairs(c["cluster_id"].to_numpy()) for c in (clusters, versus))
    return {
        "versus": FEATURE_WAYS[way][0],
        "recall": mine["recall"], "versus_recall": theirs["recall"],
        "precision": mine["precision"], "versus_precision": theirs["precision"],
        "recall_per_transform_where_they_differ": differ,
        "true_pairs_only_method_finds": len((a - b) & true_pairs),
        "true_pairs_only_versus_finds": len((b - a) & true_pairs),
        "false_pairs_only_versus_finds": len((b - a) - true_pairs),
        "features_ms_per_image": round(1e3 * ms["method"] / max(len(data), 1), 2),
        "versus_features_ms_per_image": round(1e3 * ms["versus"] / max(len(data), 1), 2),
    }, theirs_features


def _wall_photographs(item: tuple[Path, int], share: float) -> tuple[bytes, bytes]:
    """An original (path, seed) photographed on a plain wall at ``share`` of the photograph's
    width (demo.transforms.on_wall), as a JPEG: its features with and without the second
    look."""
    import io

    from PIL import Image

    from demo.transforms import on_wall

    path, seed = item
    with Image.open(path) as img:
        photograph = on_wall(img.convert("RGB"), share, min(0.95, 1.15 * share), seed)
    buffer = io.BytesIO()
    photograph.save(buffer, "JPEG", quality=88)
    data = buffer.getvalue()
    options = FeatureOptions()
    detected = detect(working_gray(data, options.long_side_px), options)
    once = spread(detected, options.max_keypoints, options.spread_cells)  # the first look
    return with_picture_region(data, detected, options).to_bytes(), once.to_bytes()


def on_walls(files: list[Path], rows: pd.DataFrame, truth: pd.DataFrame,
             without_region: list, workers: int | None, originals: int = 80) -> dict:
    """A harder wall than the demo's, for the second look: ``originals`` originals (every
    eighth) each photographed on a plain wall at ``WALL_SHARES`` of the photograph's width (the
    demo draws 0.35-0.75; a photograph in a gallery often shows a painting at a third of its
    width or less). Per share, with the second look (``method``) and without: the share of
    walls whose original the stage's retrieval proposes (among the whole collection and the
    walls, the collection's features made the same way) and the inliers of the pair
    (median; the share under ``review_inliers``, which no rule accepts, and under
    ``accept_inliers``, which only the dense check can accept)."""
    from curate.retrieval import candidate_pairs

    opts = dedup.DEFAULTS
    chosen = np.flatnonzero((truth["transform"] == "original").to_numpy()
                            & rows["local_features"].notna().to_numpy())[::8][:originals]
    ways = {"method": list(rows["local_features"]), "versus": list(without_region)}
    out = {"originals": len(chosen)}
    for share in WALL_SHARES:
        with process_pool(workers, True) as pool:
            walls = map_ordered(pool, functools.partial(_wall_photographs, share=share),
                                [(files[i], seed) for seed, i in enumerate(chosen)])
        entry = {}
        for k, (name, collection) in enumerate(ways.items()):
            features = [_decoded(f) for f in [*collection, *(w[k] for w in walls)]]
            found = candidate_pairs(features, opts["retrieval_neighbours"],
                                    shortlist=opts["retrieval_shortlist"])
            proposed = set(zip(found["a"].tolist(), found["b"].tolist(), strict=True))
            n = len(collection)
            retrieved = sum((min(i, n + j), max(i, n + j)) in proposed
                            for j, i in enumerate(chosen))
            inliers = np.array([match_pair(features[i], features[n + j]).inliers
                                for j, i in enumerate(chosen)])
            entry[name] = {"retrieved": round(retrieved / len(chosen), 3),
                           "inliers_median": float(np.median(inliers)),
                           "under_review_inliers": round(float(
                               (inliers < opts["review_inliers"]).mean()), 3),
                           "under_accept_inliers": round(float(
                               (inliers < opts["accept_inliers"]).mean()), 3)}
        out[f"share_{share}"] = entry
    return out


def image_milliseconds(files: list[Path], images: int = 60) -> dict:
    """Mean ms per image, one core, of hashing (`hash_image`) and of the local features
    (`extract`: working decode and SIFT) of the same bytes, and ORB at the same budget for
    comparison (cost only: the pipeline does not use it)."""
    import cv2

    cv2.setNumThreads(1)
    data = [f.read_bytes() for f in files[:images]]
    orb = cv2.ORB_create(nfeatures=FeatureOptions().max_keypoints)
    out = {}
    for name, function in (("hash", hash_image), ("local_features", extract),
                           ("orb_features", lambda d: orb.detectAndCompute(
                               working_gray(d, FeatureOptions().long_side_px), None))):
        started = time.perf_counter()
        for d in data:
            try:
                function(d)
            except Exception:  # noqa: BLE001 - a defective file costs what it costs
                pass
        out[f"{name}_ms_per_image"] = round(1e3 * (time.perf_counter() - started)
                                            / max(len(data), 1), 2)
    out["local_over_hash"] = round(out["local_features_ms_per_image"]
                                   / out["hash_ms_per_image"], 2)
    return out


def candidate_coverage(rows: pd.DataFrame, truth: pd.DataFrame) -> tuple[dict, tuple]:
    """The share of true pairs (not byte copies) that a candidate search proposes, per search
    and together, directly and after transitive closure over the proposed pairs; and the
    stage's retrieval and hash candidates (frames with columns a, b) and each search's pairs
    (sets of (a, b), a < b)."""
    from curate.retrieval import candidate_pairs

    n = len(rows)
    rank = np.arange(n)
    thumbs = [t if isinstance(t, bytes) else None for t in rows["thumb"]]
    opts = dedup.DEFAULTS
    hashed = dedup._hash_candidates(rows, 10, opts["extra_distance"], opts["hash_neighbours"],
                                    rank, np.array([t is not None for t in thumbs]))
    windows = dedup._detail_candidates(thumbs, opts["detail_neighbours"],
                                       opts["detail_min_similarity"])
    features = [_decoded(f) for f in rows["local_features"]]
    # The retrieval at each shortlist length (its direct share is reported below), the
    # stage's own among them.
    by_shortlist = {n: candidate_pairs(features, opts["retrieval_neighbours"], shortlist=n)
                    for n in sorted({*SHORTLISTS, opts["retrieval_shortlist"]})}
    retrieved = by_shortlist[opts["retrieval_shortlist"]]
    searches = {
        "hash": {(a, b) for a, b in zip(hashed["a"], hashed["b"], strict=True)},
        "window": {(min(a, b), max(a, b)) for a, b in zip(windows["a"], windows["b"],
                                                          strict=True)},
        "retrieval": set(zip(retrieved["a"].tolist(), retrieved["b"].tolist(), strict=True)),
    }
    sha = rows["sha256"].to_numpy()
    true_pairs = {p for p in _pairs(truth["artwork_id"].to_numpy()) if sha[p[0]] != sha[p[1]]}

    def closure(pairs: set) -> set:
        parent = np.arange(n)

        def find(x):
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for a, b in pairs | _pairs(sha):  # byte copies are always joined
            ra, rb = find(a), find(b)
            parent[max(ra, rb)] = min(ra, rb)
        return _pairs(np.array([find(x) for x in range(n)]))

    out = {"true_pairs": len(true_pairs)}
    # The re-ranking's shortlist: the retrieval's direct share as it grows (5: no re-ranking).
    out["retrieval_direct_by_shortlist"] = {}
    for shortlist in SHORTLISTS:
        found = by_shortlist[shortlist]
        pairs = set(zip(found["a"].tolist(), found["b"].tolist(), strict=True))
        out["retrieval_direct_by_shortlist"][shortlist] = round(
            len(true_pairs & pairs) / max(len(true_pairs), 1), 4)
    for name, pairs in [*searches.items(), ("all", set().union(*searches.values()))]:
        out[name] = {"direct": round(len(true_pairs & pairs) / max(len(true_pairs), 1), 4),
                     "transitive": round(len(true_pairs & closure(pairs))
                                         / max(len(true_pairs), 1), 4),
                     "candidates_per_image": round(len(pairs) / max(n, 1), 2)}
    return out, (retrieved, hashed, searches)


def missed_pairs(rows: pd.DataFrame, truth: pd.DataFrame, clusters: pd.DataFrame,
                 searches: dict[str, set]) -> dict:
    """Each true pair the method leaves apart, with what limits it: both files and their
    transforms and keypoints, the inliers of the pair matched directly (`match_pair`, as the
    verifier does), and which of the method's candidate searches (the hashes' and the
    retrieval's; the window search does not run beside the retrieval) proposed it. The
    reasons: fewer inliers than ``review_inliers`` (the local features cannot tell the pair,
    whatever proposes it), enough but proposed by no search, or proposed and rejected (the
    dense check)."""
    review = dedup.DEFAULTS["review_inliers"]
    found = _pairs(clusters["cluster_id"].to_numpy())
    each = []
    for a, b in sorted(_pairs(truth["artwork_id"].to_numpy()) - found):
        fa, fb = (_decoded(rows["local_features"].iat[i]) for i in (a, b))
        each.append({
            "files": [truth["file"].iat[a], truth["file"].iat[b]],
            "transforms": [truth["transform"].iat[a], truth["transform"].iat[b]],
            "keypoints": [0 if f is None else len(f) for f in (fa, fb)],
            "inliers": None if fa is None or fb is None else match_pair(fa, fb).inliers,
            "proposed_by": [name for name in ("hash", "retrieval") if (a, b) in searches[name]],
        })
    reasons = pd.Series([
        "no local features" if e["inliers"] is None
        else f"under {review} inliers" if e["inliers"] < review
        else "matched, proposed by no search" if not e["proposed_by"]
        else "matched and proposed, rejected" for e in each], dtype=object)
    return {"pairs": len(each), "by_reason": reasons.value_counts().to_dict(), "each": each}


def evaluate(root: Path, workers: int | None = None) -> dict:
    truth = pd.read_parquet(root / "ground_truth.parquet")
    truth = truth[truth["file"].notna()].reset_index(drop=True)
    files = [root / f for f in truth["file"]]
    started = time.perf_counter()
    rows = pd.DataFrame(hash_files(files, workers=workers,
                                   extra=functools.partial(feature_fields, FeatureOptions())))
    hash_s = time.perf_counter() - started
    rows["key"] = truth["copy_id"]
    clean = (truth["defect"] == "").to_numpy()
    errors_clean = int(rows["error"][clean].notna().sum())
    errors_defective = int(rows["error"][~clean].notna().sum())
    truth, rows = truth[clean].reset_index(drop=True), rows[clean].reset_index(drop=True)
    started = time.perf_counter()
    thumbnails_only = dedup.cluster(rows.drop(columns="local_features"), workers=workers)
    thumbnails_s = time.perf_counter() - started
    started = time.perf_counter()
    clusters = dedup.cluster(rows, workers=workers)
    cluster_s = time.perf_counter() - started
    coverage, (retrieved, hashed, searches) = candidate_coverage(rows, truth)
    clean_files = [f for f, ok in zip(files, clean, strict=True) if ok]
    region, without_region = features_compared("picture_region", clean_files, rows, truth,
                                                clusters, workers)
    sensitivity = {}
    for review, accept in SENSITIVITY:
        found = dedup.cluster(rows, workers=workers, review_inliers=review,
                              accept_inliers=accept)
        scored = score(truth, found["cluster_id"].to_numpy())
        sensitivity[f"review_{review}_accept_{accept}"] = {
            k: scored[k] for k in ("precision", "recall", "false_pairs_within_a_series",
                                   "replica_pairs_merged")}
    return {
        "files": int(len(clean)),
        "defective_files_excluded": int((~clean).sum()),
        "defective_files_hashed_with_error": errors_defective,
        "clean_files_hashed_with_error": errors_clean,
        "hash_and_features_seconds": round(hash_s, 1),
        "cluster_seconds": round(cluster_s, 1),
        "thumbnails_only_cluster_seconds": round(thumbnails_s, 1),
        **image_milliseconds([f for f, ok in zip(files, clean, strict=True) if ok]),
        **verify_milliseconds(rows, truth),
        "local_verification": local_verification_milliseconds(rows, retrieved, hashed),
        "second_looks": second_looks_compared(rows, truth, clusters, workers),
        "window_search": window_search_compared(rows, truth, clusters, workers),
        "enlargement": features_compared("enlargement", clean_files, rows, truth, clusters,
                                         workers)[0],
        "spread": features_compared("spread", clean_files, rows, truth, clusters, workers)[0],
        "picture_region": {**region, "on_walls": on_walls(clean_files, rows, truth,
                                                          without_region, workers)},
        "matched_by": clusters["matched_by"].replace("", "unmatched").value_counts().to_dict(),
        "candidates_reaching_the_verifier": coverage,
        "method": score(truth, clusters["cluster_id"].to_numpy()),
        "missed_pairs": missed_pairs(rows, truth, clusters, searches),
        "thumbnails_only": score(truth, thumbnails_only["cluster_id"].to_numpy()),
        "baseline_phash_10": score(truth, baseline_labels(rows)),
        "sensitivity": sensitivity,
    }


def on_demo(evaluation, quick: bool = False) -> dict:
    """``evaluation(root, workers)`` on a demo collection built for it (seed 5; 200 artworks
    quick, 1,000 full; on 2 cores at most), the artworks' count beside its result."""
    artworks = 200 if quick else 1000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "demo"
        build_collection(root, seed=5, artworks=artworks, oversized_mib=4)
        result = evaluation(root, workers=min(2, os.cpu_count() or 1))
    return {"artworks": artworks, **result}


def run(quick: bool = False) -> dict:
    return on_demo(evaluate, quick)
