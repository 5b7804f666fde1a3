"""Retrieval over local features: for each image, the few others most likely to show the same
picture, so that the geometric verifier (:mod:`curate.local_features`) tries those pairs and
never all N^2.

Use it on a list of :class:`curate.local_features.LocalFeatures` (None where an image has
none)::

    from curate.retrieval import candidate_pairs
    pairs = candidate_pairs(features, neighbours=5)   # a, b, similarity, mirrored

Method: a bag of visual words (Sivic & Zisserman's "Video Google"; Nister & Stewenius's
vocabulary tree), because a close-up detail or a crop shares only part of its keypoints with
the whole, and a global vector of the whole picture (VLAD, a thumbnail) drowns that part.

1. Vocabulary: two-level spherical k-means over RootSIFT descriptors sampled from the
   collection (``branching`` clusters, each split into ``branching`` words), seeded, so the
   same features give the same words. ``branching`` grows as sqrt(10 N): about 16,000 words
   for 1,600 images, a million from 100,000 images on.
2. Each image is a sparse vector of its words, sqrt(count) x idf (a word seen in few images
   is strong evidence; the square root tames bursts of one texture), of unit length.
3. Each image queries with its words and with the words of its mirrored descriptors (a
   mirrored copy shares no words with the original as it is); the ``neighbours`` most similar
   other images (cosine of the vectors) become candidate pairs, the larger of the two
   similarities deciding whether the pair is tried mirrored. Scoring is a sparse matrix
   product a block of queries at a time, so memory holds one block's scores, not N^2.

Cost grows with N x words per image x the images sharing a word, about N^1.x in practice
(``python -m benchmarks retrieval`` measures it); the quantisation (every descriptor against
2 x branching centroids) dominates at a million images.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from curate.local_features import LocalFeatures

SAMPLE_PER_CENTROID = 32  # descriptors per centroid trained on (k-means converges with few)
MAX_SAMPLE = 2_000_000  # descriptors sampled for training at most (~1 GB of float32)
KMEANS_ITERATIONS = 8
MIN_BRANCHING, MAX_BRANCHING = 64, 1024
QUERY_CELLS = 1 << 24  # query rows x images scored per block


def branching_for(images: int) -> int:
    """Clusters per level of the vocabulary for ``images`` images: sqrt(10 N), bounded."""
    return int(np.clip(round(np.sqrt(10 * max(images, 1))), MIN_BRANCHING, MAX_BRANCHING))


def _spherical_kmeans(x: np.ndarray, k: int, rng: np.random.Generator,
                      iterations: int = KMEANS_ITERATIONS, chunk: int = 65536) -> np.ndarray:
    """k unit-length centroids of the unit-length rows of ``x`` (k <= len(x))."""
    centroids = x[np.sort(rng.choice(len(x), k, replace=False))].copy()
    for _ in range(iterations):
        assign = _nearest(x, centroids, chunk)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, x)
        empty = np.flatnonzero(np.bincount(assign, minlength=k) == 0)
        sums[empty] = x[rng.choice(len(x), len(empty), replace=False)]
        centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    return centroids.astype(np.float32)


def _nearest(x: np.ndarray, centroids: np.ndarray, chunk: int = 65536) -> np.ndarray:
    return np.concatenate([(x[s: s + chunk] @ centroids.T).argmax(1)
                           for s in range(0, len(x), chunk)]) if len(x) else np.zeros(0, int)


class Vocabulary:
    """A two-level vocabulary tree: ``top`` (b, 128) centroids, each with ``leaves[i]``
    (<= b, 128) words; word ids are ``first[i] + j``."""

    def __init__(self, top: np.ndarray, leaves: list[np.ndarray]):
        self.top, self.leaves = top, leaves
        self.first = np.r_[0, np.cumsum([len(leaf) for leaf in leaves])].astype(np.int64)
        self.size = int(self.first[-1])

    @classmethod
    def train(cls, sample: np.ndarray, branching: int, seed: int = 0) -> Vocabulary:
        """Train on unit-length descriptor rows ``sample``."""
        rng = np.random.default_rng(seed)
        b = min(branching, len(sample))
        top = _spherical_kmeans(sample, b, rng)
        owner = _nearest(sample, top)
        leaves = []
        for i in range(b):
            members = sample[owner == i]
            if len(members) <= 1:
                leaves.append(top[i: i + 1])
                continue
            leaves.append(_spherical_kmeans(members, min(b, len(members)), rng))
        return cls(top, leaves)

    def assign(self, desc: np.ndarray) -> np.ndarray:
        """The word of each unit-length descriptor row."""
        owner = _nearest(desc, self.top)
        words = np.empty(len(desc), np.int64)
        for i in np.unique(owner):
            rows = np.flatnonzero(owner == i)
            words[rows] = self.first[i] + _nearest(desc[rows], self.leaves[i])
        return words


def _sample(features: list[LocalFeatures], limit: int) -> np.ndarray:
    """About ``limit`` RootSIFT descriptors spread over the images: the same share of each
    image's strongest keypoints (features are stored strongest first)."""
    total = sum(len(f) for f in features)
    share = min(1.0, limit / max(total, 1))
    parts = [f.rootsift()[: max(1, int(np.ceil(len(f) * share)))] for f in features if len(f)]
    return np.concatenate(parts) if parts else np.zeros((0, 128), np.float32)


