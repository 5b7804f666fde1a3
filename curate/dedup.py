"""Near-duplicate clusters: the same painting served by different sources.

Use it on the rows of :func:`curate.hashing.hash_image` plus an id column ``key``::

    from curate.dedup import cluster
    clusters = cluster(rows)          # same index; cluster_id, match_distance, ...

Measure it with ``python -m benchmarks dedup_quality``.

Why not just phash at Hamming <= 10: real copies of one painting differ far more than clean
synthetic transforms (a frame or mat, 10-30 % crops, colour grading, squashed aspect, a
watermark, a museum's "detail" close-up), while an artist's series (same layout, other light,
moved objects) can hash closer than two scans of one work. So the method separates *finding
candidates* from *deciding*:

1. Candidates, generous on purpose.
   - Exact byte copies (sha256); only the first of each enters the searches below.
   - Pairs within ``max_distance`` on ``phash``, and within ``extra_distance`` between *any* of
     an image's three hashes (whole image, inside its detected frame/border, central 70 % of
     that): a crop's whole-image hash is near the original's centre hash, a missed frame's
     centre hash near the original's whole hash. Exact search (``curate.pairs``) keeping each
     image's ``hash_neighbours`` nearest: paintings' hashes crowd (dark portraits, an
     artist's series), so the pairs within a radius grow as N^2 while an image's true copies
     stay a few.
   - Windows, for details and for crops or frames that no hash caught, where the
     local-feature retrieval (below) cannot find them (``window_search``): each thumbnail is cut
     into strided square windows of 44-62 % (detail) and 75-100 % (crop, frame) per axis, and
     each window and each whole thumbnail is reduced to an 8x8 rank-equalised, zero-mean,
     unit-norm descriptor. Every image's whole descriptor is compared with every window of
     every other image (block-wise matrix products); its ``detail_neighbours`` best images
     above ``detail_min_similarity`` become candidates, the best window giving the
     alignment's starting point (beyond a few thousand images through an index, see Cost).
     This coarse descriptor only ranks (the true original is in the top few); it never
     decides.
2. Verification of every candidate pair except byte copies, on the 64x64 grayscale thumbnails:
   histogram-equalised (any monotone tone curve, i.e. most colour grading, vanishes), high-
   passed (minus a 3x3 blur: smooth shading such as a lit sculpture or a sky carries no
   identity) and turned into gradient fields, then aligned over an independent scale and
   offset per axis (crops, frames, squashed aspect ratios and close-ups are all of this form).
   The search runs coarse to fine: every hypothesis on 16x16 (correlations of separable warps
   reduce to two matrix products, see `_scores`; a pair whose best is below
   ``COARSE_MIN_SCORE`` stops there), the best few refined locally on 32x32 and 64x64. A
   detail is searched only with B inside A at 40-70 % scale (near the window hint when there
   is one), compared at matching resolutions (A's 64x64 region against B at 32x32).
   The score is *robust gradient agreement*: the overlap is cut into 4x4 tiles, tiles with
   little gradient energy in either image (plain backdrops, skies, flat mats) are ignored, and
   the score is the lower quartile of the textured tiles' gradient correlations, capped by
   the global correlation. Copies agree in every textured tile (brush strokes, edges inside
   the object); two photographs sharing a backdrop or a silhouette agree in a few tiles at
   most, and series variants share only the coarse layout, so their gradients disagree.
   The many small matrix products run with BLAS pinned to one thread (`single_threaded_blas`).
3. Local features, where the rows carry them (``local_features``, from the ``hash@SOURCE``
   stage: :mod:`curate.local_features`). Thumbnails cannot see a copy photographed at an angle,
   a mirrored copy or a close-up of a small part. Each image's ``retrieval_neighbours`` best
   candidates by shared visual words (its ``retrieval_shortlist`` most similar, re-ranked by
   the words' spatial agreement: :mod:`curate.retrieval`, :mod:`curate.rerank`) that no
   verifier accepted go to `verify_local`, in the orientation the retrieval's plain or
   mirrored query found them (a pair the thumbnails rejected also as it is). The thumbnails'
   other rejects go too only with ``second_looks`` "all" (or the retrieval off): the
   retrieval ranks by the evidence the verifier counts, and on the demo those pairs were
   many of the local verifications and none was accepted (``second_looks`` in
   ``benchmarks/results/dedup_quality.json``). `verify_local`: SIFT matches explained by one
   RANSAC transform, fewer than ``review_inliers`` reject, otherwise the thumbnails put in
   register by that transform must agree
   (`aligned_agreement`, the robust score above), or at least ``accept_inliers`` inliers must
   cover most of the shared picture (a watermark or frame template shared by two different
   pictures explains tens of matches on a sliver of them, and nothing else agrees). The other
   way round, a pair the thumbnails accepted needs ``review_inliers`` inliers too where both
   images have local features (`_confirmed_by_local_features`): two paintings photographed
   small on plain walls agree at 64 px on the wall and the picture's outline, and on nothing
   inside.
   Every verdict can be kept between runs (``verdicts``, :mod:`curate.verdicts`): a run that
   was killed, or that follows a crawl adding images, judges only pairs not judged before.
4. Union-find over the pairs that passed; ``cluster_id`` is the smallest position in ``key``
   order among the members, so it does not depend on the input's row order.

Cost (2-core dev box, busy): ``verify`` ~8 ms and ``verify_detail`` ~11 ms per pair (the old
exhaustive 32x32 search: 30-90 ms); 37 s to cluster 1,290 files (was 93 s). The hash
candidates are at most ``hash_neighbours`` per image, so their verification is linear in
N. The window search is exact brute force up to
``exact_window_search_max`` images (4,096: O(N^2) comparisons of ~330 windows, 7 s for 1,000
images); larger collections search it through an inverted file over the whole-image
descriptors (cosine k-means into ~sqrt(8N) lists, each whole in its 8 nearest lists, each
window compared with the wholes of its one nearest list: O(N^1.5), windows built a block at a
time so memory stays O(N)). That index
returned 99.9 % of the exact search's candidates on the demo collection; ``python -m
benchmarks detail_search`` measures it up to 64,000 images (141 s, 99.3 % of the exact
candidates) and projects 1,000,000: about 2.5 hours on one core, against 45 days exact.
``detail_neighbours=0`` switches the window search off (details and hash-missed crops are then
left to the local features), and so does ``window_search`` "auto", the default, wherever the
local-feature retrieval runs (`WINDOW_SEARCH` says why). Verification is linear in the
candidates, a few per image. The local features may be a list in memory or a
:class:`curate.feature_store.FeatureStore` that reads one image's at a time (the stage's way:
about 136 bytes per keypoint, 136 KB per image at 1,000 keypoints); a local verification
costs a few milliseconds, mostly the 1,000 x 1,000 descriptor product.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from curate.hashing import THUMB_SIDE
from curate.parallel import imap_ordered, map_ordered, process_pool, single_threaded_blas

HASH_COLUMNS = ("phash", "phash_trim", "phash_centre")
DEFAULTS = {
    "extra_distance": 12,  # Hamming radius for the frame/centre hash candidates
    "hash_neighbours": 8,  # hash candidates kept per image, nearest first
    "min_score": 0.35,  # robust gradient agreement needed to accept a candidate pair
    "min_overlap": 0.6,  # shared extent per axis, as a fraction of both images
    "min_scale": 0.7,  # relative scale per axis searched: [min_scale, 1 / min_scale]
    "window_search": "auto",  # auto: only where the local-feature retrieval is off or has no
    #                        features to search; on; off (see WINDOW_SEARCH)
    "detail_neighbours": 3,  # images tried as the whole of each image seen as a close-up
    "detail_min_similarity": 0.9,  # coarse window-descriptor cosine needed to try a detail
    "detail_scale": (0.4, 0.7),  # a detail's extent per axis, as a fraction of the whole
    "exact_window_search_max": 4096,  # images; more are window-searched through an index
    "accept_inliers": 40,  # local-feature matches one transform explains that accept a pair
    "review_inliers": 20,  # fewer reject; in between, the dense check at the alignment decides
    "retrieval_neighbours": 5,  # local-feature retrieval candidates per image (0: none)
    "retrieval_shortlist": 50,  # most similar by shared words, re-ranked by word inliers
    "second_looks": "retrieved",  # pairs the thumbnails rejected that the local features match
    #                        again: retrieved (those the retrieval proposes too) or all
    "replicas": "pixels",  # pixels: what the verifiers accept is one object; attribution:
    #                        accepted pairs whose attributions name different hands stay apart
}
REPLICA_POLICIES = ("pixels", "attribution")
# The window search finds close-ups and crops from thumbnails alone. The local-feature
# retrieval hands the verifier a superset of its true pairs (dedup_quality's
# `candidates_reaching_the_verifier`; `window_search` there: the same true pairs without
# it) at near-linear cost, where the window search grows as N^1.5 (detail_search.json):
# "auto" keeps it for collections the retrieval cannot search.
WINDOW_SEARCH = ("auto", "on", "off")
SECOND_LOOKS = ("retrieved", "all")
# Attribution qualifiers (crawl.normalize's vocabulary) that name another hand than the
# artist's: a replica or copy by a workshop, a follower, a later copyist.
OTHER_HANDS = frozenset({"workshop of", "follower of", "circle of", "school of", "manner of",
                         "style of", "imitator of", "after"})
TILES = 4  # per axis, for the robust score
TEXTURED_SHARE = 0.2  # a tile is textured above this share of the mean tile gradient energy
DESCRIPTOR_SIDE = 8  # coarse window descriptor: 8x8 values
# Windows on the 64 px thumbnail: 44-62 % per axis for details, 75-100 % for crops and frames.
WINDOW_SIDES_PX = (28, 32, 36, 40, 48, 56, 64)
WINDOW_STRIDE_PX = 4
LARGEST_DETAIL = 0.65  # a window larger than this fraction is checked as a crop, not a detail
COARSE_MIN_SCORE = 0.3  # best 16x16 correlation below which a pair is rejected early
IVF_PROBES = 8  # window search beyond `exact_window_search_max`: inverted-file lists probed
# Local features: share of the shared picture's keypoint-bearing cells (8x8) that must hold
# an inlier for the inlier count alone to accept a pair the dense check rejected.
MIN_INLIER_COVERAGE = 0.5
MIN_PAIRS_FOR_POOL = 64  # candidate pairs to verify that repay starting a process pool
# Keypoints an image needs, per inlier of review_inliers, before the local features may drop
# a thumbnail verdict on it (4: 80 keypoints for the default 20 inliers).
JUDGING_KEYPOINTS_PER_INLIER = 4


# ----------------------------------------------------------------------------------------------
# Verification: align two thumbnails and compare their gradients


def _equalised(thumb: bytes) -> np.ndarray:
    """Thumbnail as floats in [0, 1] after histogram equalisation: a value's rank among the
    image's values (ties share one), so that gamma, brightness and contrast changes cancel."""
    pixels = np.frombuffer(thumb, np.uint8)
    if pixels.size != THUMB_SIDE * THUMB_SIDE:
        raise ValueError(f"a thumbnail is {THUMB_SIDE}x{THUMB_SIDE} uint8 bytes "
                         f"({THUMB_SIDE * THUMB_SIDE}), got {pixels.size} bytes")
    cdf = np.cumsum(np.bincount(pixels, minlength=256)) / pixels.size
    return cdf[pixels].reshape(THUMB_SIDE, THUMB_SIDE).astype(np.float32)


