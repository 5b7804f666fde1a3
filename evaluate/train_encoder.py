"""Train the feature encoder that `evaluate` scores in (FD, KID, precision/recall).

Run it as the DVC stage ``encoder`` or by hand::

    python -m evaluate.train_encoder                    # params.yaml, section evaluate

It reads the ``evaluate`` section (``seed``, ``encoder_steps``, ``encoder_input_px``,
``threads``; checked as the evaluate stage checks it) and ``paths.pack`` / ``paths.encoder``,
and trains :mod:`evaluate.encoder` on the pack's training split alone. That is why it is a
stage of its own: every experiment that changes only GAN or upscaler training is scored in
the same feature space, and the encoder retrains only when the pack, these params or its own
code change. The model folder holds ``encoder.pt`` and ``card.json`` (pack fingerprint,
manifest sha256, params, the last step's losses), written atomically.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from evaluate import encoder as encoder_lib
from evaluate.settings import SPEC
from marcus import model_files
from marcus.config import check
from marcus.errors import reported
from marcus.params import load_params
from marcus.timings import write_timings
from train.data import PackedImages

ENCODER_PARAMS = ("seed", "encoder_steps", "encoder_input_px")  # what the encoder learns from
LABELS = ("period_id", "object_type_id")  # one classification head each, when packed


def labels_for_encoder(data: PackedImages) -> dict[str, np.ndarray]:
    return {name: data.labels[name].to_numpy() for name in LABELS if name in data.labels}


def train_feature_encoder(params: dict, paths: dict) -> dict:
    """Train on ``paths["pack"]``'s training split, write the model folder ``paths["encoder"]``;
    return the summary its card records."""
    check("evaluate", params, SPEC)
    pack_dir = Path(paths["pack"])
    train = PackedImages(pack_dir, "train")
    started = time.perf_counter()
    torch.set_num_threads(params["threads"] or torch.get_num_threads())
    model, log = encoder_lib.train_encoder(train.batch(np.arange(len(train))),
                                           labels_for_encoder(train),
                                           seed=params["seed"], steps=params["encoder_steps"],
                                           input_px=params["encoder_input_px"])
    summary = {"images": len(train), "steps": params["encoder_steps"],
               "final": {k: round(float(v), 4) for k, v in log[-1].items()
                         if isinstance(v, (int, float))} if log else {}}
    card = model_files.model_card("feature encoder (contrastive + period/object-type heads)",
                                  pack_dir, {k: params[k] for k in ENCODER_PARAMS}, summary)
    model_files.write_model_folder(paths["encoder"], card, encoder_lib.ENCODER, model,
                                   model.kwargs)
    summary["seconds"] = round(time.perf_counter() - started, 1)  # after the card: not content
    print(f"encoder: {summary}")
    return summary


@reported("encoder")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluate.train_encoder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--timings", help="write what the run took here (JSON)")
    args = parser.parse_args(argv)
    summary = train_feature_encoder(load_params("evaluate", args.params),
                                    load_params("paths", args.params))
    write_timings(args.timings, {"seconds": summary["seconds"]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
