"""The window search for details (``curate.dedup._detail_candidates``): exact against indexed.

Run: ``python -m benchmarks detail_search`` (``--quick``: smaller sizes).

The window search finds, for every image, the images that have a window (a 44-100 % square of
the thumbnail) looking like the whole of it: the candidates for "B is a detail, crop or framed
copy of A" that no perceptual hash caught. Exact, it compares every image with ~330 windows of
every other image, O(N^2); beyond ``exact_window_search_max`` images (4,096) the pipeline
switches to an inverted file over the whole-image descriptors, O(N^1.5). This measures both on
the same synthetic collections, side by side, single-threaded BLAS as in ``cluster``:

- wall seconds per size, and their ratio; for 1,000,000 images, the exact search projected as
  N^2 from its largest measured size, the indexed one from the exponent between its two
  largest sizes;
- recall of planted details: 10 % of the originals get a close-up (40-70 % of the side, each
  axis within 10 % of the other, at a random place, another tone curve, a little noise); a
  detail counts as found when its original is among its candidates. Reported for both
  searches, plus the share of the exact search's candidate triples that the index returns.
  Where the whole exact search would take too long (above 4,000 images here), its answer is
  computed for a sample of 400 images (half of them planted details) against every window
  of every image.

Thumbnails are synthetic: smooth random fields (blobs and waves at several scales, like broad
painted shapes) rendered at any sub-box, so a detail is the same field over a smaller box.
They stand in for paintings' 64 px thumbnails for speed and for the index's recall; dedup
*quality* on paintings is ``python -m benchmarks dedup_quality``'s job.
"""

from __future__ import annotations

import time

import numpy as np

from curate import dedup
from curate.hashing import THUMB_SIDE

DETAIL_SHARE = 0.1  # of the originals, each planted once as a close-up
SAMPLE = 400  # images whose exact answer is computed where the whole exact search is too slow


def _fields(rng: np.random.Generator, count: int, blobs: int = 24, waves: int = 8,
            edges: int = 4) -> dict:
    """Parameters of `count` random fields on the unit square: blobs from broad to small,
    waves, and soft-edged half-planes (the borders of painted shapes)."""
    return {
        "centre": rng.random((count, blobs, 2)),
        "width": np.exp(rng.uniform(np.log(0.02), np.log(0.4), (count, blobs))),
        "blob_amp": rng.normal(0, 1, (count, blobs)),
        "freq": rng.normal(0, 12, (count, waves, 2)),
        "phase": rng.uniform(0, 2 * np.pi, (count, waves)),
        "wave_amp": rng.normal(0, 0.3, (count, waves)),
        "edge_dir": rng.uniform(0, 2 * np.pi, (count, edges)),
        "edge_offset": rng.uniform(-0.5, 0.5, (count, edges)),
        "edge_amp": rng.normal(0, 0.8, (count, edges)),
    }


def _render(fields: dict, boxes: np.ndarray, rng: np.random.Generator,
            gamma: np.ndarray) -> list[bytes]:
    """64x64 uint8 thumbnails of each field over its (top, left, height, width) box."""
    steps = (np.arange(THUMB_SIDE) + 0.5) / THUMB_SIDE
    ys = boxes[:, 0, None] + boxes[:, 2, None] * steps  # (n, 64)
    xs = boxes[:, 1, None] + boxes[:, 3, None] * steps
    y, x = ys[:, :, None, None], xs[:, None, :, None]  # (n, 64, 1, 1), (n, 1, 64, 1)
    c = fields["centre"][:, None, None]
    value = (fields["blob_amp"][:, None, None] * np.exp(
        -((y - c[..., 0]) ** 2 + (x - c[..., 1]) ** 2) / fields["width"][:, None, None] ** 2)
    ).sum(-1)
    f = fields["freq"][:, None, None]
    value += (fields["wave_amp"][:, None, None]
              * np.cos(y * f[..., 0] + x * f[..., 1] + fields["phase"][:, None, None])).sum(-1)
    angle = fields["edge_dir"][:, None, None]
    signed = ((y - 0.5) * np.cos(angle) + (x - 0.5) * np.sin(angle)
              - fields["edge_offset"][:, None, None])
    value += (fields["edge_amp"][:, None, None] / (1 + np.exp(-signed / 0.01))).sum(-1)
    low, high = value.min((1, 2), keepdims=True), value.max((1, 2), keepdims=True)
    unit = (value - low) / np.maximum(high - low, 1e-9)
    unit = unit ** gamma[:, None, None] + rng.normal(0, 0.01, unit.shape)
    pixels = np.clip(np.round(unit * 255), 0, 255).astype(np.uint8)
    return [p.tobytes() for p in pixels]


