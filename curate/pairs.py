"""Exact near-duplicate pair search over 64-bit perceptual hashes.

``near_pairs(hashes, t)`` returns every pair ``(i, j)``, ``i < j``, whose hashes differ in at
most ``t`` bits, sorted by ``(i, j)``; ``brute_force_pairs`` is the plain tiled numpy version,
kept as the reference for tests and as the fallback when numba is missing.

    from curate.pairs import near_pairs
    i, j, distance = near_pairs(phashes.astype(np.uint64), 10)

Algorithm (multi-index hashing, Norouzi et al. 2012):

- Split the 64 bits into ``m`` chunks and give chunk ``k`` a radius ``r_k`` with
  ``sum(r_k + 1) = t + 1``. Pigeonhole: if every chunk differed in more than ``r_k`` bits the
  total distance would be at least ``sum(r_k + 1) > t``, so every pair within ``t`` is within
  ``r_k`` on at least one chunk ``k``.
- Per chunk, counting-sort the items by chunk value (a bucket per value, ``2**bits`` offsets).
- For each item and chunk, enumerate every chunk value within ``r_k`` of its own (XOR with all
  masks of popcount <= r_k), scan those buckets and verify the full 64-bit distance with a
  hardware popcount. A pair is visited once per chunk (only from the lower bucket, or from the
  earlier position inside one bucket) and reported only from the first chunk in which it is
  within the radius, so the output has no duplicates and needs no dedup pass.
- ``m`` is chosen per (N, t) by a small cost model (bucket probes vs. candidate comparisons,
  brute force included as an option); for t=10 on 1M random hashes it picks four 16-bit chunks
  with radii (2, 2, 2, 1): ~430 probes and ~6,500 candidates per item.
- Work is split into many position ranges per chunk and run by ``workers`` Python threads
  calling ``nogil`` numba kernels; each range grows its own output arrays, so one pass suffices
  (no count-then-fill) and nothing loops over items in Python.

Skewed data: the cost is the sum over visited bucket pairs of ``size_a * size_b`` popcounts
(about 1 ns each). Clusters of near-identical hashes make big buckets, but then most
candidates are true pairs, so the work is proportional to the output (bounded by
``max_pairs``). The bad case is a big bucket of items that share one chunk value yet are far
apart elsewhere: it costs ``S**2 / 2`` popcounts for a bucket of ``S`` items (a 50,000-item
bucket is ~1.3e9, about a second) -- quadratic in the bucket, never in N. Chunks take
interleaved bits (bit b goes to chunk b mod m) rather than contiguous runs because the bits of
pHash/dHash are laid out row by row and neighbouring bits are correlated; interleaving spreads
the low-frequency bits that many images share over all chunks.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
import warnings
from dataclasses import dataclass

import numpy as np

try:  # numba is a declared dependency, but keep the module usable (slowly) without it
    import numba
    from llvmlite import ir as llvm_ir
    from numba.extending import intrinsic
except ImportError:  # pragma: no cover - exercised only on installs without numba
    numba = None

MAX_DISTANCE = 32
DEFAULT_MAX_PAIRS = 50_000_000
# The dense bucket-offset array has 2**bits entries; 22 bits = 32 MiB of int64 offsets.
MAX_CHUNK_BITS = 22

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]


def _empty_pairs() -> Pairs:
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int8)


def _check_arguments(hashes, max_distance: int) -> np.ndarray:
    hashes = np.asarray(hashes)
    if hashes.ndim != 1:
        raise ValueError(f"hashes must be 1-D, got shape {hashes.shape}")
    if hashes.dtype == np.int64:  # same bits; pandas often hands uint64 columns back as int64
        hashes = hashes.view(np.uint64)
    elif hashes.dtype != np.uint64:
        if hashes.size and not np.issubdtype(hashes.dtype, np.integer):
            raise TypeError(f"hashes must be uint64, got {hashes.dtype}")
        hashes = hashes.astype(np.uint64)
    if isinstance(max_distance, bool) or not isinstance(max_distance, (int, np.integer)):
        raise TypeError(f"max_distance must be an int, got {type(max_distance).__name__}")
    if not 0 <= max_distance <= MAX_DISTANCE:
        raise ValueError(f"max_distance must be in 0..{MAX_DISTANCE}, got {max_distance}")
    return np.ascontiguousarray(hashes)


def _too_many_pairs(count: int, max_pairs: int) -> ValueError:
    return ValueError(
        f"more than max_pairs={max_pairs:,} pairs ({count:,} found so far); the hashes are too "
        "similar for this max_distance -- lower it, deduplicate exact copies first, or raise "
        "max_pairs if the memory (17 bytes per pair) is available")


def _check_exact_duplicates(hashes: np.ndarray, max_pairs: int) -> None:
    """Fail fast when exact copies alone give more pairs than allowed (e.g. all-equal input)."""
    _, counts = np.unique(hashes, return_counts=True)
    counts = counts[counts > 1].astype(np.int64)
    lower_bound = int((counts * (counts - 1) // 2).sum())
    if lower_bound > max_pairs:
        raise _too_many_pairs(lower_bound, max_pairs)


# ---------------------------------------------------------------------------------------------
# Reference: tiled numpy brute force
# ---------------------------------------------------------------------------------------------

if hasattr(np, "bitwise_count"):  # numpy >= 2.0
    def _popcount_numpy(x: np.ndarray) -> np.ndarray:
        return np.bitwise_count(x)
else:  # pragma: no cover - numpy 1.26
    _BYTE_POPCOUNT = np.array([bin(b).count("1") for b in range(256)], dtype=np.uint8)

    def _popcount_numpy(x: np.ndarray) -> np.ndarray:
        per_byte = _BYTE_POPCOUNT[x.view(np.uint8)].reshape(*x.shape, 8)
        return per_byte.sum(axis=-1, dtype=np.uint8)


def brute_force_pairs(hashes, max_distance: int, *,
                      max_pairs: int = DEFAULT_MAX_PAIRS, tile_elements: int = 1 << 22) -> Pairs:
    """Same contract as ``near_pairs``, by XOR + popcount of every pair, a row tile at a time.

    O(N**2): the reference for tests and the fallback without numba, not for big N.
    """
    hashes = _check_arguments(hashes, max_distance)
    n = hashes.size
    found_i, found_j, found_d = [], [], []
    total = 0
    rows_per_tile = max(1, tile_elements // max(n, 1))
    for start in range(0, n, rows_per_tile):
        stop = min(n, start + rows_per_tile)
        # Compare rows start..stop against columns start..n-1 only; j > i is enforced below.
        distances = _popcount_numpy(hashes[start:stop, None] ^ hashes[None, start:])
        row_index = np.arange(start, stop)[:, None]
        col_index = np.arange(start, n)[None, :]
        keep = (distances <= max_distance) & (col_index > row_index)
        rows, cols = np.nonzero(keep)  # row-major, so already sorted by (i, j)
        total += rows.size
        if total > max_pairs:
            raise _too_many_pairs(total, max_pairs)
        found_i.append(rows.astype(np.int64) + start)
        found_j.append(cols.astype(np.int64) + start)
        found_d.append(distances[rows, cols].astype(np.int8))
    if not found_i:
        return _empty_pairs()
    return np.concatenate(found_i), np.concatenate(found_j), np.concatenate(found_d)


# ---------------------------------------------------------------------------------------------
# Plan: how many chunks, which bits, which radii
# ---------------------------------------------------------------------------------------------

# Rough per-operation costs in ns, measured on the 2-core dev box (benchmarks/pair_search.py):
# one mask probe (XOR, compare, bucket-offset load), one candidate popcount check, one bucket of
# index build (counting sort + offsets), one item of index build per chunk.
_NS_PER_PROBE = 2.0
_NS_PER_CANDIDATE = 1.0
_NS_PER_BUCKET = 2.0
_NS_PER_ITEM_PER_CHUNK = 25.0


@dataclass(frozen=True)
class SearchPlan:
    """Chunks (bit positions of each) and radii; ``chunks == 0`` means brute force."""

    chunks: int
    bit_positions: tuple[tuple[int, ...], ...]
    radii: tuple[int, ...]
    estimated_seconds: float

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(len(bits) for bits in self.bit_positions)


def _ball_size(bits: int, radius: int) -> int:
    """Number of chunk values within ``radius`` of a given one."""
    return sum(math.comb(bits, d) for d in range(radius + 1))


def _radii(chunks: int, max_distance: int) -> tuple[int, ...]:
    """Radii with sum(r + 1) == t + 1, larger ones first (chunks are widest first).

    Chunks with radius -1 can never hold the first within-radius chunk of a pair and are
    skipped entirely.
    """
    base, extra = divmod(max_distance + 1, chunks)
    return tuple(base if k < extra else base - 1 for k in range(chunks))


def _plan_for(chunks: int, n: int, max_distance: int) -> SearchPlan:
    if chunks == 0:
        seconds = n * (n - 1) / 2 * _NS_PER_CANDIDATE * 1e-9
        return SearchPlan(0, ((),), (max_distance,), seconds)
    bit_positions = tuple(tuple(range(k, 64, chunks)) for k in range(chunks))
    radii = _radii(chunks, max_distance)
    ns = 0.0
    for bits, radius in zip(bit_positions, radii, strict=True):
        if radius < 0:
            continue
        width = len(bits)
        probes = _ball_size(width, radius)
        ns += n * probes * _NS_PER_PROBE
        ns += n * (n - 1) / 2 * probes / 2 ** width * _NS_PER_CANDIDATE
        ns += 2 ** width * _NS_PER_BUCKET + n * _NS_PER_ITEM_PER_CHUNK
    return SearchPlan(chunks, bit_positions, radii, ns * 1e-9)


def choose_plan(n: int, max_distance: int, chunks: int | None = None) -> SearchPlan:
    """Cheapest plan by the cost model above, or the one with ``chunks`` chunks if given."""
    smallest = math.ceil(64 / MAX_CHUNK_BITS)
    if chunks is not None:
        if chunks != 0 and not smallest <= chunks <= 64:
            raise ValueError(f"chunks must be 0 (brute force) or {smallest}..64, got {chunks}")
        return _plan_for(chunks, n, max_distance)
    options = [_plan_for(0, n, max_distance)]
    options += [_plan_for(m, n, max_distance) for m in range(smallest, 17)]
    return min(options, key=lambda plan: plan.estimated_seconds)


# ---------------------------------------------------------------------------------------------
# numba kernels
# ---------------------------------------------------------------------------------------------

if numba is not None:
    @intrinsic
    def _popcount64(typingctx, value):
        """LLVM ctpop: one POPCNT instruction on x86-64 (numba targets the host CPU)."""
        signature = numba.types.uint64(numba.types.uint64)

        def codegen(context, builder, sig, args):
            function = builder.module.declare_intrinsic("llvm.ctpop", [llvm_ir.IntType(64)])
            return builder.call(function, args)

        return signature, codegen

    @numba.njit(nogil=True, cache=True)
    def _chunk_keys(hashes, bit_positions):
        """Gather the chunk's bits (any positions) into a dense integer key per item."""
        keys = np.empty(hashes.size, np.int64)
        for item in range(hashes.size):
            value = hashes[item]
            key = 0
            for slot in range(bit_positions.size):
                key |= np.int64((value >> np.uint64(bit_positions[slot])) & np.uint64(1)) << slot
            keys[item] = key
        return keys

    @numba.njit(nogil=True, cache=True)
    def _counting_sort(keys, bucket_count):
        """Stable sort by key: returns (order, offsets) with bucket b at offsets[b]:offsets[b+1]."""
        offsets = np.zeros(bucket_count + 1, np.int64)
        for key in keys:
            offsets[key + 1] += 1
        for bucket in range(bucket_count):
            offsets[bucket + 1] += offsets[bucket]
        cursor = offsets[:-1].copy()
        order = np.empty(keys.size, np.int64)
        for item in range(keys.size):
            key = keys[item]
            order[cursor[key]] = item
            cursor[key] += 1
        return order, offsets

    @numba.njit(nogil=True, cache=True)
    def _scan_positions(sorted_hashes, sorted_keys, order, offsets, probe_masks, start, stop,
                        max_distance, earlier_masks, earlier_radii, cap):
        """Pairs found from items at sorted positions start..stop-1 of one chunk.

        probe_masks[0] must be 0 (the item's own bucket, scanned only after the item's position
        so each pair in a bucket is seen once); other masks are scanned only towards higher
        bucket values, so each pair of buckets is seen once. A verified pair is kept only if no
        earlier chunk is within its radius (that chunk reports it). Returns
        (first, second, distance, count); count > cap means the scan stopped early.
        """
        capacity = 1024
        first = np.empty(capacity, np.int64)
        second = np.empty(capacity, np.int64)
        distance_out = np.empty(capacity, np.int8)
        count = 0
        limit = np.uint64(max_distance)
        for position in range(start, stop):
            value = sorted_hashes[position]
            key = sorted_keys[position]
            for probe in range(probe_masks.size):
                other_key = key ^ probe_masks[probe]
                if probe == 0:
                    scan_from = position + 1
                elif other_key < key:
                    continue
                else:
                    scan_from = offsets[other_key]
                scan_to = offsets[other_key + 1]
                for other in range(scan_from, scan_to):
                    difference = value ^ sorted_hashes[other]
                    distance = _popcount64(difference)
                    if distance > limit:
                        continue
                    reported_earlier = False
                    for chunk in range(earlier_masks.size):
                        near = _popcount64(difference & earlier_masks[chunk])
                        if near <= np.uint64(earlier_radii[chunk]):
                            reported_earlier = True
                            break
                    if reported_earlier:
                        continue
                    if count == capacity:
                        capacity *= 2
                        first = _grow(first, capacity)
                        second = _grow(second, capacity)
                        distance_out = _grow(distance_out, capacity)
                    a = order[position]
                    b = order[other]
                    first[count] = min(a, b)
                    second[count] = max(a, b)
                    distance_out[count] = np.int8(distance)
                    count += 1
                    if count > cap:
                        return first[:count], second[:count], distance_out[:count], count
        return first[:count], second[:count], distance_out[:count], count

    @numba.njit(nogil=True, cache=True)
    def _grow(array, capacity):
        grown = np.empty(capacity, array.dtype)
        grown[:array.size] = array
        return grown


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------

