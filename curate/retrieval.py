"""Retrieval over local features: for each image, the few others most likely to show the same
picture, so that the geometric verifier (:mod:`curate.local_features`) tries those pairs and
never all N^2.

Use it on a sequence with, per image, its :class:`curate.local_features.LocalFeatures`, their
bytes, or None (a list, or a :class:`curate.feature_store.FeatureStore` on disk)::

    from curate.retrieval import candidate_pairs
    pairs = candidate_pairs(features, neighbours=5)  # a, b, similarity, inliers, mirrored

Method: a bag of visual words (Sivic & Zisserman's "Video Google"; Nister & Stewenius's
vocabulary tree), because a close-up detail or a crop shares only part of its keypoints with
the whole, and a global vector of the whole picture (VLAD, a thumbnail) drowns that part.

1. Vocabulary: a tree of spherical k-means over RootSIFT descriptors sampled from the
   collection, seeded, so the same features give the same words: two levels of up to
   ``MAX_BRANCHING`` clusters, then three (`tree_for`), for about ``WORDS_PER_IMAGE`` words
   per image up to 2.1 million words. A vocabulary that grows with the collection keeps the
   images sharing a word, and so the work of a query, about constant; a fixed one would make
   the search quadratic. Each descriptor is compared with ``depth x branching`` centroids.
2. The vocabulary is mirror-symmetric: half of the clusters are trained, the other half are
   their mirror images (the descriptor permutation of a mirrored picture, `MIRROR_PERMUTATION`),
   and so are their words. The word of a mirrored descriptor is then the *partner* of the
   descriptor's own word, with no second quantisation: a mirrored copy, which shares no words
   with the original as it is, is found by querying with the partners of the words.
3. Each image is a binary bag of its distinct words weighted by idf, in an inverted file
   (:mod:`curate.inverted_file`, which leaves out words most images share). Each image queries
   with its words and with their partners; its ``shortlist`` most similar other images
   (cosine) are kept, the larger of the two similarities deciding whether the pair is tried
   mirrored.
4. The shortlist is re-ranked by how many of the shared words one affine map explains
   (:mod:`curate.rerank`), and each image's ``neighbours`` best become candidate pairs: a
   detail or a photograph at an angle shares few words with its original, but at the right
   places.

Memory: the postings, four bytes per (image, distinct word), and one image's features at a
time; features are read twice (a sample, then the words). Each image's distinct words (the
bags: as many bytes again) and each keypoint's word and position (8 bytes) wait on disk, the
bags for the index's build and the queries (a batch at a time), the keypoints for the
re-ranking.
Time: quantisation (in ``workers`` processes) and the postings scanned, which grow as
N x words per image x the images sharing a word (``python -m benchmarks retrieval``
measures both).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from curate.feature_store import FeatureStore, keypoint_counts
from curate.inverted_file import Bags, BagsFile, InvertedFile
from curate.local_features import MIRROR_PERMUTATION, LocalFeatures
from curate.parallel import imap_ordered, process_pool
from curate.rerank import KeypointWords, spatial_inliers

MAX_SAMPLE = 2_000_000  # descriptors sampled for training at most (1 GB of float32)
MIN_SAMPLE_PER_WORD = 8  # sampled descriptors per word wanted (fewer beyond MAX_SAMPLE)
KMEANS_ITERATIONS = 8
WORDS_PER_IMAGE = 10  # vocabulary size per image, up to the largest tree
MIN_BRANCHING, MAX_BRANCHING = 64, 128  # the largest tree: 3 levels, 2.1 million words
ASSIGN_CHUNK = 256  # images per task when assigning words in a process pool
QUERY_CHUNK = 8192  # images per query batch (their mirrored bags are built per batch)


def tree_for(images: int) -> tuple[int, int]:
    """(depth, branching) of the vocabulary for ``images`` images: about ``WORDS_PER_IMAGE``
    words per image (so the images sharing a word stay few as the collection grows), two
    levels while that needs at most ``MAX_BRANCHING`` clusters per level, then three; the
    branching even (half the top clusters are mirror images) and bounded."""
    words = WORDS_PER_IMAGE * max(images, 1)
    depth = 2 if words <= MAX_BRANCHING ** 2 else 3
    branching = 2 * round(words ** (1 / depth) / 2)
    return depth, int(np.clip(branching, MIN_BRANCHING if depth == 2 else 2, MAX_BRANCHING))


def spherical_kmeans(x: np.ndarray, k: int, rng: np.random.Generator,
                      iterations: int = KMEANS_ITERATIONS, chunk: int = 65536) -> np.ndarray:
    """k unit-length centroids of the unit-length rows of ``x`` (k <= len(x)): cosine
    k-means, seeded by ``rng`` (the retrieval's vocabulary, the window search's lists)."""
    if k >= len(x):
        return x.astype(np.float32)  # every row its own centroid
    centroids = x[np.sort(rng.choice(len(x), k, replace=False))].copy()
    for _ in range(iterations):
        assign = _nearest(x, centroids, chunk)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, x)
        empty = np.flatnonzero(np.bincount(assign, minlength=k) == 0)
        sums[empty] = x[rng.choice(len(x), len(empty), replace=False)]
        centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    return centroids.astype(np.float32)


def _nearest(x: np.ndarray, centroids: np.ndarray, chunk: int = 65536,
             columns: np.ndarray | None = None) -> np.ndarray:
    """The nearest centroid of each row of ``x``, its columns taken in the order ``columns``
    when given (``MIRROR_PERMUTATION``: the mirror images), a chunk of rows at a time."""
    def rows(s: int) -> np.ndarray:
        return x[s: s + chunk] if columns is None else x[s: s + chunk][:, columns]
    return np.concatenate([(rows(s) @ centroids.T).argmax(1)
                           for s in range(0, len(x), chunk)]) if len(x) else np.zeros(0, int)


class Vocabulary:
    """A mirror-symmetric vocabulary tree. Level ``l`` holds ``centroids[l]`` (nodes, 128);
    the children of node ``p`` of the level above (the root for level 0) are the nodes
    ``start[l][p]`` to ``start[l][p] + count[l][p]``; the words are the last level's nodes.
    Every level is two halves, the second the mirror image of the first, node for node and
    in the same order, so the word of a mirrored descriptor is ``partner[word]``: the same
    place in the other half."""

    def __init__(self, centroids: list[np.ndarray], start: list[np.ndarray],
                 count: list[np.ndarray]):
        if any(len(c) % 2 for c in centroids):
            raise ValueError("a mirror-symmetric vocabulary has two halves at every level")
        self.centroids, self.start, self.count = centroids, start, count
        self.size = len(centroids[-1])
        half = self.size // 2
        self.partner = np.r_[np.arange(half, 2 * half), np.arange(half)].astype(np.uint32)

    @property
    def depth(self) -> int:
        return len(self.centroids)

    @classmethod
    def train(cls, sample: np.ndarray, branching: int, seed: int = 0, depth: int = 2
              ) -> Vocabulary:
        """Train on unit-length descriptor rows ``sample`` (with their mirror images): the
        first half of each level by k-means within each node of the level above, the second
        half mirrored from it."""
        rng = np.random.default_rng(seed)
        trained = spherical_kmeans(sample, max(1, min(branching // 2, len(sample))), rng)
        level = np.concatenate([trained, trained[:, MIRROR_PERMUTATION]])
        # Members are rows of the sample and its mirror images (`_with_mirrors`).
        owner = np.concatenate([_nearest(sample, level),
                                _nearest(sample, level, columns=MIRROR_PERMUTATION)])
        members = [np.flatnonzero(owner == i) for i in range(len(trained))]
        centroids = [level]
        start, count = [np.zeros(1, np.int64)], [np.array([len(level)], np.int64)]
        for _ in range(1, depth):
            parents = centroids[-1][: len(members)]
            children, starts, counts, below = [], [], [], []
            for parent, rows in zip(parents, members, strict=True):
                if len(rows) <= 1:  # a leaf that stays: its one child is itself
                    cells, assign = parent[None], np.zeros(len(rows), np.int64)
                else:
                    node = _with_mirrors(sample, rows)
                    cells = spherical_kmeans(node, min(branching, len(rows)), rng)
                    assign = _nearest(node, cells)
                starts.append(sum(len(c) for c in children))
                counts.append(len(cells))
                children.append(cells)
                below += [rows[assign == j] for j in range(len(cells))]
            half = np.concatenate(children)
            centroids.append(np.concatenate([half, half[:, MIRROR_PERMUTATION]]))
            start.append(np.r_[starts, np.asarray(starts) + len(half)].astype(np.int64))
            count.append(np.r_[counts, counts].astype(np.int64))
            members = below
        return cls(centroids, start, count)

    def assign(self, desc: np.ndarray) -> np.ndarray:
        """The word of each unit-length descriptor row: down the tree, each descriptor
        against the children of its node only."""
        node = np.zeros(len(desc), np.int64)
        for centroids, start, count in zip(self.centroids, self.start, self.count,
                                           strict=True):
            order = np.argsort(node, kind="stable")
            parents, first = np.unique(node[order], return_index=True)
            bounds = np.r_[first, len(order)]
            below = np.empty(len(desc), np.int64)
            for k, parent in enumerate(parents):
                rows = order[bounds[k]: bounds[k + 1]]
                c0 = start[parent]
                below[rows] = c0 + (desc[rows] @ centroids[c0: c0 + count[parent]].T).argmax(1)
            node = below
        return node.astype(np.uint32)


def _with_mirrors(sample: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Rows of ``sample`` followed by its mirror images (row ``n + i`` is row ``i``
    mirrored), without making the second half: at the largest vocabulary the sample alone is
    1 GB."""
    n = len(sample)
    out = sample[np.where(rows < n, rows, rows - n)]
    mirrored = rows >= n
    out[mirrored] = out[mirrored][:, MIRROR_PERMUTATION]
    return out


