"""style/photograph.py: the content photographs of style transfer, a pure function of seed and
size."""

from __future__ import annotations

import numpy as np

from style.photograph import photograph


def test_a_photograph_is_a_pure_function_of_its_seed_and_size():
    a = photograph(seed=1, width=96, height=64)
    assert a.shape == (64, 96, 3) and a.dtype == np.uint8
    assert np.array_equal(a, photograph(seed=1, width=96, height=64))
    assert not np.array_equal(a, photograph(seed=2, width=96, height=64))


def test_a_photograph_has_a_blue_sky_a_sun_above_the_horizon_and_structure():
    image = photograph(seed=0, width=192, height=128).astype(float)
    luma = image @ [0.299, 0.587, 0.114]
    assert image[:20, :, 2].mean() > image[:20, :, 0].mean() + 40   # a blue sky
    y, _ = np.unravel_index(np.argmax(luma), luma.shape)
    assert y < 0.5 * 128                                           # the sun, up in the sky
    assert luma.std() > 15                                          # not a flat field
