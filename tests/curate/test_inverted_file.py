"""curate.inverted_file: the compiled inverted file gives what a plain sparse product gives."""

from __future__ import annotations

import numpy as np

from curate.inverted_file import Bags, BagsFile, InvertedFile


def _brute(word_lists, size, keep, max_df):
    n = len(word_lists)
    dense = np.zeros((n, size))
    for i, w in enumerate(word_lists):
        dense[i, np.unique(w)] = 1
    df = dense.sum(0)
    idf = np.where((df > 0) & (df <= max_df), np.log(n / np.maximum(df, 1)), 0)
    vectors = dense * idf
    sims = vectors @ vectors.T
    norms = np.sqrt((vectors ** 2).sum(1))
    sims = sims / np.maximum(np.outer(norms, norms), 1e-300)
    out = []
    for i in range(n):
        order = sorted((j for j in range(n) if j != i and sims[i, j] > 0),
                       key=lambda j: (-sims[i, j], j))[:keep]
        out.append(order)
    return out, sims


def test_the_best_neighbours_are_those_of_the_idf_weighted_cosine():
    rng = np.random.default_rng(0)
    size, n = 300, 60
    words = [rng.integers(0, size, rng.integers(5, 40)) for _ in range(n)]
    words[7] = np.concatenate([words[3][:10], rng.integers(0, size, 5)])  # a partial copy
    index = InvertedFile.build(Bags.of(words), size, max_df=20)
    found, scores = index.query(Bags.of(words), keep=4)
    expected, sims = _brute(words, size, 4, 20)
    for i in range(n):
        got = [j for j in found[i] if j >= 0]
        assert got == expected[i], i
        assert np.allclose(scores[i][: len(got)], [sims[i, j] for j in got])
    assert 3 in found[7]


def test_an_index_built_from_bags_on_disk_equals_the_one_built_in_memory(tmp_path, monkeypatch):
    from curate import inverted_file

    rng = np.random.default_rng(1)
    size, n = 400, 50
    words = [np.unique(rng.integers(0, size, rng.integers(0, 60))) for _ in range(n)]
    in_memory = InvertedFile.build(Bags.of(words), size, max_df=15)  # in one chunk
    # Chunks smaller than the collection, so the build reads the file in several parts.
    monkeypatch.setattr(inverted_file, "BUILD_CHUNK", 7)
    with BagsFile.create(tmp_path) as stored:
        for w in words:
            stored.add(w)
        stored.finish()
        assert len(stored) == n
        part = stored.select(10, 30)
        assert all(np.array_equal(part.words[part.offsets[i]: part.offsets[i + 1]], words[10 + i])
                   for i in range(20))
        on_disk = InvertedFile.build(stored, size, max_df=15)
        for name in ("starts", "postings", "weight", "norms"):
            assert np.array_equal(getattr(on_disk, name), getattr(in_memory, name)), name
        found, scores = on_disk.query(stored.select(0, n), keep=4)
    expected, _ = in_memory.query(Bags.of(words), keep=4)
    assert np.array_equal(found, expected)
    assert not stored.folder.exists()  # the scratch folder goes with the file
