"""Train the print upscaler on the curated paintings at their own resolution.

Run it as the DVC stage ``train_upscaler`` or by hand::

    python -m train.train_upscaler                            # params.yaml, section train_upscaler
    python -m train.train_upscaler --preset tiny --steps 20   # a smoke run
    python -m train.train_upscaler --print-config             # the resolved preset, no training
    torchrun --standalone --nproc_per_node=4 -m train.train_upscaler --preset gpu

There are no outside pairs: each training pair is a random high-resolution crop of a packed
native-resolution painting (``train.data.native_images``) and its box downscale
(``train/upscaler.py`` says why box). Crops come from a "bank": ``crops_per_image`` random
crops of every training painting, drawn from the seed and the bank's number, and replaced by a
fresh bank every ``bank_refresh_steps`` steps; one pass over the PNGs builds a bank, and the
bank is a pure function of (seed, step), which keeps resuming exact without any data state.

Each step: random flips and quarter turns of a batch of crops, x = box_down(y), then an Adam
step (both learning rates fall along a cosine over ``lr_decay_steps``) of the upscaler on
L1(SR(x), y) + consistency L1(box_down(SR(x)), x) + the ramped-in lattice loss and, from
``gan_start_step`` on (a PSNR-oriented warm-up first, as ESRGAN does), the adversarial loss of
the patch discriminator, which takes its own Adam step on real crops vs SR outputs.

Once per tick: one log line, dvclive metrics; every ``snapshot_ticks`` ticks an atomic
checkpoint ``last.pt`` with step, both networks, both optimisers and every RNG state, so kill -9
and a rerun continue bit-exactly on CPU (and raising ``steps`` trains longer instead of
starting over). At the end: held-out PSNR/SSIM (luma) vs bicubic on the val split, and the
model folder ``upscaler.pt`` + ``card.json``.

Settings come from the ``train_upscaler`` section of params.yaml, checked before any work (a
typo is an error naming the valid keys); paths from the ``paths`` section (pack,
train_upscaler, upscaler, upscaler_live). The resolved configuration is written to
``config.json`` in the run folder before the first step.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from evaluate.lattice import GOAL_EXCESS_DB, MIN_PATCH_PX, PATCH_PX, lattice_peak
from marcus import model_files
from marcus.config import (
    check,
    each,
    one_of,
    print_config,
    resolve_preset,
    stage_settings,
    write_run_config,
)
from marcus.errors import UserError, reported
from marcus.params import load_params
from marcus.timings import write_timings
from train import checkpoints, distributed
from train.live import Ticker, open_live
from train.memory import peak_memory_mib
from train.upscaler import (
    UPSCALER,
    CompactSR,
    PatchDiscriminator,
    box_down,
    consistency_loss,
    discriminator_loss,
    generator_adversarial_loss,
    lattice_loss,
    pil_upscale,
    psnr_y,
    ssim_y,
)

# Keys of a preset that change only logging or duration, not the result of a step.
NOT_IN_FINGERPRINT = {"steps", "steps_per_tick", "snapshot_ticks", "eval_images", "eval_crop_px"}
ImageSource = Callable[[str], Iterable[tuple[str, np.ndarray]]]


# ----------------------------------------------------------------------------------------------
# Configuration


PRESET_SPEC = {
    "factor": one_of(2, 4, 8), "channels": int, "body_convs": int, "d_channels": int,
    "hr_crop_px": int, "batch_size": int, "steps": int, "steps_per_tick": int,
    "snapshot_ticks": int, "lr": float, "d_lr": float, "lr_decay_steps": int, "l1_weight": float,
    "consistency_weight": float, "lattice_weight": float, "adversarial_weight": float,
    "gan_start_step": int,
    "crops_per_image": int, "bank_refresh_steps": int, "eval_images": int, "eval_crop_px": int,
}
SECTION_SPEC = {"seed": int, "device": one_of("auto", "cpu", "cuda"), "launcher": str,
                "threads": int, "preset": str, "presets": each(PRESET_SPEC)}
PATHS = ("pack", "train_upscaler", "upscaler", "upscaler_live")  # keys of params.yaml's paths


def resolve_config(params: dict, preset_name: str | None = None,
                   overrides: dict | None = None) -> dict:
    """The named preset of a checked ``train_upscaler`` section, its values checked."""
    check("train_upscaler", params, SECTION_SPEC)
    config = resolve_preset("train_upscaler", params, preset_name, overrides)
    check_config(config)
    return config


def check_config(config: dict) -> None:
    f, crop = config["factor"], config["hr_crop_px"]
    problems = []
    if f not in (2, 4, 8):
        problems.append(f"factor must be 2, 4 or 8, got {f}")
    elif crop % f or crop // f < 4:
        problems.append(f"hr_crop_px={crop} must be a multiple of factor {f}, at least {4 * f}")
    if crop < 16:
        problems.append(f"hr_crop_px={crop}: the discriminator needs at least 16 px")
    for key in ("batch_size", "steps_per_tick", "snapshot_ticks", "crops_per_image",
                "bank_refresh_steps"):
        if int(config[key]) < 1:
            problems.append(f"{key} must be >= 1, got {config[key]}")
    if problems:
        raise UserError("train_upscaler: " + "; ".join(problems))


# ----------------------------------------------------------------------------------------------
# Data: banks of random crops


def pack_source(pack_dir: str | Path) -> ImageSource:
    from train.data import native_images

    return lambda split: native_images(pack_dir, split)


def crop_bank(source: ImageSource, split: str, crop_px: int, crops_per_image: int,
              seed: int, bank_index: int) -> np.ndarray:
    """uint8 [N, crop_px, crop_px, 3]: ``crops_per_image`` random crops of each image of the
    split large enough to hold one; positions from (seed, bank_index, key) only."""
    crops = []
    for key, image in source(split):
        h, w = image.shape[:2]
        if h < crop_px or w < crop_px:
            continue
        rng = np.random.default_rng([seed, bank_index, zlib.crc32(key.encode())])
        ys = rng.integers(0, h - crop_px + 1, size=crops_per_image)
        xs = rng.integers(0, w - crop_px + 1, size=crops_per_image)
        # copies: a view would keep the whole painting alive
        crops.extend(image[y:y + crop_px, x:x + crop_px].copy()
                     for y, x in zip(ys, xs, strict=True))
    if not crops:
        raise UserError(f"train_upscaler: no {split} image is at least {crop_px} px on both "
                        "sides: lower hr_crop_px or raise pack.native_max_side")
    return np.stack(crops)


def sample_batch(bank: np.ndarray, batch: int, device: torch.device) -> torch.Tensor:
    """[batch, 3, S, S] float in [0, 1]: random crops of the bank with a random flip and
    quarter turn (paintings have no preferred orientation at brush-stroke scale). Draws from
    torch's global RNG, which checkpoints save."""
    index = torch.randint(len(bank), (batch,))
    y = torch.from_numpy(bank[index.numpy()]).to(device).permute(0, 3, 1, 2).float() / 255
    turns, flip = torch.randint(4, ()).item(), torch.randint(2, ()).item()
    y = torch.rot90(y, turns, dims=(2, 3))
    return y.flip(3) if flip else y


