"""Sample-quality metrics: SWD on image patches, and FD, KID and precision/recall on features.

Pure functions, no model inside: feature vectors come from :mod:`evaluate.encoder` (the default,
trained offline on the curated data) or :mod:`evaluate.inception` (the published FID network, where
its weight file is available). Try it::

    python -c "import numpy as np; from evaluate.metrics import *; \\
      a = np.random.default_rng(0).normal(size=(500, 8)); b = a + 0.5; \\
      print(frechet_distance(a, b), kid(a, b), precision_recall(a, b))"

Conventions:

- Images are ``uint8`` arrays shaped ``[N, H, W, 3]`` (NHWC, RGB, 0..255), the format the
  packs and Pillow use. :func:`to_uint8_nhwc` converts a float NCHW tensor or array (a generator's
  output, range ``[-1, 1]`` by default) and :func:`uint8_nhwc_to_float_nchw` goes back to
  ``[0, 1]`` floats for a network.
- Features are ``[N, D]`` arrays; every statistic is computed in float64, because FD subtracts
  traces of 256x256 or 2048x2048 matrices whose terms are far larger than their difference.
- Anything random (SWD's patches and directions, KID's subsets) comes from a
  ``numpy.random.Generator`` seeded by the ``seed`` argument: same inputs and seed, same value.

What each value means (lower is better for SWD, FD and KID; higher is better for precision and
recall). None has an absolute scale: compare experiments evaluated on the same real set, with the
same feature network and sample count, and see ``benchmarks/eval_metrics.py`` for how much each
moves between two sample sets of one source (the noise floor).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F

# ----------------------------------------------------------------------------------------------
# Image conventions


def check_images(images: np.ndarray, name: str = "images") -> np.ndarray:
    """`images` as a uint8 [N, H, W, 3] array, or a ValueError saying what is wrong with it."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"{name}: expected uint8 NHWC images, got dtype {images.dtype} "
                         "(convert float generator output with evaluate.metrics.to_uint8_nhwc)")
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"{name}: expected shape [N, H, W, 3] (NHWC, RGB), got {images.shape}")
    if images.shape[0] == 0:
        raise ValueError(f"{name}: no images")
    return images


def to_uint8_nhwc(images, value_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """Float NCHW images (torch tensor or array) in `value_range` -> uint8 NHWC, rounded and
    clipped the way an image file would store them."""
    if isinstance(images, torch.Tensor):
        images = images.detach().to("cpu", torch.float64).numpy()
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected float NCHW images with 3 channels, got shape {images.shape}")
    low, high = value_range
    scaled = (images - low) * (255.0 / (high - low))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1).copy()


def uint8_nhwc_to_float_nchw(images: np.ndarray) -> torch.Tensor:
    """uint8 NHWC -> float32 NCHW tensor in [0, 1]."""
    images = check_images(images)
    return torch.from_numpy(images).permute(0, 3, 1, 2).to(torch.float32).div_(255.0)


def _check_features(a, b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    for name, x in (("first", a), ("second", b)):
        if x.ndim != 2:
            raise ValueError(f"{name} feature set: expected shape [N, D], got {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError(f"{name} feature set contains NaN or inf")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sets differ in dimension: {a.shape[1]} vs {b.shape[1]}")
    return a, b


# ----------------------------------------------------------------------------------------------
# Sliced Wasserstein distance on Laplacian-pyramid patches (Karras et al. 2018, ProGAN, appendix D)

# cv2.pyrDown's 5x5 binomial kernel, as in ProGAN's metrics/sliced_wasserstein.py.
_BINOMIAL_5 = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]).astype(np.float32) / 256.0


def _blur(x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """5x5 binomial filter per channel with mirrored edges (scipy's 'mirror' = torch 'reflect')."""
    channels = x.shape[1]
    kernel = torch.from_numpy(_BINOMIAL_5 * gain)[None, None].repeat(channels, 1, 1, 1)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), kernel, groups=channels)


def _pyr_down(x: torch.Tensor) -> torch.Tensor:
    return _blur(x)[:, :, ::2, ::2]


