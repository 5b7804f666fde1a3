"""Spatial re-ranking of the retrieval's shortlists: which of an image's most similar images by
shared visual words also share them *at positions one transform explains* (Philbin et al.,
"Object retrieval with large vocabularies and fast spatial matching", 2007).

Used by :func:`curate.retrieval.candidate_pairs`; on its own::

    from curate.rerank import KeypointWords, spatial_inliers
    store = KeypointWords.create(scratch_dir)              # a scratch folder, deleted after
    store.add(words, xy, size)                             # per image: each keypoint's word
    store.finish()
    inliers = spatial_inliers(store, a, b, mirrored, half) # per candidate pair

Why: a close-up detail, a photograph at an angle or a copy on a wall shares only part of its
words with the original, and its cosine to the original is often no higher than to unrelated
paintings, so the true pair ranks outside an image's first few and is never verified. Among
the first 50 it usually is, and there its shared words line up, where chance words lie
anywhere: true pairs' shared words fit one affine map with tens of inliers, unrelated pairs'
with a handful. So the retrieval shortlists more and keeps, per image, the pairs with the most
word inliers; the verifier (ratio-test matching, :mod:`curate.local_features`) still decides.
`python -m benchmarks dedup_quality` measures the true pairs reaching the verifier for each
shortlist length (``retrieval_direct_by_shortlist``).

How: each image's keypoints, sorted by word, are kept on disk (a word and a position at 1/16 px
in 8 bytes: 8 GB at a million images of 1,000 keypoints). The pairs are re-ranked
``PAIRS_PER_READ`` at a time, each time with the keypoints of just their images read into
memory with plain reads (consecutive images in one read), so what the re-ranking holds is one
piece's images, at any collection size; a mapped file would count every page it ever read in
the process's resident memory, up to the whole file.
A pair's correspondences are the keypoints with equal words (the first of each burst), found
by one merge of the two sorted lists; a mirrored query takes each word's partner, which only
rotates the sorted list (the partners of the first half are the second half, in order), and
mirrors x. RANSAC then fits an affine map to three correspondences at a time, for a fixed
number of seeded draws (seeded by the pair's images, so the same result for any thread count
and any piece size), refits the best by least squares and counts again. Maps that fold the
picture over or shrink it below a tenth per side are refused. Compiled loops (numba), pairs
spread over threads; the cost per pair is ``rerank`` in ``benchmarks/results/retrieval.json``
(``python -m benchmarks retrieval``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numba
import numpy as np

SUBPIXELS = 16  # positions are stored in 1/16 px (uint16: sides up to 4,096 px)
RANSAC_DRAWS = 400  # three-point samples per pair; enough for 20 % inliers 99 times in 100
INLIER_SHARE = 0.02  # reprojection tolerance, as a share of the second image's long side
MIN_AREA_SCALE = 0.01  # |det| of the map: a detail at a tenth of the whole per side, no less
MIN_CORRESPONDENCES = 6  # fewer: no fit, zero inliers


PAIRS_PER_READ = 16384  # pairs re-ranked per read: their images' keypoints, at most 32,768
#                        images' (about 260 MB at 1,000 keypoints), are all it holds
KEYPOINT = np.dtype([("word", "<u4"), ("x", "<u2"), ("y", "<u2")])  # one keypoint on disk


class KeypointWords:
    """Per image, its keypoints sorted by word, each a word (uint32) and a position (uint16 x
    2, in 1/``SUBPIXELS`` px), in one flat file of a scratch folder; image ``i`` is keypoints
    ``offsets[i]`` to ``offsets[i + 1]``; ``sizes[i]`` its decode's (width, height)."""

    def __init__(self, folder: Path, owned: bool):
        self.folder, self._owned = Path(folder), owned
        self.path = self.folder / "keypoints.bin"
        self._file = open(self.path, "wb")  # noqa: SIM115 (closed by finish)
        self._reader = None
        self._lengths: list[int] = []
        self._sizes: list[tuple[int, int]] = []
        self.offsets = self.sizes = None

    @classmethod
    def create(cls, scratch: Path | None = None) -> KeypointWords:
        """A new store in a folder of its own under ``scratch`` (default: the system's)."""
        folder = tempfile.mkdtemp(prefix="keypoint-words-", dir=scratch)
        return cls(Path(folder), owned=True)

    def add(self, words: np.ndarray, xy: np.ndarray, size: tuple[int, int]) -> None:
        """One image's keypoints: their ``words`` and positions ``xy`` (n, 2) in pixels of a
        ``size`` (width, height) decode, in any order."""
        order = np.argsort(words, kind="stable")
        fixed = np.clip(np.rint(np.asarray(xy, np.float64).reshape(-1, 2)[order] * SUBPIXELS),
                        0, 65535)
        rows = np.empty(len(order), KEYPOINT)
        rows["word"] = np.asarray(words)[order]
        rows["x"], rows["y"] = fixed[:, 0], fixed[:, 1]
        self._file.write(rows.tobytes())
        self._lengths.append(len(order))
        self._sizes.append((int(size[0]), int(size[1])))

    def finish(self) -> KeypointWords:
        """Every image added: close the file and open it for reading (unbuffered: each read
        goes straight into its buffer)."""
        self._file.close()
        self._reader = open(self.path, "rb", buffering=0)  # noqa: SIM115 (closed by close)
        self.offsets = np.r_[0, np.cumsum(self._lengths, dtype=np.int64)].astype(np.int64)
        self.sizes = np.array(self._sizes, np.int64).reshape(-1, 2)
        return self

    @property
    def nbytes(self) -> int:
        """The keypoints' bytes on disk."""
        return int(self.offsets[-1]) * KEYPOINT.itemsize

    def read(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The keypoints of ``images`` (ascending image numbers, no repeats): their ``words``
        (uint32), ``xy`` (uint16, n x 2) and each image's start in them (``offsets``, one
        more than ``images``), read with one read per run of consecutive images; ``words``
        and ``xy`` are two views of the one buffer read."""
        images = np.asarray(images, np.int64)
        lengths = self.offsets[images + 1] - self.offsets[images]
        offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        rows = np.empty(int(offsets[-1]), KEYPOINT)
        into = memoryview(rows.view(np.uint8))
        runs = np.r_[0, np.flatnonzero(np.diff(images) != 1) + 1, len(images)]
        size = KEYPOINT.itemsize
        for at, end, source in zip((offsets[runs[:-1]] * size).tolist(),
                                   (offsets[runs[1:]] * size).tolist(),
                                   (self.offsets[images[runs[:-1]]] * size).tolist(),
                                   strict=True):
            self._reader.seek(source)
            while at < end:  # a read may return fewer bytes than asked
                got = self._reader.readinto(into[at:end])
                if not got:
                    raise OSError(f"{self.path}: the keypoint file ends early")
                at += got
        # Views of the rows read, not copies: the compiled loops take strided arrays.
        return rows.view("<u4")[0::2], rows.view("<u2").reshape(-1, 4)[:, 2:], offsets

    def __len__(self) -> int:
        return len(self._lengths)

    def close(self) -> None:
        """Close the file and, for a store made by `create`, delete its folder."""
        self._file.close()
        if self._reader is not None:
            self._reader.close()
        if self._owned:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> KeypointWords:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def spatial_inliers(store: KeypointWords, a: np.ndarray, b: np.ndarray, mirrored: np.ndarray,
                    half: int) -> np.ndarray:
    """For each pair (``a[k]``, ``b[k]``) of images in ``store``, the count of A's keypoints
    whose word (its partner, with x mirrored, where ``mirrored[k]``) B also holds at the place
    one affine map from A to B sends them; ``half``: the vocabulary's half size (a word's
    partner is ``w + half`` or ``w - half``). The pairs are taken ``PAIRS_PER_READ`` at a
    time, with their images' keypoints read for them."""
    a = np.ascontiguousarray(a, np.int64)
    b = np.ascontiguousarray(b, np.int64)
    mirrored = np.ascontiguousarray(mirrored, np.bool_)
    out = np.zeros(len(a), np.int32)
    for start in range(0, len(a), PAIRS_PER_READ):
        part = slice(start, start + PAIRS_PER_READ)
        images = np.unique(np.r_[a[part], b[part]])
        words, xy, offsets = store.read(images)
        out[part] = _inliers(words, xy, offsets, store.sizes[images],
                             np.searchsorted(images, a[part]), np.searchsorted(images, b[part]),
                             a[part], b[part], mirrored[part], np.uint32(half), RANSAC_DRAWS,
                             INLIER_SHARE, MIN_AREA_SCALE, MIN_CORRESPONDENCES)
    return out


