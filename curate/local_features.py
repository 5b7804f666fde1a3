"""Local features: SIFT keypoints of one image, and the geometric check that two images show
the same picture.

Extract and compare::

    from curate.local_features import extract, match_pair
    a, b = extract(open("a.jpg", "rb").read()), extract(open("b.jpg", "rb").read())
    found = match_pair(a, b)      # found.inliers, found.matrix (A's pixels to B's), ...

Why: a copy of a painting photographed at an angle, mirrored, a close-up detail or a crop with
a mat around it shares too little of its *whole* with the original for a hash or a thumbnail
to see it, while hundreds of small image patches (SIFT keypoints: corners and blobs of the
brushwork, each with a descriptor of its gradients) still match, and they match *at positions
that one geometric transform explains*. Chance matches between unrelated pictures scatter;
true copies line up. OpenCV ships SIFT since its patent expired.

1. Extraction (`extract`, in the ``hash@SOURCE`` stage's process pool): a grayscale decode
   brought to ``long_side_px`` (JPEGs reduced through libjpeg's DCT scaling, as in
   :mod:`curate.hashing`; a smaller image enlarged, at most ``MAX_ENLARGEMENT`` times: see
   `working_gray`), ``max_keypoints`` SIFT keypoints spread over the image (`spread`: each
   part's strongest, so that a detail of a quiet part keeps its share), stored as bytes:
   positions in those pixels and the 128 descriptor values (integers in 0-255 in OpenCV's
   SIFT, so uint8 loses nothing). About 136 bytes per keypoint. Where the keypoints gather
   in a small part of the image (a picture on a plain wall or in a wide mat), that part is
   decoded again at the working size and its keypoints replace those it had
   (`with_picture_region`).
2. Matching (`match_pair`): RootSIFT (L1-normalise, square root: the Hellinger kernel, which
   compares gradient histograms better than Euclidean distance), each keypoint of A to its two
   nearest in B, kept when the nearest is clearly nearer than the second (Lowe's ratio test),
   one match per keypoint of B.
3. Geometry: RANSAC fits an affine map (crops, frames, details, squashed aspect ratios,
   rotation) and, when that leaves matches unexplained, a homography (a photograph taken at an
   angle); the count of matches it explains within ``reprojection_px`` is the evidence. A
   transform that folds the picture over or shrinks it to a sliver is refused.
4. Mirrored copies cost no second extraction: the SIFT descriptor of a mirrored image is a
   fixed permutation of the original's (`MIRROR_PERMUTATION`, checked against OpenCV's own
   extraction by the tests), with x mirrored. A pair that fails is tried again mirrored.

What the inlier count means is measured on real copies (see the README's de-duplication
section): copies have tens to hundreds, unrelated pictures under ten, other versions of one
motif a dozen, while a shared watermark or frame template can explain 30-40 matches on a sliver
of the picture. So an inlier count alone decides only far from those numbers; in between,
:mod:`curate.dedup` checks the pair densely at the found alignment.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from PIL import Image

from curate.hashing import _open_checked
from marcus.errors import UserError

FEATURES_PIPELINE = "sift-v5"  # changes whenever stored features would differ (v2: stretch,
#                                v3: small images enlarged to the working size, v4: a picture
#                                in a plain surround looked at again, v5: keypoints spread)
MAX_ENLARGEMENT = 4.0  # a small image is enlarged to long_side_px by at most this factor
# A picture that fills a small part of its image is looked at again (`with_picture_region`):
REGION_SHARE = 0.96       # its box holds this share of the keypoints along each axis (2 % of
#                           them may lie outside at each end: a label, a plug, a wall's grain)
REGION_MARGIN = 0.02      # widened by this share of the long side (keypoints have extent)
REGION_MAX_AREA = 0.45    # only a box covering at most this share of the image (one of the
#                           image's shape is then enlarged 1.5 times: less is not worth a look)
REGION_MIN_ZOOM = 1.25    # only when the second look enlarges it at least this many times
REGION_MAX_ZOOM = 4.0     # and at most this many (bounds the decode: 4x the working size)
REGION_MIN_KEYPOINTS = 50  # fewer keypoints do not say where a picture is
POOL_FACTOR = 2  # SIFT's strongest keypoints described per keypoint kept, to spread from
STRETCH_TAIL = 0.005  # share of the darkest and of the brightest pixels clipped by the stretch
MAGIC = b"SIF1"
_HEADER = struct.Struct("<4sHHI")  # magic, width, height (decode px), keypoints
DESCRIPTOR_BYTES = 128


def _mirror_permutation() -> np.ndarray:
    """Descriptor index permutation for a horizontally mirrored image. OpenCV lays a SIFT
    descriptor out as 4 x 4 cells x 8 orientation bins in the keypoint's own frame; mirroring
    the image reflects that frame across its orientation axis, which reverses the cells' first
    axis and maps orientation bin o to (8 - o) mod 8."""
    cells = np.arange(DESCRIPTOR_BYTES).reshape(4, 4, 8)[::-1]
    return cells[:, :, (8 - np.arange(8)) % 8].ravel()


MIRROR_PERMUTATION = _mirror_permutation()


@dataclass(frozen=True)
class FeatureOptions:
    long_side_px: int = 512      # working decode's long side: larger images reduced, smaller
    #                              enlarged (at most MAX_ENLARGEMENT times)
    max_keypoints: int = 1000    # SIFT keypoints kept per image (`spread`); 0: no local features
    picture_region: bool = True  # a picture filling a small part of its image (on a wall, in a
    #                              wide mat) looked at again at the working size
    spread_cells: int = 8        # keypoints spread over this many cells along each axis
    #                              (`spread`); 1: the strongest, wherever they are

    def __post_init__(self):
        if not 64 <= self.long_side_px <= 4096:
            raise UserError("curate.features.long_side_px: 64 to 4096, got "
                            f"{self.long_side_px}")
        if not (16 <= self.max_keypoints <= 65535 or self.max_keypoints == 0):
            raise UserError("curate.features.max_keypoints: 16 to 65535, or 0 for none, got "
                            f"{self.max_keypoints}")
        if not 1 <= self.spread_cells <= 64:
            raise UserError(f"curate.features.spread_cells: 1 to 64, got {self.spread_cells}")


def keypoint_count(size: int) -> int:
    """The keypoints in ``size`` bytes of stored features (`LocalFeatures.to_bytes`)."""
    count, rest = divmod(size - _HEADER.size, 8 + DESCRIPTOR_BYTES)
    if count < 0 or rest:
        raise ValueError(f"{size} bytes are not stored local features")
    return count


@dataclass(frozen=True)
class LocalFeatures:
    """Keypoint positions ``xy`` (n, 2) float32 in pixels of a ``size`` (width, height)
    decode, pixel centres at integers (OpenCV's convention), and descriptors ``desc`` (n, 128)
    uint8."""

    xy: np.ndarray
    desc: np.ndarray
    size: tuple[int, int]

    def __len__(self) -> int:
        return len(self.xy)

    def to_bytes(self) -> bytes:
        width, height = self.size
        return (_HEADER.pack(MAGIC, width, height, len(self))
                + self.xy.astype("<f4").tobytes() + self.desc.astype(np.uint8).tobytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> LocalFeatures:
        magic, width, height, n = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise ValueError(f"not local features ({magic!r} instead of {MAGIC!r})")
        expected = _HEADER.size + n * (8 + DESCRIPTOR_BYTES)
        if len(data) != expected:
            raise ValueError(f"local features of {n} keypoints take {expected} bytes, "
                             f"got {len(data)}")
        xy = np.frombuffer(data, "<f4", 2 * n, _HEADER.size).reshape(n, 2)
        desc = np.frombuffer(data, np.uint8, n * DESCRIPTOR_BYTES,
                             _HEADER.size + 8 * n).reshape(n, DESCRIPTOR_BYTES)
        return cls(xy.astype(np.float32), desc, (width, height))

    def mirrored(self) -> LocalFeatures:
        """The features of the horizontally mirrored image, without extracting again."""
        xy = self.xy.copy()
        xy[:, 0] = self.size[0] - 1 - xy[:, 0]
        return LocalFeatures(xy, self.desc[:, MIRROR_PERMUTATION], self.size)

    def rootsift(self) -> np.ndarray:
        """RootSIFT descriptors (n, 128) float32, each of unit length."""
        desc = self.desc.astype(np.float32)
        desc /= np.maximum(desc.sum(1, keepdims=True), 1e-7)
        return np.sqrt(desc)


# ----------------------------------------------------------------------------------------------
# Extraction


def reduced_gray(data: bytes, long_side_px: int) -> np.ndarray:
    """The image as grayscale uint8 with its long side at most ``long_side_px``: a JPEG is
    decoded at the smallest libjpeg scale still at least that big, then area-reduced."""
    img = _open_checked(data)
    if img.format == "JPEG":
        scale = long_side_px / max(img.size)
        img.draft("L", (max(1, int(img.width * scale)), max(1, int(img.height * scale))))
    gray = img.convert("L")  # forces the decode: a truncated file raises here
    if max(gray.size) > long_side_px:
        scale = long_side_px / max(gray.size)
        gray = gray.resize((max(1, round(gray.width * scale)), max(1, round(gray.height * scale))),
                           Image.Resampling.BOX)
    return np.asarray(gray, dtype=np.uint8)


_SIFT: dict = {}  # per process and keypoint pool: creating a detector costs ~1 ms


def stretched(gray: np.ndarray) -> np.ndarray:
    """The grey levels stretched linearly so that the ``STRETCH_TAIL`` darkest pixels become 0
    and the brightest 255. SIFT keeps a keypoint above a fixed contrast, so a faded, dark or
    hazy copy (or a close-up of a sky) would keep few or none of the keypoints its brighter
    copy keeps; stretched, both are judged at the same contrast. A mirrored image stretches
    alike (the levels' histogram is the same)."""
    cumulative = np.cumsum(np.bincount(gray.ravel(), minlength=256))
    tail = STRETCH_TAIL * cumulative[-1]
    lo = int(np.searchsorted(cumulative, tail, side="right"))
    hi = int(np.searchsorted(cumulative, cumulative[-1] - tail, side="left"))
    if hi <= lo or (lo == 0 and hi == 255):
        return gray
    table = np.clip(np.rint((np.arange(256) - lo) * (255 / (hi - lo))), 0, 255)
    return table.astype(np.uint8)[gray]


def detect(gray: np.ndarray, options: FeatureOptions) -> LocalFeatures:
    """SIFT features of a grayscale uint8 image (grey levels `stretched`), strongest first:
    the ``max_keypoints`` strongest, or to `spread` them ``POOL_FACTOR`` times as many
    (bounding the descriptors' cost on a busy image). The order is a function of the
    keypoints alone (response, then position, scale and angle), never of OpenCV's threads."""
    pool = options.max_keypoints * (POOL_FACTOR if options.spread_cells > 1 else 1)
    if pool not in _SIFT:
        cv2.setNumThreads(1)  # extraction runs in the callers' process pools: one thread each
        _SIFT[pool] = cv2.SIFT_create(nfeatures=pool)
    keypoints, desc = _SIFT[pool].detectAndCompute(stretched(gray), None)
    height, width = gray.shape
    if not keypoints:
        return LocalFeatures(np.zeros((0, 2), np.float32),
                             np.zeros((0, DESCRIPTOR_BYTES), np.uint8), (width, height))
    table = np.array([(k.response, k.pt[0], k.pt[1], k.size, k.angle) for k in keypoints])
    response, x, y, size, angle = table.T
    order = np.lexsort((angle, size, y, x, -response))
    return LocalFeatures(table[order, 1:3].astype(np.float32),
                         np.clip(np.rint(desc[order]), 0, 255).astype(np.uint8),
                         (width, height))


def spread(found: LocalFeatures, count: int, cells: int) -> LocalFeatures:
    """``count`` of ``found``'s keypoints (strongest first, as `detect` gives them) spread
    over the image: the image cut into ``cells`` x ``cells`` cells, every cell's strongest
    keypoint taken before any cell's second, and so on (a cell out of keypoints gives its
    turn to the others). Kept in that order.

    Why: the strongest keypoints gather where the picture has most contrast, so a close-up
    of a quieter part (a face, a hand, a stretch of landscape) met too few of them in the
    whole picture's features for a geometric fit. Spread, each part holds about its area's
    share (``spread`` in benchmarks/results/dedup_quality.json: both ways side by side, and
    what the wider pool costs). A plain part (sky, a wall) has few keypoints to give, so the
    budget still goes to the picture."""
    if len(found) <= count:
        return found
    width, height = found.size
    column = np.minimum((found.xy[:, 0] + 0.5) * cells // width, cells - 1)
    row = np.minimum((found.xy[:, 1] + 0.5) * cells // height, cells - 1)
    cell = (row * cells + column).astype(np.int64)
    # Keypoints come strongest first, so a keypoint's turn is how many of its cell come before
    # it: its place among its cell's keypoints once they are sorted stably by cell. A stable
    # sort by turn then keeps strength order within each turn.
    by_cell = np.argsort(cell, kind="stable")
    ordered = cell[by_cell]
    turn = np.empty(len(found), np.int64)
    turn[by_cell] = np.arange(len(found)) - np.searchsorted(ordered, ordered)
    chosen = np.argsort(turn, kind="stable")[:count]
    return LocalFeatures(found.xy[chosen], found.desc[chosen], found.size)


def extract_gray(gray: np.ndarray, options: FeatureOptions) -> LocalFeatures:
    """SIFT features of a grayscale uint8 image: ``options.max_keypoints`` of them (`detect`),
    `spread` over the image."""
    return spread(detect(gray, options), options.max_keypoints, options.spread_cells)


def working_gray(data: bytes, long_side_px: int) -> np.ndarray:
    """The grayscale decode features are extracted from: its long side ``long_side_px``, a
    larger image reduced (`reduced_gray`), a smaller one enlarged (Lanczos), by at most
    ``MAX_ENLARGEMENT`` times.

    Why enlarge: SIFT finds keypoints from a scale of a few pixels up, so a 150 px copy of a
    painting holds a hundred keypoints where its 512 px copy holds a thousand, and the two share
    few of them: the brushwork that gives the large copy its keypoints lies below the small
    copy's finest scale. At one working size both are searched over the same scales, and the
    small copy's keypoint budget is spent. Interpolation invents no detail; past a few times
    (an icon, a thumbnail of a thumbnail) it only smooths, hence the bound."""
    gray = reduced_gray(data, long_side_px)
    height, width = gray.shape
    factor = min(long_side_px / max(width, height), MAX_ENLARGEMENT)
    if factor <= 1:
        return gray
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return np.asarray(Image.fromarray(gray).resize(size, Image.Resampling.LANCZOS))


def picture_region(found: LocalFeatures) -> tuple[float, float, float, float] | None:
    """Where the picture lies in its image when it is a small part of it: the box (left, top,
    right, bottom, in ``found``'s pixels) around the central ``REGION_SHARE`` of the keypoints
    along each axis, widened by ``REGION_MARGIN``; None when that box covers more than
    ``REGION_MAX_AREA`` of the image, or the keypoints are too few to tell."""
    if len(found) < REGION_MIN_KEYPOINTS:
        return None
    width, height = found.size
    tail = 50 * (1 - REGION_SHARE)  # percent at each end
    (left, right), (top, bottom) = (np.percentile(found.xy[:, axis], [tail, 100 - tail])
                                    for axis in (0, 1))
    margin = REGION_MARGIN * max(width, height)
    box = (max(0.0, left - margin), max(0.0, top - margin),
           min(width - 1.0, right + margin), min(height - 1.0, bottom + margin))
    if (box[2] - box[0] + 1) * (box[3] - box[1] + 1) > REGION_MAX_AREA * width * height:
        return None
    return box


def with_picture_region(data: bytes, detected: LocalFeatures, options: FeatureOptions
                        ) -> LocalFeatures:
    """The working decode's features (``detected`` by `detect`, `spread` here), those inside
    the `picture_region` of the strongest of them replaced by the features of the region
    decoded again with its long side at the working size (enlarged at most
    ``REGION_MAX_ZOOM`` times, and the image at most ``MAX_ENLARGEMENT`` times its own size),
    placed back in the working decode's pixels. Just spread where there is no such region or
    the second look would enlarge it less than ``REGION_MIN_ZOOM`` times.

    Why: a painting photographed on a wall, in a wide mat or with a scan's margins is a small
    part of its photograph: at a third of the width it is some 170 px of the 512 px decode,
    a thumbnail whose brushwork lies below SIFT's finest scale (see `working_gray`), while its
    copies fill their frames. The wall and the mat are plain, so the keypoints gather on the
    picture and say where it is; looked at again at the working size, it is matched like any
    full-frame copy (``picture_region`` in benchmarks/results/dedup_quality.json). A textured
    surround spreads the keypoints and leaves the features as they were. (The strongest say
    where the picture is: spread, a wall's faint grain would have its share.)"""
    count = options.max_keypoints
    found = spread(detected, count, options.spread_cells)
    box = picture_region(LocalFeatures(detected.xy[:count], detected.desc[:count], detected.size))
    if box is None:
        return found
    width, height = found.size
    left, top, right, bottom = box
    zoom = min(options.long_side_px / (max(right - left, bottom - top) + 1), REGION_MAX_ZOOM)
    image_w, image_h = _open_checked(data).size
    working = width / image_w                                    # working px per image px
    scale = min(working * zoom, MAX_ENLARGEMENT)                 # the region's, likewise
    if scale < REGION_MIN_ZOOM * working:
        return found
    gray = reduced_gray(data, max(1, round(max(image_w, image_h) * min(scale, 1.0))))
    fx, fy = gray.shape[1] / width, gray.shape[0] / height      # decode px per working px
    # Pixel centres at integers: pixel x spans x - 0.5 to x + 0.5, so x + 0.5 is its distance
    # from the edge, which scales from one decode to another.
    x0, y0 = max(0, math.floor((left + 0.5) * fx)), max(0, math.floor((top + 0.5) * fy))
    x1 = min(gray.shape[1], math.ceil((right + 0.5) * fx))
    y1 = min(gray.shape[0], math.ceil((bottom + 0.5) * fy))
    crop = gray[y0:y1, x0:x1]
    grow = scale / (gray.shape[1] / image_w)
    if grow > 1:
        crop = np.asarray(Image.fromarray(crop).resize(
            (max(1, round(crop.shape[1] * grow)), max(1, round(crop.shape[0] * grow))),
            Image.Resampling.LANCZOS))
    region = extract_gray(np.ascontiguousarray(crop), options)
    gx, gy = crop.shape[1] / (x1 - x0), crop.shape[0] / (y1 - y0)  # region px per decode px
    xy = region.xy.astype(np.float64)
    xy[:, 0] = ((xy[:, 0] + 0.5) / gx + x0) / fx - 0.5
    xy[:, 1] = ((xy[:, 1] + 0.5) / gy + y0) / fy - 0.5
    outside = ~((found.xy[:, 0] >= left) & (found.xy[:, 0] <= right)
                & (found.xy[:, 1] >= top) & (found.xy[:, 1] <= bottom))
    return LocalFeatures(np.concatenate([xy.astype(np.float32), found.xy[outside]]),
                         np.concatenate([region.desc, found.desc[outside]]), found.size)


def extract(data: bytes, options: FeatureOptions = FeatureOptions()) -> LocalFeatures:
    """Local features of an image's bytes: SIFT on the working decode (`working_gray`),
    `spread` over the image, and with ``options.picture_region`` a second look at a picture
    that fills a small part of its image (`with_picture_region`). Raises on data that is not
    a readable image."""
    detected = detect(working_gray(data, options.long_side_px), options)
    if options.picture_region:
        return with_picture_region(data, detected, options)
    return spread(detected, options.max_keypoints, options.spread_cells)


def feature_fields(options: FeatureOptions, data: bytes) -> dict:
    """``{"local_features": bytes}`` of an image (None when SIFT cannot read what the hashes
    could): the ``extra`` of ``curate.hashing.hash_files``, so that one read of the bytes gives
    both."""
    if options.max_keypoints == 0:
        return {"local_features": None}
    try:
        return {"local_features": extract(data, options).to_bytes()}
    except Exception:  # noqa: BLE001 - a decoder failure is a property of the data
        return {"local_features": None}


# ----------------------------------------------------------------------------------------------
# Matching and geometry


@dataclass(frozen=True)
class MatchOptions:
    ratio: float = 0.8            # Lowe's test: nearest over second-nearest distance, at most
    reprojection_px: float = 4.0  # RANSAC inlier tolerance, in pixels of a 512 px decode
    ransac_iterations: int = 2000  # RANSAC hypotheses per fit
    max_area_ratio: float = 100.0  # one picture's overlap at most this many times the other's
    bounded_ransac: bool = True   # stop at the hypotheses a verdict needs (hypotheses_needed)


@dataclass(frozen=True)
class LocalMatch:
    """The geometric evidence for a pair: ``inliers`` (matches one transform explains),
    ``matrix`` (3x3, A's decode pixels to B's, B mirrored first when ``mirrored``), ``model``
    ("affine", "homography" or "" when nothing fitted), ``matches`` (ratio-test matches) and
    ``inlier_xy`` and ``inlier_xy_b`` (the inliers' positions in A and in B, mirrored when
    ``mirrored``: (inliers, 2) each)."""

    inliers: int
    matrix: np.ndarray | None
    mirrored: bool
    model: str
    matches: int
    inlier_xy: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    inlier_xy_b: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))

    def reversed(self) -> LocalMatch:
        """The same evidence seen from B: B's inliers, the transform from B's pixels (mirrored
        when ``mirrored``) to A's."""
        matrix = None if self.matrix is None else np.linalg.inv(self.matrix)
        return replace(self, matrix=matrix, inlier_xy=self.inlier_xy_b,
                       inlier_xy_b=self.inlier_xy)


def inlier_coverage(found: LocalMatch, a: LocalFeatures, b: LocalFeatures, trim_a=None,
                    grid: int = 8, min_keypoints: int = 2) -> float:
    """How much of the shared picture the inliers explain: of the cells of a ``grid`` x
    ``grid`` division of A's picture (inside its frame, ``trim_a``: left, top, right, bottom
    fractions) holding at least ``min_keypoints`` of A's keypoints that the transform puts
    inside B, the share holding an inlier. A copy's inliers lie wherever either picture has
    texture; a shared watermark's or frame's lie on a sliver of it."""
    if found.matrix is None or not len(a):
        return 0.0
    width, height = a.size
    left, top, right, bottom = trim_a if trim_a is not None else (0.0,) * 4
    x0, x1, y0, y1 = left * width, (1 - right) * width, top * height, (1 - bottom) * height
    mapped = cv2.perspectiveTransform(a.xy[None].astype(np.float64), found.matrix)[0]
    inside = ((mapped[:, 0] >= 0) & (mapped[:, 0] < b.size[0]) & (mapped[:, 1] >= 0)
              & (mapped[:, 1] < b.size[1]))

    def cells(xy: np.ndarray) -> np.ndarray:
        keep = (xy[:, 0] >= x0) & (xy[:, 0] < x1) & (xy[:, 1] >= y0) & (xy[:, 1] < y1)
        col = ((xy[keep, 0] - x0) / max(x1 - x0, 1e-9) * grid).astype(int)
        row = ((xy[keep, 1] - y0) / max(y1 - y0, 1e-9) * grid).astype(int)
        return np.bincount(np.clip(row, 0, grid - 1) * grid + np.clip(col, 0, grid - 1),
                           minlength=grid * grid)

    bearing = cells(a.xy[inside]) >= min_keypoints
    if not bearing.any():
        return 0.0
    return float((cells(found.inlier_xy)[bearing] > 0).mean())


def ratio_matches(a: np.ndarray, b: np.ndarray, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into ``a``, into ``b``) of the ratio-test matches between unit-length
    descriptor rows, one per row of ``b`` (the closest)."""
    if len(a) < 2 or len(b) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    sims = a @ b.T
    # The two largest per row: argmax, then the max with it masked (a third of the time of
    # a partial sort). A tie for the largest never passes the test below.
    rows = np.arange(len(a))
    best = sims.argmax(1)
    s1 = sims[rows, best]
    sims[rows, best] = -np.inf
    s2 = sims.max(1)
    # Unit vectors: squared distance 2 - 2 cos.
    d1, d2 = np.sqrt(np.maximum(2 - 2 * s1, 0)), np.sqrt(np.maximum(2 - 2 * s2, 0))
    return one_per_keypoint_of_b(np.flatnonzero(d1 < ratio * d2), best, -s1)


def one_per_keypoint_of_b(passed: np.ndarray, best: np.ndarray, distance: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
    """The matches (rows of A ``passed``, each to its ``best`` row of B at ``distance``, or
    anything that orders them alike) with at most one per row of B: the nearest A among those
    that chose it (ties: the first)."""
    order = passed[np.lexsort((passed, distance[passed], best[passed]))]
    first = np.r_[True, np.diff(best[order]) != 0] if len(order) else np.zeros(0, bool)
    keep = np.sort(order[first])
    return keep, best[keep]


def _plausible(matrix: np.ndarray, size_a: tuple[int, int], size_b: tuple[int, int],
               max_area_ratio: float) -> bool:
    """A transform that keeps A's picture a convex, unfolded quadrilateral of sensible size."""
    if not np.all(np.isfinite(matrix)):
        return False  # a degenerate sample: OpenCV can return NaN or infinite entries
    w, h = size_a
    corners = np.array([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], np.float64).T
    mapped = matrix @ corners
    if np.any(mapped[2] <= 1e-9):
        return False  # part of A maps through infinity
    quad = (mapped[:2] / mapped[2]).T
    edges = np.roll(quad, -1, 0) - quad
    turns = edges[:, 0] * np.roll(edges, -1, 0)[:, 1] - edges[:, 1] * np.roll(edges, -1, 0)[:, 0]
    if not (np.all(turns > 0) or np.all(turns < 0)):
        return False  # folded or self-crossing
    if np.all(turns < 0):
        return False  # a reflection: the mirrored try handles mirror copies
    area = 0.5 * abs(np.sum(quad[:, 0] * np.roll(quad[:, 1], -1)
                            - np.roll(quad[:, 0], -1) * quad[:, 1]))
    ratio = area / (w * h) * (size_a[0] * size_a[1]) / (size_b[0] * size_b[1])
    return 1 / max_area_ratio <= ratio <= max_area_ratio


def hypotheses_needed(needed: int, matches: int, sample: int, confidence: float = 0.9999
                      ) -> int | None:
    """RANSAC hypotheses that draw, with ``confidence``, at least one sample of ``sample``
    matches all among the ``needed`` inliers of a transform that explains ``needed`` of the
    ``matches`` (drawn without replacement): a transform explaining fewer could not change
    the verdict, and one explaining more is found sooner. None when ``needed`` exceeds
    ``matches`` (no such transform exists)."""
    if needed > matches:
        return None
    if needed < sample:
        needed = sample
    all_inliers = math.prod((needed - i) / (matches - i) for i in range(sample))
    if all_inliers >= 1:
        return 1
    return max(1, math.ceil(math.log(1 - confidence) / math.log(1 - all_inliers)))


def _fit(src: np.ndarray, dst: np.ndarray, size_a, size_b, options: MatchOptions,
         least_inliers: int = 3) -> tuple[np.ndarray, np.ndarray | None, str]:
    """The best plausible transform of ``src`` onto ``dst``: (inlier mask, 3x3 matrix,
    model). Only a transform explaining at least ``least_inliers`` matters to the caller, so
    each RANSAC runs at most the hypotheses that find such a transform with near certainty
    (`hypotheses_needed`): a pair of unrelated pictures with 25 chance matches needs about
    30 rather than ``ransac_iterations``, which it would otherwise spend in full. OpenCV's
    RANSAC draws from a fixed seed, so a shorter run is the first part of the longer one."""
    threshold = options.reprojection_px * max(size_b) / 512

    def hypotheses(needed: int, sample: int) -> int | None:
        if len(src) < sample:
            return None
        if not options.bounded_ransac:
            return options.ransac_iterations
        bound = hypotheses_needed(needed, len(src), sample)
        return None if bound is None else min(bound, options.ransac_iterations)

    best = (np.zeros(len(src), bool), None, "")
    if iterations := hypotheses(least_inliers, 3):
        affine, mask = cv2.estimateAffine2D(
            src, dst, method=cv2.RANSAC, ransacReprojThreshold=threshold,
            maxIters=iterations, confidence=0.999, refineIters=10)
        if affine is not None:
            matrix = np.vstack([affine, [0, 0, 1]])
            if _plausible(matrix, size_a, size_b, options.max_area_ratio):
                best = (mask.ravel() > 0, matrix, "affine")
    before = int(best[0].sum())
    # The homography has two more degrees of freedom: it must explain clearly more.
    beats = before + max(4, before // 10) + 1
    if before < len(src) and (iterations := hypotheses(max(least_inliers, beats), 4)):
        # Matches the affine map leaves out may be a perspective (a photograph at an angle).
        homography, mask = cv2.findHomography(src, dst, cv2.RANSAC, threshold,
                                              maxIters=iterations, confidence=0.999)
        if homography is not None and _plausible(homography, size_a, size_b,
                                                 options.max_area_ratio):
            if int(mask.sum()) >= beats:
                best = (mask.ravel() > 0, homography, "homography")
    return best


def match_features(a: LocalFeatures, b: LocalFeatures, options: MatchOptions = MatchOptions(),
                   mirrored: bool = False, least_inliers: int = 3) -> LocalMatch:
    """Ratio-test matches of A against B (B mirrored first when ``mirrored``) and the best
    transform explaining them. Fewer matches than ``least_inliers`` are not fitted (RANSAC on
    a handful of chance matches runs all its iterations and can only fail)."""
    if mirrored:
        b = b.mirrored()
    ia, ib = ratio_matches(a.rootsift(), b.rootsift(), options.ratio)
    if len(ia) < max(3, least_inliers):
        return LocalMatch(0, None, mirrored, "", len(ia))
    mask, matrix, model = _fit(a.xy[ia].astype(np.float64), b.xy[ib].astype(np.float64),
                               a.size, b.size, options, least_inliers)
    return LocalMatch(int(mask.sum()), matrix, mirrored, model, len(ia), a.xy[ia[mask]],
                      b.xy[ib[mask]])


def match_pair(a: LocalFeatures, b: LocalFeatures, options: MatchOptions = MatchOptions(),
               enough_inliers: int = 40, least_inliers: int = 3,
               mirrored: bool | None = None) -> LocalMatch:
    """The better of A against B as it is and against B mirrored; the mirrored try is made
    only when the first finds fewer than ``enough_inliers``. Either try stops before RANSAC
    with fewer than ``least_inliers`` matches. ``mirrored`` True or False: that try alone
    (the retrieval already knows which query found the pair)."""
    if mirrored is not None:
        return match_features(a, b, options, mirrored=mirrored, least_inliers=least_inliers)
    found = match_features(a, b, options, least_inliers=least_inliers)
    if found.inliers >= enough_inliers:
        return found
    mirrored = match_features(a, b, options, mirrored=True, least_inliers=least_inliers)
    return mirrored if mirrored.inliers > found.inliers else found
