"""The local-feature retrieval's cost as the collection grows (``curate.retrieval``).

Run: ``python -m benchmarks retrieval`` (``--quick``: 2,000 and 10,000 images only;
``--sizes 10000,100000`` for others). Run it alone: it times one and two cores.

Two parts, because they grow differently:

1. **Quantisation** (the vocabulary and each descriptor's word), whose cost per image grows
   only with the tree's branching (at most ``MAX_BRANCHING``, from 210,000 images on): the
   vocabulary for a million images trained on ``MAX_SAMPLE`` descriptors, and the words
   assigned per second on one core. Random unit vectors stand in for RootSIFT: the
   arithmetic does not depend on the values.
2. **The inverted file** (`curate.inverted_file`) at each size, in a fresh process (for its
   peak memory): synthetic bags of ``WORDS_PER_IMAGE`` distinct words drawn from a Zipf-like
   law over the vocabulary the stage would build at that size (a few words are in many
   images, as with real visual words), 1 % of the images being partial copies of another
   (``COPIED_SHARE`` of its words); build time, query time (both queries per image, plain
   and mirrored, timed on up to ``QUERY_SAMPLE`` images and scaled to all), the bytes the
   index holds, the bags' bytes on disk, the process's peak RSS, and the share of copies whose
   original is among their 5 nearest. The bags are drawn in a process of their own and the
   index's process holds them as the stage does, on disk, reading a batch at a time: its peak
   is the postings' and a query batch's.

3. **The spatial re-ranking** (`curate.rerank`) at ``RERANK_IMAGES`` images: the same synthetic
   bags, each word given a random position and the planted copies sharing only
   ``RERANK_COPIED_SHARE`` of their original's words, at the places an affine map sends them;
   the query's cost at the stage's shortlist against 5, the re-ranking's milliseconds per pair
   (both ways, as it is and mirrored, as the stage re-ranks each listed pair) on one thread
   and two, and its hours at a million images, the keypoint words' bytes on disk per image,
   what the re-ranking holds in memory at its peak against the size of their file, and the
   share of copies whose original is among their 5 nearest by shared words alone and after
   re-ranking.

The growth exponent of each cost against the images is fitted between the sizes, and the
costs are extrapolated to a million images where that was not run. The real quality of the
retrieval (which copies reach the verifier) is `dedup_quality`'s `candidate_coverage`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (2_000, 10_000)
WORDS_PER_IMAGE = 600  # distinct words of an image (the scaled demo: about 610 keypoints)
ZIPF_EXPONENT = 0.9  # word frequency ~ 1 / rank^0.9
COPIED_SHARE = 0.3  # words a planted copy shares with its original
QUERY_SAMPLE = 20_000  # queries timed at most; the rest are scaled from them
TARGET_IMAGES = 1_000_000
RERANK_IMAGES = 100_000
RERANK_QUERIES = 2_000  # images whose shortlists are re-ranked and timed
RERANK_COPIED_SHARE = 0.03  # 18 of 600 words: chance neighbours outrank some copies


def synthetic_bags(images: int, vocabulary: int, seed: int = 0,
                   copied_share: float = COPIED_SHARE):
    """Bags of distinct words and the planted (copy, original) pairs."""
    from curate.inverted_file import Bags

    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, vocabulary + 1) ** ZIPF_EXPONENT
    cdf = np.cumsum(p / p.sum())
    words = np.empty(images * WORDS_PER_IMAGE, np.uint32)
    lengths = np.empty(images, np.int64)
    filled = 0
    for start in range(0, images, 10_000):
        count = min(10_000, images - start)
        draw = np.searchsorted(cdf, rng.random((count, WORDS_PER_IMAGE))).astype(np.uint32)
        draw = np.minimum(draw, vocabulary - 1)
        permuted = rng.permutation(vocabulary).astype(np.uint32)  # ranks to word ids
        draw = np.sort(permuted[draw], axis=1)
        fresh = np.ones_like(draw, bool)
        fresh[:, 1:] = draw[:, 1:] != draw[:, :-1]
        kept = draw[fresh]
        words[filled: filled + len(kept)] = kept
        lengths[start: start + count] = fresh.sum(1)
        filled += len(kept)
    bags = Bags(words[:filled], np.r_[0, np.cumsum(lengths)])
    copies = rng.choice(images, max(1, images // 100), replace=False)
    originals = (copies + 1 + rng.integers(0, images - 1, len(copies))) % images
    plain = [bags.words[bags.offsets[i]: bags.offsets[i + 1]] for i in range(images)]
    for copy, original in zip(copies, originals, strict=True):
        own, theirs = plain[copy], plain[original]
        shared = rng.choice(theirs, int(copied_share * len(theirs)), replace=False)
        plain[copy] = np.unique(np.concatenate([own[: len(own) - len(shared)], shared]))
    bags = Bags.of(plain) if len(copies) else bags
    return bags, copies, originals


def write_bags(images: int, folder: str, seed: int = 0) -> None:
    """Part 2's input at one size, in ``folder``: the synthetic bags' words (``words.u32``),
    their ``offsets.npy`` and the planted ``copies.npy`` and ``originals.npy``. Run in a
    process of its own, so that what drawing them holds is not the index's peak."""
    from curate.retrieval import tree_for

    depth, branching = tree_for(images)
    bags, copies, originals = synthetic_bags(images, branching ** depth, seed)
    folder = Path(folder)
    bags.words.astype("<u4").tofile(folder / "words.u32")
    for name, values in (("offsets", bags.offsets), ("copies", copies),
                         ("originals", originals)):
        np.save(folder / f"{name}.npy", values)