@numba.njit(cache=True, nogil=True)
def _correspondences(words, xy, start_a, stop_a, start_b, stop_b, mirrored, half, width_a,
                     pa, pb):
    """A's and B's keypoints with equal words (the first of each word on each side) into
    ``pa``, ``pb`` (float64 px); returns their count. A mirrored A: each word's partner, which
    rotates A's sorted list to start at its first word >= half, and x mirrored."""
    n_a = stop_a - start_a
    pivot = 0
    if mirrored:
        while pivot < n_a and words[start_a + pivot] < half:
            pivot += 1
    count = 0
    i = 0
    j = start_b
    last = np.uint32(0xFFFFFFFF)
    while i < n_a and j < stop_b:
        k = start_a + (pivot + i) % n_a if mirrored else start_a + i
        w = words[k]
        if mirrored:
            w = w - half if w >= half else w + half
        wb = words[j]
        if w < wb:
            i += 1
        elif w > wb:
            j += 1
        else:
            if w != last:  # the first of a burst on A's side meets the first on B's
                x = xy[k, 0] / SUBPIXELS
                pa[count, 0] = (width_a - 1 - x) if mirrored else x
                pa[count, 1] = xy[k, 1] / SUBPIXELS
                pb[count, 0] = xy[j, 0] / SUBPIXELS
                pb[count, 1] = xy[j, 1] / SUBPIXELS
                count += 1
                last = w
            i += 1
    return count


