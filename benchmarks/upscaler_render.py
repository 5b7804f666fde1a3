"""Upscaler and print rendering: speed, memory, exactness and quality on the CPU.

Run: ``python -m benchmarks upscaler_render [--quick]``.

Data: the native-resolution paintings of ``data/pack`` (the pack stage) when it exists, else
synthetic paintings (``train.synthetic``) at 512 px. Two upscalers with the ``cpu`` preset of
params.yaml are trained by ``train.train_upscaler`` in a temporary folder: x4, the pipeline's
model, for the preset's own length, and x8 for ``BENCH_STEPS`` steps, its L1 warm-up and GAN
phase shortened in proportion (quick: 300 steps each). 2 torch threads throughout.

1. ``render``: one 768 px painting (a val image, resized) to a 6144 x 6144 PNG through the x8
   model, tiles of 256 px, projection on, in a subprocess: wall seconds, output megapixels
   per second, and the subprocess's peak RSS (``RUSAGE_CHILDREN`` of a fresh launcher process
   whose only child it is), target < 2 GiB. Quick: 192
   px to 1536 px.
2. ``tiling``: max abs difference between tiled (64 px tiles) and untiled float output on a
   128 px input region (a 1024 px output), x8, with and without projection; target < 1e-4.
3. ``round_trip``: PSNR of box_down(upscale(x)) vs x on held-out images (float, before
   quantisation), without and with projection; target > 45 dB with. The same on 16 samples
   of ``data/models/gan`` (keys ending ``_gan``) when the pipeline has trained one.
4. ``reconstruction``: PSNR and SSIM on luma of x4 and x8 from box-downscaled central 384 px
   crops of held-out paintings, for the trained model (raw and projected), bicubic and Lanczos
   (Pillow). Quick: 4 images, otherwise 24.
5. ``prints``: the default prints (params.yaml's render section: seeds, truncation, inches,
   dpi, tiles) of the pipeline's generator (or its run's ``last.pt``) through the x4 model,
   once with the chain its card picked on held-out paintings (what ``render`` does) and once
   with every pass: each print's lattice peak in dB above its Lanczos reference's
   (``evaluate/lattice.py``; goal at most 3) and the render's wall seconds per print. The
   card's scores of the chains are under ``chains``. Quick: 4 inch prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from marcus.config import resolve_preset
from marcus.params import load_params
from train import train_upscaler
from train.tiling import upscale
from train.upscaler import box_down, card_chain, load_upscaler, psnr_y, ssim_y

THREADS = 2
BENCH_STEPS = 2000  # per model; the cpu preset's own length is in params.yaml
PATHS = load_params("paths")  # the pipeline's pack and generator, from params.yaml
PACK = Path(PATHS["pack"])
# The pipeline's generator, else the latest checkpoint of a train_gan run not yet finished.
GAN = next((path for path in (Path(PATHS["gan"]) / "generator.pt",
                              Path(PATHS["train_gan"]) / "last.pt") if path.is_file()), None)
NO_GAN = f"none: no {PATHS['gan']}/generator.pt (dvc repro train_gan)"
TARGET_PEAK_RSS_GIB = 2.0
EVAL_CROP_PX = 384

RENDER_SCRIPT = """
import json, sys, time
import numpy as np, torch
from train.render import render
from train.upscaler import load_upscaler
torch.set_num_threads(int(sys.argv[4]))
model = load_upscaler(sys.argv[1])
painting = np.load(sys.argv[2])
started = time.perf_counter()
paths = render([painting], model, factors=[8], tile_px=256, inches=int(sys.argv[3]) / 300,
               dpi=300, out_dir=sys.argv[5], project=True)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "bytes": paths[0].stat().st_size}))
"""
# A fresh process whose only child is the render: RUSAGE_CHILDREN in this benchmark's own
# process would also count children that libraries forked from it while it was training.
LAUNCHER = """
import json, resource, subprocess, sys
out = subprocess.run([sys.executable, "-c"] + sys.argv[1:], capture_output=True, text=True)
if out.returncode:
    sys.exit(out.stderr)
