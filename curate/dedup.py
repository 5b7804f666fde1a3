"""Near-duplicate clusters: the same painting served by different sources.

Use it on the rows of :func:`curate.hashing.hash_image` plus an id column ``key``::

    from curate.dedup import cluster
    clusters = cluster(rows)          # same index; cluster_id, match_distance, ...

Measure it with ``python -m benchmarks dedup_quality``.

Why not just phash at Hamming <= 10: real copies of one painting differ far more than clean
synthetic transforms (a frame or mat, 10-30 % crops, colour grading, squashed aspect, a
watermark), while an artist's series (same layout, other light, moved objects) can hash closer
than two scans of one work. So the method separates *finding candidates* from *deciding*:

1. Candidates, generous on purpose. Exact byte copies (sha256); pairs within ``max_distance``
   on ``phash``; and pairs within ``extra_distance`` between *any* of an image's three hashes
   (whole image, inside its detected frame/border, central 70 % of that). Cross-type matches
   are what catch a crop (its whole-image hash is near the original's centre hash) and a frame
   the detector missed (the framed copy's centre hash is near the original's whole hash).
   The pair search is exact (``curate.pairs.near_pairs``).
2. Verification of every candidate pair except byte copies. The two 64x64 grayscale
   thumbnails are histogram-equalised (any monotone tone curve, i.e. most colour grading, then
   vanishes), turned into gradient fields, and aligned by an exhaustive search over an
   independent scale and offset per axis (crops, frames, squashed aspect ratios are all of this
   form); the score is the normalised cross-correlation of the gradient vectors over the
   overlap. Copies of one work share their brush-stroke structure at every scale and score
   high; series variants share only the coarse layout, so their gradients disagree and they
   score low. The search is a coarse pass on 32x32 over every hypothesis at once (the
   correlation of separable warps reduces to two matrix products, see `_scores`) and a local
   refinement on 64x64.
3. Union-find over the pairs that passed; ``cluster_id`` is the smallest position in ``key``
   order among the members, so it does not depend on the input's row order.

What it cannot do: a museum "detail" (a close-up of a quarter of the work) has no hash near the
whole work's, and overlaps it by less than the 60 % per axis the alignment allows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from curate.hashing import THUMB_SIDE

HASH_COLUMNS = ("phash", "phash_trim", "phash_centre")
DEFAULTS = {
    "extra_distance": 12,  # Hamming radius for the frame/centre hash candidates
    "min_score": 0.5,  # gradient correlation needed to accept a candidate pair
    "min_overlap": 0.6,  # shared extent per axis, as a fraction of both images
    "min_scale": 0.6,  # relative scale per axis searched: [min_scale, 1 / min_scale]
}


# ----------------------------------------------------------------------------------------------
# Verification: align two thumbnails and correlate their gradients


def _equalised(thumb: bytes) -> np.ndarray:
    """Thumbnail as floats in [0, 1] after histogram equalisation: a value's rank among the
    image's values (ties share one), so that gamma, brightness and contrast changes cancel."""
    pixels = np.frombuffer(thumb, np.uint8)
    cdf = np.cumsum(np.bincount(pixels, minlength=256)) / pixels.size
    return cdf[pixels].reshape(THUMB_SIDE, THUMB_SIDE).astype(np.float32)


def _gradients(img: np.ndarray) -> np.ndarray:
    gy, gx = np.gradient(img)
    return np.stack([gx, gy]).astype(np.float32)


def _half(img: np.ndarray) -> np.ndarray:
    n = img.shape[0] // 2
    return img[: 2 * n, : 2 * n].reshape(n, 2, n, 2).mean(axis=(1, 3))


def _axis_hypotheses(min_scale: float, min_overlap: float, step: float) -> np.ndarray:
    """(scale, offset) pairs for one axis: B's extent [0, 1] maps to [offset, offset + scale] in
    A's normalised coordinates, overlapping both images by at least `min_overlap`."""
    out = []
    for scale in np.geomspace(min_scale, 1 / min_scale, 15):
        for offset in np.arange(-0.5, 0.5 + 1e-9, step):
            shared = min(1.0, offset + scale) - max(0.0, offset)
            if shared >= min_overlap and shared / scale >= min_overlap:
                out.append((scale, offset))
    return np.array(out, np.float64)


