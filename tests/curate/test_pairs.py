"""near_pairs must find exactly the brute-force pairs, in (i, j) order, on random, clustered and
degenerate hash sets, and refuse bad arguments and oversized outputs."""

from __future__ import annotations

import numpy as np
import pytest

from curate import pairs
from curate.pairs import brute_force_pairs, choose_plan, near_neighbours, near_pairs

UINT64_MAX = np.iinfo(np.uint64).max


def random_hashes(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, UINT64_MAX, size=count, dtype=np.uint64, endpoint=True)


def planted_hashes(count: int, seed: int, sources: int = 40, max_flips: int = 12) -> np.ndarray:
    """Random hashes where half are copies of a few sources with 0..max_flips bits flipped,
    so pairs exist at every distance around the thresholds tested (and exact duplicates)."""
    rng = np.random.default_rng(seed)
    hashes = random_hashes(count, seed + 100)
    for position in range(count // 2, count):
        value = int(hashes[rng.integers(0, sources)])
        for bit in rng.choice(64, size=rng.integers(0, max_flips + 1), replace=False):
            value ^= 1 << int(bit)
        hashes[position] = value
    return rng.permutation(hashes)


def low_entropy_hashes(count: int, seed: int) -> np.ndarray:
    """Only 20 random bits vary, so chunk buckets are crowded and far pairs share buckets."""
    rng = np.random.default_rng(seed)
    varying = rng.choice(64, size=20, replace=False)
    mask = np.uint64(sum(1 << int(bit) for bit in varying))
    return random_hashes(count, seed) & mask


def assert_same_pairs(found, expected) -> None:
    names = ("i", "j", "distance")
    for name, got, want, dtype in zip(names, found, expected, (np.int64, np.int64, np.int8),
                                      strict=True):
        assert got.dtype == dtype, name
        np.testing.assert_array_equal(got, want, err_msg=name)


@pytest.mark.parametrize("max_distance", [0, 1, 5, 10, 16])
def test_random_hashes_match_brute_force(max_distance):
    hashes = random_hashes(3000, seed=max_distance)
    # Plant pairs at distance 0, 1 and 3 so that even small thresholds have something to find.
    for offset, flips in ((1, 0), (2, 0b1 << 40), (3, 0b10101)):
        hashes[offset::300] = hashes[0::300][:hashes[offset::300].size] ^ np.uint64(flips)
    expected = brute_force_pairs(hashes, max_distance)
    assert expected[0].size > 0
    assert_same_pairs(near_pairs(hashes, max_distance), expected)


@pytest.mark.parametrize("max_distance", [0, 3, 10, 16])
def test_planted_clusters_match_brute_force(max_distance):
    hashes = planted_hashes(3000, seed=7)
    expected = brute_force_pairs(hashes, max_distance)
    assert expected[0].size > 50  # clusters really are there
    assert_same_pairs(near_pairs(hashes, max_distance), expected)


@pytest.mark.parametrize("chunks", [0, 3, 4, 5, 7, 11])
def test_every_chunking_is_exact(chunks):
    """Forced plans, incl. radius -1 chunks (t + 1 < m) and brute force (0), agree."""
    hashes = planted_hashes(2000, seed=11)
    for max_distance in (2, 10):
        expected = brute_force_pairs(hashes, max_distance)
        assert_same_pairs(near_pairs(hashes, max_distance, chunks=chunks), expected)


def test_crowded_buckets_match_brute_force():
    hashes = low_entropy_hashes(3000, seed=5)
    expected = brute_force_pairs(hashes, 6)
    assert_same_pairs(near_pairs(hashes, 6, workers=2), expected)


def test_extreme_bit_patterns():
    values = [0, UINT64_MAX, 1, 1 << 63, UINT64_MAX ^ 1, UINT64_MAX ^ (1 << 63), 0, UINT64_MAX]
    hashes = np.array(values, dtype=np.uint64)
    for max_distance in (0, 1, 2, 32):
        assert_same_pairs(near_pairs(hashes, max_distance),
                          brute_force_pairs(hashes, max_distance))


def test_all_equal_hashes_are_all_pairs():
    hashes = np.full(60, 0xDEADBEEF, dtype=np.uint64)
    i, j, distance = near_pairs(hashes, 3)
    expected_i, expected_j = np.triu_indices(60, k=1)
    np.testing.assert_array_equal(i, expected_i)
    np.testing.assert_array_equal(j, expected_j)
    assert not distance.any()


def test_too_many_pairs_is_refused():
    with pytest.raises(ValueError, match="max_pairs"):
        near_pairs(np.zeros(2000, dtype=np.uint64), 0, max_pairs=1000)  # exact-copy pre-check
    clustered = planted_hashes(2000, seed=3)
    total = brute_force_pairs(clustered, 10)[0].size
    with pytest.raises(ValueError, match="max_pairs"):  # found during the search itself
        near_pairs(clustered, 10, max_pairs=total - 1)
    assert near_pairs(clustered, 10, max_pairs=total)[0].size == total
    with pytest.raises(ValueError, match="max_pairs"):
        brute_force_pairs(clustered, 10, max_pairs=total - 1)


@pytest.mark.parametrize("count", [0, 1])
def test_fewer_than_two_hashes(count):
    i, j, distance = near_pairs(np.zeros(count, dtype=np.uint64), 5)
    assert i.size == j.size == distance.size == 0
    assert (i.dtype, j.dtype, distance.dtype) == (np.int64, np.int64, np.int8)
    assert brute_force_pairs(np.zeros(count, dtype=np.uint64), 5)[0].size == 0


@pytest.mark.parametrize("max_distance", [-1, 33, 64])
def test_invalid_distance(max_distance):
    with pytest.raises(ValueError, match="max_distance"):
        near_pairs(random_hashes(10, 0), max_distance)
    with pytest.raises(ValueError, match="max_distance"):
        brute_force_pairs(random_hashes(10, 0), max_distance)


def test_invalid_input():
    with pytest.raises(ValueError, match="1-D"):
        near_pairs(np.zeros((2, 2), dtype=np.uint64), 1)
    with pytest.raises(TypeError):
        near_pairs(np.zeros(4, dtype=np.float64), 1)
    with pytest.raises(ValueError, match="workers"):
        near_pairs(random_hashes(10, 0), 1, workers=0)


def test_int64_input_is_read_bit_for_bit():
    hashes = random_hashes(500, seed=9)
    hashes[1] = hashes[0] ^ np.uint64(1 << 63)
    assert_same_pairs(near_pairs(hashes.view(np.int64), 1), near_pairs(hashes, 1))
    assert (0, 1) in set(zip(*near_pairs(hashes.view(np.int64), 1)[:2], strict=True))


def test_deterministic_across_runs_and_worker_counts():
    hashes = planted_hashes(3000, seed=21)
    reference = near_pairs(hashes, 10, workers=1)
    for workers in (1, 2, 3):
        assert_same_pairs(near_pairs(hashes, 10, workers=workers), reference)


def test_plan_for_the_headline_case():
    """1M random hashes at t=10: four 16-bit chunks, radii summing to t + 1 - m (pigeonhole)."""
    plan = choose_plan(1_000_000, 10)
    assert plan.chunks == 4 and plan.widths == (16, 16, 16, 16)
    assert sum(radius + 1 for radius in plan.radii) == 11
    assert sorted(bit for bits in plan.bit_positions for bit in bits) == list(range(64))


def test_without_numba_falls_back_with_a_warning(monkeypatch):
    monkeypatch.setattr(pairs, "numba", None)
    hashes = planted_hashes(500, seed=4)
    with pytest.warns(RuntimeWarning, match="numba"):
        found = near_pairs(hashes, 8)
    assert_same_pairs(found, brute_force_pairs(hashes, 8))


# -- near_neighbours: each group's few nearest ------------------------------------------------


def nearest_by_brute_force(hashes, max_distance, keep, groups, order, tie) -> set:
    """(a, b, 2 * distance + tied) for every group pair in the `keep` nearest of a or b."""
    best: dict[tuple[int, int], int] = {}
    for x, y, distance in zip(*brute_force_pairs(hashes, max_distance), strict=True):
        a, b = int(groups[x]), int(groups[y])
        if a != b:
            pair = (min(a, b), max(a, b))
            best[pair] = min(best.get(pair, 99), int(distance) * 2 + int(tie[x] | tie[y]))
    ranked: dict[int, list] = {}
    for (a, b), key in best.items():
        ranked.setdefault(a, []).append((key, order[b], b))
        ranked.setdefault(b, []).append((key, order[a], a))
    return {(min(a, b), max(a, b), key) for a, entries in ranked.items()
            for key, _, b in sorted(entries)[:keep]}


@pytest.mark.parametrize("keep", [1, 3, 8])
def test_near_neighbours_keeps_each_groups_nearest_whatever_the_workers(keep):
    hashes = planted_hashes(2000, seed=3)
    rng = np.random.default_rng(keep)
    groups = np.unique(rng.integers(0, 800, hashes.size), return_inverse=True)[1]
    order = rng.permutation(groups.max() + 1)
    tie = rng.random(hashes.size) < 0.5
    expected = nearest_by_brute_force(hashes, 10, keep, groups, order, tie)
    for workers in (1, 2, 3):
        a, b, distance, tied = near_neighbours(hashes, 10, keep, groups=groups, order=order,
                                               tie=tie, workers=workers)
        assert np.all(a < b) and np.all(np.diff(a * (groups.max() + 1) + b) > 0)  # sorted, once
        assert set(zip(a.tolist(), b.tolist(), (distance.astype(int) * 2 + tied).tolist(),
                       strict=True)) == expected


def test_near_neighbours_output_stays_bounded_where_near_pairs_grows_as_the_square():
    crowded = low_entropy_hashes(4000, seed=8)
    everything = near_pairs(crowded, 8)[0].size
    a, _, _, _ = near_neighbours(crowded, 8, 4)
    assert everything > 100 * crowded.size  # the crowd: a quadratic number of near pairs
    assert a.size <= 4 * crowded.size  # kept: at most `keep` per hash


def test_near_neighbours_refuses_bad_groups_order_and_keep():
    hashes = random_hashes(10, 0)
    with pytest.raises(ValueError, match="keep"):
        near_neighbours(hashes, 4, 0)
    with pytest.raises(ValueError, match="groups"):
        near_neighbours(hashes, 4, 2, groups=np.arange(9))
    with pytest.raises(ValueError, match="order"):
        near_neighbours(hashes, 4, 2, order=np.zeros(10))
    with pytest.raises(ValueError, match="below the number of groups"):
        near_neighbours(hashes, 4, 2, order=np.arange(5))
