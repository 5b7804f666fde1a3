"""The evaluation encoder (evaluate/encoder.py): deterministic training that learns, embeddings of
any input size, saving and loading, clear errors.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evaluate.encoder import embed, load_encoder, save_encoder, train_encoder
from marcus.errors import UserError
from tests.images import paintings


def test_encoder_deterministic_saves_and_learns(tmp_path):
    images = paintings(96, 24, seed=15)
    labels = {"period_id": (images[:, :4].mean((1, 2, 3)) > 127).astype(int),  # bright sky
              "object_type_id": np.zeros(96, dtype=int)}                        # constant
    kwargs = dict(seed=3, steps=40, batch_size=32, input_px=16, widths=(16, 32, 32, 64),
                  log_every=10)
    model, log = train_encoder(images, labels, **kwargs)
    again, _ = train_encoder(images, labels, **kwargs)
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key
    assert "object_type_id" in log[0]["skipped_labels"][0]
    assert log[-1]["contrastive"] < log[0]["contrastive"]
    assert log[-1]["period_id_acc"] > 0.8

    features = embed(model, images)
    assert features.shape == (96, 256) and features.dtype == np.float64
    # Any input size: a 2x upscale embeds close to the original, far closer than other images.
    upscaled = embed(model, images.repeat(2, axis=1).repeat(2, axis=2))
    own = np.linalg.norm(upscaled - features, axis=1).mean()
    other = np.linalg.norm(upscaled - np.roll(features, 1, axis=0), axis=1).mean()
    assert own < 0.5 * other

    save_encoder(model, tmp_path / "enc.pt")
    np.testing.assert_array_equal(embed(load_encoder(tmp_path / "enc.pt"), images), features)
    assert not list(tmp_path.glob(".*tmp-*"))
    (tmp_path / "bad.pt").write_bytes(b"not a torch file")
    with pytest.raises(UserError, match="not a readable encoder file"):
        load_encoder(tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="uint8"):
        embed(model, images.astype(np.float32))
