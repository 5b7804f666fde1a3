"""curate.retrieval: each image's few most likely copies from a bag of visual words, so that the
local-feature verifier tries those pairs and not all of them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from curate import retrieval
from curate.local_features import LocalFeatures, extract
from demo import painter, transforms
from tests.images import encode

KINDS = ("landscape", "seascape", "portrait", "still_life", "geometric")
COPY_MAKERS = (
    lambda img: img.crop((200, 150, 520, 390)),  # a detail, a sixth of the picture
    lambda img: img.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    lambda img: transforms.squash(img, 0.65),
    lambda img: img.transform(img.size, Image.Transform.PERSPECTIVE,
                              (1.1, 0.15, -60, 0.05, 1.05, -30, 1e-4, 5e-5)),
)


@pytest.fixture(scope="module")
def collection() -> tuple[list[LocalFeatures], list[tuple[int, int, bool]]]:
    """16 paintings and 8 copies of the first 8 (detail, mirror, squash, angle in turn); the
    true pairs as (original, copy, mirrored)."""
    rng = np.random.default_rng(3)
    images = [painter.paint(KINDS[i % 5], painter.Style.random(rng), 100 + i, (800, 600))
              for i in range(16)]
    truth = []
    for i in range(8):
        images.append(COPY_MAKERS[i % 4](images[i]))
        truth.append((i, len(images) - 1, i % 4 == 1))
    return [extract(encode(img, "JPEG", quality=88)) for img in images], truth


def test_each_copy_is_among_its_originals_three_nearest(collection):
    features, truth = collection
    pairs = retrieval.candidate_pairs(features, neighbours=3)
    found = {(a, b): m for a, b, m in zip(pairs["a"], pairs["b"], pairs["mirrored"],
                                           strict=True)}
    for original, copy, mirrored in truth:
        assert (original, copy) in found
        if mirrored:
            assert found[(original, copy)]
    assert (pairs["a"] < pairs["b"]).all() and not pairs.duplicated(["a", "b"]).any()
    assert len(pairs) <= 3 * len(features)


def test_retrieval_gives_the_same_pairs_every_time(collection):
    features, _ = collection
    first = retrieval.candidate_pairs(features, neighbours=4)
    again = retrieval.candidate_pairs(features, neighbours=4)
    assert first.equals(again)


def test_images_without_features_take_no_part_and_positions_are_kept(collection):
    features, truth = collection
    flat = extract(encode(Image.new("RGB", (300, 200), (90, 90, 90)), "PNG"))
    holey = [None, flat, *features]
    pairs = retrieval.candidate_pairs(holey, neighbours=3)
    assert not pairs[["a", "b"]].isin([0, 1]).any().any()
    found = set(zip(pairs["a"], pairs["b"], strict=True))
    assert all((a + 2, b + 2) in found for a, b, _ in truth)


def test_too_few_images_or_no_neighbours_give_no_pairs(collection):
    features, _ = collection
    assert retrieval.candidate_pairs(features[:1], neighbours=5).empty
    assert retrieval.candidate_pairs([None, None], neighbours=5).empty
    assert retrieval.candidate_pairs(features, neighbours=0).empty


def test_the_vocabulary_grows_with_the_collection_within_bounds():
    assert retrieval.tree_for(10) == (2, retrieval.MIN_BRANCHING)
    assert retrieval.tree_for(1_600) == (2, 126)  # ~16,000 words
    depth, branching = retrieval.tree_for(1_700)
    assert depth == 3 and 15_000 < branching ** 3 < 20_000  # no jump in size at the switch
    assert retrieval.tree_for(100_000) == (3, 100)
    assert retrieval.tree_for(10_000_000) == (3, retrieval.MAX_BRANCHING)


def test_a_three_level_vocabulary_sends_each_descriptor_down_its_own_branch(collection):
    features, _ = collection
    sample = np.concatenate([f.rootsift() for f in features[:8]])
    vocabulary = retrieval.Vocabulary.train(sample, 8, seed=0, depth=3)
    words = vocabulary.assign(sample)
    assert vocabulary.depth == 3 and vocabulary.size <= 8 ** 3 and words.max() < vocabulary.size
    # The same word as choosing the nearest centroid level by level, by hand.
    for row in range(0, len(sample), 97):
        node = 0
        for centroids, start, count in zip(vocabulary.centroids, vocabulary.start,
                                           vocabulary.count, strict=True):
            c0 = start[node]
            node = c0 + int(np.argmax(centroids[c0: c0 + count[node]] @ sample[row]))
        assert words[row] == node


def test_a_vocabulary_gives_a_descriptor_and_its_copy_the_same_word(collection):
    features, _ = collection
    sample = np.concatenate([f.rootsift() for f in features[:4]])
    vocabulary = retrieval.Vocabulary.train(sample, 16, seed=0)
    words = vocabulary.assign(sample)
    assert vocabulary.size <= 256 and words.max() < vocabulary.size
    assert np.array_equal(vocabulary.assign(sample.copy()), words)
    assert len(np.unique(words)) > 100


def test_the_word_of_a_mirrored_descriptor_is_the_partner_of_its_word(collection):
    from curate.local_features import MIRROR_PERMUTATION

    features, _ = collection
    assert np.array_equal(MIRROR_PERMUTATION[MIRROR_PERMUTATION], np.arange(128))
    sample = np.concatenate([f.rootsift() for f in features[:6]])
    vocabulary = retrieval.Vocabulary.train(sample, 24, seed=1, depth=3)
    held_out = np.concatenate([f.rootsift() for f in features[6:10]])
    words = vocabulary.assign(held_out)
    mirrored = vocabulary.assign(held_out[:, MIRROR_PERMUTATION])
    assert np.mean(mirrored == vocabulary.partner[words]) > 0.999  # exact but for float ties
    assert np.array_equal(vocabulary.partner[vocabulary.partner], np.arange(vocabulary.size))


def test_features_on_disk_in_several_processes_give_the_same_pairs_as_in_memory(
        collection, tmp_path, monkeypatch):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curate.feature_store import FeatureStore

    features, _ = collection
    blobs = [f.to_bytes() for f in features]
    shas = [f"{i:064x}" for i in range(len(blobs))]
    # Two hash files; the second repeats an image (its first copy is the one kept) and one
    # image has no features in the first file but has them in the second.
    first = pa.table({"sha256": shas[:10], "local_features": blobs[:9] + [None]})
    second = pa.table({"sha256": shas[9:] + [shas[0]], "local_features": blobs[9:] + [b"x"]})
    pq.write_table(first, tmp_path / "one.parquet")
    pq.write_table(second, tmp_path / "two.parquet")
    wanted = pd.Series([*shas, shas[3]])  # a byte copy: two rows, one sha256
    with FeatureStore.gather(tmp_path, ["one", "two"], wanted, tmp_path / "features") as store:
        assert [store[i] for i in range(len(store))] == [*blobs, blobs[3]]
        assert store.keypoints(2) == len(features[2])
        store[len(blobs)] = None  # the copy leaves the search, as in curate
        monkeypatch.setattr(retrieval, "ASSIGN_CHUNK", 4)  # several tasks for the pool
        assert store[len(blobs)] is None and store.keypoints(len(blobs)) == 0
        on_disk = retrieval.candidate_pairs(store, neighbours=3, workers=2)
    in_memory = retrieval.candidate_pairs(features, neighbours=3)
    assert on_disk.equals(in_memory)


def test_features_written_as_they_stream_read_back_as_they_were(collection, tmp_path):
    from curate.feature_store import FeatureStore

    features, _ = collection
    blobs = [f.to_bytes() for f in features[:5]]
    streamed = [blobs[0], None, *blobs[1:], None]
    with FeatureStore.write(tmp_path / "features", iter(streamed)) as store:
        assert len(store) == len(streamed)
        assert [store[i] for i in range(len(store))] == streamed
        assert [store.keypoints(i) for i in range(len(store))] == \
            [0 if b is None else len(features[blobs.index(b)]) for b in streamed]
    with FeatureStore.write(tmp_path / "none", iter([])) as empty:
        assert len(empty) == 0


def test_the_vocabulary_sample_holds_its_own_rows_not_the_images_it_was_taken_from():
    """A slice of each image's descriptors would keep the whole image's array alive: at 45,000
    images that held 12 GB for a 1 GB sample."""
    import tracemalloc

    from curate.local_features import LocalFeatures

    rng = np.random.default_rng(0)
    blob = LocalFeatures(rng.random((1000, 2)).astype(np.float32),
                         rng.integers(0, 256, (1000, 128)).astype(np.uint8), (512, 512)).to_bytes()
    features = [blob] * 400
    counts = np.full(len(features), 1000)
    tracemalloc.start()
    sample = retrieval._sample(features, np.arange(len(features)), counts, 20_000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(sample) == 20_000
    assert peak < 2 * sample.nbytes  # one image's arrays at a time beside the sample