def _shrink(img: np.ndarray, factor: int) -> np.ndarray:
    n = img.shape[0] // factor
    return img[: n * factor, : n * factor].reshape(n, factor, n, factor).mean(axis=(1, 3))


def _gradients(img: np.ndarray) -> np.ndarray:
    """Gradients of the image's fine structure: the image minus its 3x3 box blur, so that
    smooth shading (a lit sculpture, a sky) adds nothing and edges and texture remain."""
    padded = np.pad(img, 1, mode="edge")
    blurred = sum(padded[dy: dy + img.shape[0], dx: dx + img.shape[1]]
                  for dy in range(3) for dx in range(3)) / 9
    gy, gx = np.gradient(img - blurred)
    return np.stack([gx, gy]).astype(np.float32)


def _warp_matrices(hyps: np.ndarray, n_a: int, n_b: int) -> tuple[np.ndarray, np.ndarray]:
    """Per hypothesis (scale, offset) for one axis, where B's extent [0, 1] maps to
    [offset, offset + scale] in A's normalised coordinates: the n_a x n_b bilinear matrix
    taking B's samples to A's pixel grid (rows of A pixels outside B are zero) and the mask
    of those A pixels."""
    centres = (np.arange(n_a) + 0.5) / n_a
    scale, offset = hyps[:, :1], hyps[:, 1:]
    b = (centres[None, :] - offset) / scale  # each A pixel's position in B, normalised
    valid_a = (b >= 0) & (b <= 1)
    pos = np.clip(b * n_b - 0.5, 0, n_b - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_b - 1)
    frac = pos - lo
    mats = np.zeros((len(hyps), n_a, n_b), np.float32)
    h_idx, a_idx = np.indices(b.shape)
    mats[h_idx, a_idx, lo] = (1 - frac) * valid_a
    mats[h_idx, a_idx, hi] += frac * valid_a  # hi == lo only at the last pixel, where frac = 0
    return mats, valid_a.astype(np.float32)


def _scores(grad_a: np.ndarray, grad_b: np.ndarray, hyp_y: np.ndarray,
            hyp_x: np.ndarray) -> np.ndarray:
    """Global gradient correlation for every (y hypothesis, x hypothesis) pair at once.

    B warped onto A's grid is W = Ry B Rx^T, so sum(A * W) = sum((Ry B) * (A Rx)) and
    sum(W * W) = sum((B^T Ry^T Ry B) * (Rx^T Rx)): each a single matrix product over all
    hypothesis pairs instead of one warp per pair.
    """
    n_a, n_b = grad_a.shape[-1], grad_b.shape[-1]
    ry, mask_y = _warp_matrices(hyp_y, n_a, n_b)
    rx, mask_x = _warp_matrices(hyp_x, n_a, n_b)
    cross = np.zeros((len(hyp_y), len(hyp_x)), np.float32)
    energy_w = np.zeros_like(cross)
    kx = (rx.transpose(0, 2, 1) @ rx).reshape(len(hyp_x), -1)
    for a, b in zip(grad_a, grad_b, strict=True):
        ry_b = ry @ b  # (Hy, n_a, n_b)
        a_rx = a @ rx  # (Hx, n_a, n_b)
        cross += ry_b.reshape(len(hyp_y), -1) @ a_rx.reshape(len(hyp_x), -1).T
        gy = (ry_b.transpose(0, 2, 1) @ ry_b).reshape(len(hyp_y), -1)
        energy_w += gy @ kx.T
    energy_a = mask_y @ (grad_a ** 2).sum(0) @ mask_x.T
    return cross / np.sqrt(np.maximum(energy_a * energy_w, 1e-12))


