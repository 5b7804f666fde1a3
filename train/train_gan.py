"""Train the StyleGAN2-like generator on the packed curated paintings.

Run it as the DVC stage ``train_gan`` (``dvc repro train_gan``), or by hand::

    python -m train.train_gan                                  # params.yaml, section train_gan
    python -m train.train_gan --preset tiny --kimg 0.2         # a smoke run
    torchrun --standalone --nproc_per_node=4 -m train.train_gan --preset gpu256   # 4 GPUs

    python -m train.train_gan --print-config                  # the resolved preset, no training

Everything comes from the ``train_gan`` section of params.yaml (checked before any work: a
typo is an error naming the valid keys): a ``preset`` names a set of hyperparameters
(``presets.cpu``, ``presets.gpu256``, ... inheriting from each other with YAML's ``<<: *``),
and any single value can be varied with ``dvc exp run -S train_gan.presets.cpu.r1_gamma=0.5``.
Where the run reads and writes comes from the ``paths`` section (pack, train_gan, gan,
gan_live). The resolved configuration is written to ``config.json`` in the run folder before
the first step.

The loop reads top to bottom: build the networks, resume from ``last.pt`` if it belongs to this
configuration, then repeat {G step, D step, EMA, ADA} and, once per tick, log one line, write
dvclive metrics and a sample grid, and every ``snapshot_ticks`` ticks an atomic checkpoint
holding everything needed to continue exactly (weights, optimisers, counters, augmentation
probability, path-length mean, every rank's RNG state). A kill -9 and a rerun therefore end with
the same weights as an uninterrupted run (bit-exact on CPU), and so does training "longer":
raising ``kimg`` resumes instead of starting over.

Several processes: torchrun's environment switches data parallelism on (gloo on CPU, NCCL on
CUDA); every rank builds identical networks from the seed, reads its own slice of each step's
real images and draws its own noise, and gradients are averaged before each optimiser step (see
train/distributed.py). Real images come from train/stream.py: epochs of a seeded permutation,
decoded ahead by ``data_workers`` DataLoader processes; the tick line's ``data`` is the share of
the tick spent waiting for them (0 % means the data never held training up).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from evaluate.metrics import swd, to_uint8_nhwc
from marcus import model_files
from marcus.config import (
    check,
    each,
    list_of,
    one_of,
    print_config,
    resolve_preset,
    stage_settings,
    write_run_config,
)
from marcus.errors import UserError, reported
from marcus.params import load_params
from marcus.timings import write_timings
from train import checkpoints, distributed, networks
from train.augment import AdaptiveAugment, AugmentPipe
from train.data import PackedImages, pack_fingerprint
from train.live import Ticker, open_live
from train.losses import StyleGAN2Loss
from train.memory import available_memory_bytes, peak_memory_mib
from train.networks import GENERATOR, Discriminator, Generator
from train.stream import real_batches

# Keys of a preset that change only logging or duration, not the result of a step: a resumed
# run may differ in these and still continue from a checkpoint.
NOT_IN_FINGERPRINT = {"kimg", "tick_kimg", "snapshot_ticks", "grid_seeds", "grid_columns",
                      "metric_images", "data_workers", "prefetch_batches"}
# Part of every checkpoint's fingerprint: bumped when a code change alters what a step
# computes (2: fused Adam; 3: real images in epochs of a seeded permutation, train/stream.py),
# so that older checkpoints start over instead of being resumed.
LOOP_VERSION = 3
LABEL_COLUMNS = {"period": "period_id", "object_type": "object_type_id", "artist": "artist_id",
                 "genre": "genre_id"}


# ----------------------------------------------------------------------------------------------
# Configuration and validation (everything here runs before any training work starts)


PRESET_SPEC = {
    "resolution": int, "kimg": float, "tick_kimg": float, "snapshot_ticks": int,
    "batch_size": int, "batch_gpu": int, "z_dim": int, "w_dim": int, "mapping_layers": int,
    "channel_base": int, "channel_max": int, "mbstd_group_size": int, "num_fp16_res": int,
    "g_lr": float, "d_lr": float, "g_reg_interval": int, "d_reg_interval": int,
    "r1_gamma": float, "pl_weight": float, "style_mixing": float, "ema_kimg": float,
    "ema_rampup": float, "augment": one_of("ada", "none"), "augment_p": float,
    "ada_target": float, "ada_interval": int, "ada_kimg": float,
    "conditioning": one_of("none", *LABEL_COLUMNS), "grid_seeds": list_of(int),
    "grid_columns": int, "metric_images": int, "data_workers": int, "prefetch_batches": int,
}
SECTION_SPEC = {"seed": int, "device": one_of("auto", "cpu", "cuda"), "launcher": str,
                "threads": int, "cpu_bfloat16": bool, "preset": str,
                "presets": each(PRESET_SPEC)}
PATHS = ("pack", "train_gan", "gan", "gan_live")  # the keys of params.yaml's paths it uses


def resolve_config(params: dict, preset_name: str | None = None,
                   overrides: dict | None = None) -> dict:
    """The named preset's hyperparameters from a checked ``train_gan`` section."""
    check("train_gan", params, SECTION_SPEC)
    return resolve_preset("train_gan", params, preset_name, overrides)