# ----------------------------------------------------------------------------------------------
# Held-out evaluation


def _central_crop(image: np.ndarray, h: int, w: int, device: torch.device) -> torch.Tensor:
    """The central h x w of a uint8 [H, W, 3] painting as a float [1, 3, h, w] in [0, 1]."""
    top, left = (image.shape[0] - h) // 2, (image.shape[1] - w) // 2
    y = torch.from_numpy(np.ascontiguousarray(image[top:top + h, left:left + w]))
    return y.permute(2, 0, 1)[None].float().to(device) / 255


def _lanczos(x: torch.Tensor, factor: int) -> torch.Tensor:
    """[1, 3, h, w] -> Pillow's float Lanczos enlargement by ``factor``, on x's device."""
    out = pil_upscale(x[0].permute(1, 2, 0).cpu().numpy(), factor, Image.Resampling.LANCZOS)
    return torch.from_numpy(out).permute(2, 0, 1)[None].to(x.device)


def _lattice_db(out: torch.Tensor, patch_px: int) -> float:
    """The lattice peak (evaluate/lattice.py) of a [1, 3, H, W] output as 8-bit pixels."""
    pixels = out[0].permute(1, 2, 0).clamp(0, 1).mul(255).round().byte().cpu().numpy()
    return lattice_peak(pixels, patch_px).db


