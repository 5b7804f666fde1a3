"""The GPU presets measured on a GPU, in one command that needs nothing but this repository and
a CUDA build of torch (issue 22).

    python -m benchmarks gpu_check                      # one CUDA GPU: under 10 minutes
    python -m benchmarks gpu_check --device cpu --tiny  # the script itself, on a CPU (CI)

Each part runs the project's own command in a process of its own, as a user would, with a time
budget; a part that runs out of it or fails is recorded as such (its output's last lines kept)
and the next part still runs, so one slow or broken preset costs one row, not the run.

1. ``pack``: a synthetic pack per GAN resolution (256, 512, 1024 px): ``IMAGES`` synthetic
   paintings (`train.synthetic`) at that size, written as loose files with a curated manifest,
   packed by ``python -m train.pack`` (PNG shards, natives up to 1024 px).
2. ``train_gan``: ``python -m train.train_gan --preset gpuR`` for ``TICKS`` ticks of
   ``STEPS_PER_TICK`` steps (a multiple of both lazy-regularisation intervals, so every tick
   holds its share of R1 and path-length steps) at the preset's batch sizes and mixed
   precision; the first tick (cuDNN's autotuning, the allocator, the data workers' start) is
   left out. ``s_per_kimg`` is the median of the other ticks and ``peak_mib`` the largest
   device memory the loop printed. StyleGAN2-ADA's published s/kimg on one GPU stand beside it
   (``PUBLISHED_S_PER_KIMG``; their 1024 px figures are with their custom CUDA kernels).
3. ``train_upscaler``: ``--preset gpu`` on the 1024 px pack's natives, the discriminator on
   from the second tick; seconds per step and crops per second after the first tick.
4. ``render``: a 256 px sample of the 256 px generator to a 20 inch, 300 dpi print (6000 px)
   through the upscaler on the device: wall seconds and the peak device memory (weights are
   as trained for a few ticks: time and memory do not depend on them).

The result is written to ``benchmarks/results/gpu_check.json`` (``-tiny`` for the smoke run).
Without a CUDA device the command stops at once with a message saying so.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import yaml
from PIL import Image

from benchmarks.project_copy import REPO
from train.synthetic import paintings

RESOLUTIONS = (256, 512, 1024)
IMAGES = 64             # synthetic paintings per pack: the stream cycles through them
STEPS_PER_TICK = 16     # optimiser steps per tick: R1 every 16 and path length every 4 steps
TICKS = 3               # per GAN resolution; the first is warm-up
UPSCALER_STEPS_PER_TICK = 20
UPSCALER_TICKS = 3
PRINT_INCHES, PRINT_DPI = 20, 300
# Seconds each part may take before it is stopped (the whole check stays under 10 minutes).
BUDGET_S = {"pack": 30, 256: 70, 512: 90, 1024: 130, "train_upscaler": 50, "render": 80}
# StyleGAN2-ADA's published training speed on one GPU, s/kimg (stylegan2-ada-pytorch's and
# stylegan3's READMEs: config paper256 / paper512 / paper1024 presets, their CUDA kernels).
PUBLISHED_S_PER_KIMG = {"stylegan2_ada_v100": {256: 21.6, 512: 72.5, 1024: 154.0},
                        "stylegan2_ada_a100": {256: 12.5, 512: 41.1, 1024: 90.4}}
GAN_TICK = re.compile(r"^tick\s+(\d+)\s+kimg\s+[\d.]+\s+s/kimg\s+([\d.]+).*\bmem\s+(\d+)\s+MiB")
UPSCALER_TICK = re.compile(r"^tick\s+(\d+)\s+step\s+\d+\s+s/tick\s+([\d.]+).*\bmem\s+(\d+)\s+MiB")
RENDER_PEAK = re.compile(r"^peak memory on \w+: (\d+) MiB")
TINY = {"resolutions": (16,), "gan_preset": "tiny", "upscaler_preset": "tiny",
        "images": 8, "inches": 1.0, "dpi": 100.0,
        "budget_s": 600}  # per part: seconds where nothing is loaded, but CI's CPU may be busy


def run(quick: bool = False, device: str = "cuda", tiny: bool = False,
        workdir: str | None = None) -> dict:
    """Every part in turn (see the module docstring); ``tiny``: the tiny presets at 16 px and
    a 100 px print, for a smoke run of the script on any machine."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"gpu_check: torch {torch.__version__} sees no CUDA device here. Run "
                         "it on a machine with a GPU and a CUDA build of torch, or with "
                         "--device cpu --tiny to check the script itself.")
    resolutions = TINY["resolutions"] if tiny else RESOLUTIONS
    result: dict = {
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
        "torch": torch.__version__, "tiny": tiny, "steps_per_tick": STEPS_PER_TICK,
        "ticks": TICKS, "published_s_per_kimg": PUBLISHED_S_PER_KIMG, "pack": {},
        "train_gan": {}}
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        root = Path(tmp)
        for res in resolutions:
            project = root / f"r{res}"
            params = write_params(project, res, device, tiny)
            result["pack"][res] = guarded(pack_part, project, params, res, tiny)
            if "error" in result["pack"][res]:
                continue
            result["train_gan"][res] = guarded(gan_part, params, res, tiny)
        largest = root / f"r{resolutions[-1]}"
        if "error" in result["pack"][resolutions[-1]]:
            result["train_upscaler"] = {"skipped": "no pack of natives"}
        else:
            result["train_upscaler"] = guarded(upscaler_part, largest / "params.yaml", tiny)
        result["render"] = guarded(render_part, root / f"r{resolutions[0]}", largest, device,
                                   tiny)
    return result


