"""Evaluation cost and noise: how long the metrics take on CPU, and how much they move by chance.

Run: ``python -m benchmarks eval_metrics [--quick]``.

Data: synthetic 32 px "paintings" (gradient sky, striped ground, a disc; the same generator as
the tests), 2,000 for training the encoder (:mod:`evaluate.encoder`, default settings; quick: 100
steps) and the Markov baseline (:mod:`evaluate.markov`). The "fake" images are Markov samples.

1. ``timing``: for 1,000 and 10,000 real and fake images (quick: 1,000), the seconds for each
   piece of an evaluation: embedding both sets, FD, KID (100 subsets of 1,000), precision and
   recall (k=3, exact distances), and SWD; plus the Markov painter's sampling time.
2. ``spread``: five independent sets of 1,000 images from one source, each scored against one
   fixed set of 1,000 real images; mean and standard deviation of every metric, for real images
   (the floor a perfect generator would reach) and for Markov samples (five sampling seeds).
   Two experiments whose difference is within ~2 standard deviations of these are not
   distinguishable at this sample count.
"""

from __future__ import annotations

import time

import numpy as np

from evaluate.encoder import embed, train_encoder
from evaluate.markov import MarkovPainter
from evaluate.metrics import frechet_distance, kid, precision_recall, swd
from train.synthetic import paintings

PX = 32
SPREAD_SETS = 5
SPREAD_SIZE = 1000


def _timed(fn, *args, **kwargs):
    started = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, round(time.perf_counter() - started, 3)


def _evaluate(encoder, real_features: np.ndarray, real_images: np.ndarray,
              fake_images: np.ndarray) -> tuple[dict, dict]:
    """All metrics of one fake set against the real set, and the seconds each took."""
    seconds = {}
    fake_features, seconds["embed_fake"] = _timed(embed, encoder, fake_images)
    values = {}
    values["fd"], seconds["fd"] = _timed(frechet_distance, real_features, fake_features)
    (values["kid"], _), seconds["kid"] = _timed(kid, real_features, fake_features)
    (values["precision"], values["recall"]), seconds["precision_recall"] = _timed(
        precision_recall, real_features, fake_features)
    swd_values, seconds["swd"] = _timed(swd, real_images, fake_images)
    values["swd"] = swd_values["swd_mean"]
    return values, seconds


def _spread(rows: list[dict]) -> dict:
    return {key: {"mean": float(np.mean([r[key] for r in rows])),
                  "std": float(np.std([r[key] for r in rows], ddof=1))}
            for key in rows[0]}


def run(quick: bool = False) -> dict:
    train = paintings(2000, PX, seed=1)
    encoder_steps = 100 if quick else 600
    (encoder, log), encoder_s = _timed(train_encoder, train, {}, seed=0, steps=encoder_steps,
                                       input_px=PX)
    painter, markov_fit_s = _timed(MarkovPainter.fit, train, seed=0)
    result = {"image_px": PX, "training_images": len(train),
              "encoder": {"steps": encoder_steps, "seconds": encoder_s,
                          "final_contrastive_acc": log[-1]["contrastive_acc"]},
              "markov_fit_s": markov_fit_s, "timing": {}}

    for count in (1000,) if quick else (1000, 10_000):
        real = paintings(count, PX, seed=2)
        fake, sample_s = _timed(painter.sample, count, seed=3)
        real_features, embed_real_s = _timed(embed, encoder, real)
        values, seconds = _evaluate(encoder, real_features, real, fake)
        seconds = {"markov_sample": sample_s, "embed_real": embed_real_s, **seconds}
        seconds["evaluation_total"] = round(sum(v for k, v in seconds.items()
                                                if k != "markov_sample"), 3)
        result["timing"][str(count)] = {"seconds": seconds, "values": values}

    reference = paintings(SPREAD_SIZE, PX, seed=2)
    reference_features = embed(encoder, reference)
    real_rows = [_evaluate(encoder, reference_features, reference,
                           paintings(SPREAD_SIZE, PX, seed=100 + i))[0]
                 for i in range(SPREAD_SETS)]
    markov_rows = [_evaluate(encoder, reference_features, reference,
                             painter.sample(SPREAD_SIZE, seed=200 + i))[0]
                   for i in range(SPREAD_SETS)]
    result["spread"] = {"sets": SPREAD_SETS, "images_per_set": SPREAD_SIZE,
                        "real_vs_real": _spread(real_rows), "markov_vs_real": _spread(markov_rows)}
    return result
