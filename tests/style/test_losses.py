"""style/losses.py: statistics that add up over tiles, and distances that are zero only at the
target."""

from __future__ import annotations

import torch

from style.losses import (
    Moments,
    content_distance,
    moments,
    style_distance,
    total_variation,
)
from style.transfer import resize_mask_to


def test_moments_of_tiles_add_up_to_the_moments_of_the_whole_map():
    f = torch.randn(1, 8, 20, 30, dtype=torch.float64)
    whole = moments(f)
    parts = moments(f[..., :7, :]) + moments(f[..., 7:, :11]) + moments(f[..., 7:, 11:])
    for a, b in ((whole.count, parts.count), (whole.first, parts.first),
                 (whole.second, parts.second)):
        torch.testing.assert_close(a, b)


def test_a_mask_weights_the_pixels_it_covers():
    f = torch.randn(1, 4, 6, 6, dtype=torch.float64)
    mask = torch.zeros(6, 6, dtype=torch.float64)
    mask[:, :3] = 1
    torch.testing.assert_close(moments(f, mask).gram, moments(f[..., :3]).gram)
    torch.testing.assert_close(moments(f, mask).mean, moments(f[..., :3]).mean)


def test_each_style_distance_is_zero_at_the_target_and_positive_elsewhere():
    a = moments(torch.randn(1, 6, 10, 10, dtype=torch.float64))
    b = moments(torch.randn(1, 6, 10, 10, dtype=torch.float64) * 2 + 1)
    for kind in ("gram", "meancov", "wasserstein"):
        assert abs(float(style_distance(a, a, kind))) < 1e-8, kind
        assert float(style_distance(b, a, kind)) > 0.1, kind


def test_the_wasserstein_distance_of_diagonal_gaussians_has_its_closed_form():
    # W2^2 = |m1 - m2|^2 + sum (sqrt v1 - sqrt v2)^2 for diagonal covariances
    def gaussian(mean, var):
        mean, var = torch.tensor(mean, dtype=torch.float64), torch.tensor(var, dtype=torch.float64)
        return Moments(torch.tensor(1.0, dtype=torch.float64), mean,
                       torch.diag(var) + torch.outer(mean, mean))
    x, s = gaussian([1.0, 0.0], [4.0, 1.0]), gaussian([0.0, 2.0], [1.0, 9.0])
    expected = (1 + 4 + (2 - 1) ** 2 + (1 - 3) ** 2) / 2
    torch.testing.assert_close(style_distance(x, s, "wasserstein"),
                               torch.tensor(expected, dtype=torch.float64))


def test_the_wasserstein_loss_has_a_gradient_that_lowers_it():
    target = moments(torch.randn(1, 5, 8, 8, dtype=torch.float64) * 3)
    f = torch.randn(1, 5, 8, 8, dtype=torch.float64, requires_grad=True)
    before = style_distance(moments(f), target, "wasserstein")
    before.backward()
    with torch.no_grad():
        after = style_distance(moments(f - 0.01 * f.grad), target, "wasserstein")
    assert after < before


def test_content_distance_counts_only_the_masked_pixels():
    x, c = torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4)
    c[..., :, 2:] = 1
    mask = torch.zeros(4, 4)
    mask[:, :2] = 1
    assert float(content_distance(x, c, mask)) == 0
    assert float(content_distance(x, c)) == 0.5


def test_masks_are_area_averaged_to_a_layers_size_and_tv_is_zero_on_flat_images():
    mask = torch.zeros(8, 8)
    mask[:, :4] = 1
    small = resize_mask_to(mask, (2, 2))
    assert small.tolist() == [[1.0, 0.0], [1.0, 0.0]]
    assert float(total_variation(torch.full((1, 3, 5, 5), 0.3))) == 0
    assert float(total_variation(torch.rand(1, 3, 5, 5))) > 0