@dataclass
class _ChunkIndex:
    sorted_hashes: np.ndarray
    sorted_keys: np.ndarray
    order: np.ndarray
    offsets: np.ndarray
    probe_masks: np.ndarray
    earlier_masks: np.ndarray
    earlier_radii: np.ndarray


def _probe_masks(width: int, radius: int) -> np.ndarray:
    """All ``width``-bit masks with popcount <= radius, 0 first."""
    masks = [0]
    for flips in range(1, radius + 1):
        for combo in itertools.combinations(range(width), flips):
            masks.append(sum(1 << bit for bit in combo))
    return np.array(masks, dtype=np.int64)


def _bit_mask(bits: tuple[int, ...]) -> np.uint64:
    return np.uint64(sum(1 << bit for bit in bits))


def _build_indexes(hashes: np.ndarray, plan: SearchPlan) -> list[_ChunkIndex]:
    indexes = []
    previous_masks: list[np.uint64] = []
    previous_radii: list[int] = []
    for bits, radius in zip(plan.bit_positions, plan.radii, strict=True):
        if radius < 0:
            continue  # never the first chunk within its radius; see _radii
        if bits:
            keys = _chunk_keys(hashes, np.array(bits, dtype=np.int64))
            order, offsets = _counting_sort(keys, 1 << len(bits))
        else:  # brute force: a single bucket holding everything, scanned pairwise
            keys = np.zeros(hashes.size, np.int64)
            order = np.arange(hashes.size, dtype=np.int64)
            offsets = np.array([0, hashes.size], dtype=np.int64)
        indexes.append(_ChunkIndex(
            sorted_hashes=hashes[order], sorted_keys=keys[order], order=order, offsets=offsets,
            probe_masks=_probe_masks(len(bits), radius) if bits else np.zeros(1, np.int64),
            earlier_masks=np.array(previous_masks, dtype=np.uint64),
            earlier_radii=np.array(previous_radii, dtype=np.int64)))
        previous_masks.append(_bit_mask(bits))
        previous_radii.append(radius)
    return indexes


