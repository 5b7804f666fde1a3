"""An inverted file over visual words, for retrieval at a million images in bounded memory.

Build it from each image's words (``curate.retrieval.Vocabulary.assign``) and query it::

    from curate.inverted_file import Bags, BagsFile, InvertedFile
    bags = Bags.of(word_lists)                     # distinct words per image, flat
    index = InvertedFile.build(bags, vocabulary_size)
    neighbours, scores = index.query(bags, keep=5)

    with BagsFile.create(scratch_dir) as stored:   # the same bags on disk, for a million images
        for words in word_lists:
            stored.add(np.unique(words))
        stored.finish()
        index = InvertedFile.build(stored, vocabulary_size)
        neighbours, scores = index.query(stored.select(0, 8192), keep=5)

Each image is a binary bag of its distinct words weighted by idf (a word that many images
share is weak evidence; a burst of one texture counts once), of unit length; the similarity of
two images is the cosine of those vectors. What is held: one uint32 image id per (word, image)
posting, grouped by word, plus per-word offsets and per-image norms: about 4 GB at a million
images of 1,000 distinct words. Words held by more than ``max_df`` images are left out of the
postings (stop words: their idf is small and scanning them costs the most, as the square of
their count). The bags themselves need not be held: a :class:`BagsFile` keeps them on disk and
gives ``BUILD_CHUNK`` images at a time to the build and a query batch at a time to the queries
(another 4 GB at a million images that the build would otherwise hold beside the postings).

A query scans the postings of its words into a dense score array and keeps the ``keep`` best
other images (ties: the smaller id), in a compiled loop: about a nanosecond or two per
posting, one scratch array per thread, queries spread over threads. Results do not depend on
the number of threads: each query is computed alone, nor on where the bags are held.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numba
import numpy as np

DEFAULT_MAX_DF_SHARE = 0.01  # a word in more than this share of the images is a stop word
MIN_MAX_DF = 1000  # ...but never below this many images (small collections keep every word)
MAX_MAX_DF = 5000  # ...nor above: a query scans at most this many images per word, so the
#                    whole search costs at most N x words x MAX_MAX_DF (linear in N)
BUILD_CHUNK = 16384  # images read at a time while building (64 MB at 1,000 words each)


@numba.njit(cache=True, nogil=True)
def _fill(words: np.ndarray, offsets: np.ndarray, first: int, keep: np.ndarray,
          cursor: np.ndarray, postings: np.ndarray) -> None:
    """Postings of images ``first`` on (``words``, ``offsets``: theirs) at each kept word's
    ``cursor``, which moves on: filled a chunk at a time in image order, each word's images
    stay in increasing order."""
    for image in range(len(offsets) - 1):
        for p in range(offsets[image], offsets[image + 1]):
            word = words[p]
            if keep[word]:
                postings[cursor[word]] = first + image
                cursor[word] += 1


@numba.njit(cache=True, nogil=True)
def _norms(words: np.ndarray, offsets: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Each bag's squared length: the sum of its words' weights."""
    out = np.zeros(len(offsets) - 1)
    for image in range(len(offsets) - 1):
        for p in range(offsets[image], offsets[image + 1]):
            out[image] += weight[words[p]]
    return out


@numba.njit(cache=True, nogil=True)
def _query_one(words, start, stop, self_id, starts, postings, weight, norms, scratch, seen,
               touched, keep):
    n_touched = 0
    norm = 0.0
    for p in range(start, stop):
        w = words[p]
        norm += weight[w]
        for q in range(starts[w], starts[w + 1]):
            image = postings[q]
            if not seen[image]:
                seen[image] = True
                touched[n_touched] = image
                n_touched += 1
            scratch[image] += weight[w]
    best = np.full(keep, -1, np.int64)
    best_score = np.full(keep, -1.0)
    for t in range(n_touched):
        image = touched[t]
        score = scratch[image]
        scratch[image] = 0.0
        seen[image] = False
        if image == self_id or norm <= 0.0:
            continue
        score = score / np.sqrt(norm * norms[image])
        # insert into the sorted top list: higher score first, then the smaller id
        if score < best_score[keep - 1] or (score == best_score[keep - 1]
                                            and image > best[keep - 1] >= 0):
            continue
        k = keep - 1
        while k > 0 and (score > best_score[k - 1]
                         or (score == best_score[k - 1] and image < best[k - 1])):
            best[k] = best[k - 1]
            best_score[k] = best_score[k - 1]
            k -= 1
        best[k] = image
        best_score[k] = score
    return best, best_score


@numba.njit(parallel=True)  # not cached: numba cannot cache this parallel loop
def _query(words, offsets, self_ids, starts, postings, weight, norms, keep, n_images):
    n = len(offsets) - 1
    out = np.full((n, keep), -1, np.int64)
    out_score = np.full((n, keep), -1.0)
    threads = numba.get_num_threads()
    chunk = (n + threads - 1) // threads
    for t in numba.prange(threads):
        scratch = np.zeros(n_images)
        seen = np.zeros(n_images, np.bool_)
        touched = np.empty(n_images, np.int64)
        for i in range(t * chunk, min(n, (t + 1) * chunk)):
            best, score = _query_one(words, offsets[i], offsets[i + 1], self_ids[i], starts,
                                     postings, weight, norms, scratch, seen, touched, keep)
            out[i] = best
            out_score[i] = score
    return out, out_score