def _decoded(item) -> LocalFeatures:
    return item if isinstance(item, LocalFeatures) else LocalFeatures.from_bytes(item)


def _sample(features: Sequence, present: np.ndarray, counts: np.ndarray, limit: int
            ) -> np.ndarray:
    """About ``limit`` RootSIFT descriptors spread over the ``present`` images: the same share
    of each image's first keypoints (features are stored each part's strongest first:
    `curate.local_features.spread`)."""
    share = min(1.0, limit / max(int(counts[present].sum()), 1))
    taken = np.minimum(counts[present],
                       np.maximum(1, np.ceil(counts[present] * share))).astype(np.int64)
    out = np.empty((int(taken.sum()), 128), np.float32)  # filled in place: no second copy
    ends = np.cumsum(taken)
    for i, end, take in zip(present, ends, taken, strict=True):
        out[end - take: end] = _decoded(features[i]).rootsift()[:take]
    return out


_worker_vocabulary: Vocabulary | None = None


def _hold_vocabulary(vocabulary: Vocabulary) -> None:
    global _worker_vocabulary
    _worker_vocabulary = vocabulary


def _keypoint_words(chunk: list) -> list[tuple[np.ndarray, np.ndarray, tuple[int, int]]]:
    """Each image of ``chunk``: the word of each keypoint, the keypoints' positions and the
    decode's size (in a pool process, or here once `_hold_vocabulary` has run)."""
    out = []
    for item in chunk:
        features = _decoded(item)
        out.append((_worker_vocabulary.assign(features.rootsift()), features.xy, features.size))
    return out


