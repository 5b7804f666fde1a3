"""The memorisation check (evaluate/novelty.py): phash codes equal imagehash's and the nearest
searches are exact; copies and near copies of training images are flagged, noise and fresh
images are not; the gallery of closest pairs.

The training and held-out images, the noise and the encoder come from the ``data`` fixture
(tests/evaluate/conftest.py).
"""

from __future__ import annotations

import imagehash
import numpy as np
import pytest
from PIL import Image

from evaluate.encoder import embed
from evaluate.novelty import (
    feature_nearest,
    novelty_report,
    phash_codes,
    phash_nearest,
    write_gallery,
)
from tests.images import paintings

PX = 32  # the size of the data fixture's images


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
