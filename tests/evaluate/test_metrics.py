"""Metrics (evaluate/metrics.py) against independent references.

Each metric is checked against a second computation written differently (eigenvalues instead of
sqrtm, double loops instead of matrix sums, sorting instead of partitioning), and on inputs
whose ordering is known (identical < same distribution < shifted or degraded).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import torch

from evaluate.metrics import (
    feature_metrics,
    frechet_distance,
    frechet_distance_from_stats,
    kid,
    knn_radii,
    laplacian_pyramid,
    mmd2_unbiased,
    precision_recall,
    psnr,
    swd,
    to_uint8_nhwc,
    uint8_nhwc_to_float_nchw,
)
from tests.images import noise, paintings

# ----------------------------------------------------------------------------------------------
# Frechet distance


def reference_fd(a: np.ndarray, b: np.ndarray) -> float:
    """FD via the symmetric form Tr((S_a^1/2 S_b S_a^1/2)^1/2), square roots by eigh."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(s_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root_a @ s_b @ root_a)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b)
                 - 2 * np.sqrt(np.clip(inner, 0, None)).sum())


def test_fd_matches_independent_reference():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(250, 6)) @ rng.normal(size=(6, 6)) + rng.normal(size=6)
    assert frechet_distance(a, b) == pytest.approx(reference_fd(a, b), rel=1e-9)


def test_fd_of_known_gaussians():
    # Diagonal covariances: FD = |mu_a - mu_b|^2 + sum (sqrt(var_a) - sqrt(var_b))^2.
    var_a, var_b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    mu_a, mu_b = np.zeros(3), np.array([1.0, 0.0, 2.0])
    expected = 5.0 + (1 - 2) ** 2 + (2 - 1) ** 2 + 0.0
    assert frechet_distance_from_stats(mu_a, np.diag(var_a), mu_b, np.diag(var_b)) == \
        pytest.approx(expected, rel=1e-12)


def test_fd_identical_near_zero_and_grows_with_shift():
    a = np.random.default_rng(2).normal(size=(400, 16))
    assert frechet_distance(a, a) < 1e-8
    shifts = [frechet_distance(a, a + s) for s in (0.1, 0.5, 1.0)]
    assert shifts == sorted(shifts)
    assert shifts[-1] == pytest.approx(16.0, rel=1e-6)  # a pure shift adds |shift|^2


def test_fd_near_singular_covariance_is_finite():
    # Fewer vectors than dimensions: singular covariances, the eps retry path.
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(10, 40)), rng.normal(size=(10, 40)) + 0.3
    value = frechet_distance(a, b)
    assert np.isfinite(value) and value > 0


def test_feature_input_errors():
    with pytest.raises(ValueError, match="dimension"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="NaN"):
        kid(np.full((5, 3), np.nan), np.zeros((5, 3)))


# ----------------------------------------------------------------------------------------------
# KID


def brute_force_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]

    def k(u, v):
        return (float(np.dot(u, v)) / d + 1.0) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_matches_brute_force():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(14, 5)), rng.normal(size=(11, 5)) + 0.4
    assert mmd2_unbiased(x, y) == pytest.approx(brute_force_mmd2(x, y), rel=1e-10)
    # Equal sizes within subset_size: KID is that single unbiased MMD^2.
    mean, std = kid(x[:11], y, subset_size=50)
    assert mean == pytest.approx(brute_force_mmd2(x[:11], y), rel=1e-10) and std == 0.0


def test_kid_same_distribution_near_zero_shifted_larger():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(600, 32)), rng.normal(size=(600, 32))
    same, same_std = kid(a, b, seed=0, subsets=20, subset_size=200)
    shifted, _ = kid(a, b + 0.3, seed=0, subsets=20, subset_size=200)
    assert abs(same) < 3 * same_std + 1e-3
    assert shifted > 10 * abs(same)
    assert kid(a, b, seed=0, subsets=20, subset_size=200) == (same, same_std)  # seeded


# ----------------------------------------------------------------------------------------------
# Precision and recall


def test_knn_radii_against_sorting():
    a = np.random.default_rng(6).normal(size=(50, 4))
    distances = np.sqrt(((a[:, None] - a[None]) ** 2).sum(-1))
    np.testing.assert_allclose(knn_radii(a, k=3, batch_rows=7), np.sort(distances, 1)[:, 3],
                               rtol=1e-9)