def _bags(features: Sequence, present: np.ndarray, vocabulary: Vocabulary,
          workers: int | None, keypoints: KeypointWords, bags: BagsFile) -> BagsFile:
    """The distinct words of each ``present`` image, in that order, into ``bags``; each
    keypoint's word and position go to ``keypoints`` (for the spatial re-ranking)."""
    chunks = [present[s: s + ASSIGN_CHUNK] for s in range(0, len(present), ASSIGN_CHUNK)]
    with process_pool(workers, len(chunks) > 1, _hold_vocabulary, (vocabulary,)) as pool:
        if pool is None:
            _hold_vocabulary(vocabulary)
        for images in imap_ordered(pool, _keypoint_words,
                                   ([features[i] for i in chunk] for chunk in chunks), 1):
            for words, xy, size in images:
                keypoints.add(words, xy, size)
                bags.add(np.unique(words))
    keypoints.finish()
    return bags.finish()


def _mirrored(bags: Bags, partner: np.ndarray) -> Bags:
    """The bags of the mirrored images: each word's partner, sorted again per image."""
    image = np.repeat(np.arange(len(bags)), np.diff(bags.offsets))
    words = partner[bags.words]
    return Bags(words[np.lexsort((words, image))], bags.offsets)


def candidate_pairs(features: Sequence, neighbours: int = 5, seed: int = 0,
                    min_keypoints: int = 8, usable: np.ndarray | None = None,
                    workers: int | None = 1, shortlist: int = 50,
                    scratch: Path | None = None) -> pd.DataFrame:
    """Candidate pairs (positions ``a < b`` in ``features``) with their ``similarity``, their
    word ``inliers`` and whether the better query was ``mirrored``: each image's ``shortlist``
    most similar by shared words, re-ranked by word inliers (`curate.rerank`), its
    ``neighbours`` best. Images with fewer than ``min_keypoints`` keypoints, or not ``usable``
    (default: all are), take no part. Words are assigned in ``workers`` processes (None: all
    cores); each keypoint's word waits in a folder under ``scratch`` (default: the system's
    temporary folder). The pairs are the same for any number of workers and threads."""
    empty = pd.DataFrame({"a": np.zeros(0, np.int64), "b": np.zeros(0, np.int64),
                          "similarity": np.zeros(0, np.float32),
                          "inliers": np.zeros(0, np.int32), "mirrored": np.zeros(0, bool)})
    counts = keypoint_counts(features)
    ok = counts >= min_keypoints
    if usable is not None:
        ok &= np.asarray(usable, bool)
    present = np.flatnonzero(ok)
    if neighbours <= 0 or len(present) < 2:
        return empty
    if scratch is None and isinstance(features, FeatureStore):
        scratch = features.path.parent  # the features' own scratch folder: a disk with room
    depth, branching = tree_for(len(present))
    sample = _sample(features, present, counts,
                     min(MAX_SAMPLE, MIN_SAMPLE_PER_WORD * branching ** depth))
    vocabulary = Vocabulary.train(sample, branching, seed, depth)
    del sample
    with KeypointWords.create(scratch) as keypoints, BagsFile.create(scratch) as stored:
        bags = _bags(features, present, vocabulary, workers, keypoints, stored)
        index = InvertedFile.build(bags, vocabulary.size)
        keep = min(neighbours, len(present) - 1)
        listed = min(max(shortlist, keep), len(present) - 1)
        found = []
        for start in range(0, len(present), QUERY_CHUNK):
            chunk = bags.select(start, min(len(present), start + QUERY_CHUNK))
            found.append(_reranked(index, chunk, np.arange(start, start + len(chunk)),
                                   vocabulary, keypoints, listed, keep))
    hits = pd.concat(found, ignore_index=True)
    q, other = hits["q"].to_numpy(), hits["other"].to_numpy()
    pairs = pd.DataFrame({"a": present[np.minimum(q, other)],
                          "b": present[np.maximum(q, other)],
                          "similarity": hits["similarity"].to_numpy(np.float32),
                          "inliers": hits["inliers"].to_numpy(np.int32),
                          "mirrored": hits["mirrored"].to_numpy(bool)})
    # One row per pair: both images may have chosen it; the choice with more inliers (then
    # the higher similarity) stands.
    pairs = pairs.sort_values(["a", "b", "inliers", "similarity"],
                              ascending=[True, True, False, False], kind="stable")
    return pairs.drop_duplicates(["a", "b"]).reset_index(drop=True)


