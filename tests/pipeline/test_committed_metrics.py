"""The committed results: metrics/eval.json is what the last `dvc repro` measured, and it must put
the trained GAN between the real-vs-real floor and the Markov baseline.
"""

from __future__ import annotations

import json
from pathlib import Path


def test_committed_demo_scores_put_the_gan_between_the_floor_and_the_baseline():
    """`metrics/eval.json` is what `dvc repro` last measured on the demo collection with the
    cpu preset, committed with the code (DVC tracks it uncached). On it, the Markov baseline
    must score worse than both the real-vs-real floor and the trained GAN, in SWD and in the
    encoder's FD and KID: a commit whose model falls to the baseline fails here."""
    scores = json.loads((Path(__file__).resolve().parents[2] / "metrics/eval.json").read_text())
    sets = scores["sets"]
    for metric in ("fd", "kid"):
        assert sets["real"][metric] < sets["markov"][metric], metric
        assert sets["gan"][metric] < sets["markov"][metric], metric
    assert sets["real"]["swd"]["swd_mean"] < sets["markov"]["swd"]["swd_mean"]
    assert sets["gan"]["swd"]["swd_mean"] < sets["markov"]["swd"]["swd_mean"]
    assert sets["gan"]["recall"] > sets["markov"]["recall"]