def _position_ranges(n: int, workers: int) -> list[tuple[int, int]]:
    # Many small ranges so that threads balance when buckets (and so work) are uneven.
    pieces = max(1, min(n // 1024, 64 * workers))
    edges = np.linspace(0, n, pieces + 1).astype(np.int64)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def _run_tasks(indexes: list[_ChunkIndex], max_distance: int, workers: int,
               max_pairs: int, reduce=None) -> list[Pairs]:
    """The pairs of every (chunk, position range) task, in task order; with ``reduce``, each
    task's pairs are handed to it as they come (under a lock) instead, ``max_pairs`` then
    bounding one task's pairs rather than the total, and nothing is returned."""
    n = indexes[0].order.size
    tasks = [(index, start, stop) for index in indexes
             for start, stop in _position_ranges(n, workers)]
    results: list[Pairs | None] = [None] * len(tasks)
    lock = threading.Lock()
    state = {"next": 0, "total": 0, "error": None}

    def worker() -> None:
        while True:
            with lock:
                if state["error"] is not None or state["next"] >= len(tasks):
                    return
                task_number = state["next"]
                state["next"] += 1
                cap = max_pairs if reduce is not None else max_pairs - state["total"]
            index, start, stop = tasks[task_number]
            first, second, distance, count = _scan_positions(
                index.sorted_hashes, index.sorted_keys, index.order, index.offsets,
                index.probe_masks, start, stop, max_distance, index.earlier_masks,
                index.earlier_radii, cap)
            with lock:
                if reduce is not None:
                    if count > cap:
                        state["error"] = _too_many_pairs(count, max_pairs)
                        return
                    reduce(first, second, distance)
                    continue
                state["total"] += count
                if count > cap or state["total"] > max_pairs:
                    state["error"] = _too_many_pairs(state["total"], max_pairs)
                    return
                results[task_number] = (first, second, distance)

    if workers == 1:
        worker()
    else:
        threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if state["error"] is not None:
        raise state["error"]
    return [result for result in results if result is not None]


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _checked_workers(workers: int | None) -> int:
    workers = _default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    return workers


def near_pairs(hashes, max_distance: int, workers: int | None = None, *,
               max_pairs: int = DEFAULT_MAX_PAIRS, chunks: int | None = None) -> Pairs:
    """All pairs (i, j), i < j, with popcount(hashes[i] ^ hashes[j]) <= max_distance. Exact.

    hashes: 1-D uint64 array (int64 is reinterpreted bit for bit). max_distance: 0..32.
    workers: threads (default: the CPUs this process may use). max_pairs: raise ValueError
    rather than return more pairs than this (memory guard: 17 bytes per pair). chunks: force
    the number of chunks (0 = brute force) instead of the cost model's choice; for benchmarks.
    Returns (i, j, distance) as int64/int64/int8 arrays sorted by (i, j); equal hashes are
    pairs at distance 0.
    """
    hashes = _check_arguments(hashes, max_distance)
    n = hashes.size
    if n < 2:
        return _empty_pairs()
    _check_exact_duplicates(hashes, max_pairs)
    if numba is None:
        warnings.warn("numba is not installed: near_pairs falls back to the O(N^2) numpy brute "
                      "force, which takes minutes from ~100,000 hashes", RuntimeWarning,
                      stacklevel=2)
        return brute_force_pairs(hashes, max_distance, max_pairs=max_pairs)
    workers = _checked_workers(workers)
    plan = choose_plan(n, max_distance, chunks)
    indexes = _build_indexes(hashes, plan)
    parts = _run_tasks(indexes, max_distance, workers, max_pairs)
    if not parts:
        return _empty_pairs()
    first = np.concatenate([part[0] for part in parts])
    second = np.concatenate([part[1] for part in parts])
    distance = np.concatenate([part[2] for part in parts])
    # Threads finish in any order; sort by (i, j) for a deterministic result.
    order = np.argsort(first * np.int64(n) + second, kind="stable")
    return first[order], second[order], distance[order]


# ---------------------------------------------------------------------------------------------
# The nearest few per group, in memory bounded by the groups rather than by the pairs
# ---------------------------------------------------------------------------------------------

_NO_KEY = np.iinfo(np.int16).max


class _Nearest:
    """Each group's ``keep`` nearest other groups, fed the pairs of hash items a part at a time.

    A group's entries are ranked by (distance, tie flag, ``order`` of the other group), a total
    order, and one group pair keeps its smallest (distance, tie); so the best of a union of
    parts is the best of the best of each part, and the result does not depend on the order in
    which the threads hand their parts over. Memory: ``keep`` entries per group plus one part.
    """

    def __init__(self, groups: np.ndarray, keep: int, order: np.ndarray, tie: np.ndarray):
        self.groups, self.keep, self.order, self.tie = groups, keep, order, tie
        self.other = np.full((order.size, keep), -1, np.int64)
        self.key = np.full((order.size, keep), _NO_KEY, np.int16)  # 2 * distance + tie

    def add(self, first: np.ndarray, second: np.ndarray, distance: np.ndarray) -> None:
        group_a, group_b = self.groups[first], self.groups[second]
        apart = group_a != group_b
        key = distance.astype(np.int16) * 2 + (self.tie[first] | self.tie[second])
        me = np.concatenate([group_a[apart], group_b[apart]])
        if not me.size:
            return
        other = np.concatenate([group_b[apart], group_a[apart]])
        key = np.concatenate([key[apart], key[apart]])
        touched = np.unique(me)
        held = self.other[touched] >= 0
        me = np.concatenate([me, np.repeat(touched, self.keep)[held.ravel()]])
        other = np.concatenate([other, self.other[touched][held]])
        key = np.concatenate([key, self.key[touched][held]])
        # One entry per (group, other group): its smallest key.
        by_pair = np.lexsort((key, other, me))
        me, other, key = me[by_pair], other[by_pair], key[by_pair]
        first_of_pair = np.r_[True, (me[1:] != me[:-1]) | (other[1:] != other[:-1])]
        me, other, key = me[first_of_pair], other[first_of_pair], key[first_of_pair]
        # Then each group's best `keep`.
        ranked = np.lexsort((self.order[other], key, me))
        me, other, key = me[ranked], other[ranked], key[ranked]
        starts = np.r_[0, np.flatnonzero(me[1:] != me[:-1]) + 1]
        rank = np.arange(me.size) - np.repeat(starts, np.diff(np.r_[starts, me.size]))
        mine = rank < self.keep
        self.other[touched], self.key[touched] = -1, _NO_KEY
        self.other[me[mine], rank[mine]] = other[mine]
        self.key[me[mine], rank[mine]] = key[mine]

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        me = np.repeat(np.arange(self.order.size, dtype=np.int64), self.keep)
        other, key = self.other.ravel(), self.key.ravel()
        held = other >= 0
        a = np.minimum(me[held], other[held])
        b = np.maximum(me[held], other[held])
        key = key[held]
        by_pair = np.lexsort((b, a))  # a pair held at both ends has one key (its smallest)
        a, b, key = a[by_pair], b[by_pair], key[by_pair]
        once = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])][: a.size]
        a, b, key = a[once], b[once], key[once]
        return a, b, (key // 2).astype(np.int8), (key % 2).astype(bool)


def near_neighbours(hashes, max_distance: int, keep: int, *, groups=None, order=None, tie=None,
                    workers: int | None = None, max_pairs: int = DEFAULT_MAX_PAIRS
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pairs of ``near_pairs``, but only each group's ``keep`` nearest: memory and output
    grow with the number of groups, never with the number of near pairs (which grows as N^2
    when many hashes crowd together, as real paintings' hashes do).

    groups: the group of each hash (default: each hash its own), so that one image's several
    hashes count as one; pairs inside a group are dropped and a group pair is as near as its
    nearest two hashes. order: a distinct int per group that breaks ties, its length the
    number of groups G, groups being 0..G-1 (default: the group number). tie: a bool per
    hash; a pair involving a flagged hash ranks after an unflagged pair at the same distance.
    max_pairs bounds one search task's pairs.
    Returns (a, b, distance, tied): each group pair (a < b) in the ``keep`` nearest of a or b,
    sorted by (a, b), with its smallest distance and whether that distance needed a flagged
    hash. The same for any number of workers.
    """
    hashes = _check_arguments(hashes, max_distance)
    if isinstance(keep, bool) or not isinstance(keep, (int, np.integer)) or keep < 1:
        raise ValueError(f"keep must be an int >= 1, got {keep!r}")
    n = hashes.size
    groups = np.arange(n, dtype=np.int64) if groups is None else np.asarray(groups, np.int64)
    if groups.shape != (n,) or (n and groups.min() < 0):
        raise ValueError("groups must be one int >= 0 per hash")
    if order is None:
        order = np.arange(int(groups.max()) + 1 if n else 0, dtype=np.int64)
    order = np.asarray(order, np.int64)
    if order.ndim != 1 or np.unique(order).size != order.size:
        raise ValueError("order must be one distinct int per group")
    if n and groups.max() >= order.size:
        raise ValueError(f"groups must be below the number of groups, len(order) = {order.size}")
    tie = np.zeros(n, bool) if tie is None else np.asarray(tie, bool)
    if tie.shape != (n,):
        raise ValueError("tie must be one bool per hash")
    nearest = _Nearest(groups, int(keep), order, tie)
    if n >= 2:
        if numba is None:
            warnings.warn("numba is not installed: near_neighbours falls back to the O(N^2) numpy "
                          "brute force", RuntimeWarning, stacklevel=2)
            nearest.add(*brute_force_pairs(hashes, max_distance, max_pairs=max_pairs))
        else:
            indexes = _build_indexes(hashes, choose_plan(n, max_distance))
            _run_tasks(indexes, max_distance, _checked_workers(workers), max_pairs,
                       reduce=nearest.add)
    return nearest.pairs()
