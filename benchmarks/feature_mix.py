"""Which local features hold the de-duplication's recall, at what cost per image: the SIFT the
hash stage stores, cheaper SIFT (a smaller decode, fewer keypoints), and ORB (binary, far cheaper
to extract) as the verifier.

Run: ``python -m benchmarks feature_mix [--quick]`` (quick: 200 artworks, full: 1000, the
dedup_quality benchmark's demo collection; about 20 minutes on 2 cores, alone).

Every clean stored file's features are extracted each way (``ways``: SIFT at each setting
through `curate.local_features.extract`, spread and with the second look as stored; ORB at the
working decode with the same budget, spread the same way), then:

- ``ms_per_image``: one core, the same 60 files, decode included, the ways taking turns on
  each file, and each way's ratio to the stored way (``over_stored``: the machine's drift
  cancels there; compare ratios across runs, not ms). ORB's row counts two extractions:
  ORB's descriptor of a mirrored picture is no permutation of the original's, so a mirrored
  copy needs the mirrored image's own ORB (SIFT's `MIRROR_PERMUTATION` saves that).
- ``verifier``: each pair matched as the verifier matches (ratio test 0.8, one match per
  keypoint of B, RANSAC affine then homography at the same tolerance: `curate.local_features`,
  ORB by Hamming distance) and the inliers counted, plain and mirrored: true pairs (byte copies
  left out), pairs of distinct works of one series (other versions of a composition, replicas by
  another hand: the hard negatives) and random unrelated pairs. The share at ``review_inliers``
  and at ``accept_inliers`` (curate.dedup.DEFAULTS) of each kind, the hard negatives' most
  inliers, and true pairs per single transform.
- ``retrieval``: the share of true pairs (and of detail pairs) that the retrieval
  (`curate.retrieval.candidate_pairs`, the stage's shortlist and neighbours) proposes directly
  from each SIFT setting. ORB has no retrieval: the vocabulary is RootSIFT's.

A mix is one way for the retrieval and one for the verifier; its cost per image is the sum of
the two ways' (one, where they are the same way).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.dedup_quality import _pairs, on_demo
from curate import dedup
from curate.local_features import (
    FeatureOptions,
    LocalFeatures,
    MatchOptions,
    _fit,
    extract,
    match_pair,
    one_per_keypoint_of_b,
    spread,
    stretched,
    working_gray,
)
from curate.parallel import map_ordered, process_pool
from curate.retrieval import candidate_pairs

SIFT_WAYS = {  # name: (long_side_px, max_keypoints); the first is what the hash stage stores
    "sift_512_1000": (512, 1000),
    "sift_384_1000": (384, 1000),
    "sift_512_500": (512, 500),
    "sift_384_500": (384, 500),
}
ORB_WAY = "orb_512_1000"
TIMED_IMAGES = 60
UNRELATED_PAIRS = 1000


@dataclass(frozen=True)
class OrbFeatures:
    """ORB keypoints of an image and of its mirror image: positions (n, 2) in the working
    decode's pixels (the mirror image's own), 32-byte descriptors, the decode's size."""

    xy: np.ndarray
    desc: np.ndarray
    mirrored_xy: np.ndarray
    mirrored_desc: np.ndarray
    size: tuple[int, int]


_ORB: dict = {}


def _orb_spread(gray: np.ndarray, options: FeatureOptions) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    if "orb" not in _ORB:
        cv2.setNumThreads(1)
        _ORB["orb"] = cv2.ORB_create(nfeatures=2 * options.max_keypoints)
    keypoints, desc = _ORB["orb"].detectAndCompute(gray, None)
    if not keypoints:
        return np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
    table = np.array([(k.response, k.pt[0], k.pt[1]) for k in keypoints])
    order = np.lexsort((table[:, 2], table[:, 1], -table[:, 0]))  # strongest first
    found = LocalFeatures(table[order, 1:3].astype(np.float32), desc[order],
                          (gray.shape[1], gray.shape[0]))
    kept = spread(found, options.max_keypoints, options.spread_cells)
    return kept.xy, kept.desc


