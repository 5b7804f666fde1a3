"""The synthetic dataset the Markov and novelty tests share, built once: training and held-out
paintings, the Markov baseline fitted on the training ones and its samples, uniform noise, and a
small encoder trained on the training images.
"""

from __future__ import annotations

import pytest

from evaluate.encoder import train_encoder
from evaluate.markov import MarkovPainter
from tests.images import noise, paintings

PX = 32


@pytest.fixture(scope="package")
def data():
    train = paintings(400, PX, seed=1)
    heldout = paintings(128, PX, seed=2)
    painter = MarkovPainter.fit(train, seed=0, palette_size=32)
    samples = painter.sample(128, seed=5)
    uniform = noise((128, PX, PX, 3), seed=6)
    encoder, _ = train_encoder(train, {}, seed=0, steps=60, batch_size=64, input_px=PX,
                               widths=(16, 32, 64, 64))
    return {"train": train, "heldout": heldout, "painter": painter, "samples": samples,
            "noise": uniform, "encoder": encoder}
