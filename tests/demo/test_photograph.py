"""demo/photograph.py: the content photographs of style transfer, a pure function of seed and
size."""

from __future__ import annotations

import numpy as np

from demo.photograph import photograph


def test_a_photograph_is_a_pure_function_of_its_seed_and_size():
    a = photograph(seed=1, width=96, height=64)
    assert a.shape == (64, 96, 3) and a.dtype == np.uint8
    assert np.array_equal(a, photograph(seed=1, width=96, height=64))
    assert not np.array_equal(a, photograph(seed=2, width=96, height=64))


def test_a_photograph_has_a_bright_sky_above_darker_land_and_water():
    image = photograph(seed=0, width=192, height=128).astype(float)
    luma = image @ [0.299, 0.587, 0.114]
    assert luma[:20].mean() > luma[-20:].mean()          # sky over lake
    assert image[:20, :, 2].mean() > image[:20, :, 0].mean()  # a blue sky
    assert luma.std() > 15                                  # not a flat field