@torch.no_grad()
def evaluate(model: CompactSR, source: ImageSource, images: int, crop_px: int,
             device: torch.device) -> dict:
    """Mean PSNR/SSIM (luma) of SR(box_down(y)) vs y on central crops of the first ``images``
    val paintings, beside bicubic and Lanczos upscaling (the baselines to beat); and each
    output's lattice peak (evaluate/lattice.py: the pattern one pass prints, in dB above its
    spectral neighbourhood) on crops of at least MIN_PATCH_PX."""
    f = model.factor
    scores: dict[str, list[float]] = {}
    model.eval()
    for count, (_key, image) in enumerate(source("val")):
        if count >= images:
            break
        h, w = (min(s, crop_px) // f * f for s in image.shape[:2])
        y = _central_crop(image, h, w, device)
        x = box_down(y, f)
        for name, out in (("sr", model(x)),
                          ("bicubic", F.interpolate(x, scale_factor=f, mode="bicubic",
                                                    align_corners=False)),
                          ("lanczos", _lanczos(x, f))):
            scores.setdefault(f"psnr_y_{name}", []).append(psnr_y(out, y))
            scores.setdefault(f"ssim_y_{name}", []).append(ssim_y(out, y))
            if min(h, w) >= MIN_PATCH_PX and name != "bicubic":
                scores.setdefault(f"lattice_db_{name}", []).append(
                    _lattice_db(out, min(PATCH_PX, h, w)))
    model.train()
    return {k: round(float(np.mean(v)), 4) for k, v in scores.items()} | {
        "val_images": len(scores.get("psnr_y_sr", []))}


# The chains render can take, by the network passes each uses (None: every pass); the final
# resize enlarges the rest with Lanczos.
CHAINS = {"lanczos": 0, "sr_lanczos": 1, "sr_sr": None}
PSNR_TIE_DB = 0.1  # chains this close in PSNR count as equal: the one with more passes wins


@torch.no_grad()
def evaluate_chains(model: CompactSR, source: ImageSource, images: int, crop_px: int,
                    device: torch.device) -> dict:
    """Which chain render should use, from two passes on held-out paintings.

    Each of the first ``images`` val paintings (its central square, at most ``crop_px``) is box
    downscaled by f * f and enlarged back three ways: Lanczos all the way, one pass and then
    Lanczos, and a pass on the first pass's output, which is what every pass after render's
    first sees (an input that looks nothing like a box-downscaled painting). Each gets its
    PSNR (luma) against the painting and its lattice peak above the Lanczos chain's. The pick
    (``pick_chain``) is the best PSNR among those whose mean lattice excess is at most
    GOAL_EXCESS_DB, the one with more passes on a tie; Lanczos always qualifies. Its
    ``network_passes`` is what render takes: 0, 1, or None for every pass."""
    f = model.factor
    psnr: dict[str, list[float]] = {name: [] for name in CHAINS}
    excess: dict[str, list[float]] = {name: [] for name in CHAINS if name != "lanczos"}
    model.eval()
    for count, (_key, image) in enumerate(source("val")):
        if count >= images:
            break
        side = min(*image.shape[:2], crop_px) // (f * f) * (f * f)
        if side < f * f:
            continue
        y = _central_crop(image, side, side, device)
        x = box_down(y, f * f)
        once = model(x)
        outputs = {"lanczos": _lanczos(x, f * f), "sr_lanczos": _lanczos(once, f),
                   "sr_sr": model(once)}
        for name, out in outputs.items():
            psnr[name].append(psnr_y(out, y))
        if side >= MIN_PATCH_PX:
            peaks = {name: _lattice_db(out, min(PATCH_PX, side))
                     for name, out in outputs.items()}
            for name in excess:
                excess[name].append(peaks[name] - peaks["lanczos"])
    model.train()
    scores = {name: {"psnr_y": round(float(np.mean(psnr[name])), 4) if psnr[name] else None,
                     "lattice_excess_db": (round(float(np.mean(excess[name])), 2)
                                           if excess.get(name) else 0.0 if name == "lanczos"
                                           else None)}
              for name in CHAINS}
    pick = pick_chain(scores)
    return {"scores": scores, "pick": pick, "network_passes": CHAINS[pick],
            "goal_excess_db": GOAL_EXCESS_DB, "val_images": len(psnr["lanczos"])}


def pick_chain(scores: dict[str, dict]) -> str:
    """Among the chains scored whose lattice excess is at most GOAL_EXCESS_DB, the one with
    the most network passes whose PSNR is within PSNR_TIE_DB of the best: a pass adds texture
    that PSNR does not reward, and closer PSNRs than that are noise on a few paintings.
    Lanczos when none qualifies (a chain not scored never does)."""
    fit = [name for name, s in scores.items() if s["psnr_y"] is not None
           and s["lattice_excess_db"] is not None and s["lattice_excess_db"] <= GOAL_EXCESS_DB]
    if not fit:
        return "lanczos"
    best = max(scores[name]["psnr_y"] for name in fit)
    near = [name for name in fit if scores[name]["psnr_y"] >= best - PSNR_TIE_DB]
    return max(near, key=lambda name: math.inf if CHAINS[name] is None else CHAINS[name])


# ----------------------------------------------------------------------------------------------
# The loop


def lr_scale(step: int, decay_steps: int) -> float:
    """The learning rates' factor at ``step``: a cosine from 1 to 0 over ``decay_steps`` (0
    after it; 1 throughout when ``decay_steps`` is 0). A pure function of the step, so resuming
    stays exact. At a constant rate the last steps' Adam jitter printed a dot lattice (the
    card's ``lattice_db_sr`` far above ``lattice_db_lanczos``); with the decay it fell below
    Lanczos's at the same PSNR (the cpu preset, issue 20's notes)."""
    if decay_steps <= 0:
        return 1.0
    return 0.5 * (1 + math.cos(math.pi * min(step, decay_steps) / decay_steps))


def train(params: dict, paths: dict, preset: str | None = None, steps: int | None = None,
          device_name: str | None = None, source: ImageSource | None = None,
          timings_path: str | None = None) -> dict:
    """Train (or resume) per ``params`` (the train_upscaler section) and ``paths`` (the paths
    section); ``source`` replaces the pack as the supplier of (key, uint8 image) per split
    (tests pass their own arrays)."""
    config = resolve_config(params, preset, {"steps": steps})
    dist = distributed.setup_distributed(device_name or params["device"])
    torch.set_num_threads(params["threads"] or os.cpu_count() or 1)
    run_dir = Path(paths["train_upscaler"])
    source = source or pack_source(paths["pack"])
    f, seed = config["factor"], params["seed"]
    if dist.is_main:
        write_run_config(run_dir, stage_settings(params), config)
    if config["batch_size"] % dist.world_size:
        raise UserError(f"train_upscaler: batch_size {config['batch_size']} is not a multiple "
                        f"of {dist.world_size} processes")
    batch_gpu = config["batch_size"] // dist.world_size

    def bank_number(step: int) -> int:
        return step // config["bank_refresh_steps"]

    def bank_for(step: int) -> np.ndarray:
        return crop_bank(source, "train", config["hr_crop_px"], config["crops_per_image"],
                         seed, bank_number(step))

    bank = bank_for(0)
    data_fingerprint = hashlib.sha256(bank.tobytes()).hexdigest()[:16]
    run_fingerprint = checkpoints.fingerprint(
        {k: v for k, v in config.items() if k not in NOT_IN_FINGERPRINT},
        seed, data_fingerprint, dist.world_size)

    # Identical networks on every rank: built right after seeding with the bare seed.
    checkpoints.seed_everything(seed)
    G = CompactSR(factor=f, channels=config["channels"],
                  body_convs=config["body_convs"]).to(dist.device)
    D = PatchDiscriminator(channels=config["d_channels"]).to(dist.device)
    opt_G = torch.optim.Adam(G.parameters(), lr=config["lr"], betas=(0.9, 0.99))
    opt_D = torch.optim.Adam(D.parameters(), lr=config["d_lr"], betas=(0.9, 0.99))

    step, tick = 0, 0
    checkpoint = checkpoints.load_checkpoint(run_dir / "last.pt", expect=run_fingerprint)
    if checkpoint is not None:
        G.load_state_dict(checkpoint["G"])
        D.load_state_dict(checkpoint["D"])
        opt_G.load_state_dict(checkpoint["opt_G"])
        opt_D.load_state_dict(checkpoint["opt_D"])
        step, tick = checkpoint["step"], checkpoint["tick"]
        checkpoints.set_rng_state(checkpoint["rng"][dist.rank])
        if bank_number(step) != 0:
            bank = bank_for(step)
        if dist.is_main:
            print(f"resumed from {run_dir / 'last.pt'}: step {step}")
    else:
        checkpoints.seed_everything(seed, dist.rank)

    live = open_live(paths["upscaler_live"], tick, checkpoint is not None) if dist.is_main else None

    total_steps = int(config["steps"])
    ticker = Ticker()
    sec_per_tick: list[float] = []  # per tick of this run: timings, not a metric
    stats: dict[str, list[float]] = {}
    while step < total_steps:
        if step % config["bank_refresh_steps"] == 0 and bank_number(step) != bank_number(
                step - 1):
            bank = bank_for(step)
        use_gan = config["adversarial_weight"] > 0 and step >= config["gan_start_step"]
        scale = lr_scale(step, config["lr_decay_steps"])
        for optimizer, base in ((opt_G, config["lr"]), (opt_D, config["d_lr"])):
            for group in optimizer.param_groups:
                group["lr"] = base * scale

        # ---- upscaler step ----
        hr = sample_batch(bank, batch_gpu, dist.device)
        lr_img = box_down(hr, f)
        sr = G(lr_img)
        l1 = (sr - hr).abs().mean()
        consistency = consistency_loss(sr, lr_img, f)
        lattice = lattice_loss(sr, hr, f)
        # Ramped in over the L1 warm-up: at full weight from the first step it held L1 at its
        # starting value for 1,000 steps (weight 300) or for good (1,000).
        ramp = min(1.0, step / max(1, config["gan_start_step"]))
        loss = (config["l1_weight"] * l1 + config["consistency_weight"] * consistency
                + ramp * config["lattice_weight"] * lattice)
        if use_gan:
            D.requires_grad_(False)
            adversarial = generator_adversarial_loss(D(sr))
            D.requires_grad_(True)
            loss = loss + config["adversarial_weight"] * adversarial
            stats.setdefault("g_adv", []).append(adversarial.item())
        opt_G.zero_grad(set_to_none=True)
        loss.backward()
        distributed.reduce_gradients(G, dist)
        opt_G.step()
        stats.setdefault("l1", []).append(l1.item())
        stats.setdefault("consistency", []).append(consistency.item())
        # RMS gap of the per-sub-pixel means in 8-bit grey levels: readable where the loss
        # itself is ~1e-6.
        stats.setdefault("lattice_levels", []).append(255 * lattice.item() ** 0.5)

        # ---- discriminator step: real crops vs this step's outputs ----
        if use_gan:
            d_loss = discriminator_loss(D(hr), D(sr.detach()))
            opt_D.zero_grad(set_to_none=True)
            d_loss.backward()
            distributed.reduce_gradients(D, dist)
            opt_D.step()
            stats.setdefault("d", []).append(d_loss.item())
        step += 1

        # ---- tick: log, checkpoint ----
        done = step >= total_steps
        if step % config["steps_per_tick"] and not done:
            continue
        tick += 1
        seconds = ticker.lap()
        sec_per_tick.append(seconds)
        means = {k: distributed.all_reduce_mean(float(np.mean(v)), dist) for k, v in stats.items()}
        stats = {}
        if dist.is_main:
            print(f"tick {tick:<4d} step {step:<7d} s/tick {seconds:<6.1f} "
                  + " ".join(f"{k} {v:<7.4f}" for k, v in sorted(means.items()))
                  + f" mem {peak_memory_mib(dist.device):.0f} MiB", flush=True)
            for k, v in means.items():
                live.log_metric(f"loss/{k}", v)
            live.log_metric("optimizer_step", step)
            live.next_step()
        if tick % config["snapshot_ticks"] == 0 or done:
            rng_states = checkpoints.all_rng_states(dist)
            if dist.is_main:
                checkpoints.save_checkpoint(run_dir / "last.pt", {
                    "fingerprint": run_fingerprint, "step": step, "tick": tick,
                    "G": G.state_dict(), "D": D.state_dict(), "opt_G": opt_G.state_dict(),
                    "opt_D": opt_D.state_dict(), "rng": rng_states,
                    "model": G.state_dict(), "model_kwargs": G.init_kwargs,
                    "D_kwargs": D.init_kwargs,
                })

    result = {"steps": step, "ticks": tick, "seconds": round(ticker.total(), 1),
              "rank_weight_digests": distributed.rank_weight_digests(G, dist)}
    if dist.is_main:
        result |= evaluate(G, source, int(config["eval_images"]), int(config["eval_crop_px"]),
                           dist.device)
        result["chain"] = evaluate_chains(G, source, int(config["eval_images"]),
                                          int(config["eval_crop_px"]) * f, dist.device)
        for name, chain_scores in result["chain"]["scores"].items():
            for k, v in chain_scores.items():
                if v is not None:
                    live.summary[f"chain/{name}/{k}"] = v
        for k, v in result.items():
            if k.startswith(("psnr", "ssim")):
                live.summary[k] = v
        live.end()
        write_timings(timings_path, {"seconds": result["seconds"], "ticks_this_run": len(
            sec_per_tick), "sec_per_tick_mean": round(float(np.mean(sec_per_tick or [0])), 2)})
        card = model_files.model_card(f"CompactSR x{f} (SRVGG-like), patch-GAN trained",
                                      paths["pack"], config, result, seed=seed,
                                      crop_bank_fingerprint=data_fingerprint)
        model_files.write_model_folder(paths["upscaler"], card, UPSCALER, G, G.init_kwargs)
        print(json.dumps(result))
    distributed.teardown_distributed(dist)
    return result


@reported("train_upscaler")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.train_upscaler", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--preset", help="a key of train_upscaler.presets")
    parser.add_argument("--steps", type=int, help="train until this many optimiser steps")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--timings", help="write what the run took here (JSON)")
    parser.add_argument("--print-config", action="store_true",
                        help="print the resolved preset and its inheritance, then exit")
    args = parser.parse_args(argv)
    params = load_params("train_upscaler", args.params)
    if args.print_config:
        config = resolve_config(params, args.preset, {"steps": args.steps})
        print_config("train_upscaler", args.params, config, stage_settings(params))
        return 0
    paths = load_params("paths", args.params)
    train(params, paths, preset=args.preset, steps=args.steps, device_name=args.device,
          timings_path=args.timings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