@numba.njit(cache=True, nogil=True)
def _affine_from(pa, pb, idx, m):
    """The affine map sending the three points ``pa[idx]`` to ``pb[idx]`` into ``m`` (2 x 3);
    False where the three are (nearly) collinear."""
    x0, y0 = pa[idx[0], 0], pa[idx[0], 1]
    x1, y1 = pa[idx[1], 0] - x0, pa[idx[1], 1] - y0
    x2, y2 = pa[idx[2], 0] - x0, pa[idx[2], 1] - y0
    det = x1 * y2 - x2 * y1
    if abs(det) < 1.0:  # a sliver of a triangle (px^2): no stable map
        return False
    for r in range(2):
        u0 = pb[idx[0], r]
        u1, u2 = pb[idx[1], r] - u0, pb[idx[2], r] - u0
        m[r, 0] = (u1 * y2 - u2 * y1) / det
        m[r, 1] = (x1 * u2 - x2 * u1) / det
        m[r, 2] = u0 - m[r, 0] * x0 - m[r, 1] * y0
    return True


@numba.njit(cache=True, nogil=True)
def _count(pa, pb, n, m, tolerance2, mask):
    count = 0
    for t in range(n):
        dx = m[0, 0] * pa[t, 0] + m[0, 1] * pa[t, 1] + m[0, 2] - pb[t, 0]
        dy = m[1, 0] * pa[t, 0] + m[1, 1] * pa[t, 1] + m[1, 2] - pb[t, 1]
        inside = dx * dx + dy * dy <= tolerance2
        mask[t] = inside
        count += inside
    return count


