"""Stage ``stylize``: a demo photograph (or a given image) painted in the manner of curated
paintings chosen by a query, to print size.

    python -m style.stage                    # the DVC stage: params.yaml's stylize section
    python -m style.stage --print-config     # the resolved settings, then stop

Reads the ``stylize`` section (checked before any work) and ``paths``: the curated manifest
and the crawl's content stores (the styles), the upscaler (the enlargement to print size).
Writes ``paths.stylized``: ``stylized.png`` (``inches`` at ``dpi``, dpi recorded) and
``card.json`` (the network and its sha256, the settings, the content and the style paintings
with their licence evidence, the losses of each scale); ``paths.stylize_metrics``: the scores
of style/metrics.py for ``dvc exp show``; ``paths.stylize_run`` keeps each finished scale, so
that a rerun after a kill continues from the last one.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from marcus.atomic import atomic_dir, write_text
from marcus.config import check, list_of, one_of, optional
from marcus.errors import UserError, reported
from marcus.params import load_params
from style.collection import decode_rgb, select_styles
from style.features import LAYOUTS, load_feature_net
from style.losses import STYLE_LOSSES
from style.metrics import style_scores
from style.photograph import photograph
from style.transfer import (
    COLOURS,
    INITS,
    OPTIMIZERS,
    VARIABLES,
    Style,
    TransferSettings,
    stylize,
)

TRANSFER_SPEC = {"content_layers": list_of(str), "style_layers": list_of(str),
                 "content_weight": float, "style_weight": float, "tv_weight": float,
                 "style_loss": one_of(*STYLE_LOSSES), "optimizer": one_of(*OPTIMIZERS),
                 "lr": float, "min_px": int, "max_px": int, "steps_per_scale": list_of(int),
                 "style_scale": float, "init": one_of(*INITS), "colour": one_of(*COLOURS),
                 "seed": int, "tile_px": int, "variables": one_of(*VARIABLES),
                 "pyramid_levels": int, "spectrum_decay": float}
SPEC = {"content": optional(str), "photograph_seed": int, "photograph_px": list_of(int, 2),
        "style_query": str, "style_limit": int, "network": optional(str),
        "layout": one_of("auto", *LAYOUTS), "pooling": one_of("max", "avg"),
        "transfer": TRANSFER_SPEC, "inches": float, "dpi": float, "threads": int}


def settings_from(section: dict) -> TransferSettings:
    """The ``transfer`` subsection (already checked against TRANSFER_SPEC) as settings."""
    settings = TransferSettings(**{k: tuple(v) if isinstance(v, list) else v
                                   for k, v in section["transfer"].items()})
    settings.check()
    return settings


def content_image(section: dict) -> tuple[torch.Tensor, dict]:
    """The content [1, 3, H, W] and what it is, for the card."""
    if section["content"]:
        try:
            data = Path(section["content"]).read_bytes()
        except OSError as exc:
            raise UserError(f"stylize.content: cannot read {section['content']}: "
                            f"{exc.strerror or exc}") from exc
        return decode_rgb(data), {"file": section["content"],
                                  "sha256": hashlib.sha256(data).hexdigest()}
    width, height = section["photograph_px"]
    if min(width, height) < 16:
        raise UserError(f"stylize.photograph_px: at least 16 px a side, not {width}x{height}")
    pixels = photograph(section["photograph_seed"], width, height)
    return (torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255,
            {"demo_photograph": {"seed": section["photograph_seed"], "px": [width, height]},
             "sha256": hashlib.sha256(pixels.tobytes()).hexdigest()})


def run(section: dict, paths: dict) -> dict:
    """The stage; returns the metrics written."""
    settings = settings_from(section)
    if section["style_limit"] < 1 or section["inches"] <= 0 or section["dpi"] <= 0:
        raise UserError("stylize: style_limit >= 1, inches > 0 and dpi > 0")
    if section["threads"]:
        torch.set_num_threads(section["threads"])
    content, content_card = content_image(section)
    rows, images = select_styles(Path(paths["curate"]) / "curated.parquet", paths["crawl"],
                                 section["style_query"], section["style_limit"])
    styles = [Style(decode_rgb(data, max_side=settings.max_px * 2), name=row["key"])
              for row, data in zip(rows, images, strict=True)]
    net = load_feature_net(section["network"], layout=section["layout"],
                           pooling=section["pooling"])
    losses: list[dict] = []

    def log(index: int, long_side: int, parts: dict[str, float]) -> None:
        losses.append({"scale": index, "long_side": long_side, **parts})
        print(f"scale {index}  {long_side} px  "
              + "  ".join(f"{k} {v:.4g}" for k, v in parts.items()), flush=True)

    image = stylize(content, styles, net, settings, checkpoint_dir=paths["stylize_run"],
                    log=log)
    scores = style_scores(image, content, [s.image for s in styles],
                          style_scale=settings.style_scale)

    from train.render import render
    from train.upscaler import load_upscaler

    upscaler = load_upscaler(paths["upscaler"])
    out = Path(paths["stylized"])
    with atomic_dir(out) as tmp:
        (written,) = render([image[0].permute(1, 2, 0).numpy()], upscaler,
                            inches=section["inches"], dpi=section["dpi"], out_dir=tmp,
                            names=["stylized"], project=False)
        with Image.open(written) as printed:
            print_px = [printed.size[1], printed.size[0]]
        preview = io.BytesIO()
        pixels = (image[0].permute(1, 2, 0) * 255).round().clamp(0, 255).byte().numpy()
        Image.fromarray(np.ascontiguousarray(pixels)).save(preview, format="PNG")
        (tmp / "optimised.png").write_bytes(preview.getvalue())
        card = {"network": net.card, "settings": asdict(settings), "content": content_card,
                "styles": rows, "losses": losses, "optimised_px": list(image.shape[-2:]),
                "print_px": print_px, "dpi": section["dpi"], "scores": scores}
        (tmp / "card.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
    metrics = {**scores, "optimised_px": list(image.shape[-2:]), "print_px": print_px,
               "style_keys": [row["key"] for row in rows],
               "final_loss": losses[-1]["total"] if losses else None}
    write_text(paths["stylize_metrics"], json.dumps(metrics, indent=2) + "\n")
    return metrics


@reported("stylize")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m style.stage", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--print-config", action="store_true",
                        help="print the resolved settings and stop")
    args = parser.parse_args(argv)
    section = check("stylize", load_params("stylize", args.params), SPEC)
    paths = load_params("paths", args.params)
    if args.print_config:
        print(json.dumps({**section, "transfer": asdict(settings_from(section))}, indent=2))
        return 0
    metrics = run(section, paths)
    print(json.dumps(metrics, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