def _vectors(word_lists: list[np.ndarray], size: int, idf: np.ndarray | None
             ) -> tuple[sp.csr_matrix, np.ndarray]:
    """Rows of sqrt(count) x idf, unit length; and the idf (computed here when None)."""
    rows = np.repeat(np.arange(len(word_lists)), [len(w) for w in word_lists])
    cols = np.concatenate(word_lists) if word_lists else np.zeros(0, np.int64)
    counts = sp.csr_matrix((np.ones(len(cols), np.float32), (rows, cols)),
                           shape=(len(word_lists), size))
    counts.sum_duplicates()
    if idf is None:
        df = np.bincount(counts.indices, minlength=size)
        idf = np.log(len(word_lists) / np.maximum(df, 1)).astype(np.float32)
    counts.data = np.sqrt(counts.data) * idf[counts.indices]
    norms = np.sqrt(np.asarray(counts.multiply(counts).sum(1)).ravel())
    return sp.csr_matrix(sp.diags(1 / np.maximum(norms, 1e-12)) @ counts), idf


def _top(block: sp.csr_matrix, first_row: int, keep: int) -> tuple[np.ndarray, ...]:
    """Per row of a score block: its ``keep`` best columns other than itself (ties: the
    smaller column), as (row, column, score)."""
    rows, cols, scores = [], [], []
    for r in range(block.shape[0]):
        start, stop = block.indptr[r], block.indptr[r + 1]
        col, val = block.indices[start:stop], block.data[start:stop]
        mine = col != first_row + r
        col, val = col[mine], val[mine]
        order = np.lexsort((col, -val))[:keep]
        rows.append(np.full(len(order), first_row + r))
        cols.append(col[order])
        scores.append(val[order])
    return tuple(np.concatenate(p) if p else np.zeros(0) for p in (rows, cols, scores))


def candidate_pairs(features: list[LocalFeatures | None], neighbours: int = 5,
                    seed: int = 0, min_keypoints: int = 8) -> pd.DataFrame:
    """Candidate pairs (positions ``a < b`` in ``features``) with their ``similarity`` and
    whether the better query was ``mirrored``: each image's ``neighbours`` most similar. Images
    with fewer than ``min_keypoints`` keypoints take no part."""
    empty = pd.DataFrame({"a": np.zeros(0, np.int64), "b": np.zeros(0, np.int64),
                          "similarity": np.zeros(0, np.float32),
                          "mirrored": np.zeros(0, bool)})
    present = [i for i, f in enumerate(features) if f is not None and len(f) >= min_keypoints]
    if neighbours <= 0 or len(present) < 2:
        return empty
    chosen = [features[i] for i in present]
    branching = branching_for(len(chosen))
    vocabulary = Vocabulary.train(
        _sample(chosen, min(MAX_SAMPLE, SAMPLE_PER_CENTROID * branching * branching)),
        branching, seed)
    words = [vocabulary.assign(f.rootsift()) for f in chosen]
    mirrored_words = [vocabulary.assign(f.mirrored().rootsift()) for f in chosen]
    index, idf = _vectors(words, vocabulary.size, None)
    mirrored_index, _ = _vectors(mirrored_words, vocabulary.size, idf)
    del words, mirrored_words
    keep = min(neighbours, len(chosen) - 1)
    block = max(1, QUERY_CELLS // len(chosen))
    found = []
    transposed = index.T.tocsr()
    for start in range(0, len(chosen), block):
        stop = min(len(chosen), start + block)
        plain = (index[start:stop] @ transposed).tocsr()
        mirror = (mirrored_index[start:stop] @ transposed).tocsr()
        # Best of the plain and the mirrored query, per pair; a mirrored score larger than
        # the plain one marks a mirrored pair (encoded as a negative column while merging).
        best = plain.maximum(mirror).tocsr()
        rows, cols, scores = _top(best, start, keep)
        rows, cols = rows.astype(np.int64), cols.astype(np.int64)
        was_mirror = (np.asarray(mirror[rows - start, cols]).ravel()
                      > np.asarray(plain[rows - start, cols]).ravel())
        found.append((rows, cols, scores, was_mirror))
    rows, cols, scores, was_mirror = (np.concatenate(p) for p in zip(*found, strict=True))
    present = np.asarray(present, np.int64)
    pairs = pd.DataFrame({"a": present[np.minimum(rows, cols)],
                          "b": present[np.maximum(rows, cols)],
                          "similarity": scores.astype(np.float32), "mirrored": was_mirror})
    # One row per pair: its best similarity (both images may have chosen it).
    pairs = pairs.sort_values(["a", "b", "similarity"], ascending=[True, True, False],
                              kind="stable")
    return pairs.drop_duplicates(["a", "b"]).reset_index(drop=True)