def guarded(part, *args) -> dict:
    """A part's figures, or the error that stopped this script's side of it: the other parts
    still run and the results are still written."""
    try:
        return part(*args)
    except Exception as exc:  # noqa: BLE001 - reported in the result, next to the others
        return {"error": f"{type(exc).__name__}: {exc}"}


# ----------------------------------------------------------------------------------------------
# The parts


def write_params(project: Path, res: int, device: str, tiny: bool) -> Path:
    """The repository's params.yaml with every path under ``project``, the pack at ``res`` and
    the presets shortened to a few ticks, written to ``project``/params.yaml."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["paths"] = {k: str(project / Path(v)) for k, v in params["paths"].items()}
    params["paths"].update(curate=str(project / "curate"), crawl=str(project / "crawl"))
    params["pack"].update(resolution=res, workers=0)
    gan = params["train_gan"]
    gan_preset = TINY["gan_preset"] if tiny else f"gpu{res}"
    preset = gan["presets"][gan_preset]
    preset.update(resolution=res, tick_kimg=STEPS_PER_TICK * preset["batch_size"] / 1000,
                  kimg=TICKS * STEPS_PER_TICK * preset["batch_size"] / 1000,
                  snapshot_ticks=10_000, metric_images=0, grid_seeds=[0, 1, 2, 3],
                  grid_columns=4)
    if tiny:
        preset["data_workers"] = 0
    gan.update(device=device, preset=gan_preset)
    up = params["train_upscaler"]
    up_preset = TINY["upscaler_preset"] if tiny else "gpu"
    up["presets"][up_preset].update(
        steps=UPSCALER_TICKS * UPSCALER_STEPS_PER_TICK, steps_per_tick=UPSCALER_STEPS_PER_TICK,
        snapshot_ticks=10_000, gan_start_step=UPSCALER_STEPS_PER_TICK, eval_images=2)
    up.update(device=device, preset=up_preset)
    project.mkdir(parents=True, exist_ok=True)
    path = project / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def pack_part(project: Path, params: Path, res: int, tiny: bool) -> dict:
    """Synthetic paintings at ``res`` as loose PNG files and their curated manifest, packed."""
    count = TINY["images"] if tiny else IMAGES
    images = paintings(count, max(res, 64), seed=res)
    rows = []
    for i, image in enumerate(images):
        rel = f"synthetic/{i:04d}.png"
        (project / "crawl" / "synthetic").mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(project / "crawl" / rel)
        rows.append({"key": f"synthetic:{i:04d}", "cluster_id": i, "image_path": rel,
                     "source": "synthetic", "licence_rule": "flag:PD + synthetic",
                     "artist": f"Painter {i % 4}", "date_start": 1500 + 7 * i,
                     "object_type": "painting", "genre": None})
    (project / "curate").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(project / "curate" / "curated.parquet", index=False)
    out = measured(["-m", "train.pack", "--params", str(params)], budget("pack", tiny))
    del out["lines"]
    return out


def gan_part(params: Path, res: int, tiny: bool) -> dict:
    out = measured(["-m", "train.train_gan", "--params", str(params)], budget(res, tiny))
    ticks = tick_lines(out, GAN_TICK, "s_per_kimg")
    timed = [s for t, s, _ in ticks if t > 1]
    if timed:
        out["s_per_kimg"] = round(statistics.median(timed), 2)
        out["images_per_s"] = round(1000 / out["s_per_kimg"], 1)
        out["peak_mib"] = max(m for _, _, m in ticks)
        if not tiny:
            out["over_published"] = {name: round(out["s_per_kimg"] / figures[res], 2)
                                     for name, figures in PUBLISHED_S_PER_KIMG.items()}
    return out


def upscaler_part(params: Path, tiny: bool) -> dict:
    out = measured(["-m", "train.train_upscaler", "--params", str(params)],
                   budget("train_upscaler", tiny))
    ticks = tick_lines(out, UPSCALER_TICK, "s_per_tick")
    timed = [s for t, s, _ in ticks if t > 1]
    if timed:
        batch = yaml.safe_load(params.read_text())["train_upscaler"]
        batch = batch["presets"][batch["preset"]]["batch_size"]
        out["s_per_step"] = round(statistics.median(timed) / UPSCALER_STEPS_PER_TICK, 4)
        out["crops_per_s"] = round(batch / out["s_per_step"], 1)
        out["peak_mib"] = max(m for _, _, m in ticks)
    return out


def tick_lines(out: dict, pattern: re.Pattern, seconds_name: str) -> list[tuple]:
    """(tick, seconds figure, device MiB) of each tick line a training part printed, also put
    in ``out["ticks"]``; the part's lines are dropped from ``out``."""
    ticks = [(int(t), float(s), int(m)) for t, s, m in
             (match.groups() for match in map(pattern.match, out.pop("lines")) if match)]
    out["ticks"] = [{"tick": t, seconds_name: s, "mem_mib": m} for t, s, m in ticks]
    return ticks


