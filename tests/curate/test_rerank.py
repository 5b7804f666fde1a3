"""curate.rerank: the retrieval's shortlist ordered by how many shared words one affine map
explains, so that a copy sharing few words with its original, but at the right places, is
verified before chance neighbours sharing more words anywhere."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from curate import retrieval
from curate.local_features import LocalFeatures
from curate.rerank import KeypointWords, spatial_inliers

SIZE = (512, 384)
HALF = 500  # a vocabulary of 1,000 words: word w's partner is w + 500 or w - 500


def affine(xy: np.ndarray) -> np.ndarray:
    """A copy's view: scaled 0.7, turned 6 degrees, squashed 10 %, shifted."""
    turn = np.deg2rad(6)
    m = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]]) * 0.7
    m[1] *= 0.9
    return xy @ m.T + (40.0, 25.0)


def random_xy(rng, n: int) -> np.ndarray:
    return rng.uniform((0, 0), (SIZE[0] - 1, SIZE[1] - 1), (n, 2))


@pytest.fixture()
def store(tmp_path):
    """Image 0: 300 keypoints; 1: 120 of them seen through `affine`, plus 100 others;
    2: the same words as 1 at random places; 3: image 0 mirrored (partner words, x mirrored)
    and then seen through `affine`."""
    rng = np.random.default_rng(7)
    words = rng.choice(2 * HALF, 300, replace=False).astype(np.uint32)
    xy = random_xy(rng, 300)
    shared = np.arange(120)
    others = rng.choice(2 * HALF, 100).astype(np.uint32)
    copy_words = np.r_[words[shared], others]
    copy_xy = np.r_[affine(xy[shared]), random_xy(rng, 100)]
    partner = np.where(words >= HALF, words - HALF, words + HALF).astype(np.uint32)
    mirrored_xy = np.c_[SIZE[0] - 1 - xy[:, 0], xy[:, 1]]
    with KeypointWords.create(tmp_path) as keypoints:
        keypoints.add(words, xy, SIZE)
        keypoints.add(copy_words, copy_xy, SIZE)
        keypoints.add(copy_words, random_xy(rng, len(copy_words)), SIZE)
        keypoints.add(partner, affine(mirrored_xy), SIZE)
        yield keypoints.finish()


def test_a_copy_keeps_its_shared_words_as_inliers_and_the_same_words_scattered_do_not(store):
    inliers = spatial_inliers(store, np.array([0, 0, 1]), np.array([1, 2, 0]),
                              np.zeros(3, bool), HALF)
    assert inliers[0] >= 110  # of the 120 shared keypoints
    assert inliers[2] >= 110  # and the other way round
    assert inliers[1] <= 12  # the same words, nowhere in particular


def test_a_mirrored_copy_is_found_only_by_the_mirrored_query(store):
    plain, mirrored = spatial_inliers(store, np.array([0, 0]), np.array([3, 3]),
                                      np.array([False, True]), HALF)
    assert mirrored >= 280 and plain <= 12


def test_the_inliers_are_the_same_for_any_number_of_threads(store):
    a = np.repeat(np.arange(4), 4)
    b = np.tile(np.arange(4), 4)
    mirrored = (a + b) % 2 == 1
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = spatial_inliers(store, a, b, mirrored, HALF)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = spatial_inliers(store, a, b, mirrored, HALF)
    finally:
        numba.set_num_threads(threads)
    assert np.array_equal(one, two)


def test_too_few_shared_words_give_no_inliers(tmp_path):
    with KeypointWords.create(tmp_path) as keypoints:
        keypoints.add(np.arange(5, dtype=np.uint32), np.zeros((5, 2)), SIZE)
        keypoints.add(np.arange(5, dtype=np.uint32), np.zeros((5, 2)), SIZE)
        keypoints.add(np.zeros(0, np.uint32), np.zeros((0, 2)), SIZE)
        keypoints.finish()
        assert spatial_inliers(keypoints, np.array([0, 0]), np.array([1, 2]),
                               np.zeros(2, bool), HALF).tolist() == [0, 0]