def _pyr_up(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    up = torch.zeros(x.shape[0], x.shape[1], size[0], size[1], dtype=x.dtype)
    up[:, :, ::2, ::2] = x
    return _blur(up, gain=4.0)  # 4x: three of four samples are zeros


def laplacian_pyramid(images: np.ndarray, min_px: int = 16) -> list[np.ndarray]:
    """ProGAN's pyramid of uint8 NHWC images: float32 NCHW levels at full size, half, ... down to
    the last one whose shorter side is still >= `min_px`; every level but the last is a
    band-pass (level minus the upsampled next level), the last is the low-pass residue."""
    images = check_images(images)
    if min(images.shape[1:3]) < min_px:
        raise ValueError(f"SWD needs images of at least {min_px} px, got {images.shape[1:3]}")
    levels = [torch.from_numpy(images).permute(0, 3, 1, 2).to(torch.float32)]
    while min(levels[-1].shape[2:]) // 2 >= min_px:
        levels.append(_pyr_down(levels[-1]))
        levels[-2] = levels[-2] - _pyr_up(levels[-1], tuple(levels[-2].shape[2:]))
    return [level.numpy() for level in levels]


def _patch_positions(n_a: int, n_b: int, count: int, height: int, width: int, nhood_px: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Where the `count` patches of each set lie: (image index in a, image index in b, centre
    rows, centre columns). Each image contributes count/N patches (ProGAN: a fixed number per
    image). Both sets share the centres, and the image indices too when they are equally large
    (common random numbers: less noise in the difference, and identical sets give exactly 0)."""
    half = nhood_px // 2
    index_a = rng.permutation(np.resize(np.arange(n_a), count))
    index_b = index_a if n_b == n_a else rng.permutation(np.resize(np.arange(n_b), count))
    ys = rng.integers(half, height - half, size=count)
    xs = rng.integers(half, width - half, size=count)
    return index_a, index_b, ys, xs


def _patches(level: np.ndarray, image_index: np.ndarray, ys: np.ndarray, xs: np.ndarray,
             nhood_px: int) -> np.ndarray:
    """The patches [count, 3, nhood, nhood] of one pyramid level at the given positions."""
    offsets = np.arange(nhood_px) - nhood_px // 2
    rows = (ys[:, None] + offsets)[:, None, :, None]
    cols = (xs[:, None] + offsets)[:, None, None, :]
    channels = np.arange(level.shape[1])[None, :, None, None]
    return level[image_index[:, None, None, None], channels, rows, cols]


def _normalise(desc: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return ((desc - mean) / np.maximum(std, 1e-8)).reshape(desc.shape[0], -1)


def _channel_stats(desc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of patches [M, C, h, w], accumulated in float64."""
    per_channel = desc.transpose(1, 0, 2, 3).reshape(desc.shape[1], -1)
    mean = per_channel.mean(axis=1, dtype=np.float64)
    std = per_channel.std(axis=1, dtype=np.float64)
    shape = (1, desc.shape[1], 1, 1)
    return mean.reshape(shape).astype(np.float32), std.reshape(shape).astype(np.float32)


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, rng: np.random.Generator,
                       dir_repeats: int = 4, dirs_per_repeat: int = 128) -> float:
    """SWD between two equally sized point sets [M, D]: the mean over random unit directions of
    the 1-D Wasserstein-1 distance between the projections (sorted and matched)."""
    if a.shape != b.shape:
        raise ValueError(f"SWD needs equally many points: {a.shape} vs {b.shape}")
    results = []
    for _ in range(dir_repeats):
        dirs = rng.standard_normal((a.shape[1], dirs_per_repeat))
        dirs = (dirs / np.sqrt(np.sum(dirs**2, axis=0, keepdims=True))).astype(np.float32)
        # Projections as [directions, points]: sorting contiguous rows is ~2x faster.
        dirs_t = np.ascontiguousarray(dirs.T)
        proj_a = np.sort(dirs_t @ a.T, axis=1)
        proj_b = np.sort(dirs_t @ b.T, axis=1)
        results.append(np.mean(np.abs(proj_a - proj_b), dtype=np.float64))
    return float(np.mean(results))


def swd(images_a: np.ndarray, images_b: np.ndarray, seed: int = 0,
        nhood_px: int = 7,              # patch side, ProGAN's 7x7 neighbourhoods
        nhoods_per_image: int = 128,    # patches drawn per image, ProGAN's value
        max_patches: int = 2**16,       # cap per level and set: time (sorting) and memory
        dir_repeats: int = 4,           # ProGAN: 4 x 128 = 512 random directions per level
        dirs_per_repeat: int = 128,
        min_px: int = 16,               # coarsest pyramid level, ProGAN's 16 px
        normalise: str = "each",        # "each": ProGAN, each set by its own channel stats;
                                        # "reference": both by images_a's (colour shifts count)
        ) -> dict[str, float]:
    """ProGAN's SWD between two uint8 NHWC image sets of one size.

    For each Laplacian-pyramid level (full resolution down to `min_px`), draw the same number of
    7x7x3 patches from both sets (min(N_a, N_b) x `nhoods_per_image`, at most `max_patches`),
    normalise each channel to zero mean and unit variance, and take the sliced Wasserstein
    distance over 512 random directions. Values are x1e3 as in the paper.

    Returns ``{"swd_<px>": ..., ..., "swd_mean": average over levels}``, keyed by each level's
    shorter side in pixels. Lower is better; two sets of real images of one distribution give
    the floor, which shrinks with more patches (``benchmarks/eval_metrics.py`` measures it).
    Identical sets give exactly 0 (both sets share the patch positions).

    With ``normalise="each"`` (ProGAN) a global colour or brightness shift is invisible at the
    coarsest level; ``"reference"`` normalises both sets with `images_a`'s statistics, so it
    counts.
    """
    images_a = check_images(images_a, "images_a")
    images_b = check_images(images_b, "images_b")
    if images_a.shape[1:] != images_b.shape[1:]:
        raise ValueError(f"SWD compares images of one size: {images_a.shape[1:]} vs "
                         f"{images_b.shape[1:]}")
    if nhood_px % 2 == 0 or not 1 <= nhood_px <= min_px:
        raise ValueError(f"nhood_px must be odd and at most min_px={min_px}, got {nhood_px}")
    if normalise not in ("each", "reference"):
        raise ValueError(f"normalise must be 'each' or 'reference', got {normalise!r}")
    count = min(len(images_a), len(images_b)) * nhoods_per_image
    count = min(count, max_patches)
    pyramid_a = laplacian_pyramid(images_a, min_px)
    pyramid_b = laplacian_pyramid(images_b, min_px)
    result = {}
    for index, (level_a, level_b) in enumerate(zip(pyramid_a, pyramid_b, strict=True)):
        # One generator per level: adding a level never changes another level's value.
        rng = np.random.default_rng([seed, index])
        index_a, index_b, ys, xs = _patch_positions(len(level_a), len(level_b), count,
                                                    *level_a.shape[2:], nhood_px, rng)
        desc_a = _patches(level_a, index_a, ys, xs, nhood_px)
        desc_b = _patches(level_b, index_b, ys, xs, nhood_px)
        stats_a = _channel_stats(desc_a)
        stats_b = stats_a if normalise == "reference" else _channel_stats(desc_b)
        value = sliced_wasserstein(_normalise(desc_a, *stats_a), _normalise(desc_b, *stats_b),
                                   rng, dir_repeats, dirs_per_repeat)
        result[f"swd_{min(level_a.shape[2:])}"] = value * 1e3
    result["swd_mean"] = float(np.mean(list(result.values())))
    return result


# ----------------------------------------------------------------------------------------------
# Frechet distance


def feature_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (float64, unbiased like numpy.cov) of a feature set [N, D]."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need at least 2 feature vectors [N, D], got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance_from_stats(mu_a, sigma_a, mu_b, sigma_b, eps: float = 1e-6) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)), as pytorch-fid computes it: when
    the product's square root is not finite (near-singular covariances, e.g. fewer samples than
    dimensions), retry with `eps` added to both diagonals; a complex result whose diagonal's
    imaginary part is below 1e-3 is numerical noise and its real part is used."""
    mu_a, mu_b = np.atleast_1d(mu_a).astype(np.float64), np.atleast_1d(mu_b).astype(np.float64)
    sigma_a = np.atleast_2d(sigma_a).astype(np.float64)
    sigma_b = np.atleast_2d(sigma_b).astype(np.float64)
    if mu_a.shape != mu_b.shape or sigma_a.shape != sigma_b.shape:
        raise ValueError(f"statistics differ in shape: {mu_a.shape}/{sigma_a.shape} vs "
                         f"{mu_b.shape}/{sigma_b.shape}")
    diff = mu_a - mu_b
    covmean = scipy.linalg.sqrtm(sigma_a @ sigma_b)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(sigma_a)) * eps
        covmean = scipy.linalg.sqrtm((sigma_a + offset) @ (sigma_b + offset))
    if np.iscomplexobj(covmean):
        worst = np.max(np.abs(np.diagonal(covmean).imag))
        if worst > 1e-3:
            raise ValueError(f"FD: square root of the covariance product has an imaginary "
                             f"component {worst:.3g} (degenerate feature sets?)")
        covmean = covmean.real
    value = diff @ diff + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * np.trace(covmean)
    return float(max(value, 0.0))  # tiny negatives are rounding on identical sets


def frechet_distance(features_a, features_b, eps: float = 1e-6) -> float:
    """FD between two feature sets [N, D] (FID when the features are Inception pool3)."""
    features_a, features_b = _check_features(features_a, features_b)
    return frechet_distance_from_stats(*feature_stats(features_a), *feature_stats(features_b),
                                       eps=eps)


# ----------------------------------------------------------------------------------------------
# Kernel inception distance


def _polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3 (Binkowski et
    al. 2018): within-set sums skip the diagonal (i != j), the cross term keeps every pair."""
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise ValueError("unbiased MMD needs at least 2 vectors per set")
    k_xx = _polynomial_kernel(x, x)
    k_yy = _polynomial_kernel(y, y)
    k_xy = _polynomial_kernel(x, y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * k_xy.mean())