@numba.njit(cache=True, nogil=True)
def _refit(pa, pb, n, mask, m):
    """Least-squares affine map over the ``mask`` correspondences into ``m``; False when
    singular."""
    ata = np.zeros((3, 3))
    atb = np.zeros((3, 2))
    for t in range(n):
        if mask[t]:
            v = (pa[t, 0], pa[t, 1], 1.0)
            for r in range(3):
                for c in range(3):
                    ata[r, c] += v[r] * v[c]
                atb[r, 0] += v[r] * pb[t, 0]
                atb[r, 1] += v[r] * pb[t, 1]
    if abs(np.linalg.det(ata)) < 1e-9:
        return False
    solved = np.linalg.solve(ata, atb)
    for r in range(2):
        for c in range(3):
            m[r, c] = solved[c, r]
    return True


@numba.njit(cache=True, nogil=True)
def _acceptable(m, min_area_scale):
    """A map that keeps orientation (mirrors are queried as such) and area within bounds."""
    det = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
    return min_area_scale <= det <= 1.0 / min_area_scale


@numba.njit(cache=True, nogil=True)
def _pair_inliers(words, xy, offsets, sizes, a, b, seed_a, seed_b, mirrored, half, draws, share,
                  min_area, min_corr, pa, pb, mask, best_mask):
    """A's keypoints explained by the best map to B: ``a``, ``b`` index ``offsets`` and
    ``sizes``; ``seed_a``, ``seed_b`` are the images' numbers in the whole store."""
    n = _correspondences(words, xy, offsets[a], offsets[a + 1], offsets[b], offsets[b + 1],
                         mirrored, half, sizes[a, 0], pa, pb)
    if n < min_corr:
        return 0
    tolerance = share * max(sizes[b, 0], sizes[b, 1])
    tolerance2 = tolerance * tolerance
    # xorshift seeded by the pair: the same draws for any thread count, order and piece
    state = np.uint64(seed_a * 1000003 + seed_b * 7919 + 1) | np.uint64(1)
    idx = np.zeros(3, np.int64)
    m = np.zeros((2, 3))
    best = 0
    for _ in range(draws):
        for s in range(3):
            state ^= state << np.uint64(13)
            state ^= state >> np.uint64(7)
            state ^= state << np.uint64(17)
            idx[s] = np.int64(state % np.uint64(n))
        if idx[0] == idx[1] or idx[0] == idx[2] or idx[1] == idx[2]:
            continue
        if not _affine_from(pa, pb, idx, m) or not _acceptable(m, min_area):
            continue
        c = _count(pa, pb, n, m, tolerance2, mask)
        if c > best:
            best = c
            best_mask[:n] = mask[:n]
    if best >= 3 and _refit(pa, pb, n, best_mask, m) and _acceptable(m, min_area):
        best = max(best, _count(pa, pb, n, m, tolerance2, mask))
    return best


@numba.njit(parallel=True, cache=False)  # not cached: numba cannot cache this parallel loop
def _inliers(words, xy, offsets, sizes, a, b, seed_a, seed_b, mirrored, half, draws, share,
             min_area, min_corr):
    pairs = len(a)
    out = np.zeros(pairs, np.int32)
    longest = 0
    for i in range(len(offsets) - 1):
        longest = max(longest, offsets[i + 1] - offsets[i])
    threads = numba.get_num_threads()
    chunk = (pairs + threads - 1) // threads
    for t in numba.prange(threads):
        pa = np.zeros((longest, 2))
        pb = np.zeros((longest, 2))
        mask = np.zeros(longest, np.bool_)
        best_mask = np.zeros(longest, np.bool_)
        for k in range(t * chunk, min(pairs, (t + 1) * chunk)):
            out[k] = _pair_inliers(words, xy, offsets, sizes, a[k], b[k], seed_a[k], seed_b[k],
                                   mirrored[k], half, draws, share, min_area, min_corr, pa, pb,
                                   mask, best_mask)
    return out