def index_at(images: int, folder: str) -> dict:
    """Part 2 at one size (run in its own process), on the bags `write_bags` left in
    ``folder``: held as the stage holds them, on disk (`curate.inverted_file.BagsFile`), so
    the peak is the index's and a query batch's."""
    from curate.inverted_file import BagsFile, InvertedFile, document_frequency
    from curate.retrieval import QUERY_CHUNK, _mirrored, tree_for
    from marcus.timings import peak_rss_mib

    folder = Path(folder)
    depth, branching = tree_for(images)
    vocabulary = branching ** depth
    offsets = np.load(folder / "offsets.npy")
    copies, originals = np.load(folder / "copies.npy"), np.load(folder / "originals.npy")
    # The partner table of a symmetric vocabulary: halves swapped.
    partner = np.r_[np.arange(vocabulary // 2, vocabulary),
                    np.arange(vocabulary // 2)].astype(np.uint32)
    with BagsFile.create(folder) as bags:
        for start in range(0, images, QUERY_CHUNK):  # copied into the stage's own file
            stop = min(images, start + QUERY_CHUNK)
            words = np.fromfile(folder / "words.u32", "<u4", int(offsets[stop] - offsets[start]),
                                offset=4 * int(offsets[start]))
            for i in range(start, stop):
                bags.add(words[offsets[i] - offsets[start]: offsets[i + 1] - offsets[start]])
        bags.finish()
        InvertedFile.build(bags.select(0, 100), vocabulary).query(bags.select(0, 10), 5)  # jit
        started = time.perf_counter()
        index = InvertedFile.build(bags, vocabulary)
        build_s = time.perf_counter() - started
        # Queries in the stage's batches: the first QUERY_SAMPLE images, scaled to all of them.
        timed = min(images, QUERY_SAMPLE)
        started = time.perf_counter()
        for start in range(0, timed, QUERY_CHUNK):
            chunk = bags.select(start, min(timed, start + QUERY_CHUNK))
            ids = np.arange(start, start + len(chunk))
            index.query(chunk, 5, ids)
            index.query(_mirrored(chunk, partner), 5, ids)
        query_s = (time.perf_counter() - started) / timed * images
        found = {}
        for copy in copies:
            found[int(copy)] = index.query(bags.select(int(copy), int(copy) + 1), 5,
                                           np.array([copy]))[0][0]
        df = document_frequency(bags, vocabulary)
        disk = bags.path.stat().st_size
    hits = np.mean([originals[k] in found[int(c)] for k, c in enumerate(copies)])
    return {"images": images, "vocabulary": vocabulary, "words": int(offsets[-1]),
            "stop_words": int(np.sum((df > 0) & (np.diff(index.starts) == 0))),
            "postings_scanned_per_query": round(float(
                (np.diff(index.starts).astype(np.float64) ** 2).sum() / images), 1),
            "build_s": round(build_s, 2), "query_s_all_images": round(query_s, 1),
            "index_mib": round((index.postings.nbytes + index.starts.nbytes
                                + index.norms.nbytes) / 2**20, 1),
            "bags_on_disk_mib": round((disk + offsets.nbytes) / 2**20, 1),
            "peak_rss_mib": peak_rss_mib(), "copies_found_in_5": round(float(hits), 4)}


def rerank_at(images: int, queries: int, seed: int = 0) -> dict:
    """Part 3 (run in its own process)."""
    import tempfile

    import numba

    from curate.dedup import DEFAULTS
    from curate.inverted_file import InvertedFile
    from curate.rerank import KeypointWords, spatial_inliers
    from curate.retrieval import tree_for
    from marcus.timings import peak_rss_mib

    shortlist = DEFAULTS["retrieval_shortlist"]
    depth, branching = tree_for(images)
    vocabulary = branching ** depth
    bags, copies, originals = synthetic_bags(images, vocabulary, seed, RERANK_COPIED_SHARE)
    rng = np.random.default_rng(seed + 1)
    size = (512, 384)
    xy = [rng.uniform((0, 0), (size[0] - 1, size[1] - 1), (int(n), 2))
          for n in np.diff(bags.offsets)]
    turn = np.deg2rad(4)  # each copy: its original's places, scaled, turned and shifted
    view = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]]) * 0.8
    for copy, original in zip(copies, originals, strict=True):
        own = bags.words[bags.offsets[copy]: bags.offsets[copy + 1]]
        theirs = bags.words[bags.offsets[original]: bags.offsets[original + 1]]
        shared = np.isin(own, theirs)
        where = np.searchsorted(theirs, own[shared])
        xy[copy][shared] = xy[original][where] @ view.T + (30.0, 20.0)
    index = InvertedFile.build(bags, vocabulary)
    asked = np.r_[copies, np.setdiff1d(np.arange(queries), copies)][:queries]
    query = bags_of(bags, asked)
    index.query(query.select(0, 10), 5, asked[:10])  # compile
    timings = {}
    for keep in (5, shortlist):
        started = time.perf_counter()
        other, _ = index.query(query, keep, asked)
        timings[keep] = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as scratch, KeypointWords.create(Path(scratch)) as store:
        for i in range(images):
            store.add(bags.words[bags.offsets[i]: bags.offsets[i + 1]], xy[i], size)
        store.finish()
        a = np.repeat(asked, shortlist)
        b = other.ravel()
        # Each listed pair both ways, as it is and mirrored, side by side, as the stage asks
        # (`curate.retrieval._reranked`); its inliers are the better way's.
        a, b = np.repeat(a[b >= 0], 2), np.repeat(b[b >= 0], 2)
        mirrored = np.tile([False, True], len(a) // 2)
        spatial_inliers(store, a[:10], b[:10], mirrored[:10], vocabulary // 2)  # compile
        per_pair, held = {}, None
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            start_mib = _current_rss_mib() if _reset_peak_rss() else None
            started = time.perf_counter()
            inliers = spatial_inliers(store, a, b, mirrored, vocabulary // 2)
            per_pair[threads] = (time.perf_counter() - started) / (len(a) // 2)
            if start_mib is not None:
                held = max(held or 0.0, peak_rss_mib() - start_mib)
        disk = store.nbytes / images
    full = np.full(other.shape, -1, np.int64)
    full[other >= 0] = inliers.reshape(-1, 2).max(1)  # taken row by row, in this order
    ranked = {}
    for position, q in enumerate(asked[: len(copies)]):
        order = np.lexsort((np.arange(shortlist), -full[position]))  # stable: ties by words
        ranked[int(q)] = (other[position, :5], other[position, order[:5]])
    original_of = dict(zip(copies.tolist(), originals.tolist(), strict=True))
    by_words = np.mean([original_of[q] in ranked[q][0] for q in ranked])
    reranked = np.mean([original_of[q] in ranked[q][1] for q in ranked])
    ms = per_pair[1] * 1000
    return {"when": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            "images": images, "vocabulary": vocabulary, "shortlist": shortlist,
            "queries": len(asked), "copied_share": RERANK_COPIED_SHARE,
            "query_ms_per_image_keep_5": round(timings[5] / len(asked) * 1000, 3),
            f"query_ms_per_image_keep_{shortlist}": round(
                timings[shortlist] / len(asked) * 1000, 3),
            "rerank_ms_per_pair_one_thread": round(ms, 4),
            "rerank_ms_per_pair_two_threads": round(per_pair[max(per_pair)] * 1000, 4),
            # A pair: both ways (as it is and mirrored), as the stage re-ranks it.
            "rerank_h_at_1m_images_two_cores": round(
                TARGET_IMAGES * shortlist * per_pair[max(per_pair)] / 3600, 2),
            "keypoint_words_bytes_per_image": round(disk),
            # What the re-ranking held above the process's size before it (peak), against
            # the keypoint words' whole file: one piece's images, not the file.
            "rerank_peak_above_start_mib": None if held is None else round(held, 1),
            "keypoint_words_file_mib": round(store.nbytes / 2**20, 1),
            "keypoint_words_gb_at_1m_images": round(disk * TARGET_IMAGES / 1e9, 1),
            "copies_found_in_5_by_words": round(float(by_words), 4),
            "copies_found_in_5_reranked": round(float(reranked), 4)}


def _reset_peak_rss() -> bool:
    """Start this process's peak resident memory (VmHWM) again from its current size (Linux:
    writing 5 to clear_refs); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _current_rss_mib() -> float:
    """This process's resident memory now (VmRSS, MiB, Linux); its peak is
    `marcus.timings.peak_rss_mib`."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def bags_of(bags, images: np.ndarray):
    """The bags of ``images``, in that order."""
    from curate.inverted_file import Bags

    return Bags.of([bags.words[bags.offsets[i]: bags.offsets[i + 1]] for i in images])


def quantisation(quick: bool) -> dict:
    """Part 1: the largest vocabulary's training time and words per second on one core."""
    from curate.parallel import single_threaded_blas
    from curate.retrieval import MAX_SAMPLE, Vocabulary, tree_for

    rng = np.random.default_rng(0)
    samples = MAX_SAMPLE // (20 if quick else 1)
    x = np.abs(rng.standard_normal((samples, 128), np.float32))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    depth, branching = tree_for(TARGET_IMAGES)
    with single_threaded_blas():
        started = time.perf_counter()
        vocabulary = Vocabulary.train(x, branching, seed=0, depth=depth)
        train_s = time.perf_counter() - started
        queries = x[:100_000]
        started = time.perf_counter()
        vocabulary.assign(queries)
        per_second = len(queries) / (time.perf_counter() - started)
    return {"depth": depth, "branching": branching, "words": vocabulary.size,
            "trained_on": samples,
            "train_s_one_core": round(train_s, 1),
            "descriptors_per_s_one_core": round(per_second),
            "assign_s_per_image_one_core": round(WORDS_PER_IMAGE / per_second, 4),
            "assign_h_at_1m_images_one_core": round(
                TARGET_IMAGES * WORDS_PER_IMAGE / per_second / 3600, 2)}


def exponent(rows: list[dict], key: str) -> float | None:
    if len(rows) < 2:
        return None
    x = np.log([r["images"] for r in rows])
    y = np.log([max(r[key], 1e-6) for r in rows])
    return round(float(np.polyfit(x, y, 1)[0]), 2)


def run(quick: bool = False, sizes: tuple[int, ...] | None = None) -> dict:
    sizes = sizes or (QUICK_SIZES if quick else SIZES)
    rows = []
    for images in sizes:
        with tempfile.TemporaryDirectory() as folder:
            subprocess.run([sys.executable, "-c", "from benchmarks.retrieval import write_bags; "
                            f"write_bags({images}, {folder!r})"], cwd=REPO, check=True)
            code = (f"import json; from benchmarks.retrieval import index_at; "
                    f"print(json.dumps(index_at({images}, {folder!r})))")
            out = subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True,
                                 capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(f"  {rows[-1]}", flush=True)
    code = (f"import json; from benchmarks.retrieval import rerank_at; print(json.dumps("
            f"rerank_at({RERANK_IMAGES // (10 if quick else 1)}, {RERANK_QUERIES})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    rerank = json.loads(out.strip().splitlines()[-1])
    print(f"  {rerank}", flush=True)
    growth = {key: exponent(rows, key)
              for key in ("build_s", "query_s_all_images", "index_mib", "peak_rss_mib")}
    largest = rows[-1]
    at_target = {} if largest["images"] >= TARGET_IMAGES or not growth["build_s"] else {
        key: round(largest[key] * (TARGET_IMAGES / largest["images"]) ** growth[key], 1)
        for key in growth}
    return {"words_per_image": WORDS_PER_IMAGE, "zipf_exponent": ZIPF_EXPONENT,
            "quantisation": quantisation(quick), "index": rows, "rerank": rerank,
            "exponents": growth,
            "extrapolated_to_1m_images": at_target}