def collection(count: int, seed: int = 0) -> tuple[list[bytes], np.ndarray]:
    """`count` thumbnails, the last ``DETAIL_SHARE`` of them close-ups of earlier ones, and
    (original, detail) positions of the planted pairs."""
    rng = np.random.default_rng(seed)
    details = int(count * DETAIL_SHARE)
    originals = count - details
    fields = _fields(rng, originals)
    thumbs = []
    for start in range(0, originals, 2048):
        part = {k: v[start: start + 2048] for k, v in fields.items()}
        n = len(part["centre"])
        thumbs += _render(part, np.tile([0.0, 0.0, 1.0, 1.0], (n, 1)), rng, np.ones(n))
    source = rng.choice(originals, details, replace=False)
    size = rng.uniform(0.4, 0.7, (details, 1)) * [1.0, 1.0] * rng.uniform(0.9, 1.1, (details, 2))
    corner = rng.random((details, 2)) * (1 - size)
    boxes = np.column_stack([corner, size])
    for start in range(0, details, 2048):
        part = {k: v[source[start: start + 2048]] for k, v in fields.items()}
        n = len(part["centre"])
        thumbs += _render(part, boxes[start: start + n], rng, rng.uniform(0.6, 1.6, n))
    return thumbs, np.column_stack([source, originals + np.arange(details)])


def _search(thumbs: list, exact_max: int) -> tuple[set, float]:
    opts = dedup.DEFAULTS
    with dedup.single_threaded_blas():
        started = time.perf_counter()
        found = dedup._detail_candidates(thumbs, opts["detail_neighbours"],
                                         opts["detail_min_similarity"], exact_max)
        seconds = time.perf_counter() - started
    return set(map(tuple, found.to_numpy().tolist())), seconds


def _exact_for(thumbs: list, queries: np.ndarray, block: int = 512) -> set:
    """The exact search's (whole, detail, window) triples for the details in ``queries`` only:
    every window of every image against those images' wholes, a block of images at a time
    (what ``_window_hits_exact`` + ``_detail_candidates`` give for those rows)."""
    opts = dedup.DEFAULTS
    equalised = np.stack([dedup._equalised(thumbs[q]) for q in queries])
    wholes = dedup.whole_descriptors(equalised)
    best, where = [], []
    with dedup.single_threaded_blas():
        for start in range(0, len(thumbs), block):
            part = np.stack([dedup._equalised(t) for t in thumbs[start: start + block]])
            windows = dedup.window_descriptors(part)
            sims = windows @ wholes.T  # (images, windows, queries)
            where.append(sims.argmax(1))
            best.append(np.take_along_axis(sims, where[-1][:, None], 1)[:, 0])
    best, where = np.concatenate(best).T, np.concatenate(where).T  # (queries, images)
    best[np.arange(len(queries)), queries] = -np.inf  # not itself
    found = set()
    for row, query in enumerate(queries):
        ranked = np.argsort(-best[row], kind="stable")[:opts["detail_neighbours"]]
        found |= {(int(a), int(query), int(where[row, a])) for a in ranked
                  if best[row, a] >= opts["detail_min_similarity"]}
    return found


def _recall(triples: set, planted: np.ndarray) -> float:
    pairs = {(a, b) for a, b, _ in triples}
    return round(float(np.mean([(int(a), int(b)) in pairs for a, b in planted])), 4)


def run(quick: bool = False) -> dict:
    sizes = (500, 2000) if quick else (1000, 4000, 16000, 64000)
    exact_up_to = 2000 if quick else 4000  # beyond this the exact search takes too long here
    result = {"sizes": {}}
    for n in sizes:
        thumbs, planted = collection(n, seed=n)
        indexed, indexed_s = _search(thumbs, exact_max=0)
        row = {"indexed_s": round(indexed_s, 2),
               "indexed_planted_recall": _recall(indexed, planted),
               "candidates_per_image": round(len(indexed) / n, 2)}
        if n <= exact_up_to:
            exact, exact_s = _search(thumbs, exact_max=n)
            row.update(exact_s=round(exact_s, 2), exact_planted_recall=_recall(exact, planted),
                       speedup=round(exact_s / indexed_s, 2),
                       indexed_share_of_exact=round(len(exact & indexed) / max(1, len(exact)), 4))
        else:  # the exact answer for a sample of images (half of them planted details)
            rng = np.random.default_rng(n)
            queries = np.unique(np.r_[rng.choice(planted[:, 1], SAMPLE // 2, replace=False),
                                      rng.choice(n, SAMPLE // 2, replace=False)])
            exact = _exact_for(thumbs, queries)
            mine = {t for t in indexed if t[1] in set(queries.tolist())}
            sampled = planted[np.isin(planted[:, 1], queries)]
            row.update(sample=len(queries), exact_planted_recall_sample=_recall(exact, sampled),
                       indexed_planted_recall_sample=_recall(mine, sampled),
                       indexed_share_of_exact=round(len(exact & mine) / max(1, len(exact)), 4))
        result["sizes"][str(n)] = row
        print(n, row, flush=True)
    largest_exact = max(n for n in sizes if n <= exact_up_to)
    a, b = sizes[-2:]
    exponent = np.log(result["sizes"][str(b)]["indexed_s"] / result["sizes"][str(a)]["indexed_s"]
                      ) / np.log(b / a)
    million = 1_000_000
    result["projected_1m"] = {
        "exact_s": round(result["sizes"][str(largest_exact)]["exact_s"]
                         * (million / largest_exact) ** 2),
        "indexed_s": round(result["sizes"][str(b)]["indexed_s"] * (million / b) ** exponent),
        "indexed_exponent": round(float(exponent), 2),
    }
    result["projected_1m"]["speedup"] = round(result["projected_1m"]["exact_s"]
                                              / result["projected_1m"]["indexed_s"], 1)
    return result