def check_inputs(pack_dir: Path, config: dict, device: torch.device) -> None:
    """Clear messages for the mistakes that would otherwise fail deep inside training."""
    summary = pack_dir / "pack.json"
    if not summary.is_file():
        raise UserError(f"train_gan: no packed data at {pack_dir} (run `dvc repro pack` first)")
    info = json.loads(summary.read_text())
    resolution = int(info["resolution"])
    if resolution < 8 or resolution & (resolution - 1):
        raise UserError(f"train_gan: packed resolution {resolution} is not a power of two >= 8 "
                        "(set pack.resolution)")
    wanted = config["resolution"]
    if wanted != resolution:
        raise UserError(f"train_gan: preset {config['preset']!r} trains at {wanted} px but the "
                        f"pack is {resolution} px: run `dvc exp run -S pack.resolution={wanted}`")
    if config["data_workers"] < 0 or config["prefetch_batches"] < 1:
        raise UserError(f"train_gan: data_workers must be >= 0 and prefetch_batches >= 1, got "
                        f"{config['data_workers']} and {config['prefetch_batches']}")
    if info["counts"].get("train", 0) == 0:
        raise UserError(f"train_gan: the packed training split in {pack_dir} is empty "
                        "(is the curated manifest empty? see metrics/curate.json)")
    need = estimate_memory_bytes(config, resolution)
    have = available_memory_bytes(device)
    if need > have:
        raise UserError(
            f"train_gan: preset {config['preset']!r} needs about {need / 2**30:.1f} GiB "
            f"at batch_gpu={config['batch_gpu']}, but {device} has {have / 2**30:.1f} GiB "
            "free: lower batch_gpu (gradients are accumulated to keep batch_size) or "
            "channel_max")


