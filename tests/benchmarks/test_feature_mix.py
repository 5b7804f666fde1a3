"""benchmarks.feature_mix: ORB as the verifier beside SIFT, matched the way the verifier
matches; the benchmark's own helpers, on the demo painter's pictures."""

from __future__ import annotations

import numpy as np
from PIL import Image

from benchmarks import feature_mix
from demo import painter
from tests.images import encode


def _painting(seed: int) -> Image.Image:
    style = painter.Style.random(np.random.default_rng(seed))
    return painter.paint("landscape", style, seed, (800, 600))


def test_hamming_ratio_matches_keep_each_clear_nearest_neighbour_once_per_second_image_row():
    rng = np.random.default_rng(0)
    b = rng.integers(0, 256, (40, 32), dtype=np.uint8)
    a = b[[3, 7, 7, 12]].copy()
    a[0, 0] ^= 1  # one bit away from b[3]: still clearly nearest
    a[3] = rng.integers(0, 256, 32, dtype=np.uint8)  # nothing clearly nearest
    ia, ib = feature_mix.hamming_ratio_matches(a, b, 0.8)
    # a[1] and a[2] both choose b[7]: one match per row of b, the first of equals kept
    assert ia.tolist() == [0, 1] and ib.tolist() == [3, 7]


def test_orb_finds_a_mirrored_crop_of_a_painting_and_not_another_painting():
    original = _painting(7)
    copy = original.crop((80, 60, 720, 540)).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    a, b, other = (feature_mix.orb_features(encode(img, "JPEG", quality=90))
                   for img in (original, copy, _painting(11)))
    assert len(a.xy) == len(a.desc) > 200 and a.mirrored_desc.shape[1] == 32
    assert feature_mix.orb_inliers(a, b) >= 40
    assert feature_mix.orb_inliers(a, other) < 20
