"""train.generate from a trained tiny GAN: seeds with truncation, style mixing, interpolation,
reproducible images and a clear error for layers out of range.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.projects import run_py
from tests.train.helpers import configure, train

pytestmark = pytest.mark.e2e


def test_generate_seeds_mixing_and_interpolation(packed):
    if not (packed / "plain" / "model").exists():
        train(packed, configure(packed, "plain"))
    model = str(packed / "plain" / "model")
    out = packed / "generated"
    for args in (["--seeds", "3,5-6", "--truncation", "0.7"],
                 ["--mix", "1,2", "7,8,9", "--mix-layers", "0-1"],
                 ["--interpolate", "1", "2", "--frames", "5"]):
        done = run_py(["-m", "train.generate", "--model", model, "--out", str(out), *args],
                      packed)
        assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in out.glob("seed*.png")) == [
        "seed0003.png", "seed0005.png", "seed0006.png"]
    assert Image.open(out / "style_mixing.png").size == (4 * 16, 3 * 16)
    frames = [np.asarray(Image.open(out / f"lerp{i:03d}.png")) for i in range(5)]
    assert not np.array_equal(frames[0], frames[-1])
    again = run_py(["-m", "train.generate", "--model", model, "--out", str(packed / "g2"),
                    "--seeds", "3", "--truncation", "0.7"], packed)
    assert again.returncode == 0
    assert np.array_equal(np.asarray(Image.open(out / "seed0003.png")),
                          np.asarray(Image.open(packed / "g2" / "seed0003.png")))
    bad = run_py(["-m", "train.generate", "--model", model, "--out", str(out),
                  "--mix", "1", "2", "--mix-layers", "0-99"], packed)
    assert bad.returncode != 0 and "out of range" in bad.stderr