def estimate_memory_bytes(config: dict, resolution: int) -> int:
    """A deliberately rough upper estimate: weights + Adam moments for G, D, G_ema, plus
    activations kept for backward (about 12 feature maps per block and resolution, fp32,
    for G and D, times 2 for the R1 double backward)."""
    channels = lambda res: min(config["channel_base"] // res, config["channel_max"])  # noqa: E731
    per_block, weights, res = 0, 0, 4
    while res <= resolution:
        c = channels(res)
        per_block += 12 * c * res * res
        weights += 2 * 9 * c * c + c * config["w_dim"]
        res *= 2
    weights += config["mapping_layers"] * config["w_dim"] ** 2
    activations = 2 * 2 * config["batch_gpu"] * per_block * 4
    return int(4 * 4 * 2 * weights + activations + 512 * 2**20)  # + torch's own overhead


# ----------------------------------------------------------------------------------------------
# Networks and data


def build_networks(config: dict, resolution: int, c_dim: int) -> tuple[Generator, Discriminator]:
    G = Generator(z_dim=config["z_dim"], c_dim=c_dim, w_dim=config["w_dim"],
                  img_resolution=resolution, img_channels=3,
                  mapping_layers=config["mapping_layers"],
                  channel_base=config["channel_base"], channel_max=config["channel_max"],
                  num_fp16_res=config["num_fp16_res"])
    D = Discriminator(c_dim=c_dim, img_resolution=resolution, img_channels=3,
                      channel_base=config["channel_base"], channel_max=config["channel_max"],
                      mbstd_group_size=config["mbstd_group_size"],
                      num_fp16_res=config["num_fp16_res"])
    return G, D


def one_hot_labels(data: PackedImages, conditioning: str) -> torch.Tensor | None:
    """[N, c_dim] one-hot labels for every training image, or None when unconditional."""
    if conditioning == "none":
        return None
    # A copy: pandas may hand out a read-only view, which torch must not share.
    ids = torch.tensor(data.labels[LABEL_COLUMNS[conditioning]].to_numpy(), dtype=torch.long)
    size = len(data.vocab[conditioning])
    return torch.nn.functional.one_hot(ids, num_classes=size).float()


def to_model_range(images_uint8: np.ndarray | torch.Tensor,
                   device: torch.device) -> torch.Tensor:
    """[B, H, W, 3] uint8 -> [B, 3, H, W] float in [-1, 1]."""
    x = images_uint8 if isinstance(images_uint8, torch.Tensor) else \
        torch.from_numpy(np.ascontiguousarray(images_uint8))
    x = x.to(device, non_blocking=True)
    return x.permute(0, 3, 1, 2).float() / 127.5 - 1


def image_grid(images: torch.Tensor, columns: int) -> Image.Image:
    """[N, 3, H, W] in [-1, 1] -> one PIL image, `columns` wide."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    n, c, h, w = x.shape
    rows = (n + columns - 1) // columns
    canvas = torch.zeros((c, rows * h, columns * w), dtype=torch.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        canvas[:, r * h:(r + 1) * h, col * w:(col + 1) * w] = x[i]
    return Image.fromarray(canvas.permute(1, 2, 0).numpy())


class TickMetric:
    """The per-tick quality curve: ProGAN's sliced Wasserstein distance (``metric/swd``, x1e3,
    lower is better) between G_ema's images for fixed latents and a fixed sample of training
    images. It needs no trained feature network, so it is there from tick one of any run; the
    ``evaluate`` stage gives the fuller verdict (FD, KID, precision/recall) at the end."""

    def __init__(self, data: PackedImages, count: int, z_dim: int, seed: int):
        count = min(count, len(data))
        pick = np.sort(np.random.default_rng(seed).choice(len(data), count, replace=False))
        self.reals = data.batch(pick)
        # latents from their own generator: drawing them leaves the training RNG untouched
        self.z = torch.randn([count, z_dim], generator=torch.Generator().manual_seed(seed))

    @torch.no_grad()
    def __call__(self, G_ema: Generator, labels: torch.Tensor | None, device) -> float:
        c = None if labels is None else labels[torch.arange(len(self.z)) % len(labels)]
        fakes = torch.cat([G_ema(z.to(device), None if c is None else c[i:i + 64].to(device),
                                 truncation_psi=1.0, noise_mode="const")
                           for i, z in zip(range(0, len(self.z), 64), self.z.split(64),
                                           strict=True)])
        return swd(self.reals, to_uint8_nhwc(fakes))["swd_mean"]


# ----------------------------------------------------------------------------------------------
# Model card


# ----------------------------------------------------------------------------------------------
# The loop


def train(params: dict, paths: dict, preset: str | None = None, kimg: float | None = None,
          device_name: str | None = None, timings_path: str | None = None) -> dict:
    """Train from the ``train_gan`` section ``params`` and the ``paths`` section; return the
    run's result (what the model card records)."""
    config = resolve_config(params, preset, {"kimg": kimg})
    with networks.bfloat16_on_cpu(params["cpu_bfloat16"]):
        return _train(params, paths, config, device_name, timings_path)


