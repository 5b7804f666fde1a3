"""evaluate.upscaler_scores: the print scale one sample spans, and random crops that use each
painting alike.
"""

from __future__ import annotations

import numpy as np

from evaluate.upscaler_scores import print_scale_resize, random_crops


def test_print_scale_is_what_one_sample_spans_and_crops_use_each_painting_alike():
    painting = np.zeros((300, 400, 3), np.uint8)
    # A 128 px sample spans the short side (centre_crop), the long side (letterbox), or on
    # average 0.8 of the short side (random_crops with crop_min_fraction 0.6).
    assert print_scale_resize(painting, 128, "centre_crop", 0.6).shape == (128, 171, 3)
    assert print_scale_resize(painting, 128, "letterbox", 0.6).shape == (96, 128, 3)
    assert print_scale_resize(painting, 128, "random_crops", 0.6).shape == (160, 213, 3)

    flat = [np.full((40 + 9 * i, 50, 3), 60 * i, np.uint8) for i in range(1, 4)]
    too_small = np.full((20, 90, 3), 255, np.uint8)
    crops = random_crops([*flat, too_small], 12, 32, np.random.default_rng(0))
    assert crops.shape == (12, 32, 32, 3)
    assert sorted(np.unique(crops[:, 0, 0, 0], return_counts=True)[1]) == [4, 4, 4]
    assert random_crops([too_small], 5, 32, np.random.default_rng(0)) is None
    again = random_crops([*flat, too_small], 12, 32, np.random.default_rng(0))
    assert np.array_equal(crops, again)
