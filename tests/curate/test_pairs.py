"""near_pairs must find exactly the brute-force pairs, in (i, j) order, on random, clustered and
degenerate hash sets, and refuse bad arguments and oversized outputs."""

from __future__ import annotations

import numpy as np
import pytest

from curate import pairs
from curate.pairs import brute_force_pairs, choose_plan, near_pairs

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
