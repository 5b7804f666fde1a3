"""curate.inverted_file: the compiled inverted file gives what a plain sparse product gives."""

from __future__ import annotations

import numpy as np

from curate.inverted_file import Bags, InvertedFile


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