def orb_features(data: bytes, options: FeatureOptions = FeatureOptions()) -> OrbFeatures:
    """ORB at the same working decode (grey levels stretched) and budget as SIFT, spread the
    same way, of the image and of its mirror image."""
    gray = stretched(working_gray(data, options.long_side_px))
    xy, desc = _orb_spread(gray, options)
    mxy, mdesc = _orb_spread(np.ascontiguousarray(gray[:, ::-1]), options)
    return OrbFeatures(xy, desc, mxy, mdesc, (gray.shape[1], gray.shape[0]))


def _way(item: tuple[str, Path]):
    way, path = item
    try:
        data = path.read_bytes()
        if way == ORB_WAY:
            return orb_features(data)
        side, keypoints = SIFT_WAYS[way]
        return extract(data, FeatureOptions(long_side_px=side, max_keypoints=keypoints))
    except Exception:  # noqa: BLE001 - an unreadable file has no features, as in the stage
        return None


def hamming_ratio_matches(a: np.ndarray, b: np.ndarray, ratio: float
                          ) -> tuple[np.ndarray, np.ndarray]:
    """`curate.local_features.ratio_matches` for binary descriptors (rows of packed bits):
    Hamming distances, nearest clearly nearer than the second, one match per row of ``b``."""
    if len(a) < 2 or len(b) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    bits_a = np.unpackbits(a, axis=1).astype(np.float32)
    bits_b = np.unpackbits(b, axis=1).astype(np.float32)
    distance = bits_a.sum(1)[:, None] + bits_b.sum(1)[None, :] - 2 * bits_a @ bits_b.T
    rows = np.arange(len(a))
    best = distance.argmin(1)
    d1 = distance[rows, best]
    distance[rows, best] = np.inf
    d2 = distance.min(1)
    return one_per_keypoint_of_b(np.flatnonzero(d1 < ratio * d2), best, d1)


def orb_inliers(a: OrbFeatures, b: OrbFeatures, options: MatchOptions = MatchOptions(),
                enough_inliers: int = 40) -> int:
    """Inliers of A against B as `curate.local_features.match_pair` counts them: as it is,
    then against the mirror image when that finds fewer than ``enough_inliers``."""
    best = 0
    for xy, desc in ((b.xy, b.desc), (b.mirrored_xy, b.mirrored_desc)):
        ia, ib = hamming_ratio_matches(a.desc, desc, options.ratio)
        if len(ia) >= 3:
            mask, _, _ = _fit(a.xy[ia].astype(np.float64), xy[ib].astype(np.float64), a.size,
                              b.size, options)
            best = max(best, int(mask.sum()))
        if best >= enough_inliers:
            break
    return best


def _inliers(features: list, a: int, b: int) -> int:
    fa, fb = features[a], features[b]
    if fa is None or fb is None:
        return 0
    if isinstance(fa, OrbFeatures):
        return orb_inliers(fa, fb)
    return match_pair(fa, fb).inliers


def _shares(inliers: np.ndarray) -> dict:
    review, accept = dedup.DEFAULTS["review_inliers"], dedup.DEFAULTS["accept_inliers"]
    return {"pairs": int(len(inliers)),
            "at_review": round(float((inliers >= review).mean()), 4) if len(inliers) else None,
            "at_accept": round(float((inliers >= accept).mean()), 4) if len(inliers) else None,
            "most": int(inliers.max()) if len(inliers) else None}