def render_part(gan_project: Path, upscaler_project: Path, device: str, tiny: bool) -> dict:
    paths = yaml.safe_load((gan_project / "params.yaml").read_text())["paths"]
    upscaler = yaml.safe_load((upscaler_project / "params.yaml").read_text())["paths"]["upscaler"]
    if not Path(paths["gan"]).exists() or not Path(upscaler).exists():
        return {"skipped": "no generator or upscaler was written by the parts before"}
    inches, dpi = (TINY["inches"], TINY["dpi"]) if tiny else (PRINT_INCHES, PRINT_DPI)
    out = measured(["-m", "train.render", "--params", str(gan_project / "params.yaml"),
                    "--generator", paths["gan"], "--upscaler", upscaler, "--seeds", "0",
                    "--inches", str(inches), "--dpi", str(dpi), "--device", device,
                    "--out", str(gan_project / "prints")], budget("render", tiny))
    peaks = [int(RENDER_PEAK.match(line).group(1)) for line in out.pop("lines")
             if RENDER_PEAK.match(line)]
    out.update(print_px=round(inches * dpi))
    if peaks:
        out["peak_mib"] = peaks[-1]
    return out


# ----------------------------------------------------------------------------------------------
# Running a part


def budget(part, tiny: bool) -> float:
    return TINY["budget_s"] if tiny else BUDGET_S[part]


def measured(args: list[str], budget_s: float) -> dict:
    """``python ARGS`` in this repository, its output echoed and kept, stopped after
    ``budget_s``: wall seconds, the exit status, and its lines (the last few kept on a
    failure)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    stopped = threading.Event()

    def stop() -> None:
        stopped.set()
        process.kill()

    timer = threading.Timer(budget_s, stop)
    timer.start()
    lines = []
    for line in process.stdout:
        print(f"  | {line}", end="", flush=True)
        lines.append(line.rstrip("\n"))
    process.wait()
    timer.cancel()
    out = {"seconds": round(time.perf_counter() - started, 1), "lines": lines}
    if stopped.is_set():
        out["error"] = f"stopped after its budget of {budget_s} s"
    elif process.returncode:
        out["error"] = f"exit status {process.returncode}"
    if "error" in out:
        out["last_lines"] = lines[-12:]
    return out


def summary(result: dict) -> str:
    """One line per measured figure, for the end of the log."""
    lines = []
    for res, part in result.get("train_gan", {}).items():
        lines.append(f"train_gan {res} px: " + (f"{part['s_per_kimg']} s/kimg, "
                     f"peak {part['peak_mib']} MiB" if "s_per_kimg" in part
                     else part.get("error", "no timed tick")))
    for name in ("train_upscaler", "render"):
        part = result.get(name, {})
        figures = {k: v for k, v in part.items() if k in ("s_per_step", "crops_per_s",
                                                          "seconds", "peak_mib")}
        lines.append(f"{name}: {figures} {part.get('error', part.get('skipped', ''))}")
    return "\n".join(lines)

