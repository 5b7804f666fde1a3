"""The pipeline's own feature space for FD/KID/precision-recall: a small CNN trained on the data.

FID needs a pretrained network that an offline pipeline cannot download, and ImageNet features
say little about the difference between two painting generators anyway. So the pipeline trains
this encoder on the packed training images (CPU, a few minutes, deterministic from its seed) and
versions it with the data: every experiment on the same data is scored in the same space, and
numbers are comparable within one project, not with papers (use :mod:`evaluate.inception` for that).

What it learns, so that its 256-d embedding sees what distinguishes paintings:

- a contrastive term (SimCLR's NT-Xent between two augmented views of each image: random
  resized crops and horizontal flips). There is deliberately no colour jitter: a generator with
  wrong colours must land elsewhere in this space, so colour stays informative;
- one classification head per label (e.g. ``period_id``, ``object_type_id``): composition and
  motif differences the labels name. A label with fewer than two known classes is skipped
  (logged), and negative or NaN values mean "unknown" and are ignored.

Architecture: a stem and four stride-2 stages (two 3x3 convolutions each, GroupNorm, SiLU),
global average pooling and a linear layer to the embedding. GroupNorm rather than BatchNorm so
an image's embedding does not depend on the rest of its batch. Images of any size are resized
to ``input_px`` first (bilinear, antialiased). Try it::

    python -c "import numpy as np; from evaluate.encoder import *; \\
      x = np.random.default_rng(0).integers(0, 256, (64, 48, 48, 3), dtype=np.uint8); \\
      m, log = train_encoder(x, {}, seed=0, steps=20); print(embed(m, x).shape, log[-1])"

Determinism: same images, labels, seed and torch thread count give bit-identical weights on the
CPU (all randomness comes from generators seeded here; the global RNG is left as it was).
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from evaluate.metrics import check_images, uint8_nhwc_to_float_nchw
from marcus.model_files import ModelKind, load_model, save_model_file


def _conv_block(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1),
                         nn.GroupNorm(min(8, out_channels), out_channels), nn.SiLU())


class Encoder(nn.Module):
    """CNN -> embedding [N, embed_dim]; label heads and a projection head for training only.
    ``kwargs`` holds everything needed to rebuild it (see :func:`save_encoder`)."""

    def __init__(self, input_px: int = 32, widths: tuple[int, ...] = (32, 64, 128, 256),
                 embed_dim: int = 256, projection_dim: int = 128,
                 label_classes: dict[str, list] | None = None) -> None:
        super().__init__()
        label_classes = dict(label_classes or {})
        self.kwargs = {"input_px": int(input_px), "widths": [int(w) for w in widths],
                       "embed_dim": int(embed_dim), "projection_dim": int(projection_dim),
                       "label_classes": {k: list(v) for k, v in label_classes.items()}}
        self.input_px = int(input_px)
        layers = [_conv_block(3, widths[0], stride=1)]
        for in_channels, out_channels in zip((widths[0], *widths[:-1]), widths, strict=True):
            layers += [_conv_block(in_channels, out_channels, stride=2),
                       _conv_block(out_channels, out_channels, stride=1)]
        self.features = nn.Sequential(*layers)
        self.embedding = nn.Linear(widths[-1], embed_dim)
        self.heads = nn.ModuleDict({name: nn.Linear(embed_dim, len(classes))
                                    for name, classes in label_classes.items()})
        self.projector = nn.Sequential(nn.Linear(embed_dim, embed_dim), nn.SiLU(),
                                       nn.Linear(embed_dim, projection_dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Float NCHW images in [0, 1], already ``input_px`` square -> embedding."""
        return self.embedding(self.features(images * 2.0 - 1.0).mean(dim=(2, 3)))


def _resize(images: torch.Tensor, side_px: int) -> torch.Tensor:
    if images.shape[2:] == (side_px, side_px):
        return images
    return F.interpolate(images, size=(side_px, side_px), mode="bilinear", align_corners=False,
                         antialias=True)


def _encode_labels(name: str, values, count: int) -> tuple[list, np.ndarray] | str:
    """(sorted classes, class index per image with -1 for unknown), or why the head is
    skipped."""
    values = np.asarray(values)
    if values.shape != (count,):
        raise ValueError(f"label {name!r}: expected {count} values, got shape {values.shape}")
    if values.dtype.kind in "iuf":
        known = np.isfinite(values.astype(np.float64)) & (values >= 0)
    else:
        known = np.array([v is not None and v == v for v in values])  # None or NaN: unknown
    classes = np.unique(values[known]).tolist() if known.any() else []
    if len(classes) < 2:
        return f"label {name!r} has {len(classes)} known class(es): head skipped"
    index = np.full(count, -1, dtype=np.int64)
    index[known] = np.searchsorted(np.asarray(classes, dtype=values.dtype), values[known])
    return classes, index


def _augment(images: torch.Tensor, generator: torch.Generator,
             min_crop_area: float, max_aspect: float) -> torch.Tensor:
    """Random resized crop (area share in [min_crop_area, 1], aspect in [1/max_aspect,
    max_aspect]) and a horizontal flip with probability 1/2, as one affine resampling."""
    n = images.shape[0]
    uniform = torch.rand(n, 5, generator=generator, dtype=torch.float32)
    area = min_crop_area + (1.0 - min_crop_area) * uniform[:, 0]
    log_aspect = (uniform[:, 1] * 2.0 - 1.0) * float(np.log(max_aspect))
    scale_x = torch.sqrt(area * torch.exp(log_aspect)).clamp(max=1.0)
    scale_y = torch.sqrt(area / torch.exp(log_aspect)).clamp(max=1.0)
    shift_x = (uniform[:, 2] * 2.0 - 1.0) * (1.0 - scale_x)
    shift_y = (uniform[:, 3] * 2.0 - 1.0) * (1.0 - scale_y)
    flip = torch.where(uniform[:, 4] < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = scale_x * flip
    theta[:, 0, 2] = shift_x
    theta[:, 1, 1] = scale_y
    theta[:, 1, 2] = shift_y
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection",
                         align_corners=False)