def verifier(features: dict[str, list], truth: pd.DataFrame, true_pairs: list[tuple[int, int]],
             seed: int = 0) -> dict:
    """Per way: the ``true_pairs``, hard negatives (distinct works of one series) and unrelated
    pairs, their inliers' shares at the rule's thresholds, and true pairs per single
    transform (each name a copy's transform is made of: "crop+colour" is crop and colour)."""
    artwork = truth["artwork_id"].to_numpy()
    series = truth["series_id"].to_numpy()
    hard = sorted(p for p in _pairs(np.where(series >= 0, series, -1 - np.arange(len(series))))
                  if artwork[p[0]] != artwork[p[1]])
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, len(truth), (3 * UNRELATED_PAIRS, 2))
    # In the order drawn (a sorted cut would lean to pairs whose first file comes early).
    unrelated = list(dict.fromkeys((min(a, b), max(a, b)) for a, b in drawn
                                   if artwork[a] != artwork[b]
                                   and (series[a] < 0 or series[a] != series[b])))
    unrelated = unrelated[:UNRELATED_PAIRS]
    singles = [set(str(truth["transform"].iat[a]).split("+"))
               | set(str(truth["transform"].iat[b]).split("+")) for a, b in true_pairs]
    names = sorted(set().union(*singles) - {"original", "", "nan"})
    out = {}
    for way, found in features.items():
        counted = {kind: np.array([_inliers(found, a, b) for a, b in pairs], np.int64)
                   for kind, pairs in (("true_pairs", true_pairs), ("hard_negatives", hard),
                                       ("unrelated", unrelated))}
        entry = {kind: _shares(inliers) for kind, inliers in counted.items()}
        entry["true_pairs_per_single_transform"] = {
            name: _shares(counted["true_pairs"][[name in s for s in singles]])
            for name in names}
        out[way] = entry
    return out


def retrieval(features: dict[str, list], truth: pd.DataFrame, true_pairs: list[tuple[int, int]],
              workers: int) -> dict:
    """Per SIFT way: the share of the ``true_pairs``, and of those with a detail, among the
    retrieval's candidate pairs."""
    true_pairs = set(true_pairs)
    detail = truth["transform"].str.contains("detail").to_numpy()
    details = {p for p in true_pairs if detail[p[0]] or detail[p[1]]}
    out = {}
    for way in SIFT_WAYS:
        found = candidate_pairs(features[way], dedup.DEFAULTS["retrieval_neighbours"],
                                shortlist=dedup.DEFAULTS["retrieval_shortlist"],
                                workers=workers)
        pairs = set(zip(found["a"].tolist(), found["b"].tolist(), strict=True))
        out[way] = {"true_pairs": round(len(true_pairs & pairs) / max(len(true_pairs), 1), 4),
                    "detail_pairs": round(len(details & pairs) / max(len(details), 1), 4)}
    return out


def milliseconds(files: list[Path], rounds: int = 3) -> dict:
    """Per way, ms per image on one core over the same files, and its ratio to the stored
    way's. The ways take turns on each file (a machine whose speed drifts slows all alike),
    in ``rounds`` rounds; each way's fastest round counts."""
    ways = (*SIFT_WAYS, ORB_WAY)
    spent = np.zeros((rounds, len(ways)))
    timed = files[:TIMED_IMAGES]
    for r in range(rounds):
        for path in timed:
            for w, way in enumerate(ways):
                started = time.perf_counter()
                _way((way, path))
                spent[r, w] += time.perf_counter() - started
    best = 1e3 * spent.min(0) / max(len(timed), 1)
    return {way: {"ms": round(float(best[w]), 2), "over_stored": round(float(best[w] / best[0]), 3)}
            for w, way in enumerate(ways)}


def evaluate(root: Path, workers: int) -> dict:
    truth = pd.read_parquet(root / "ground_truth.parquet")
    truth = truth[truth["file"].notna() & (truth["defect"] == "")].reset_index(drop=True)
    files = [root / f for f in truth["file"]]
    sha256 = truth["file_sha256"].to_numpy()
    true_pairs = sorted(p for p in _pairs(truth["artwork_id"].to_numpy())
                        if sha256[p[0]] != sha256[p[1]])  # byte copies need no features
    ms = milliseconds(files)
    features = {}
    with process_pool(workers, True) as pool:
        for way in (*SIFT_WAYS, ORB_WAY):
            features[way] = map_ordered(pool, _way, [(way, f) for f in files], 8)
    return {"files": len(files), "ms_per_image": ms,
            "retrieval": retrieval(features, truth, true_pairs, workers),
            "verifier": verifier(features, truth, true_pairs)}


def run(quick: bool = False) -> dict:
    return on_demo(evaluate, quick)
