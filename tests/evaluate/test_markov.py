"""The Markov baseline (evaluate/markov.py): deterministic transitions are learnt, sampling is
seeded and round trips, the colour histogram is reproduced, and on real-like data the baseline
sits between the floor and the ceiling: better than uniform noise, worse than held-out real
images, on SWD and on FD in a small trained encoder's space.

The synthetic dataset (gradient skies, striped grounds, a disc), split into training and
held-out images, comes from the ``data`` fixture (tests/evaluate/conftest.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from evaluate.encoder import embed
from evaluate.markov import MarkovPainter
from evaluate.metrics import frechet_distance, swd

PX = 32  # the size of the data fixture's images


def test_markov_learns_deterministic_transitions():
    # Columns alternate red and blue: given the left neighbour, the next colour is certain.
    stripes = np.zeros((20, 16, 16, 3), dtype=np.uint8)
    stripes[:, :, 0::2] = (220, 30, 30)
    stripes[:, :, 1::2] = (30, 30, 220)
    painter = MarkovPainter.fit(stripes, seed=0, palette_size=4, bands=2)
    samples = painter.sample(10, seed=1)
    assert set(map(tuple, samples.reshape(-1, 3))) <= {(220, 30, 30), (30, 30, 220)}
    # Each row continues its first pixel's alternation (the first pixel itself is random).
    changes = (samples[:, :, 1:] != samples[:, :, :-1]).any(axis=-1)
    assert changes.mean() > 0.98


def test_markov_sampling_is_seeded_and_round_trips(data, tmp_path):
    painter = data["painter"]
    first = painter.sample(6, seed=9)
    assert first.shape == (6, PX, PX, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, painter.sample(6, seed=9))
    np.testing.assert_array_equal(first[:3], painter.sample(3, seed=9))  # prefix-stable
    assert not np.array_equal(first, painter.sample(6, seed=10))
    painter.save(tmp_path / "markov.npz")
    np.testing.assert_array_equal(MarkovPainter.load(tmp_path / "markov.npz").sample(6, seed=9),
                                  first)
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable Markov painter"):
        MarkovPainter.load(tmp_path / "junk.npz")
    with pytest.raises(ValueError, match="uint8"):
        MarkovPainter.fit(data["train"].astype(np.float32))


def _palette_histogram(painter: MarkovPainter, images: np.ndarray) -> np.ndarray:
    quantised = painter.quantise(images).reshape(-1, 3)
    palette = painter.palette_uint8
    index = np.argmax((quantised[:, None, :] == palette[None]).all(-1), axis=1)
    return np.bincount(index, minlength=len(palette)) / len(index)


def test_markov_reproduces_colour_histogram(data):
    painter = data["painter"]
    train_hist = _palette_histogram(painter, data["train"])
    sample_tv = 0.5 * np.abs(_palette_histogram(painter, data["samples"]) - train_hist).sum()
    noise_tv = 0.5 * np.abs(_palette_histogram(painter, data["noise"]) - train_hist).sum()
    assert sample_tv < 0.15
    assert noise_tv > 2 * sample_tv


def test_markov_between_noise_and_real_in_swd_and_fd(data):
    heldout, samples, noise, train = data["heldout"], data["samples"], data["noise"], data["train"]
    real_floor = swd(heldout, train[:128], seed=0)["swd_mean"]
    markov = swd(heldout, samples, seed=0)["swd_mean"]
    uniform = swd(heldout, noise, seed=0)["swd_mean"]
    assert real_floor < markov < uniform

    features = {name: embed(data["encoder"], images) for name, images in
                (("heldout", heldout), ("train", train[:128]), ("markov", samples),
                 ("noise", noise))}
    fd_real = frechet_distance(features["heldout"], features["train"])
    fd_markov = frechet_distance(features["heldout"], features["markov"])
    fd_noise = frechet_distance(features["heldout"], features["noise"])
    assert fd_real < fd_markov < fd_noise