def test_the_keypoint_words_folder_is_removed_when_closed(tmp_path):
    keypoints = KeypointWords.create(tmp_path)
    keypoints.add(np.arange(3, dtype=np.uint32), np.ones((3, 2)), SIZE)
    keypoints.finish()
    folder = keypoints.folder
    assert folder.parent == tmp_path and folder.exists()
    keypoints.close()
    assert not folder.exists()


def test_a_copy_that_shares_fewer_words_than_chance_neighbours_is_verified_first(tmp_path):
    """The original (1,000 keypoints) and a copy holding 120 of them, through `affine`;
    three decoys share more words with both, at random places, and ten unrelated images
    fill the collection. By shared words alone both choose a decoy."""
    rng = np.random.default_rng(11)

    def image(desc, xy):
        return LocalFeatures(np.asarray(xy, np.float32), np.asarray(desc, np.uint8), SIZE)

    def fresh(n):
        return rng.integers(0, 256, (n, 128)).astype(np.uint8)

    desc, xy = fresh(1000), random_xy(rng, 1000)
    original = image(desc, xy)
    copy = image(np.r_[desc[:120], fresh(280)], np.r_[affine(xy[:120]), random_xy(rng, 280)])
    decoys = [image(np.r_[copy.desc[rng.choice(400, 150, replace=False)],
                          desc[120 + rng.choice(880, 200, replace=False)], fresh(50)],
                    random_xy(rng, 400)) for _ in range(3)]
    fillers = [image(fresh(400), random_xy(rng, 400)) for _ in range(10)]
    features = [original, copy, *decoys, *fillers]

    by_words = retrieval.candidate_pairs(features, neighbours=1, shortlist=1,
                                         scratch=tmp_path)
    reranked = retrieval.candidate_pairs(features, neighbours=1, shortlist=50,
                                         scratch=tmp_path)
    assert not ((by_words["a"] == 0) & (by_words["b"] == 1)).any()
    pair = reranked[(reranked["a"] == 0) & (reranked["b"] == 1)]
    assert len(pair) == 1 and pair["inliers"].iat[0] >= 60
    assert list(tmp_path.iterdir()) == []  # the keypoint words' folder is gone


def test_an_image_reads_back_as_its_keypoints_sorted_by_word(tmp_path):
    with KeypointWords.create(tmp_path) as keypoints:
        keypoints.add(np.array([9, 3, 5], np.uint32), [[1, 2], [3, 4], [5, 6]], SIZE)
        keypoints.add(np.array([7], np.uint32), [[0.5, 0.25]], SIZE)
        keypoints.add(np.array([4, 1], np.uint32), [[10, 20], [30, 40]], SIZE)
        keypoints.finish()
        words, xy, offsets = keypoints.read(np.array([0, 2]))
        assert words.tolist() == [3, 5, 9, 1, 4]
        assert (xy / 16).tolist() == [[3, 4], [5, 6], [1, 2], [30, 40], [10, 20]]
        assert offsets.tolist() == [0, 3, 5]
        assert keypoints.nbytes == 6 * 8


def test_the_inliers_are_the_same_whatever_the_pairs_read_at_a_time(tmp_path, monkeypatch):
    """Forty images drawing 150 keypoints from 60 words, so that every pair has chance
    correspondences and the RANSAC draws decide its count: they are seeded by the images'
    numbers in the whole store, not by their place in a piece."""
    rng = np.random.default_rng(3)
    with KeypointWords.create(tmp_path) as keypoints:
        for _ in range(40):
            keypoints.add(rng.integers(0, 60, 150).astype(np.uint32), random_xy(rng, 150),
                          SIZE)
        keypoints.finish()
        a, b = rng.integers(0, 40, 300), rng.integers(0, 40, 300)
        mirrored = rng.random(300) < 0.5
        whole = spatial_inliers(keypoints, a, b, mirrored, 30)
        monkeypatch.setattr("curate.rerank.PAIRS_PER_READ", 7)
        pieces = spatial_inliers(keypoints, a, b, mirrored, 30)
    assert whole.max() > 0 and np.array_equal(whole, pieces)