inner = json.loads(out.stdout.strip().splitlines()[-1])
inner["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps(inner))
"""


def image_source():
    """(key, uint8 image) per split: the pack's native images, else synthetic paintings."""
    if (PACK / "pack.json").is_file():
        return train_upscaler.pack_source(PACK), "data/pack native images"
    from train.synthetic import paintings

    def source(split):
        images = paintings(24, 512, seed=0 if split == "train" else 1)
        return ((f"{split}-{i}", im) for i, im in enumerate(images))
    return source, "synthetic paintings (no data/pack)"


def train_briefly(folder: Path, source, factor: int, quick: bool) -> tuple[Path, dict]:
    """An upscaler with the pipeline's ``cpu`` preset (params.yaml), at ``factor``, for fewer
    steps: the L1 warm-up and the GAN phase shortened in proportion."""
    section = load_params("train_upscaler")
    preset = resolve_preset("train_upscaler", section, "cpu")
    del preset["preset"]  # the name: set below
    # x4 is the pipeline's model (its prints are section 5's "default prints"): whole length.
    steps = 300 if quick else preset["steps"] if factor == 4 else BENCH_STEPS
    share = steps / preset["steps"]
    preset.update(factor=factor, hr_crop_px=64 if factor == 4 else 96, steps=steps,
                  steps_per_tick=max(1, steps // 6), snapshot_ticks=100,
                  gan_start_step=round(preset["gan_start_step"] * share),
                  lr_decay_steps=round(preset["lr_decay_steps"] * share),
                  bank_refresh_steps=max(1, round(preset["bank_refresh_steps"] * share)),
                  eval_images=2, eval_crop_px=128)
    params = {"seed": 1234, "device": "cpu", "launcher": "python", "threads": THREADS,
              "preset": "bench", "presets": {"bench": preset}}
    paths = {"train_upscaler": str(folder / f"run{factor}"),
             "upscaler": str(folder / f"model{factor}"),
             "upscaler_live": str(folder / f"live{factor}"), "pack": str(PACK)}
    started = time.perf_counter()
    result = train_upscaler.train(params, paths, source=source)
    return folder / f"model{factor}", {"steps": result["steps"],
                                       "gan_start_step": preset["gan_start_step"],
                                       "seconds": round(time.perf_counter() - started, 1)}


def generator_samples(count: int) -> list[np.ndarray]:
    """float [H, W, 3] samples of the pipeline's generator (psi 0.7, as render), or []."""
    if GAN is None:
        return []
    from train.render import generator_images

    return list(generator_images(GAN, range(count), truncation=0.7))


def held_out(source, count: int) -> list[np.ndarray]:
    out = []
    for _key, image in source("val"):
        if min(image.shape[:2]) >= 128:
            out.append(image)
        if len(out) == count:
            break
    return out


def to_tensor(image: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
    return x / 255 if image.dtype == np.uint8 else x


def lanczos_up(x: torch.Tensor, factor: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    channels = [np.asarray(Image.fromarray(c.numpy(), mode="F").resize(
        (w * factor, h * factor), Image.LANCZOS)) for c in x[0]]
    return torch.from_numpy(np.stack(channels))[None]


def bench_render(model_dir: Path, painting: np.ndarray, out_px: int, folder: Path) -> dict:
    np.save(folder / "painting.npy", painting)
    env = dict(os.environ, PYTHONPATH=str(Path.cwd()))
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, RENDER_SCRIPT, str(model_dir),
                           str(folder / "painting.npy"), str(out_px), str(THREADS),
                           str(folder / "prints")], capture_output=True, text=True, check=True,
                          env=env, timeout=3600)
    inner = json.loads(proc.stdout.strip().splitlines()[-1])
    peak_gib = inner["peak_rss_kib"] / 2**20
    return {"input_px": painting.shape[0], "output_px": out_px,
            "seconds": round(inner["seconds"], 1),
            "megapixels_per_second": round(out_px**2 / 1e6 / inner["seconds"], 2),
            "peak_rss_gib": round(peak_gib, 3),
            "png_mib": round(inner["bytes"] / 2**20, 1),
            "target_peak_rss_gib": TARGET_PEAK_RSS_GIB,
            "meets_target": peak_gib < TARGET_PEAK_RSS_GIB}


def bench_prints(models: dict[str, torch.nn.Module], quick: bool, folder: Path) -> dict:
    from evaluate.lattice import GOAL_EXCESS_DB
    from evaluate.prints import prints_section
    from train.render import (
        card_network_passes,
        choose_factors,
        generator_images,
        print_size,
        render,
    )

    settings = load_params("render")
    inches = 4.0 if quick else float(settings["inches"])
    samples = list(generator_images(GAN, settings["seeds"], settings["truncation"]))
    result: dict = {"inches": inches, "dpi": settings["dpi"], "prints": len(samples),
                    "goal_excess_db": GOAL_EXCESS_DB}
    for name, model in models.items():
        size = print_size(*samples[0].shape[:2], inches, float(settings["dpi"]))
        every = choose_factors([model.factor], max(samples[0].shape[:2]), max(size))
        chains = {"card": every[:card_network_passes([model])], "every_pass": every}
        for chain_name, factors in chains.items():
            if chain_name == "every_pass" and factors == chains["card"]:
                result[f"{name}/{chain_name}"] = "the card's chain"
                continue
            out_dir = folder / f"prints-{name}-{chain_name}"
            started = time.perf_counter()
            paths = render(samples, model, factors=factors, tile_px=settings["tile_px"],
                           inches=inches, dpi=float(settings["dpi"]), out_dir=out_dir,
                           project=settings["project"])
            seconds = time.perf_counter() - started
            scored = prints_section(out_dir, max(samples[0].shape[:2]), folder / "crops.png")
            result[f"{name}/{chain_name}"] = {
                "factors": factors,
                "excess_db": [scored["prints"][path.stem]["excess_db"] for path in paths],
                "seconds_per_print": round(seconds / len(paths), 1)}
    return result


def run(quick: bool = False) -> dict:
    torch.set_num_threads(THREADS)
    source, data = image_source()
    result: dict = {"data": data, "threads": THREADS, "generator": str(GAN)}
    with tempfile.TemporaryDirectory(prefix="bench-upscaler-") as tmp:
        folder = Path(tmp)
        models, training = {}, {}
        for factor in (4, 8):
            path, training[f"x{factor}"] = train_briefly(folder, source, factor, quick)
            models[factor] = (path, load_upscaler(path))
        result["training"] = training
        images = held_out(source, 4 if quick else 24)

        # 1. render
        input_px = 192 if quick else 768
        painting = np.asarray(Image.fromarray(images[0]).resize((input_px, input_px),
                                                                Image.LANCZOS))
        result["render"] = bench_render(models[8][0], painting, input_px * 8, folder)

        # 2. tiling equality on a 1024 px output region
        model8 = models[8][1]
        region = painting[:128, :128]
        result["tiling"] = {}
        for with_projection in (False, True):
            whole = upscale(model8, region, tile_px=1024, project=with_projection)
            tiled = upscale(model8, region, tile_px=64, project=with_projection)
            key = "max_abs_diff_projected" if with_projection else "max_abs_diff"
            result["tiling"][key] = float(np.abs(whole - tiled).max())
        result["tiling"]["target"] = 1e-4

        # 3 and 4. round trip and reconstruction on held-out crops
        scores: dict[str, list[float]] = {}
        for image in images:
            for factor in (4, 8):
                h, w = (min(s, EVAL_CROP_PX) // factor * factor for s in image.shape[:2])
                top, left = (image.shape[0] - h) // 2, (image.shape[1] - w) // 2
                y = to_tensor(image[top:top + h, left:left + w])
                x = box_down(y, factor)
                x_image = x[0].permute(1, 2, 0).numpy()
                model = models[factor][1]
                outputs = {
                    "model": to_tensor(upscale(model, x_image, tile_px=256)),
                    "model_projected": to_tensor(upscale(model, x_image, tile_px=256,
                                                         project=True)),
                    "bicubic": F.interpolate(x, scale_factor=factor, mode="bicubic",
                                             align_corners=False),
                    "lanczos": lanczos_up(x, factor),
                }
                for name, out in outputs.items():
                    scores.setdefault(f"x{factor}/{name}/psnr_y", []).append(psnr_y(out, y))
                    scores.setdefault(f"x{factor}/{name}/ssim_y", []).append(ssim_y(out, y))
                for name in ("model", "model_projected"):
                    down = box_down(outputs[name], factor)
                    mse = (down - x).square().mean().item()
                    db = 10 * np.log10(1 / max(mse, 1e-20))
                    scores.setdefault(f"x{factor}/{name}/round_trip_psnr_db", []).append(db)
        # 3b. round trip on generator samples: what `render` actually lifts
        samples = generator_samples(16)
        for sample in samples:
            for factor in (4, 8):
                x = to_tensor(sample)
                for name, project in (("model", False), ("model_projected", True)):
                    out = to_tensor(upscale(models[factor][1], sample, tile_px=256,
                                            project=project))
                    mse = (box_down(out, factor) - x).square().mean().item()
                    db = 10 * np.log10(1 / max(mse, 1e-20))
                    scores.setdefault(f"x{factor}/{name}/round_trip_psnr_db_gan",
                                      []).append(db)
        means = {k: round(float(np.mean(v)), 3) for k, v in scores.items()}
        result["round_trip"] = {k: v for k, v in means.items() if "round_trip" in k}
        result["round_trip"]["target_projected_db"] = 45
        result["round_trip"]["generator_samples"] = (
            len(samples) if samples else NO_GAN)
        result["reconstruction"] = {k: v for k, v in means.items() if "round_trip" not in k}
        result["reconstruction"]["images"] = len(images)

        # 5. the default prints, by the card's chain and by every pass
        if samples:
            result["prints"] = bench_prints({"x4": models[4][1]}, quick, folder)
        else:
            result["prints"] = NO_GAN
        result["chains"] = {f"x{f}": card_chain(model) for f, (_path, model) in models.items()}
    return result


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