def _reranked(index: InvertedFile, chunk: Bags, ids: np.ndarray, vocabulary: Vocabulary,
              keypoints: KeypointWords, listed: int, keep: int) -> pd.DataFrame:
    """For each image of ``chunk`` (positions ``ids``), its ``listed`` most similar others
    by the better of the plain and the mirrored query, then its ``keep`` with the most word
    inliers (ties: the higher similarity, then the smaller other). Each of those pairs is
    re-ranked both ways, plain and mirrored, and ``mirrored`` says which explained more words
    (ties: plain): in a small vocabulary a close-up's mirrored query can share more words
    with its painting than the plain one, but only the plain one's lie where one map sends
    them."""
    found = []
    for mirrored, query in ((False, chunk), (True, _mirrored(chunk, vocabulary.partner))):
        other, score = index.query(query, listed, ids)
        found.append(pd.DataFrame({"q": np.repeat(ids, listed), "other": other.ravel(),
                                   "similarity": score.ravel(), "mirrored": mirrored}))
    hits = pd.concat(found, ignore_index=True)
    hits = hits[hits["other"] >= 0]
    # Per (image, other): the better of the plain and the mirrored query (ties: plain), then
    # each image's `listed` best (ties: the smaller other).
    hits = hits.sort_values(["q", "other", "similarity", "mirrored"],
                            ascending=[True, True, False, True], kind="stable") \
        .drop_duplicates(["q", "other"])
    hits = hits.sort_values(["q", "similarity", "other"], ascending=[True, False, True],
                            kind="stable").groupby("q", sort=False).head(listed)
    q, other, half = hits["q"].to_numpy(), hits["other"].to_numpy(), len(vocabulary.partner) // 2
    # Both ways of a pair side by side: their images' keypoints are read once for both.
    both = spatial_inliers(keypoints, np.repeat(q, 2), np.repeat(other, 2),
                           np.tile([False, True], len(q)), half).reshape(-1, 2)
    plain, mirrored = both[:, 0], both[:, 1]
    hits = hits.assign(inliers=np.maximum(plain, mirrored), mirrored=mirrored > plain)
    return hits.sort_values(["q", "inliers", "similarity", "other"],
                            ascending=[True, False, False, True], kind="stable") \
        .groupby("q", sort=False).head(keep)