def kid(features_a, features_b, seed: int = 0,
        subsets: int = 100,          # KID's usual 100 random subsets
        subset_size: int = 1000,     # vectors per subset and set (fewer if a set is smaller)
        ) -> tuple[float, float]:
    """KID: mean and standard deviation of the unbiased MMD^2 over `subsets` random subsets
    drawn without replacement from each set. Can be slightly negative when the sets match.
    When both sets are no larger than `subset_size`, every subset is the whole set: one
    evaluation, standard deviation 0."""
    features_a, features_b = _check_features(features_a, features_b)
    size = min(subset_size, len(features_a), len(features_b))
    if size == len(features_a) == len(features_b):
        return mmd2_unbiased(features_a, features_b), 0.0
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        x = features_a[rng.choice(len(features_a), size, replace=False)]
        y = features_b[rng.choice(len(features_b), size, replace=False)]
        values.append(mmd2_unbiased(x, y))
    return float(np.mean(values)), float(np.std(values))


# ----------------------------------------------------------------------------------------------
# Precision and recall (Kynkaanniemi et al. 2019)


def pairwise_sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared L2 distances [len(a), len(b)] in float64 (|a|^2 + |b|^2 - 2 a.b, clipped >= 0)."""
    d2 = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d2, 0.0)


def knn_radii(features: np.ndarray, k: int = 3, batch_rows: int = 1024) -> np.ndarray:
    """Distance from each vector to its k-th nearest other vector of the same set."""
    if len(features) <= k:
        raise ValueError(f"k-NN radii need more than k={k} vectors, got {len(features)}")
    radii = np.empty(len(features))
    for start in range(0, len(features), batch_rows):
        d2 = pairwise_sq_distances(features[start:start + batch_rows], features)
        # The k+1-th smallest, index k: the smallest is the vector itself at distance 0.
        radii[start:start + batch_rows] = np.sqrt(np.partition(d2, k, axis=1)[:, k])
    return radii


def _coverage(manifold: np.ndarray, radii: np.ndarray, queries: np.ndarray,
              batch_rows: int) -> float:
    """Share of `queries` inside at least one ball (manifold[i], radii[i])."""
    inside = 0
    for start in range(0, len(queries), batch_rows):
        d2 = pairwise_sq_distances(queries[start:start + batch_rows], manifold)
        inside += int(np.any(d2 <= radii[None, :] ** 2, axis=1).sum())
    return inside / len(queries)


def precision_recall(real_features, fake_features, k: int = 3,
                     batch_rows: int = 1024,   # rows of the distance matrix held at once
                     ) -> tuple[float, float]:
    """Improved precision and recall: each set's manifold is the union of balls reaching each
    vector's k-th nearest neighbour; precision is the share of fake vectors inside the real
    manifold (fidelity), recall the share of real vectors inside the fake manifold (coverage)."""
    real, fake = _check_features(real_features, fake_features)
    precision = _coverage(real, knn_radii(real, k, batch_rows), fake, batch_rows)
    recall = _coverage(fake, knn_radii(fake, k, batch_rows), real, batch_rows)
    return precision, recall


# ----------------------------------------------------------------------------------------------
# All feature metrics at once


def feature_metrics(real_features, fake_features, seed: int = 0, k: int = 3,
                    kid_subsets: int = 100, kid_subset_size: int = 1000) -> dict[str, float]:
    """FD, KID (mean and std), precision and recall of fake against real features."""
    kid_mean, kid_std = kid(real_features, fake_features, seed, kid_subsets, kid_subset_size)
    precision, recall = precision_recall(real_features, fake_features, k)
    return {"fd": frechet_distance(real_features, fake_features), "kid": kid_mean,
            "kid_std": kid_std, "precision": precision, "recall": recall}


# ----------------------------------------------------------------------------------------------
# Reconstruction

PSNR_CAP_DB = 100.0  # beyond this the difference is float32 rounding, and JSON has no infinity


def psnr(a, b, peak: float = 1.0, cap_db: float = PSNR_CAP_DB) -> float:
    """PSNR in dB of two float arrays of one shape over every value (all channels, so colour
    shifts count), in float64; identical or nearly identical inputs score ``cap_db``."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"PSNR compares arrays of one shape: {a.shape} vs {b.shape}")
    mse = float(np.mean((a - b) ** 2))
    floor = peak**2 * 10 ** (-cap_db / 10)  # the MSE at which the PSNR reaches the cap
    return float(10 * np.log10(peak**2 / max(mse, floor)))