def _nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's loss: each view must pick its partner among the other 2N-2 views."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))
    n = z1.shape[0]
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(logits, partner)


def train_encoder(images: np.ndarray, labels: dict[str, np.ndarray] | None = None,
                  seed: int = 0,
                  steps: int = 600,               # optimiser steps (~2 min on 2 cores at 32 px)
                  batch_size: int = 128,          # images per step (two views each)
                  input_px: int = 32,             # side the images are resized to
                  widths: tuple[int, ...] = (32, 64, 128, 256),  # channels of the 4 stages
                  embed_dim: int = 256,           # the feature vector's length
                  projection_dim: int = 128,      # SimCLR projection head output
                  learning_rate: float = 2e-3,    # Adam, cosine-decayed to 0
                  weight_decay: float = 1e-4,     # AdamW
                  temperature: float = 0.2,       # NT-Xent temperature
                  label_weight: float = 1.0,      # weight of each label head's cross-entropy
                  min_crop_area: float = 0.35,    # random resized crop: smallest area share
                  max_aspect: float = 4 / 3,      # random resized crop: most extreme aspect
                  log_every: int = 50,            # steps between log rows
                  ) -> tuple[Encoder, list[dict]]:
    """Train an encoder on uint8 NHWC `images` with optional per-image `labels`.

    Returns the model (eval mode) and its log: one dict per `log_every` steps with the step,
    the total, contrastive and per-label losses, the contrastive top-1 accuracy (a view finds
    its partner) and per-label accuracy on the batch; the first row also lists skipped labels.
    """
    images = check_images(images)
    if len(images) < 2:
        raise ValueError("train_encoder needs at least 2 images (contrastive pairs)")
    if steps < 1 or batch_size < 2:
        raise ValueError(f"steps must be >= 1 and batch_size >= 2, got {steps}, {batch_size}")
    label_classes, label_index, skipped = {}, {}, []
    for name, values in sorted((labels or {}).items()):
        encoded = _encode_labels(name, values, len(images))
        if isinstance(encoded, str):
            skipped.append(encoded)
            continue
        label_classes[name], label_index[name] = encoded[0], torch.from_numpy(encoded[1])

    data = _resize(uint8_nhwc_to_float_nchw(images), input_px)
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # parameter initialisation draws from the global RNG
        model = Encoder(input_px, widths, embed_dim, projection_dim, label_classes)
    optimiser = torch.optim.AdamW(model.parameters(), lr=learning_rate,
                                  weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: 0.5 * (1.0 + np.cos(np.pi * min(step, steps) / steps)))
    batch = min(batch_size, len(images))
    log: list[dict] = []
    model.train()
    for step in range(1, steps + 1):
        index = torch.randperm(len(images), generator=generator)[:batch]
        view1 = _augment(data[index], generator, min_crop_area, max_aspect)
        view2 = _augment(data[index], generator, min_crop_area, max_aspect)
        embedded1, embedded2 = model(view1), model(view2)
        z1, z2 = model.projector(embedded1), model.projector(embedded2)
        contrastive = _nt_xent(z1, z2, temperature)
        loss = contrastive
        row: dict = {"step": step, "contrastive": contrastive.item()}
        for name, head in model.heads.items():
            target = label_index[name][index].repeat(2)
            known = target >= 0
            if not known.any():
                continue
            logits = head(torch.cat([embedded1, embedded2]))[known]
            head_loss = F.cross_entropy(logits, target[known])
            loss = loss + label_weight * head_loss
            row[f"{name}_loss"] = head_loss.item()
            row[f"{name}_acc"] = float((logits.argmax(1) == target[known]).float().mean())
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % log_every == 0 or step == steps or step == 1:
            with torch.no_grad():
                z = F.normalize(torch.cat([z1, z2]), dim=1)
                similarity = z @ z.T
                similarity.fill_diagonal_(float("-inf"))
                partner = torch.cat([torch.arange(batch, 2 * batch), torch.arange(batch)])
                row["contrastive_acc"] = float((similarity.argmax(1) == partner).float().mean())
            row["loss"] = loss.item()
            if not log:
                row["skipped_labels"] = skipped
            log.append(row)
    return model.eval(), log


def embed(model: Encoder, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Embeddings [N, embed_dim] (float64) of uint8 NHWC images of any size."""
    images = check_images(images)
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = _resize(uint8_nhwc_to_float_nchw(images[start:start + batch_size]),
                            model.input_px)
            out.append(model(batch).to(torch.float64).numpy())
    return np.concatenate(out, axis=0)


def save_encoder(model: Encoder, path: str | os.PathLike, card: dict | None = None) -> None:
    """Write the encoder's model file (weights and constructor arguments) to `path`."""
    save_model_file(path, ENCODER, model, model.kwargs, card)


def load_encoder(path: str | os.PathLike) -> Encoder:
    """The encoder saved at `path` (its model folder, or the file inside), in eval mode; a
    UserError if it is not one."""
    return load_model(path, ENCODER)


# The model file the encoder stage writes (marcus.model_files: one format for every model).
ENCODER = ModelKind(format="marcus.encoder", filename="encoder.pt", build=Encoder,
                    hint="the pipeline's encoder stage writes it: `dvc repro encoder`")