def _train(params: dict, paths: dict, config: dict, device_name: str | None,
           timings_path: str | None) -> dict:
    dist = distributed.setup_distributed(device_name or params["device"])
    pack_dir, run_dir = Path(paths["pack"]), Path(paths["train_gan"])
    check_inputs(pack_dir, config, dist.device)
    torch.set_num_threads(params["threads"] or os.cpu_count() or 1)

    batch_size, batch_gpu = config["batch_size"], config["batch_gpu"]
    if batch_size % (batch_gpu * dist.world_size):
        raise UserError(f"train_gan: batch_size {batch_size} is not a multiple of "
                        f"batch_gpu {batch_gpu} x {dist.world_size} processes")
    accumulate = batch_size // (batch_gpu * dist.world_size)
    if dist.is_main:  # every check passed: what this run trains with, before its first step
        write_run_config(run_dir, stage_settings(params), config)

    data = PackedImages(pack_dir, "train")
    labels = one_hot_labels(data, config["conditioning"])
    c_dim = 0 if labels is None else labels.shape[1]
    data_fingerprint = pack_fingerprint(pack_dir)
    # bfloat16 blocks on the CPU compute other values: such a run resumes only its own kind.
    bfloat16 = {"cpu_bfloat16": True} if params["cpu_bfloat16"] and config["num_fp16_res"] \
        and dist.device.type == "cpu" else {}
    run_fingerprint = checkpoints.fingerprint(
        {k: v for k, v in config.items() if k not in NOT_IN_FINGERPRINT} | bfloat16,
        params["seed"], data_fingerprint, dist.world_size, LOOP_VERSION)

    # Identical networks on every rank: build them right after seeding with the bare seed.
    checkpoints.seed_everything(params["seed"])
    G, D = build_networks(config, data.resolution, c_dim)
    G, D = G.to(dist.device), D.to(dist.device)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    augment = AugmentPipe().to(dist.device)
    ada = AdaptiveAugment(target=config["ada_target"], speed_kimg=config["ada_kimg"],
                          batch_size=batch_size, interval_steps=config["ada_interval"],
                          p=config["augment_p"])
    loss = StyleGAN2Loss(G, D, augment=augment if config["augment"] == "ada" else None,
                         r1_gamma=config["r1_gamma"], style_mixing_prob=config["style_mixing"],
                         pl_weight=config["pl_weight"], pl_batch_shrink=2, pl_decay=0.01,
                         g_reg_interval=config["g_reg_interval"],
                         d_reg_interval=config["d_reg_interval"])

    # Lazy regularisation: the regulariser runs every N steps, so Adam's lr and betas are
    # adjusted as in StyleGAN2 to keep the effective step the same.
    def adam(module, lr, interval):
        ratio = interval / (interval + 1)
        return torch.optim.Adam(module.parameters(), lr=lr * ratio,
                                betas=(0 ** ratio, 0.99 ** ratio), eps=1e-8,
                                fused=True)  # 2.8x faster steps on the CPU (train_throughput)
    opt_G = adam(G, config["g_lr"], config["g_reg_interval"])
    opt_D = adam(D, config["d_lr"], config["d_reg_interval"])

    step, cur_nimg, tick = 0, 0, 0
    checkpoint = checkpoints.load_checkpoint(run_dir / "last.pt", expect=run_fingerprint)
    if checkpoint is not None:
        G.load_state_dict(checkpoint["G"])
        D.load_state_dict(checkpoint["D"])
        G_ema.load_state_dict(checkpoint["G_ema"])
        opt_G.load_state_dict(checkpoint["opt_G"])
        opt_D.load_state_dict(checkpoint["opt_D"])
        loss.load_state_dict(checkpoint["loss"])
        ada.load_state_dict(checkpoint["ada"])
        step, cur_nimg, tick = checkpoint["step"], checkpoint["cur_nimg"], checkpoint["tick"]
        checkpoints.set_rng_state(checkpoint["rng"][dist.rank])
        if dist.is_main:
            print(f"resumed from {run_dir / 'last.pt'}: tick {tick}, "
                  f"{cur_nimg / 1000:.1f} kimg")
    else:
        checkpoints.seed_everything(params["seed"], dist.rank)
    augment.p.fill_(ada.p)

    live = open_live(paths["gan_live"], tick, checkpoint is not None) if dist.is_main else None
    # The sample grid: the same latents every tick (one seed per cell), so grids compare.
    grid_z = torch.stack([torch.randn([G.z_dim], generator=torch.Generator().manual_seed(s))
                          for s in config["grid_seeds"]])
    grid_c = None if labels is None else labels[torch.arange(len(grid_z)) % len(labels)]
    metric = None
    if dist.is_main and config["metric_images"] > 0:
        metric = TickMetric(data, config["metric_images"], G.z_dim, params["seed"])

    # What training starts from, to compare with: the first grid and the metric's first value.
    swd_start = None if checkpoint is None else checkpoint.get("swd_start")
    if live is not None and checkpoint is None:
        with torch.no_grad():
            start = G_ema(grid_z.to(dist.device), grid_c, truncation_psi=1.0, noise_mode="const")
        live.log_image("samples_start.png", image_grid(start, columns=config["grid_columns"]))
        if metric is not None:
            swd_start = metric(G_ema, labels, dist.device)
            print(f"start: swd {swd_start:.2f}", flush=True)
    swd_last = None if checkpoint is None else checkpoint.get("swd_last")

    # This rank's real images from where the run stands: an exact resume reads what an
    # uninterrupted run would have read next.
    reals = real_batches(data, params["seed"], batch_size, batch_gpu, dist.rank,
                         dist.world_size, start_nimg=cur_nimg, workers=config["data_workers"],
                         prefetch_batches=config["prefetch_batches"],
                         pin_memory=dist.device.type == "cuda")
    total_nimg = int(config["kimg"] * 1000)
    ticker = Ticker()
    data_wait = 0.0  # seconds of this tick spent waiting for real images
    sec_per_kimg: list[float] = []  # per tick of this run: timings, not a metric
    wait_shares: list[float] = []   # ...and the share of each tick spent waiting for data
    tick_start_nimg = cur_nimg
    stats: dict[str, list[float]] = {}
    while cur_nimg < total_nimg:
        # ---- one step: G, then D, each over `accumulate` rounds of batch_gpu images ----
        do_pl = config["pl_weight"] > 0 and step % config["g_reg_interval"] == 0
        do_r1 = config["r1_gamma"] > 0 and step % config["d_reg_interval"] == 0
        opt_G.zero_grad(set_to_none=True)
        for _ in range(accumulate):
            z = torch.randn([batch_gpu, G.z_dim], device=dist.device)
            c = None if labels is None else labels[torch.randint(len(labels), (batch_gpu,))]
            for k, v in loss.generator_step(z, c, do_pl=do_pl,
                                            gain=1 / accumulate).items():
                stats.setdefault(k, []).append(v)
        distributed.reduce_gradients(G, dist)
        opt_G.step()

        opt_D.zero_grad(set_to_none=True)
        for _ in range(accumulate):
            waited = time.perf_counter()
            images, index = next(reals)
            data_wait += time.perf_counter() - waited
            real = to_model_range(images, dist.device)
            real_c = None if labels is None else labels[index].to(dist.device)
            z = torch.randn([batch_gpu, G.z_dim], device=dist.device)
            c = None if labels is None else labels[torch.randint(len(labels), (batch_gpu,))]
            out = loss.discriminator_step(real, real_c, z, c, do_r1=do_r1, gain=1 / accumulate)
            ada.accumulate(out.pop("real_signs"))
            for k, v in out.items():
                stats.setdefault(k, []).append(v)
        distributed.reduce_gradients(D, dist)
        opt_D.step()
        # Running statistics that each rank updated from its own batch.
        distributed.average_tensors([G.mapping.w_avg, loss.pl_mean], dist)

        # ---- EMA of G's weights, with StyleGAN2-ADA's ramp-up over the first images ----
        ema_nimg = config["ema_kimg"] * 1000
        if config["ema_rampup"]:
            ema_nimg = min(ema_nimg, cur_nimg * config["ema_rampup"])
        beta = 0.5 ** (batch_size / max(ema_nimg, 1e-8))
        with torch.no_grad():
            for p_ema, p in zip(G_ema.parameters(), G.parameters(), strict=True):
                p_ema.copy_(p.lerp(p_ema, beta))
            for b_ema, b in zip(G_ema.buffers(), G.buffers(), strict=True):
                b_ema.copy_(b)

        step += 1
        cur_nimg += batch_size
        if config["augment"] == "ada" and step % config["ada_interval"] == 0:
            ada.update(dist)  # all ranks agree on p: the sign statistics are all-reduced
            augment.p.fill_(ada.p)

        # ---- tick: log, samples, checkpoint ----
        done = cur_nimg >= total_nimg
        if cur_nimg < tick_start_nimg + config["tick_kimg"] * 1000 and not done:
            continue
        tick += 1
        seconds = ticker.lap()
        wait_share, data_wait = data_wait / max(seconds, 1e-9), 0.0
        wait_shares.append(wait_share)
        tick_kimg = (cur_nimg - tick_start_nimg) / 1000
        sec_per_kimg.append(seconds / max(tick_kimg, 1e-9))
        tick_start_nimg = cur_nimg
        means = {k: distributed.all_reduce_mean(float(np.mean(v)), dist) for k, v in stats.items()}
        stats = {}
        memory = peak_memory_mib(dist.device)
        if dist.is_main:
            value = swd_last = None if metric is None else metric(G_ema, labels, dist.device)
            quality = "" if value is None else f" swd {value:.2f}"
            print(f"tick {tick:<4d} kimg {cur_nimg / 1000:<8.2f} "
                  f"s/kimg {sec_per_kimg[-1]:<7.1f} "
                  + " ".join(f"{k} {v:<7.4f}" for k, v in sorted(means.items()))
                  + f" augment {ada.p:.3f} data {wait_share:.0%} mem {memory:.0f} MiB"
                  + quality, flush=True)
            for k, v in means.items():
                live.log_metric(f"loss/{k}", v)
            if value is not None:
                live.log_metric("metric/swd", value)
            live.log_metric("augment_p", ada.p)
            live.log_metric("kimg", cur_nimg / 1000)
            with torch.no_grad():
                grid = G_ema(grid_z.to(dist.device), grid_c, truncation_psi=1.0,
                             noise_mode="const")
            live.log_image("samples.png", image_grid(grid, columns=config["grid_columns"]))
            live.next_step()
        if tick % config["snapshot_ticks"] == 0 or done:
            rng_states = checkpoints.all_rng_states(dist)
            if dist.is_main:
                checkpoints.save_checkpoint(run_dir / "last.pt", {
                    "fingerprint": run_fingerprint, "step": step, "cur_nimg": cur_nimg,
                    "tick": tick, "G": G.state_dict(), "D": D.state_dict(),
                    "G_ema": G_ema.state_dict(), "opt_G": opt_G.state_dict(),
                    "opt_D": opt_D.state_dict(), "loss": loss.state_dict(),
                    "ada": ada.state_dict(), "rng": rng_states, "swd_start": swd_start,
                    "swd_last": swd_last,
                    "G_kwargs": G.init_kwargs, "D_kwargs": D.init_kwargs,
                })
        ticker.lap()  # samples, metric and checkpoint are not counted in the next s/kimg

    # Every rank must end with the same weights; the card records each rank's digest.
    digests = distributed.rank_weight_digests(G_ema, dist)
    result = {"kimg": cur_nimg / 1000, "ticks": tick, "steps": step,
              "augment_p": round(ada.p, 4), "seconds": round(ticker.total(), 1),
              "rank_weight_digests": digests, "swd_start": swd_start, "swd_end": swd_last}
    if dist.is_main:
        live.end()
        write_timings(timings_path, {"seconds": result["seconds"], "ticks_this_run": len(
            sec_per_kimg), "sec_per_kimg_mean": round(float(np.mean(sec_per_kimg or [0])), 2),
            "data_wait_share_mean": round(float(np.mean(wait_shares or [0])), 4),
            # What check_inputs estimated against what this process used (CUDA: allocated
            # by torch; CPU: the process's peak RSS), so that the estimate can be checked.
            "memory_estimate_mib": round(estimate_memory_bytes(config, data.resolution) / 2**20),
            "peak_memory_mib": round(peak_memory_mib(dist.device))})
        card = model_files.model_card("StyleGAN2-like generator (EMA weights)", pack_dir, config,
                                      result, data_fingerprint=data_fingerprint)
        model_files.write_model_folder(paths["gan"], card, GENERATOR, G_ema, G_ema.init_kwargs)
    distributed.teardown_distributed(dist)
    return result


@reported("train_gan")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.train_gan", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--preset", help="a key of train_gan.presets (default: train_gan.preset)")
    parser.add_argument("--kimg", type=float, help="train until this many thousand images")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--timings", help="write what the run took here (JSON)")
    parser.add_argument("--print-config", action="store_true",
                        help="print the resolved preset and its inheritance, then exit")
    args = parser.parse_args(argv)
    params = load_params("train_gan", args.params)
    if args.print_config:
        config = resolve_config(params, args.preset, {"kimg": args.kimg})
        print_config("train_gan", args.params, config, stage_settings(params))
        return 0
    paths = load_params("paths", args.params)
    train(params, paths, preset=args.preset, kimg=args.kimg, device_name=args.device,
          timings_path=args.timings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
