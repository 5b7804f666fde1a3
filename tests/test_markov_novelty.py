"""The Markov baseline against real data, and the memorisation check against copies and noise.

A synthetic dataset (gradient skies, striped grounds, a disc) is split into training and
held-out images. The baseline must sit between the floor and the ceiling: better than uniform
noise, worse than held-out real images, on SWD and on FD in a small trained encoder's space.
"""

from __future__ import annotations

import imagehash
import numpy as np
import pytest
from PIL import Image

from evaluate.encoder import embed, train_encoder
from evaluate.markov import MarkovPainter
from evaluate.metrics import frechet_distance, swd
from evaluate.novelty import (
    feature_nearest,
    novelty_report,
    phash_codes,
    phash_nearest,
    write_gallery,
)
from train.synthetic import paintings

PX = 32


@pytest.fixture(scope="module")
def data():
    train = paintings(400, PX, seed=1)
    heldout = paintings(128, PX, seed=2)
    painter = MarkovPainter.fit(train, seed=0, palette_size=32)
    samples = painter.sample(128, seed=5)
    noise = np.random.default_rng(6).integers(0, 256, (128, PX, PX, 3), dtype=np.uint8)
    encoder, _ = train_encoder(train, {}, seed=0, steps=60, batch_size=64, input_px=PX,
                               widths=(16, 32, 64, 64))
    return {"train": train, "heldout": heldout, "painter": painter, "samples": samples,
            "noise": noise, "encoder": encoder}


# ----------------------------------------------------------------------------------------------
# Markov baseline


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


# ----------------------------------------------------------------------------------------------
# Novelty


def test_phash_codes_match_imagehash_and_nearest_is_exact():
    images = paintings(40, PX, seed=7)
    codes = phash_codes(images)
    for image, code in zip(images[:5], codes[:5], strict=True):
        assert code == int(str(imagehash.phash(Image.fromarray(image).convert("L"))), 16)
    queries, references = codes[:7], codes[7:]
    index, distance = phash_nearest(queries, references, chunk=3)
    brute = np.array([[bin(int(q) ^ int(r)).count("1") for r in references] for q in queries])
    np.testing.assert_array_equal(distance, brute.min(axis=1))
    np.testing.assert_array_equal(index, brute.argmin(axis=1))

    vectors = np.random.default_rng(8).normal(size=(30, 5))
    index, distance = feature_nearest(vectors[:4], vectors[4:], chunk=2)
    brute = np.linalg.norm(vectors[:4, None] - vectors[None, 4:], axis=-1)
    np.testing.assert_array_equal(index, brute.argmin(axis=1))
    np.testing.assert_allclose(distance, brute.min(axis=1), rtol=1e-9)


def test_novelty_flags_copies_not_noise_or_fresh_images(data, tmp_path):
    train, heldout, encoder = data["train"], data["heldout"], data["encoder"]
    fresh = paintings(100, PX, seed=3)                                 # new, same distribution
    copies = train[[5, 17, 230]]                                       # verbatim copies
    near_copy = np.clip(train[[42]].astype(int) + 3, 0, 255).astype(np.uint8)  # +3 brightness
    samples = np.concatenate([copies, near_copy, data["noise"][:10], fresh])
    report = novelty_report(embed(encoder, samples), embed(encoder, train),
                            embed(encoder, heldout), phash_codes(samples), phash_codes(train),
                            phash_codes(heldout))
    assert report.feature_threshold > 0
    np.testing.assert_array_equal(report.feature_index[:4], [5, 17, 230, 42])
    assert report.memorised[:4].all() and report.memorised_phash[:3].all()
    assert not report.memorised[4:14].any()                            # noise
    assert report.memorised[14:].mean() <= 0.15                        # fresh: ~5 % expected
    summary = report.summary()
    assert summary["memorised_share"] == pytest.approx(report.memorised.mean())

    pairs = report.closest_pairs(4)
    # An exact copy is at distance 0 up to float rounding, which depends on how many BLAS
    # threads embedded each batch.
    assert sorted(p[0] for p in pairs[:3]) == [0, 1, 2] and pairs[0][2] < 1e-6
    assert pairs[0][3] == 0                                            # identical phash
    write_gallery(tmp_path / "gallery.png", samples, train, pairs, tile_px=32, columns=2)
    with Image.open(tmp_path / "gallery.png") as gallery:
        assert gallery.size == (2 * (2 * 32 + 8) + 3 * 8, 2 * (32 + 14 + 8) + 8)
    assert not list(tmp_path.glob(".*tmp-*"))
    with pytest.raises(ValueError, match="held-out"):
        novelty_report(embed(encoder, samples), embed(encoder, train), np.zeros((0, 256)),
                       phash_codes(samples), phash_codes(train), np.zeros(0, np.uint64))