def _warp_matrices(hyps: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per hypothesis: the n x n bilinear matrix taking B's samples to A's pixel grid along one
    axis (rows of A pixels that fall outside B are zero), the mask of those A pixels, and the
    mask of B pixels that land inside A."""
    centres = (np.arange(n) + 0.5) / n
    scale, offset = hyps[:, :1], hyps[:, 1:]
    b = (centres[None, :] - offset) / scale  # each A pixel's position in B, normalised
    valid_a = (b >= 0) & (b <= 1)
    pos = np.clip(b * n - 0.5, 0, n - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    mats = np.zeros((len(hyps), n, n), np.float32)
    h_idx, a_idx = np.indices(b.shape)
    np.add.at(mats, (h_idx, a_idx, lo), (1 - frac) * valid_a)
    np.add.at(mats, (h_idx, a_idx, hi), frac * valid_a)
    a_of_b = centres[None, :] * scale + offset
    valid_b = (a_of_b >= 0) & (a_of_b <= 1)
    return mats, valid_a.astype(np.float32), valid_b.astype(np.float32)


def _scores(grad_a: np.ndarray, grad_b: np.ndarray, hyp_y: np.ndarray,
            hyp_x: np.ndarray) -> np.ndarray:
    """Gradient correlation for every (y hypothesis, x hypothesis) pair at once.

    B warped onto A's grid is W = Ry B Rx^T, so sum(A * W) = sum((Ry B) * (A Rx)) and
    sum(W * W) = sum((B^T Ry^T Ry B) * (Rx^T Rx)): each a single matrix product over all
    hypothesis pairs instead of one warp per pair.
    """
    n = grad_a.shape[-1]
    ry, _, _ = _warp_matrices(hyp_y, n)
    rx, mask_x, _ = _warp_matrices(hyp_x, n)
    _, mask_y, _ = _warp_matrices(hyp_y, n)
    cross = np.zeros((len(hyp_y), len(hyp_x)), np.float64)
    energy_w = np.zeros_like(cross)
    kx = (rx.transpose(0, 2, 1) @ rx).reshape(len(hyp_x), -1)
    for a, b in zip(grad_a, grad_b, strict=True):
        ry_b = ry @ b  # (Hy, n, n)
        a_rx = a @ rx  # (Hx, n, n)
        cross += ry_b.reshape(len(hyp_y), -1) @ a_rx.reshape(len(hyp_x), -1).T
        gy = (ry_b.transpose(0, 2, 1) @ ry_b).reshape(len(hyp_y), -1)
        energy_w += gy @ kx.T
    energy_a = mask_y @ (grad_a ** 2).sum(0) @ mask_x.T
    return cross / np.sqrt(np.maximum(energy_a * energy_w, 1e-12))


def verify(thumb_a: bytes, thumb_b: bytes, min_scale: float = 0.6,
           min_overlap: float = 0.6) -> float:
    """Best gradient correlation of B aligned onto A over per-axis scale and offset, in [-1, 1].
    Symmetric up to the search grid: both roles are tried and the better kept."""
    eq_a, eq_b = _equalised(thumb_a), _equalised(thumb_b)
    best = -1.0
    half = THUMB_SIDE // 2
    coarse = _axis_hypotheses(min_scale, min_overlap, step=1 / half)
    for first, second in ((eq_a, eq_b), (eq_b, eq_a)):
        ga, gb = _gradients(_half(first)), _gradients(_half(second))
        grid = _scores(ga, gb, coarse, coarse)
        iy, ix = np.unravel_index(int(np.argmax(grid)), grid.shape)
        # Refine around the coarse optimum on the full-resolution thumbnails.
        local = [np.array([(s * f, o + d) for f in np.geomspace(0.96, 1 / 0.96, 5)
                           for d in np.linspace(-1.5, 1.5, 7) / THUMB_SIDE])
                 for s, o in (coarse[iy], coarse[ix])]
        fine = _scores(_gradients(first), _gradients(second), local[0], local[1])
        best = max(best, float(fine.max()))
    return best


# ----------------------------------------------------------------------------------------------
# Candidates and clustering


def _hash_array(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """uint64 hashes of the rows that have one, and those rows' positions."""
    ok = values.notna().to_numpy()
    ints = np.array([int(v, 16) for v in values[ok]], dtype=np.uint64)
    return ints, np.flatnonzero(ok)


def _candidates(rows: pd.DataFrame, max_distance: int, extra_distance: int) -> pd.DataFrame:
    from curate.pairs import near_pairs  # imported late: optional for callers of verify()

    found = []
    ints, pos = _hash_array(rows["phash"])
    if len(ints) > 1:
        i, j, d = near_pairs(ints, max_distance)
        found.append(pd.DataFrame({"a": pos[i], "b": pos[j], "dist": d, "via": "phash"}))
    # All three hash types in one index, so that a crop's whole-image hash can meet the
    # original's centre hash, and a missed frame's centre hash the original's whole hash.
    arrays, owners, kinds = [], [], []
    for kind, column in enumerate(HASH_COLUMNS):
        if column in rows:
            ints, pos = _hash_array(rows[column])
            arrays.append(ints)
            owners.append(pos)
            kinds.append(np.full(len(pos), kind))
    if arrays:
        ints, owner, kind = map(np.concatenate, (arrays, owners, kinds))
        i, j, d = near_pairs(ints, extra_distance)
        keep = owner[i] != owner[j]
        a, b = owner[i][keep], owner[j][keep]
        via = np.array(["phash", "frame_or_centre"])[
            ((kind[i][keep] != 0) | (kind[j][keep] != 0)).astype(int)]
        found.append(pd.DataFrame({"a": np.minimum(a, b), "b": np.maximum(a, b),
                                   "dist": d[keep], "via": via}))
    if not found:
        return pd.DataFrame({"a": [], "b": [], "dist": [], "via": []})
    pairs = pd.concat(found, ignore_index=True)
    pairs["a"], pairs["b"] = np.minimum(pairs.a, pairs.b), np.maximum(pairs.a, pairs.b)
    # One row per pair: the closest hash distance, preferring plain phash evidence on ties.
    pairs["order"] = (pairs.via != "phash").astype(int)
    pairs = pairs.sort_values(["a", "b", "dist", "order"], kind="stable")
    return pairs.drop_duplicates(["a", "b"]).drop(columns="order").reset_index(drop=True)


def _find(parent: np.ndarray, x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def cluster(rows: pd.DataFrame, max_distance: int = 10, **tuning) -> pd.DataFrame:
    """Cluster near-duplicate images. See the module docstring for the method.

    Returns a frame on ``rows.index`` with ``cluster_id`` (smallest position in ``key`` order
    among the members), ``cluster_size``, ``match_distance`` (hash distance of the row's best
    verified pair, -1 when none; 0 for byte copies), ``match_score`` (that pair's gradient
    correlation, NaN when none) and ``matched_by`` ("sha256", "phash", "frame_or_centre" or "").
    Tuning keys: see ``DEFAULTS``.
    """
    unknown = set(tuning) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown tuning keys: {sorted(unknown)}")
    opts = {**DEFAULTS, **tuning}
    n = len(rows)
    keys = rows["key"].to_numpy() if "key" in rows else np.arange(n)
    rank = np.empty(n, np.int64)
    rank[np.argsort(keys, kind="stable")] = np.arange(n)

    edges = []  # (a, b, distance, score, via)
    sha = rows["sha256"].to_numpy()
    if n:
        by_sha = pd.Series(np.arange(n)).groupby(sha, sort=False)
        for members in by_sha.groups.values():
            members = sorted(members, key=lambda m: rank[m])
            edges += [(members[0], m, 0, 1.0, "sha256") for m in members[1:]]
    byte_copy = {(min(a, b), max(a, b)) for a, b, *_ in edges}

    thumbs = rows["thumb"].to_numpy() if "thumb" in rows else np.full(n, None)
    candidates = _candidates(rows, max_distance, opts["extra_distance"]) if n > 1 else None
    if candidates is not None:
        for a, b, dist, via in candidates.itertuples(index=False):
            if (a, b) in byte_copy or thumbs[a] is None or thumbs[b] is None:
                continue
            score = verify(thumbs[a], thumbs[b], opts["min_scale"], opts["min_overlap"])
            if score >= opts["min_score"]:
                edges.append((a, b, int(dist), score, via))

    parent = np.arange(n)
    best_distance = np.full(n, -1)
    best_score = np.full(n, np.nan)
    matched_by = np.full(n, "", dtype=object)
    # Strongest evidence first, so each row reports its best pair.
    for a, b, dist, score, via in sorted(edges, key=lambda e: (-e[3], e[2])):
        ra, rb = _find(parent, a), _find(parent, b)
        if ra != rb:
            parent[max(ra, rb, key=lambda r: rank[r])] = min(ra, rb, key=lambda r: rank[r])
        for m in (a, b):
            if not matched_by[m]:
                best_distance[m], best_score[m], matched_by[m] = dist, score, via
    roots = np.array([_find(parent, i) for i in range(n)], dtype=np.int64)
    root_rank = pd.Series(rank).groupby(roots).transform("min").to_numpy() if n else rank
    out = pd.DataFrame({
        "cluster_id": root_rank.astype(np.int64),
        "match_distance": best_distance.astype(np.int64),
        "match_score": np.round(best_score, 4),
        "matched_by": matched_by.astype(str),
    }, index=rows.index)
    out["cluster_size"] = out.groupby("cluster_id")["cluster_id"].transform("size")
    return out