def _robust_score(grad_a: np.ndarray, grad_b: np.ndarray, hyp_y: np.ndarray,
                  hyp_x: np.ndarray) -> float:
    """Agreement of B warped by one hypothesis onto A: the lower quartile of the gradient
    correlations of the overlap's textured tiles, capped by the global correlation."""
    ry, mask_y = _warp_matrices(hyp_y[None], grad_a.shape[-1], grad_b.shape[-1])
    rx, mask_x = _warp_matrices(hyp_x[None], grad_a.shape[-1], grad_b.shape[-1])
    warped = ry[0] @ grad_b @ rx[0].T  # (2, n_a, n_a)
    rows, cols = np.flatnonzero(mask_y[0]), np.flatnonzero(mask_x[0])
    if rows.size < 2 * TILES or cols.size < 2 * TILES:
        return -1.0
    box = np.s_[:, rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
    return _tile_agreement(grad_a[box], warped[box])


def _tile_agreement(a: np.ndarray, w: np.ndarray) -> float:
    """Robust gradient agreement of two aligned (2, h, w) gradient fields: the overlap cut
    into TILES x TILES tiles, the lower quartile of the textured tiles' correlations, capped
    by the global correlation; -1 when fewer than 3 tiles are textured."""
    row_edges = np.linspace(0, a.shape[1], TILES + 1).astype(int)
    col_edges = np.linspace(0, a.shape[2], TILES + 1).astype(int)

    def tile_sums(values: np.ndarray) -> np.ndarray:
        summed = np.add.reduceat(np.add.reduceat(values.sum(0), row_edges[:-1], 0),
                                 col_edges[:-1], 1)
        return summed.ravel()

    cross, energy_a, energy_w = tile_sums(a * w), tile_sums(a * a), tile_sums(w * w)
    overall = cross.sum() / np.sqrt(max(energy_a.sum() * energy_w.sum(), 1e-12))
    textured = ((energy_a > TEXTURED_SHARE * energy_a.mean())
                & (energy_w > TEXTURED_SHARE * energy_w.mean()))
    if textured.sum() < 3:
        return -1.0  # too little structure to tell copies from look-alikes
    per_tile = cross[textured] / np.sqrt(np.maximum(energy_a * energy_w, 1e-12)[textured])
    return float(min(overall, np.quantile(per_tile, 0.25)))


def _axis_grid(scales: np.ndarray, offsets: np.ndarray, min_overlap: float) -> np.ndarray:
    """(scale, offset) pairs for one axis overlapping both images by at least `min_overlap`."""
    out = []
    for scale in scales:
        for offset in offsets:
            shared = min(1.0, offset + scale) - max(0.0, offset)
            if shared >= min_overlap and shared / scale >= min_overlap:
                out.append((scale, offset))
    return np.array(out, np.float64)


def _local(hyp: np.ndarray, scale_step: float, offset_px: float, side: int,
           count: int = 5) -> np.ndarray:
    """A small grid of (scale, offset) around one hypothesis, offsets in pixels of `side`."""
    return np.array([(hyp[0] * f, hyp[1] + d)
                     for f in np.geomspace(scale_step, 1 / scale_step, count)
                     for d in np.linspace(-offset_px, offset_px, count) / side])


def _refine(grad_a: np.ndarray, grad_b: np.ndarray, hyp_y: np.ndarray, hyp_x: np.ndarray,
            scale_step: float, offset_px: float) -> tuple[np.ndarray, np.ndarray, float]:
    local_y = _local(hyp_y, scale_step, offset_px, grad_a.shape[-1])
    local_x = _local(hyp_x, scale_step, offset_px, grad_a.shape[-1])
    grid = _scores(grad_a, grad_b, local_y, local_x)
    iy, ix = np.unravel_index(int(np.argmax(grid)), grid.shape)
    return local_y[iy], local_x[ix], float(grid[iy, ix])


@functools.cache
def _coarse_grid(min_scale: float, min_overlap: float) -> np.ndarray:
    side = THUMB_SIDE // 4
    return _axis_grid(np.geomspace(min_scale, 1 / min_scale, 9),
                      np.arange(-0.5, 0.5 + 1e-9, 1 / side), min_overlap)


def verify(thumb_a: bytes, thumb_b: bytes, min_scale: float = 0.7,
           min_overlap: float = 0.6, survivors: int = 3) -> float:
    """Robust gradient agreement of B aligned onto A over per-axis scale and offset, in
    [-1, 1] (see the module docstring). Symmetric: the pair is put in a canonical order."""
    if thumb_b < thumb_a:
        thumb_a, thumb_b = thumb_b, thumb_a
    eq_a, eq_b = _equalised(thumb_a), _equalised(thumb_b)
    coarse = _coarse_grid(min_scale, min_overlap)
    grid = _scores(_gradients(_shrink(eq_a, 4)), _gradients(_shrink(eq_b, 4)), coarse, coarse)
    if grid.max() < COARSE_MIN_SCORE:
        return float(grid.max())  # nothing lines up even roughly: skip the refinement
    ga32, gb32 = _gradients(_shrink(eq_a, 2)), _gradients(_shrink(eq_b, 2))
    best = (None, None, -np.inf)
    for flat in np.argsort(grid, axis=None)[::-1][:survivors]:
        iy, ix = np.unravel_index(int(flat), grid.shape)
        found = _refine(ga32, gb32, coarse[iy], coarse[ix], 0.95, 2.0)
        if found[2] > best[2]:
            best = found
    ga, gb = _gradients(eq_a), _gradients(eq_b)
    hyp_y, hyp_x, _ = _refine(ga, gb, best[0], best[1], 0.98, 1.5)
    return _robust_score(ga, gb, hyp_y, hyp_x)


def verify_detail(thumb_whole: bytes, thumb_detail: bytes,
                  detail_scale: tuple[float, float] = (0.4, 0.7),
                  hint: tuple[float, float, float, float] | None = None,
                  survivors: int = 3) -> float:
    """Robust gradient agreement of `thumb_detail` as a close-up lying inside `thumb_whole`
    (extent per axis in `detail_scale`). `hint`: (top, left, height, width) of a window of
    the whole, as fractions, to search near instead of everywhere."""
    eq_a, eq_b = _equalised(thumb_whole), _equalised(thumb_detail)
    side = THUMB_SIDE // 2  # A at 32 px against B at 16 px: about one pixel for one
    scales = np.geomspace(detail_scale[0], detail_scale[1], 7)
    axes = []
    for axis in range(2):
        offsets = np.arange(-0.03, 1 - detail_scale[0] + 1e-9, 1 / side)
        grid = np.array([(s, o) for s in scales for o in offsets if o + s <= 1.03], np.float64)
        if hint is not None:
            start, extent = hint[axis], hint[2 + axis]
            near = ((np.abs(grid[:, 1] - start) <= 0.1)
                    & (np.abs(np.log(grid[:, 0] / extent)) <= np.log(1.35)))
            grid = grid[near] if near.any() else grid
        axes.append(grid)
    coarse = _scores(_gradients(_shrink(eq_a, 2)), _gradients(_shrink(eq_b, 4)), *axes)
    ga64, gb32 = _gradients(eq_a), _gradients(_shrink(eq_b, 2))
    best = (None, None, -np.inf)
    for flat in np.argsort(coarse, axis=None)[::-1][:survivors]:
        iy, ix = np.unravel_index(int(flat), coarse.shape)
        found = _refine(ga64, gb32, axes[0][iy], axes[1][ix], 0.96, 2.0)
        if found[2] > best[2]:
            best = found
    hyp_y, hyp_x, _ = _refine(ga64, gb32, best[0], best[1], 0.985, 1.0)
    return _robust_score(ga64, gb32, hyp_y, hyp_x)


# ----------------------------------------------------------------------------------------------
# Local features: the geometric verifier, with a dense check in its uncertain band


def _thumb_to_features(trim, size: tuple[int, int]) -> np.ndarray:
    """3x3 map from a thumbnail's pixels (the trimmed image squeezed to THUMB_SIDE square,
    pixel centres at integers) to the pixels of a ``size`` feature decode of the whole."""
    left, top, right, bottom = (float(v) for v in (trim if trim is not None else (0,) * 4))
    width, height = size
    sx, sy = (1 - left - right) * width / THUMB_SIDE, (1 - top - bottom) * height / THUMB_SIDE
    return np.array([[sx, 0, (left + 0.5 * (1 - left - right) / THUMB_SIDE) * width - 0.5],
                     [0, sy, (top + 0.5 * (1 - top - bottom) / THUMB_SIDE) * height - 0.5],
                     [0, 0, 1]])


def aligned_agreement(thumb_a: bytes, trim_a, size_a: tuple[int, int], thumb_b: bytes, trim_b,
                      size_b: tuple[int, int], matrix: np.ndarray, mirrored: bool) -> float:
    """Robust gradient agreement (as `verify` scores it) of two thumbnails put in register by
    ``matrix``, the local-feature transform from A's feature pixels to B's (B mirrored first
    when ``mirrored``). The image whose thumbnail shows the overlap in fewer pixels is the
    grid, and the other is blurred to its resolution before sampling, so that the fine
    gradients compared exist in both."""
    import cv2

    eq_a, eq_b = _equalised(thumb_a), _equalised(thumb_b)
    if mirrored:
        eq_b = eq_b[:, ::-1].copy()
        trim_b = None if trim_b is None else (trim_b[2], trim_b[1], trim_b[0], trim_b[3])
    to_b = np.linalg.inv(_thumb_to_features(trim_b, size_b)) @ matrix @ _thumb_to_features(
        trim_a, size_a)  # A's thumbnail pixels to B's
    centre = np.array([(THUMB_SIDE - 1) / 2] * 2)
    step = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]) + centre
    mapped = cv2.perspectiveTransform(step[None], to_b)[0]
    density = abs(np.linalg.det(np.stack([mapped[1] - mapped[0], mapped[2] - mapped[0]])))
    if density >= 1:  # B shows the overlap in more pixels: sample B on A's grid
        grid, other, grid_to_other = eq_a, eq_b, to_b
    else:
        grid, other, grid_to_other = eq_b, eq_a, np.linalg.inv(to_b)
        density = 1 / max(density, 1e-9)
    factor = np.sqrt(density)
    if factor > 1.2:
        other = cv2.GaussianBlur(other, (0, 0), 0.5 * np.sqrt(factor ** 2 - 1))
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpPerspective(other, grid_to_other, (THUMB_SIDE, THUMB_SIDE), flags=flags,
                                 borderMode=cv2.BORDER_REPLICATE)
    inside = cv2.warpPerspective(np.ones_like(other), grid_to_other, (THUMB_SIDE, THUMB_SIDE),
                                 flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    # Gradients at the overlap's edge mix in the replicated border: two pixels in.
    inside = cv2.erode(inside, np.ones((5, 5), np.uint8)) > 0
    rows, cols = np.flatnonzero(inside.any(1)), np.flatnonzero(inside.any(0))
    if rows.size < 2 * TILES or cols.size < 2 * TILES:
        return -1.0
    box = np.s_[:, rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
    mask = inside[box[1:]][None]
    return _tile_agreement(_gradients(grid)[box] * mask, _gradients(warped)[box] * mask)


def verify_local(features_a: bytes, features_b: bytes, thumb_a: bytes | None = None,
                 trim_a=None, thumb_b: bytes | None = None, trim_b=None,
                 accept_inliers: int = 40, review_inliers: int = 20,
                 min_score: float = 0.35, mirrored: bool | None = None,
                 options=None) -> tuple[bool, int, bool, float]:
    """The local-feature verdict on a pair: (accepted, inliers, mirrored, dense score).

    Fewer than ``review_inliers`` matches explained by one transform reject. Otherwise the
    thumbnails' robust gradient agreement at the found alignment decides (at least
    ``min_score``): a shared watermark or frame template explains tens of matches on a sliver
    of two different pictures, which disagree everywhere else. The dense check in turn misses
    some true copies (a non-monotone regrading, a small low-resolution crop), so at least
    ``accept_inliers`` inliers spread over most of the shared picture of either image
    (`inlier_coverage` at least ``MIN_INLIER_COVERAGE``) accept too, whichever image is A.
    The dense score is NaN without thumbnails.
    ``mirrored``: try B only as it is (False) or only mirrored (True); None: both.
    ``options``: the matching's :class:`curate.local_features.MatchOptions` (None: defaults)."""
    from curate.local_features import LocalFeatures, MatchOptions, inlier_coverage, match_pair

    a, b = LocalFeatures.from_bytes(features_a), LocalFeatures.from_bytes(features_b)
    found = match_pair(a, b, options or MatchOptions(), enough_inliers=accept_inliers,
                       least_inliers=review_inliers, mirrored=mirrored)
    if found.inliers < review_inliers:
        return False, found.inliers, found.mirrored, float("nan")
    score = float("nan")
    if thumb_a is not None and thumb_b is not None:
        score = round(aligned_agreement(thumb_a, trim_a, a.size, thumb_b, trim_b, b.size,
                                        found.matrix, found.mirrored), 4)
        if score >= min_score:
            return True, found.inliers, found.mirrored, score
    if found.inliers < accept_inliers:
        return False, found.inliers, found.mirrored, score
    # Coverage is of one picture's keypoint-bearing cells, so it is measured on both: a
    # close-up's inliers cover the close-up but a small part of the whole it was taken from.
    # A shared watermark's or frame's cover a sliver of either.
    b_seen = b.mirrored() if found.mirrored else b
    if trim_b is not None and found.mirrored:
        trim_b = (trim_b[2], trim_b[1], trim_b[0], trim_b[3])  # left and right swap
    coverage = max(inlier_coverage(found, a, b_seen, trim_a),
                   inlier_coverage(found.reversed(), b_seen, a, trim_b))
    return coverage >= MIN_INLIER_COVERAGE, found.inliers, found.mirrored, score


def _local_verdict(task: tuple) -> tuple[bool, int, bool, float]:
    return verify_local(*task)


def _local_value(verdict: tuple[bool, int, bool, float]) -> tuple[float, float]:
    """A local verdict as two exact floats: the dense score, and accepted, mirrored and the
    inlier count in one integer."""
    accepted, inliers, mirrored, score = verdict
    return float(score), float(int(accepted) + 2 * int(mirrored) + 4 * int(inliers))


def _unpack_local(values: np.ndarray) -> tuple[bool, int, bool, float]:
    code = int(values[1])
    return bool(code & 1), code >> 2, bool(code & 2), float(values[0])


# ----------------------------------------------------------------------------------------------
# Candidates


def _hash_array(values: pd.Series, searched: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint64 hashes of the ``searched`` rows that have one, and those rows' positions."""
    ok = values.notna().to_numpy() & searched
    ints = np.array([int(v, 16) for v in values[ok]], dtype=np.uint64)
    return ints, np.flatnonzero(ok)


def _hash_candidates(rows: pd.DataFrame, max_distance: int, extra_distance: int,
                     neighbours: int, rank: np.ndarray, searched: np.ndarray | None = None
                     ) -> pd.DataFrame:
    """Candidate pairs (a < b, positions in ``rows``) among the ``searched`` rows (default:
    all) from the hashes, with their closest distance and what gave it ("phash" on ties):
    within ``max_distance`` on phash, and within ``extra_distance`` between any of an image's
    three hashes. Only each image's ``neighbours`` nearest are kept (ties: plain phash
    evidence first, then ``rank``), so the pairs grow with the images, not with the square of
    a crowded hash region."""
    searched = np.ones(len(rows), bool) if searched is None else np.asarray(searched, bool)
    from curate.pairs import near_neighbours  # imported late: optional for callers of verify()

    found = []
    if max_distance > extra_distance:  # else the search over all hashes holds these pairs
        ints, pos = _hash_array(rows["phash"], searched)
        a, b, d, _ = near_neighbours(ints, max_distance, neighbours, groups=pos, order=rank)
        found.append(pd.DataFrame({"a": a, "b": b, "dist": d, "via": "phash"}))
    # All three hash types in one index, so that a crop's whole-image hash can meet the
    # original's centre hash, and a missed frame's centre hash the original's whole hash.
    arrays, owners, kinds = [], [], []
    for kind, column in enumerate(HASH_COLUMNS):
        if column in rows:
            ints, pos = _hash_array(rows[column], searched)
            arrays.append(ints)
            owners.append(pos)
            kinds.append(np.full(len(pos), kind))
    if arrays:
        ints, owner, kind = map(np.concatenate, (arrays, owners, kinds))
        a, b, d, tied = near_neighbours(ints, extra_distance, neighbours, groups=owner,
                                        order=rank, tie=kind != 0)
        found.append(pd.DataFrame({"a": a, "b": b, "dist": d,
                                   "via": np.where(tied, "frame_or_centre", "phash")}))
    if not found:
        return pd.DataFrame({"a": [], "b": [], "dist": [], "via": []})
    pairs = pd.concat(found, ignore_index=True)
    # One row per pair: the closest hash distance, preferring plain phash evidence on ties.
    pairs["order"] = (pairs.via != "phash").astype(int)
    pairs = pairs.sort_values(["a", "b", "dist", "order"], kind="stable")
    return pairs.drop_duplicates(["a", "b"]).drop(columns="order").reset_index(drop=True)


def _resample_matrix(size: int, side: int) -> np.ndarray:
    """side x size area-averaging matrix (box filter with fractional edges)."""
    edges = np.linspace(0, size, side + 1)
    lo, hi = edges[:-1, None], edges[1:, None]
    pixel = np.arange(size)[None, :]
    weights = np.clip(np.minimum(hi, pixel + 1) - np.maximum(lo, pixel), 0, None)
    return (weights / weights.sum(1, keepdims=True)).astype(np.float32)


def _normalised(values: np.ndarray) -> np.ndarray:
    flat = values.reshape(*values.shape[:-2], -1)
    flat = flat - flat.mean(-1, keepdims=True)
    return flat / np.maximum(np.linalg.norm(flat, axis=-1, keepdims=True), 1e-6)


def window_boxes() -> np.ndarray:
    """The detail windows as (top, left, height, width) fractions of the thumbnail, (W, 4)."""
    boxes = [(top, left, size, size) for size in WINDOW_SIDES_PX
             for top in range(0, THUMB_SIDE - size + 1, WINDOW_STRIDE_PX)
             for left in range(0, THUMB_SIDE - size + 1, WINDOW_STRIDE_PX)]
    return np.array(boxes, np.float64) / THUMB_SIDE


def whole_descriptors(equalised: np.ndarray) -> np.ndarray:
    """For (N, 64, 64) equalised thumbnails: whole-image descriptors (N, 64)."""
    full = _resample_matrix(THUMB_SIDE, DESCRIPTOR_SIDE)
    return _normalised(full @ equalised @ full.T).astype(np.float32)


def window_descriptors(equalised: np.ndarray) -> np.ndarray:
    """For (N, 64, 64) equalised thumbnails: descriptors of the `window_boxes` (N, W, 64)."""
    side = DESCRIPTOR_SIDE
    windows = []
    for size in WINDOW_SIDES_PX:
        resample = _resample_matrix(size, side)
        for top in range(0, THUMB_SIDE - size + 1, WINDOW_STRIDE_PX):
            # One row band at a time: (N, side, 64), then every left offset from it.
            band = resample @ equalised[:, top: top + size]
            for left in range(0, THUMB_SIDE - size + 1, WINDOW_STRIDE_PX):
                windows.append(band[:, :, left: left + size] @ resample.T)
    return _normalised(np.stack(windows, 1)).astype(np.float32)


def present_rows(values) -> np.ndarray:
    """Which rows hold a value (bool per row): a :class:`curate.feature_store.FeatureStore`'s
    from its sizes, reading nothing; a list's by looking."""
    if hasattr(values, "sizes"):
        return np.asarray(values.sizes) >= 0
    return np.array([v is not None for v in values], bool)


def _detail_candidates(thumbs: list, neighbours: int, min_similarity: float,
                       exact_max: int = 4096, workers: int | None = 1) -> pd.DataFrame:
    """(whole, detail, window) triples: for each image seen as a detail, the ``neighbours``
    images having a window most like it (cosine of the coarse descriptors, at least
    ``min_similarity``), best first. Exact up to ``exact_max`` images, through the inverted
    file `_window_hits_indexed` beyond (in ``workers`` processes)."""
    present = np.flatnonzero(present_rows(thumbs)).tolist()
    empty = pd.DataFrame({"a": [], "b": [], "window": []}, dtype=np.int64)
    if neighbours <= 0 or len(present) < 2:
        return empty
    chosen = [thumbs[i] for i in present]
    if len(present) <= exact_max:
        hits = _window_hits_exact(chosen, min_similarity)
    else:
        hits = _window_hits_indexed(chosen, min_similarity, workers=workers,
                                    neighbours=neighbours)
    whole_pos, detail_pos, window, _ = _best_wholes(*hits, min(neighbours, len(present) - 1))
    if not len(whole_pos):
        return empty
    present = np.asarray(present, dtype=np.int64)
    return pd.DataFrame({"a": present[whole_pos], "b": present[detail_pos],
                         "window": window}, dtype=np.int64)


def _best_wholes(whole: np.ndarray, detail: np.ndarray, window: np.ndarray,
                 similarity: np.ndarray, keep: int) -> tuple:
    """Per detail image (in image order), its ``keep`` most similar wholes, best first; ties
    to the earlier whole. The order is total, so the best of a union of hit sets are the
    best of the best of each: the window search reduces each block's hits with it as it
    goes, and memory holds ``keep`` hits per image, not every hit."""
    order = np.lexsort((whole, -similarity, detail))
    whole, detail, window, similarity = (v[order] for v in (whole, detail, window, similarity))
    starts = np.r_[0, np.flatnonzero(np.diff(detail)) + 1]
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    mine = rank < keep
    return whole[mine], detail[mine], window[mine], similarity[mine]


def _best_per_pair(whole: np.ndarray, detail: np.ndarray, window: np.ndarray,
                   similarity: np.ndarray) -> tuple:
    """Reduce window hits to one per (whole, detail) pair: its most similar window (the
    first of equals, in window order)."""
    order = np.lexsort((window, -similarity, detail, whole))
    whole, detail, window, similarity = (v[order] for v in (whole, detail, window, similarity))
    first = np.r_[True, (np.diff(whole) != 0) | (np.diff(detail) != 0)][:len(order)]
    return whole[first], detail[first], window[first], similarity[first]


def _window_hits_exact(thumbs: list, min_similarity: float, block: int = 64) -> tuple:
    """Every image's whole descriptor against every window of every other image: the best
    window per (whole, detail) pair at or above ``min_similarity``. O(N^2) comparisons."""
    equalised = np.stack([_equalised(t) for t in thumbs])
    whole, windows = whole_descriptors(equalised), window_descriptors(equalised)
    n, per_image = windows.shape[:2]
    windows = windows.reshape(n * per_image, -1)
    found = []
    for start in range(0, n, block):
        stop = min(n, start + block)
        # (queries, images, windows): each query's whole against every window of every image.
        sims = (windows @ whole[start:stop].T).reshape(n, per_image, -1).transpose(2, 0, 1)
        best_window = sims.argmax(2)
        best = np.take_along_axis(sims, best_window[..., None], 2)[..., 0]
        best[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # not itself
        q, target = np.nonzero(best >= min_similarity)
        found.append((target, start + q, best_window[q, target], best[q, target]))
    return tuple(np.concatenate(parts) for parts in zip(*found, strict=True))


def _window_hits_indexed(thumbs: list, min_similarity: float, block: int = 512,
                         probes: int = IVF_PROBES, workers: int | None = 1,
                         neighbours: int | None = None) -> tuple:
    """`_window_hits_exact` through an inverted file, for large collections: the whole
    descriptors are grouped into ~sqrt(probes * N) lists by cosine k-means, each whole joins
    its ``probes`` nearest lists, and each window is compared only with the wholes in the one
    list nearest to it. About N * windows * 2 * sqrt(probes * N) products instead of
    N^2 * windows; windows are built a block at a time, so memory stays O(N). Approximate: a
    pair is missed when the window's nearest list is not among the whole's ``probes``
    nearest (``python -m benchmarks detail_search`` measures recall against the exact
    search). The blocks are searched in ``workers`` processes, each holding the index. With
    ``neighbours``, only each detail's ``neighbours`` best hits are kept (`_best_wholes`)."""
    from curate.retrieval import spherical_kmeans  # imported late: it loads numba

    n, chunk = len(thumbs), 16384
    whole = np.concatenate([whole_descriptors(np.stack([_equalised(t) for t in
                                                        thumbs[s: s + block]]))
                            for s in range(0, n, block)])
    lists = int(np.clip(round(np.sqrt(probes * n)), 1, n))
    probes = min(probes, lists)
    rng = np.random.default_rng(0)  # seeded: the same thumbnails give the same lists
    sample = whole[np.sort(rng.choice(n, min(n, 64 * lists), replace=False))]
    centroids = spherical_kmeans(sample, lists, rng)
    # Multi-assignment on the (few) wholes rather than multi-probing the (many) windows: a
    # window then needs one argmax over the centroids, not a top-k.
    joined = np.concatenate([
        np.argpartition(-(whole[s: s + chunk] @ centroids.T), probes - 1, 1)[:, :probes]
        for s in range(0, n, chunk)]).ravel()
    by_list = np.argsort(joined, kind="stable")
    members = by_list // probes  # whole positions, grouped by list
    bounds = np.searchsorted(joined[by_list], np.arange(lists + 1))
    index = (whole, centroids, members, bounds, min_similarity, neighbours)
    blocks = [(start, thumbs[start: start + block]) for start in range(0, n, block)]
    found = tuple(np.zeros(0, dt) for dt in (np.int64, np.int64, np.int64, np.float32))
    with process_pool(workers, len(blocks) > 1, _hold_index, index) as pool:
        if pool is None:
            _hold_index(*index)
        try:
            for hits in imap_ordered(pool, _search_block, blocks, chunksize=1):
                if hits is not None:
                    found = tuple(np.concatenate(p) for p in zip(found, hits, strict=True))
                    if neighbours is not None:
                        found = _best_wholes(*found, neighbours)
        finally:
            _INDEX.clear()
    return found


_INDEX: dict = {}  # the inverted file of `_window_hits_indexed`, in the process searching it


def _hold_index(whole: np.ndarray, centroids: np.ndarray, members: np.ndarray,
                bounds: np.ndarray, min_similarity: float, neighbours: int | None) -> None:
    _INDEX.update(whole=whole, centroids=centroids, members=members, bounds=bounds,
                  min_similarity=min_similarity, neighbours=neighbours)


def _search_block(task: tuple) -> tuple | None:
    """The window hits of one block of images (`start`, their thumbnails) in `_INDEX`: per
    (whole, detail) pair its best window, or None."""
    start, thumbs = task
    whole, centroids, members, bounds = (_INDEX[k] for k in ("whole", "centroids", "members",
                                                             "bounds"))
    lists, chunk = len(centroids), 16384
    windows = window_descriptors(np.stack([_equalised(t) for t in thumbs]))
    per_image = windows.shape[1]
    queries = windows.reshape(-1, windows.shape[-1])
    nearest = np.concatenate([(queries[s: s + chunk] @ centroids.T).argmax(1)
                              for s in range(0, len(queries), chunk)])
    order = np.argsort(nearest, kind="stable")
    cuts = np.searchsorted(nearest[order], np.arange(lists + 1))
    hits = []
    for index in np.flatnonzero(np.diff(cuts)):
        wholes = members[bounds[index]: bounds[index + 1]]
        if not len(wholes):
            continue
        asking = order[cuts[index]: cuts[index + 1]]
        sims = queries[asking] @ whole[wholes].T
        flat = np.flatnonzero(sims >= _INDEX["min_similarity"])
        if len(flat):
            q, w = np.divmod(flat, len(wholes))
            hits.append((start + asking[q] // per_image, wholes[w], asking[q] % per_image,
                         sims[q, w]))
    if not hits:
        return None
    image, detail, window, sim = (np.concatenate(p) for p in zip(*hits, strict=True))
    mine = image != detail  # not itself
    best = _best_per_pair(image[mine], detail[mine], window[mine], sim[mine])
    return best if _INDEX["neighbours"] is None else _best_wholes(*best, _INDEX["neighbours"])


# ----------------------------------------------------------------------------------------------
# Clustering


def checked_tuning(tuning: dict) -> dict:
    """``DEFAULTS`` updated with ``tuning`` (the ``curate.dedup`` params but ``max_distance``),
    refused before any work when a key is unknown or a value cannot work."""
    from marcus.errors import UserError

    unknown = set(tuning) - set(DEFAULTS)
    if unknown:
        raise UserError(f"curate.dedup: unknown keys {sorted(unknown)} "
                        f"(known: max_distance, {', '.join(DEFAULTS)})")
    opts = {**DEFAULTS, **tuning}
    if not 4 <= opts["review_inliers"] <= opts["accept_inliers"]:
        raise UserError("curate.dedup: need 4 <= review_inliers <= accept_inliers (a "
                        "transform needs 3-4 matches to be fitted at all), got "
                        f"{opts['review_inliers']} and {opts['accept_inliers']}")
    if opts["retrieval_neighbours"] < 0:
        raise UserError("curate.dedup.retrieval_neighbours: 0 (off) or more, got "
                        f"{opts['retrieval_neighbours']}")
    if opts["retrieval_shortlist"] < opts["retrieval_neighbours"]:
        raise UserError("curate.dedup.retrieval_shortlist: at least retrieval_neighbours ("
                        f"{opts['retrieval_neighbours']}), got {opts['retrieval_shortlist']}")
    if opts["second_looks"] not in SECOND_LOOKS:
        raise UserError(f"curate.dedup.second_looks: one of {', '.join(SECOND_LOOKS)}, got "
                        f"{opts['second_looks']!r}")
    if opts["replicas"] not in REPLICA_POLICIES:
        raise UserError(f"curate.dedup.replicas: one of {', '.join(REPLICA_POLICIES)}, got "
                        f"{opts['replicas']!r}")
    if opts["window_search"] not in WINDOW_SEARCH:
        raise UserError(f"curate.dedup.window_search: one of {', '.join(WINDOW_SEARCH)}, got "
                        f"{opts['window_search']!r}")
    return opts


def searches_windows(opts: dict, has_features: np.ndarray) -> bool:
    """Whether `cluster` runs the window search (``window_search``, `WINDOW_SEARCH`): "auto"
    runs it only where the local-feature retrieval is off or no image has local features."""
    if opts["window_search"] != "auto":
        return opts["window_search"] == "on"
    return opts["retrieval_neighbours"] == 0 or not has_features.any()


def other_hand(qualifier) -> bool:
    """Whether an attribution qualifier names a hand other than the artist's ("workshop of",
    "after", ...); none, "attributed to" or "possibly by" count as the artist's own."""
    return isinstance(qualifier, str) and qualifier.strip().lower() in OTHER_HANDS


def _find(parent: np.ndarray, x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def _score(task: tuple) -> float:
    """One verification: ("crop", A, B, min_scale, min_overlap) for `verify`, ("detail",
    whole, detail, detail_scale, hint) for `verify_detail`."""
    kind, a, b, *args = task
    return verify(a, b, *args) if kind == "crop" else verify_detail(a, b, *args)


def _judged(verdicts, workers: int | None, function, items: list, task_of, key_of, pack,
            unpack) -> list:
    """``function`` over the tasks of ``items`` (``task_of(item)``), in order, in ``workers``
    processes; with a :class:`curate.verdicts.VerdictCache`, a verdict stored under
    ``key_of(item)`` is taken from it (``unpack`` of its two values) and each verdict judged
    here is stored (``pack``: two floats). The results are the same either way."""
    if verdicts is None:
        with process_pool(workers, len(items) >= MIN_PAIRS_FOR_POOL) as pool:
            return map_ordered(pool, function, (task_of(item) for item in items))
    keys = [key_of(item) for item in items]
    found, values = verdicts.lookup(keys)
    results = [unpack(v) if hit else None for hit, v in zip(found, values, strict=True)]
    missing = np.flatnonzero(~found)
    with process_pool(workers, len(missing) >= MIN_PAIRS_FOR_POOL) as pool:
        judged = imap_ordered(pool, function, (task_of(items[i]) for i in missing))
        for i, result in zip(missing, judged, strict=True):
            results[i] = result
            verdicts.add(keys[i], pack(result))
    return results


def _score_value(score: float) -> tuple[float, float]:
    return float(score), 0.0


def _unpack_score(values: np.ndarray) -> float:
    return float(values[0])


def _verified_edges(rows: pd.DataFrame, thumbs: list, features: list, trims: list, done: set,
                    max_distance: int, opts: dict, rank: np.ndarray, workers: int | None = 1,
                    phases=None, verdicts=None) -> list:
    """(a, b, distance, score, via, inliers) for the candidate pairs that pass verification:
    first the thumbnails' (`verify`, `verify_detail`), then, for the pairs they rejected and
    those the local-feature retrieval proposes, the local features' (`verify_local`). `done`:
    pairs (a < b) already decided (byte copies) or tried with `verify`. `rank`: each row's
    position in ``key`` order, which breaks ties between candidates. Verifications run in
    ``workers`` processes; which pairs are tried and in what order is decided here, in one
    process, so the edges are the same for any number of workers. `phases`, `verdicts`: see
    `cluster`."""
    from curate.feature_store import keypoint_counts  # imported late, as local_features
    from curate.verdicts import verdict_key

    sha = rows["sha256"].tolist()
    crop_args = (opts["min_scale"], opts["min_overlap"])
    edges, accepted, tried = [], set(done), []
    second_look: dict = {}  # pairs the thumbnails rejected, for the local features: distance
    if len(rows) > 1:
        candidates = _hash_candidates(rows, max_distance, opts["extra_distance"],
                                      opts["hash_neighbours"], rank, present_rows(thumbs))
        for a, b, dist, via in candidates.itertuples(index=False):
            if (a, b) in done:  # (only rows with a thumbnail were searched)
                continue
            done.add((a, b))
            tried.append((a, b, dist, via))
        scores = _judged(verdicts, workers, _score, tried,
                         lambda t: ("crop", thumbs[t[0]], thumbs[t[1]], *crop_args),
                         lambda t: verdict_key("crop", sha[t[0]], sha[t[1]], *crop_args),
                         _score_value, _unpack_score)
        for (a, b, dist, via), score in zip(tried, scores, strict=True):
            if score >= opts["min_score"]:
                accepted.add((a, b))
                edges.append((a, b, int(dist), score, via, -1))
            else:
                second_look[(a, b)] = int(dist)
    if phases:
        phases.done("dedup: hash candidates verified", pairs=len(tried))

    has = present_rows(features)  # without reading them (a FeatureStore knows their sizes)
    windowed = searches_windows(opts, has)
    details = _detail_candidates(thumbs, opts["detail_neighbours"] if windowed else 0,
                                 opts["detail_min_similarity"], opts["exact_window_search_max"],
                                 workers)
    if phases:
        phases.done("dedup: window search", candidates=len(details))
    boxes = window_boxes()

    def walk(tasks: dict | None) -> list:
        """The window candidates in order, each tried unless its pair is already accepted
        (B inside A is one-way; `verify` is symmetric: one try per pair). With ``tasks`` None
        it lists what to score, deciding acceptance from the hash candidates alone (a superset
        of what is needed); with the scores, it accepts in order."""
        found, seen, seen_done, wanted = [], set(), set(done), []
        is_accepted = set(accepted)
        for whole, detail, window in details.itertuples(index=False):
            pair = (min(whole, detail), max(whole, detail))
            if pair in is_accepted or (whole, detail) in seen:
                continue
            seen.add((whole, detail))
            if boxes[window][2] > LARGEST_DETAIL:  # a crop or frame that no hash caught
                if pair in seen_done:
                    continue
                seen_done.add(pair)
                task, via = ("crop", whole, detail), "window"
            else:
                task, via = ("detail", whole, detail, window), "detail"
            if tasks is None:
                wanted.append(task)
                continue
            score = tasks[task]
            if score >= opts["min_score"]:
                is_accepted.add(pair)
                found.append((pair[0], pair[1], -1, score, via, -1))
            else:
                second_look.setdefault(pair, -1)
        return wanted if tasks is None else found

    wanted = walk(None)

    def window_args(t: tuple) -> tuple:
        return crop_args if t[0] == "crop" else (tuple(opts["detail_scale"]),
                                                 tuple(boxes[t[3]].tolist()))

    scores = _judged(verdicts, workers, _score, wanted,
                     lambda t: (t[0], thumbs[t[1]], thumbs[t[2]], *window_args(t)),
                     lambda t: verdict_key(t[0], sha[t[1]], sha[t[2]], *window_args(t)),
                     _score_value, _unpack_score)
    edges += walk(dict(zip(wanted, scores, strict=True)))
    if phases:
        phases.done("dedup: window candidates verified", pairs=len(wanted))
    # An image with few keypoints (a smooth sculpture, a flat colour field, a close-up of a
    # sky) cannot show the inliers the rule asks for even when it is a copy: there the
    # thumbnails' verdict stands.
    judged = keypoint_counts(features) >= JUDGING_KEYPOINTS_PER_INLIER * opts["review_inliers"]
    edges, dropped = _confirmed_by_local_features(edges, features, judged, opts, workers,
                                                  phases, verdicts, sha)
    done.update(dropped)  # the local features rejected them: not worth a second try
    edges += _local_edges(thumbs, features, has, trims, second_look, edges, done, opts,
                          workers, phases, verdicts, sha)
    return edges


def _local_inliers(task: tuple) -> int:
    from curate.local_features import LocalFeatures, match_pair

    features_a, features_b, review_inliers, accept_inliers = task
    return match_pair(LocalFeatures.from_bytes(features_a), LocalFeatures.from_bytes(features_b),
                      enough_inliers=accept_inliers, least_inliers=review_inliers).inliers


def _confirmed_by_local_features(edges: list, features, judged: np.ndarray, opts: dict,
                                 workers: int | None, phases, verdicts=None, sha=None
                                 ) -> tuple[list, set]:
    """The thumbnail verifier's edges, each checked by the local features where both images
    can be ``judged`` by them: fewer than ``review_inliers`` matches one transform explains
    drop the edge.
    At 64 px, two different paintings photographed small on plain walls (or in one frame
    template) agree on the outline and the wall and on nothing a thumbnail can resolve
    inside; SIFT on the 512 px decode sees that the pictures differ. A confirmed edge
    records its inlier count. Returns the edges kept and the pairs dropped. ``verdicts``,
    ``sha``: a :class:`curate.verdicts.VerdictCache` and each row's sha256."""
    from curate.verdicts import verdict_key

    checked = [i for i, e in enumerate(edges) if judged[e[0]] and judged[e[1]]]
    rule = (opts["review_inliers"], opts["accept_inliers"])
    inliers = _judged(
        verdicts, workers, _local_inliers, checked,
        lambda i: (features[edges[i][0]], features[edges[i][1]], *rule),
        lambda i: verdict_key("inliers", sha[edges[i][0]], sha[edges[i][1]], *rule),
        lambda count: (float(count), 0.0), lambda values: int(values[0]))
    out, dropped = list(edges), set()
    for i, count in zip(checked, inliers, strict=True):
        if count < opts["review_inliers"]:
            dropped.add(i)
        else:
            out[i] = (*edges[i][:5], count)
    if phases:
        phases.done("dedup: thumbnail pairs checked by local features", pairs=len(checked),
                    dropped=len(dropped))
    return ([e for i, e in enumerate(out) if i not in dropped],
            {(edges[i][0], edges[i][1]) for i in dropped})


def _local_edges(thumbs: list, features: list, has: np.ndarray, trims: list,
                 second_look: dict, edges_so_far: list, done: set, opts: dict,
                 workers: int | None, phases, verdicts=None, sha=None) -> list:
    """Edges the local features accept among the local-feature retrieval's candidates:
    those no verifier tried (``edges_so_far``, ``done``) and those the thumbnails rejected
    (``second_look``: pair -> hash distance) and nothing accepted since. Every pair the
    thumbnails rejected with ``second_looks`` "all" or the retrieval off. ``has``: which
    rows have features. ``verdicts``, ``sha``: as `_confirmed_by_local_features`."""
    from curate.retrieval import candidate_pairs
    from curate.verdicts import verdict_key

    if not has.any():
        return []
    accepted = {(e[0], e[1]) for e in edges_so_far}
    # A pair rejected as a crop and then accepted as a detail needs no second look.
    rejected = {pair: dist for pair, dist in second_look.items() if pair not in accepted
                and has[pair[0]] and has[pair[1]]}
    # pair -> (hash distance, orientation to try: None for both). The hashes and windows
    # that proposed the rejected pairs compare the pictures as they are, so they are matched
    # as they are; a mirrored copy is the retrieval's to find (its mirrored query).
    pairs: dict = {}
    if opts["second_looks"] == "all" or opts["retrieval_neighbours"] == 0:
        pairs = {pair: (dist, False) for pair, dist in rejected.items()}
    retrieved = 0
    if opts["retrieval_neighbours"] > 0:
        found = candidate_pairs(features, opts["retrieval_neighbours"],
                                shortlist=opts["retrieval_shortlist"],
                                usable=present_rows(thumbs),
                                workers=workers)
        if phases:
            phases.done("dedup: local-feature retrieval", candidates=len(found))
        # The retrieval ranks each image's candidates by the evidence the verifier counts,
        # shared visual words at positions one map explains: a pair the thumbnails rejected
        # that neither image ranks among its best is left out by default (`second_looks`).
        for a, b, mirrored in zip(found["a"].tolist(), found["b"].tolist(),
                                  found["mirrored"].tolist(), strict=True):
            if (a, b) in accepted:
                continue
            if (a, b) in rejected:
                # Tried by the thumbnails (so also in done): matched as it is, and mirrored
                # too when the retrieval's mirrored query found it.
                pairs[(a, b)] = (rejected[(a, b)], None if mirrored else False)
            elif (a, b) not in done:
                # The retrieval knows whether the plain or the mirrored query found the
                # pair: only that orientation is tried.
                pairs[(a, b)] = (-1, bool(mirrored))
                retrieved += 1
    order = sorted(pairs)
    args = (opts["accept_inliers"], opts["review_inliers"], opts["min_score"])
    found = _judged(
        verdicts, workers, _local_verdict, order,
        lambda p: (features[p[0]], features[p[1]], thumbs[p[0]], trims[p[0]], thumbs[p[1]],
                   trims[p[1]], *args, pairs[p][1]),
        lambda p: verdict_key("local", sha[p[0]], sha[p[1]], *args, pairs[p][1]),
        _local_value, _unpack_local)
    edges = []
    for (a, b), (ok, inliers, mirrored, score) in zip(order, found, strict=True):
        if ok:
            edges.append((a, b, pairs[(a, b)][0], score,
                          "local_mirrored" if mirrored else "local", inliers))
    if phases:
        phases.done("dedup: local features verified", pairs=len(order), retrieved=retrieved)
    return edges


def cluster(rows: pd.DataFrame, max_distance: int = 10, workers: int | None = None,
            phases=None, features=None, thumbs=None, verdicts=None, **tuning
            ) -> pd.DataFrame:
    """Cluster near-duplicate images. See the module docstring for the method.

    Returns a frame on ``rows.index`` with ``cluster_id`` (smallest position in ``key`` order
    among the members), ``cluster_size``, ``match_distance`` (hash distance of the row's best
    verified pair, -1 when none; 0 for byte copies; -1 too for a detail, found without a
    hash), ``match_score`` (that pair's robust gradient agreement, NaN when none) and
    ``matched_by`` (what decided: "sha256" for byte copies; "phash", "frame_or_centre",
    "window" or "detail" for the thumbnail verifier and the candidate search that found the
    pair; "local" or "local_mirrored" for the local features; "" when unmatched) and
    ``match_inliers`` (the local features' inlier count of that pair, which they decided or
    confirmed; -1 when they took no part). Local features come from ``features`` (per row, bytes of
    :class:`curate.local_features.LocalFeatures` or None: a list, or a
    :class:`curate.feature_store.FeatureStore` that keeps them on disk) or else from an
    optional ``local_features`` column; the 64 px thumbnails likewise from ``thumbs`` or else
    the ``thumb`` column, and the ``trim`` column places the thumbnails in the features.
    Verification, the window search and the retrieval's quantisation run in ``workers``
    processes (None: all cores); the clusters are the same for any number. ``phases``: an
    object whose ``done(name)`` is called at the end of each step (``curate.stage.Phases``).
    ``verdicts``: a :class:`curate.verdicts.VerdictCache` that answers the pairs it has seen
    and keeps the ones judged here (the clusters are the same with or without it).
    Tuning keys: see ``DEFAULTS``.
    """
    opts = checked_tuning(tuning)
    n = len(rows)
    keys = rows["key"].to_numpy() if "key" in rows else np.arange(n)
    rank = np.empty(n, np.int64)
    rank[np.argsort(keys, kind="stable")] = np.arange(n)

    if thumbs is None:
        thumbs = list(rows["thumb"]) if "thumb" in rows else [None] * n
        thumbs = [bytes(t) if isinstance(t, bytes | bytearray) else None for t in thumbs]
    elif len(thumbs) != n:
        raise ValueError(f"{len(thumbs)} rows of thumbnails for {n} rows")
    if features is None:
        features = list(rows["local_features"]) if "local_features" in rows else [None] * n
        features = [bytes(f) if isinstance(f, bytes | bytearray) else None for f in features]
    elif len(features) != n:
        raise ValueError(f"{len(features)} rows of local features for {n} rows")
    trims = list(rows["trim"]) if "trim" in rows else [None] * n
    trims = [None if t is None or len(t) != 4 else tuple(float(v) for v in t) for t in trims]
    edges = []  # (a, b, distance, score, via, inliers)
    sha = rows["sha256"].to_numpy()
    if n:
        by_sha = pd.Series(np.arange(n)).groupby(sha, sort=False)
        for members in by_sha.groups.values():
            members = sorted(members, key=lambda m: rank[m])
            edges += [(members[0], m, 0, 1.0, "sha256", -1) for m in members[1:]]
            # Only the first byte copy takes part in the searches, else a file served by many
            # sources would fill its own and its copies' few nearest with each other and
            # crowd out the other copies of the painting.
            for m in members[1:]:
                thumbs[m] = features[m] = None
    done = {(min(a, b), max(a, b)) for a, b, *_ in edges}

    with single_threaded_blas():
        edges += _verified_edges(rows, thumbs, features, trims, done, max_distance, opts,
                                 rank, workers, phases, verdicts)
    if opts["replicas"] == "attribution" and "attribution_qualifier" in rows:
        # A workshop replica and the master's picture can be too alike for any verifier;
        # the records' attributions keep them apart (byte copies are one file: never).
        hand = np.array([other_hand(q) for q in rows["attribution_qualifier"]], bool)
        edges = [e for e in edges if e[4] == "sha256" or hand[e[0]] == hand[e[1]]]
    parent = np.arange(n)
    best_distance = np.full(n, -1)
    best_score = np.full(n, np.nan)
    best_inliers = np.full(n, -1)
    matched_by = np.full(n, "", dtype=object)

    def strength(edge: tuple) -> tuple:
        # A local-feature pair accepted on inliers alone has no score: it ranks as passing.
        score = edge[3] if edge[3] == edge[3] else opts["min_score"]
        return -score, -edge[5], edge[2], edge[0], edge[1]

    # Strongest evidence first, so each row reports its best pair.
    for a, b, dist, score, via, inliers in sorted(edges, key=strength):
        ra, rb = _find(parent, a), _find(parent, b)
        if ra != rb:
            parent[max(ra, rb, key=lambda r: rank[r])] = min(ra, rb, key=lambda r: rank[r])
        for m in (a, b):
            if not matched_by[m]:
                best_distance[m], best_score[m], matched_by[m] = dist, score, via
                best_inliers[m] = inliers
    roots = np.array([_find(parent, i) for i in range(n)], dtype=np.int64)
    root_rank = pd.Series(rank).groupby(roots).transform("min").to_numpy() if n else rank
    out = pd.DataFrame({
        "cluster_id": root_rank.astype(np.int64),
        "match_distance": best_distance.astype(np.int64),
        "match_score": np.round(best_score, 4),
        "matched_by": matched_by.astype(str),
        "match_inliers": best_inliers.astype(np.int64),
    }, index=rows.index)
    out["cluster_size"] = out.groupby("cluster_id")["cluster_id"].transform("size")
    return out