def test_precision_recall_identical_shifted_and_collapsed():
    rng = np.random.default_rng(7)
    centres = rng.normal(scale=10, size=(4, 8))
    real = np.concatenate([c + rng.normal(size=(150, 8)) for c in centres])
    assert precision_recall(real, real) == (1.0, 1.0)
    far_precision, far_recall = precision_recall(real, real + 50.0)
    assert far_precision == 0.0 and far_recall == 0.0
    # A fresh sample of the same distribution: the finite-sample ceiling (~0.85 here).
    same = np.concatenate([c + rng.normal(size=(150, 8)) for c in centres])
    same_precision, same_recall = precision_recall(real, same)
    assert same_precision > 0.75 and same_recall > 0.75
    # Mode collapse: fakes from 2 of the 4 modes are as realistic but cover half the data.
    fake = np.concatenate([c + rng.normal(size=(300, 8)) for c in centres[:2]])
    precision, recall = precision_recall(real, fake)
    assert precision == pytest.approx(same_precision, abs=0.06)
    assert recall == pytest.approx(same_recall / 2, abs=0.06)


def test_feature_metrics_keys():
    a = np.random.default_rng(8).normal(size=(40, 4))
    assert set(feature_metrics(a, a + 1)) == {"fd", "kid", "kid_std", "precision", "recall"}


# ----------------------------------------------------------------------------------------------
# SWD


def test_image_converters_round_trip():
    images = noise((3, 8, 9, 3), seed=9)
    floats = uint8_nhwc_to_float_nchw(images)
    assert floats.shape == (3, 3, 8, 9)
    np.testing.assert_array_equal(to_uint8_nhwc(floats * 2 - 1), images)
    np.testing.assert_array_equal(to_uint8_nhwc(floats.numpy(), value_range=(0, 1)), images)
    with pytest.raises(ValueError, match="uint8"):
        swd(images.astype(np.float32), images)


def test_laplacian_pyramid_levels_and_reconstruction():
    images = paintings(4, 64, seed=10)
    levels = laplacian_pyramid(images)
    assert [level.shape[2] for level in levels] == [64, 32, 16]
    # Collapsing the band-pass levels back onto the residue restores the image.
    from evaluate.metrics import _pyr_up

    image = torch.from_numpy(levels[-1])
    for band in reversed(levels[:-1]):
        image = torch.from_numpy(band) + _pyr_up(image, band.shape[2:])
    np.testing.assert_allclose(image.numpy().transpose(0, 2, 3, 1), images, atol=1e-3)


def test_swd_zero_for_identical_and_grows_with_degradation():
    real_a, real_b = paintings(64, 32, seed=11), paintings(64, 32, seed=12)
    assert swd(real_a, real_a)["swd_mean"] == 0.0
    floor = swd(real_a, real_b, seed=1)["swd_mean"]

    def blurred(sigma):
        return np.clip(np.rint(scipy.ndimage.gaussian_filter(
            real_b.astype(np.float64), (0, sigma, sigma, 0))), 0, 255).astype(np.uint8)

    blur = [swd(real_a, blurred(s), seed=1)["swd_mean"] for s in (0.7, 1.5)]
    noise_rng = np.random.default_rng(13)
    noisy = [swd(real_a, np.clip(real_b + noise_rng.normal(0, s, real_b.shape), 0, 255)
                 .astype(np.uint8), seed=1)["swd_mean"] for s in (10, 40)]
    assert floor < blur[0] < blur[1]
    assert floor < noisy[0] < noisy[1]
    assert swd(real_a, real_b, seed=1) == swd(real_a, real_b, seed=1)
    with pytest.raises(ValueError, match="one size"):
        swd(real_a, paintings(4, 16, seed=0))


def test_swd_normalisation_modes_and_brightness():
    dim = paintings(32, 32, seed=16) // 2 + 20          # 20..147: room to brighten unclipped
    bright = dim + 40
    each = swd(dim, bright, seed=2)
    reference = swd(dim, bright, seed=2, normalise="reference")
    # Band-pass levels ignore a constant offset; per-set normalisation removes it from the rest.
    assert each["swd_mean"] < 1e-3
    assert reference["swd_32"] < 1e-3 and reference["swd_16"] > 100
    with pytest.raises(ValueError, match="odd"):
        swd(dim, bright, nhood_px=6)


# ----------------------------------------------------------------------------------------------
# PSNR


def test_psnr_is_finite_and_capped():
    a = np.zeros((4, 5, 3))
    assert psnr(a, a + 0.1) == pytest.approx(20.0)
    assert psnr(a, a) == psnr(a, a + 1e-9) == 100.0
    with pytest.raises(ValueError, match="one shape"):
        psnr(a, a[:2])
