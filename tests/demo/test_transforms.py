"""demo.transforms, the scan transforms that make the demo's copies: sizes, colour grading, frames,
watermarks, and inputs left untouched.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from demo import transforms
from tests.images import painting


def _digest(img: Image.Image) -> str:
    return hashlib.sha256(img.tobytes()).hexdigest()


@pytest.fixture(scope="module")
def master() -> Image.Image:
    return painting((400, 300), seed=14)


def test_resize_crop_squash_detail_sizes(master):
    assert transforms.resize(master, 0.5).size == (200, 150)
    assert transforms.crop(master, 0.1, 0.2, 0.05, 0.1).size == (340, 210)
    assert transforms.squash(master, 0.85).size == (340, 300)
    assert transforms.detail(master, (0.25, 0.5, 0.75, 1.0)).size == (200, 150)
    region = transforms.detail(master, (0.0, 0.0, 0.5, 0.5))
    assert np.array_equal(np.asarray(region), np.asarray(master)[:150, :200])


def test_colour_grade_warmth_and_gamma(master):
    base = np.asarray(master, np.float32)
    warm = np.asarray(transforms.colour_grade(master, 1.0, 1.0, 0.8), np.float32)
    cool = np.asarray(transforms.colour_grade(master, 1.0, 1.0, -0.8), np.float32)
    ratio = [(a[..., 0].mean() + 1) / (a[..., 2].mean() + 1) for a in (cool, base, warm)]
    assert ratio[0] < ratio[1] < ratio[2]
    darker = np.asarray(transforms.colour_grade(master, 1.5, 1.0, 0.0), np.float32)
    assert darker.mean() < base.mean() - 5
    grey = np.asarray(transforms.colour_grade(master, 1.0, 0.0, 0.0), np.int16)
    assert np.abs(grey[..., 0] - grey[..., 2]).max() <= 2


@pytest.mark.parametrize("style", ["mat", "gilt", "black"])
def test_add_frame(master, style):
    framed = transforms.add_frame(master, 0.1, style, seed=3)
    assert framed.mode == "RGB" and framed.size == (480, 380)
    assert np.array_equal(np.asarray(framed)[40:340, 40:440], np.asarray(master))
    assert _digest(framed) == _digest(transforms.add_frame(master, 0.1, style, seed=3))
    border = np.asarray(framed, np.float32)[:30]
    brightness = {"mat": (180, 256), "gilt": (40, 200), "black": (0, 70)}[style]
    assert brightness[0] <= border.mean() < brightness[1]
    with pytest.raises(ValueError):
        transforms.add_frame(master, 0.1, "plastic", 1)


def test_watermark_changes_pixels_not_size(master):
    marked = transforms.watermark(master, "(c) Demo Picture Library", 0.5)
    assert marked.size == master.size and marked.mode == "RGB"
    diff = np.abs(np.asarray(marked, np.int16) - np.asarray(master, np.int16)).max(axis=2)
    assert 0.005 < (diff > 20).mean() < 0.3
    faint = transforms.watermark(master, "(c) Demo Picture Library", 0.1)
    assert np.abs(np.asarray(faint, np.int16) - np.asarray(master, np.int16)).max() < diff.max()


def test_transforms_leave_input_untouched(master):
    before = _digest(master)
    transforms.add_frame(master, 0.2, "gilt", 1)
    transforms.watermark(master, "x", 1.0)
    transforms.colour_grade(master, 0.8, 1.2, 0.5)
    assert _digest(master) == before