class Bags:
    """The distinct words of each of many images, flat: image ``i``'s sorted words are
    ``words[offsets[i]:offsets[i + 1]]`` (uint32)."""

    def __init__(self, words: np.ndarray, offsets: np.ndarray):
        self.words = np.ascontiguousarray(words, np.uint32)
        self.offsets = np.ascontiguousarray(offsets, np.int64)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def of(cls, word_lists) -> Bags:
        """From one array of words (repeats allowed) per image."""
        distinct = [np.unique(np.asarray(w)).astype(np.uint32) for w in word_lists]
        words = np.concatenate(distinct) if distinct else np.zeros(0, np.uint32)
        return cls(words, np.r_[0, np.cumsum([len(w) for w in distinct])])

    def select(self, start: int, stop: int) -> Bags:
        """Images ``start`` to ``stop`` (a view of the words)."""
        offsets = self.offsets[start: stop + 1]
        return Bags(self.words[offsets[0]: offsets[-1]], offsets - offsets[0])


class BagsFile:
    """Bags written to a flat file of a scratch folder one image at a time, and read back a
    range of images at a time (`select`, as :class:`Bags` in memory): only the offsets (eight
    bytes an image) are held. Read with plain file reads, not mapped, so what a range read
    held is freed with it."""

    def __init__(self, folder: Path, owned: bool):
        self.folder, self._owned = Path(folder), owned
        self.path = self.folder / "bags.u32"
        self._file = open(self.path, "wb")  # noqa: SIM115 (closed by finish)
        self._lengths: list[int] = []
        self.offsets: np.ndarray | None = None

    @classmethod
    def create(cls, scratch: Path | None = None) -> BagsFile:
        """A new file in a folder of its own under ``scratch`` (default: the system's)."""
        return cls(Path(tempfile.mkdtemp(prefix="bags-", dir=scratch)), owned=True)

    def add(self, words: np.ndarray) -> None:
        """One image's distinct words, sorted."""
        self._file.write(np.asarray(words, "<u4").tobytes())
        self._lengths.append(len(words))

    def finish(self) -> BagsFile:
        """Close the file for reading."""
        self._file.close()
        self.offsets = np.r_[0, np.cumsum(self._lengths, dtype=np.int64)].astype(np.int64)
        self._lengths = []
        return self

    def __len__(self) -> int:
        return len(self._lengths) if self.offsets is None else len(self.offsets) - 1

    def select(self, start: int, stop: int) -> Bags:
        """Images ``start`` to ``stop``, read into memory."""
        offsets = self.offsets[start: stop + 1]
        count = int(offsets[-1] - offsets[0])
        words = np.fromfile(self.path, "<u4", count, offset=4 * int(offsets[0])) if count \
            else np.zeros(0, np.uint32)
        return Bags(words, offsets - offsets[0])

    def close(self) -> None:
        """Close and, for a file made by `create`, delete its folder."""
        self._file.close()
        if self._owned:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> BagsFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def chunks(bags: Bags | BagsFile, size: int | None = None):
    """``(first image, Bags)`` of ``bags``, ``size`` (default ``BUILD_CHUNK``) images at a
    time."""
    size = size or BUILD_CHUNK
    for start in range(0, len(bags), size):
        yield start, bags.select(start, min(len(bags), start + size))


def document_frequency(bags: Bags | BagsFile, vocabulary_size: int) -> np.ndarray:
    """How many of ``bags`` hold each word."""
    df = np.zeros(vocabulary_size, np.int64)
    for _, part in chunks(bags):
        df += np.bincount(part.words, minlength=vocabulary_size)
    return df


class InvertedFile:
    """Postings of distinct words per image (see the module docstring)."""

    def __init__(self, starts: np.ndarray, postings: np.ndarray, weight: np.ndarray,
                 norms: np.ndarray):
        self.starts, self.postings, self.weight, self.norms = starts, postings, weight, norms

    @property
    def images(self) -> int:
        return len(self.norms)

    @classmethod
    def build(cls, bags: Bags | BagsFile, vocabulary_size: int, max_df: int | None = None
              ) -> InvertedFile:
        """The index of ``bags`` (in memory or on disk, read ``BUILD_CHUNK`` images at a time);
        words in more than ``max_df`` of them (default: ``DEFAULT_MAX_DF_SHARE`` of the
        images, within ``MIN_MAX_DF`` to ``MAX_MAX_DF``) are left out."""
        n = len(bags)
        df = document_frequency(bags, vocabulary_size)
        if max_df is None:
            max_df = min(MAX_MAX_DF, max(MIN_MAX_DF, int(DEFAULT_MAX_DF_SHARE * n)))
        keep = (df > 0) & (df <= max_df)
        idf = np.where(keep, np.log(max(n, 1) / np.maximum(df, 1)), 0.0)
        weight = idf ** 2  # binary vectors: a shared word adds idf * idf to the dot product
        starts = np.r_[0, np.cumsum(np.where(keep, df, 0))].astype(np.int64)
        postings = np.empty(starts[-1], np.uint32)
        cursor, norms = starts[:-1].copy(), np.empty(n)
        for first, part in chunks(bags):
            _fill(part.words, part.offsets, first, keep, cursor, postings)
            norms[first: first + len(part)] = _norms(part.words, part.offsets, weight)
        return cls(starts, postings, weight, norms)

    def query(self, bags: Bags, keep: int, self_ids: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """For each bag, the ids of the ``keep`` most similar indexed images (-1 where fewer
        share a word) and their cosines, best first (ties: the smaller id); ``self_ids``
        (default: the bag's position) are never returned."""
        ids = np.arange(len(bags)) if self_ids is None else np.asarray(self_ids, np.int64)
        return _query(bags.words, bags.offsets, ids, self.starts, self.postings, self.weight,
                      self.norms, keep, self.images)
