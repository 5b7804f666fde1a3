"""GAN training throughput on the CPU: images per second of whole training steps.

Run: ``python -m benchmarks train_throughput`` (``--quick``: fewer steps and one round), and
beside StyleGAN2-ADA's own training loop: ``python -m benchmarks train_throughput
--stylegan2-ada PATH`` with PATH a local checkout of NVlabs/stylegan2-ada-pytorch (nothing is
downloaded; ``git clone https://github.com/NVlabs/stylegan2-ada-pytorch`` where you have a
network).

A step is what ``train/train_gan.py`` does per batch: the G step (mapping with style mixing,
synthesis, augmentation, D, backward into G), the D step (fakes without a graph, augmented
fakes and reals through D, backward), both Adam updates, the G_ema update and the ADA
bookkeeping; R1 runs every 16 D steps and the path-length penalty every 4 G steps, each
folded into that step, so timing a multiple of 16 steps amortises them exactly. float32,
2 threads.

1. ``auto32``: StyleGAN2-ADA's ``auto`` configuration at 32 px with channels capped at 128
   (channel_base 16384, channel_max 128, 2 mapping layers, z and w 512, minibatch-std group 4,
   path length weight 2, style mixing 0.9, gamma 0.0002 * 32^2 / 8), batch 8.
   Target: >= 4 images/s.
   Not quick: also ``ours_over_grouped_modconv``, the same step with StyleGAN2's formulation
   of the modulated convolution (per-sample demodulated weights, one grouped convolution,
   grouped transposed convolution to upsample), timed in the same rounds; > 1: ours is faster.
2. ``stylegan2_ada``: with ``--stylegan2-ada``, StyleGAN2-ADA's own inner loop
   (``training/training_loop.py``: phases Gmain, Greg every 4th step, Dmain, Dreg every 16th,
   each with its own Adam step and gradient clean-up, then G_ema; ``--fp32``: no float16
   layers, no clamping; no augmentation; its reference ops, as on any CPU) built at the
   ``auto32`` configuration in this process, checked to have the same parameter counts as
   ours, and timed with ours in alternating rounds, both orders (ours first in even rounds):
   each side's images/s, each round's ratio, the median ratio overall and per order, and the
   seconds per 16-step cycle of each phase (G forward and backward, path length, D with R1,
   Adam, the rest). Without a checkout, the last side-by-side section of
   ``results/train_throughput.json`` is carried over and marked ``carried_from`` (its date).
3. ``adam``: milliseconds per optimiser step (G and D) with torch's default Adam on the CPU
   and with ``fused=True``.
4. ``lowpass`` (not quick): the proposed preset's step with the low-pass filters as depthwise
   (grouped) convolutions, the CPU's default, over the same step with the single-channel form
   that GPUs use (train/networks.lowpass_each_channel), interleaved round by round; > 1: the
   depthwise form is faster here.
5. ``presets``: candidate ``cpu`` presets for a ~15-minute run on ~600 paintings, with their
   images/s and the thousands of images (kimg) and steps such a run reaches (quick: only the
   proposed one).
6. ``where_the_time_goes``: ours' ``auto32`` step under torch.profiler: the share of the
   operators' time in oneDNN's convolution kernels, forward and backward (``conv_share``),
   and in the 3x3 convolutions of full width alone; what one such convolution reaches
   (GFLOP/s at 32 px, forward and forward + backward) beside a matrix product of the same
   arithmetic. Both trainers run convolutions of the same shapes through the same oneDNN
   kernels (StyleGAN2-ADA modulates activations, not weights, while training), so unless
   ours ran those faster, the side-by-side ratio cannot pass ``ceiling_over_stylegan2_ada``
   = ratio / ``conv_share``: ours with everything but the convolutions free. The
   profiler's own cost falls on the many small operators, so the share is if anything low
   and the ceiling high.

The machine is shared: every figure comes with the load average when it was taken.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F

from train import networks
from train.augment import AdaptiveAugment, AugmentPipe
from train.distributed import Dist, reduce_gradients
from train.losses import StyleGAN2Loss
from train.networks import Discriminator, Generator

THREADS = 2
TARGET_IMAGES_PER_SECOND = 4.0
RUN_SECONDS = 15 * 60              # the length of the proposed CPU run
PROPOSED_PRESET = "cpu32_c64_b16"  # = params.yaml train_gan.presets.cpu
RESULTS_FILE = Path(__file__).parent / "results" / "train_throughput.json"

AUTO32 = dict(resolution=32, batch=8, z_dim=512, w_dim=512, mapping_layers=2,
              channel_base=16384, channel_max=128, mbstd_group_size=4, pl_weight=2.0,
              r1_gamma=0.0002 * 32 ** 2 / 8, augment_p=0.0)
PRESETS = {
    "cpu32_c64_b16": dict(AUTO32, batch=16, z_dim=256, w_dim=256, channel_base=2048,
                          channel_max=64, pl_weight=0.0, r1_gamma=0.05, augment_p=0.2),
    "cpu32_c128_b16": dict(AUTO32, batch=16, z_dim=256, w_dim=256, channel_base=4096,
                           channel_max=128, pl_weight=0.0, r1_gamma=0.05, augment_p=0.2),
    "cpu64_c64_b16": dict(AUTO32, resolution=64, batch=16, z_dim=256, w_dim=256,
                          channel_base=4096, channel_max=64, pl_weight=0.0, r1_gamma=0.2,
                          augment_p=0.2),
}


def grouped_modulated_conv2d(x, weight, styles, up=False):
    """StyleGAN2's modulated convolution: per-sample weights, one grouped convolution."""
    n, i, h, w = x.shape
    o, _, k, _ = weight.shape
    wts = weight[None] * styles[:, None, :, None, None]                 # [N, O, I, k, k]
    wts = wts * (wts.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()
    x = x.reshape(1, n * i, h, w)
    if up:
        wts = wts.transpose(1, 2).reshape(n * i, o, k, k)
        x = F.conv_transpose2d(x, wts, stride=2, groups=n)
        x = networks.lowpass_each_channel(x, 4.0, padding=1)
    else:
        x = F.conv2d(x, wts.reshape(n * o, i, k, k), padding=k // 2, groups=n)
    return x.reshape(n, o, *x.shape[2:]), torch.ones(n, o, dtype=x.dtype, device=x.device)


EMA_KIMG = 8 * 10 / 32  # StyleGAN2-ADA's auto: batch * 10 / 32 thousand images, no ramp-up
PHASES = ("G", "PL", "D", "Adam", "other")  # as in PhaseClock below


class PhaseClock:
    """Seconds per phase of the step, summed over the steps timed: G forward and backward
    (``G``), the path-length penalty (``PL``), D forward and backward with R1 (``D``), the
    optimiser steps with their gradient clean-up (``Adam``), the rest: G_ema, bookkeeping."""

    def __init__(self):
        self.seconds = dict.fromkeys(PHASES, 0.0)

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.seconds[phase] += time.perf_counter() - started


def _ema(G_ema: torch.nn.Module, G: torch.nn.Module, batch: int) -> None:
    """train_gan's (and StyleGAN2-ADA's) G_ema update, past the ramp-up."""
    beta = 0.5 ** (batch / (EMA_KIMG * 1000))
    with torch.no_grad():
        for p_ema, p in zip(G_ema.parameters(), G.parameters(), strict=True):
            p_ema.copy_(p.lerp(p_ema, beta))
        for b_ema, b in zip(G_ema.buffers(), G.buffers(), strict=True):
            b_ema.copy_(b)


class Trainer:
    """The training step of train/train_gan.py on in-memory images."""

    def __init__(self, config: dict, fused_adam: bool = False, seed: int = 0):
        torch.manual_seed(seed)
        c = config
        self.batch, self.z_dim = c["batch"], c["z_dim"]
        self.G = Generator(z_dim=c["z_dim"], w_dim=c["w_dim"], img_resolution=c["resolution"],
                           mapping_layers=c["mapping_layers"], channel_base=c["channel_base"],
                           channel_max=c["channel_max"])
        self.D = Discriminator(img_resolution=c["resolution"], channel_base=c["channel_base"],
                               channel_max=c["channel_max"],
                               mbstd_group_size=c["mbstd_group_size"])
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.augment = AugmentPipe()
        self.augment.p.fill_(c["augment_p"])
        self.ada = AdaptiveAugment(batch_size=self.batch, interval_steps=4, p=c["augment_p"])
        self.loss = StyleGAN2Loss(self.G, self.D, augment=self.augment, r1_gamma=c["r1_gamma"],
                                  pl_weight=c["pl_weight"], style_mixing_prob=0.9,
                                  g_reg_interval=4, d_reg_interval=16)
        self.dist = Dist()  # one process: the clean-up alone

        def adam(module, interval):
            ratio = interval / (interval + 1)
            return torch.optim.Adam(module.parameters(), lr=0.0025 * ratio,
                                    betas=(0.0, 0.99 ** ratio), eps=1e-8,
                                    **({"fused": True} if fused_adam else {}))

        self.opt_G, self.opt_D = adam(self.G, 4), adam(self.D, 16)
        self.images = torch.rand(64, 3, c["resolution"], c["resolution"]) * 2 - 1
        self.step_index = 0

    def step(self, clock: PhaseClock) -> None:
        """train_gan's step; the path length, which generator_step runs after G's own loss
        when do_pl, is called on its own here only to be timed apart."""
        i, n = self.step_index, self.batch
        with clock("G"):
            self.opt_G.zero_grad(set_to_none=True)
            z = torch.randn(n, self.z_dim)
            self.loss.generator_step(z, None)
        if i % 4 == 0 and self.loss.pl_weight > 0:
            with clock("PL"):
                self.loss._path_length(z, None, gain=1.0)
        with clock("Adam"):
            reduce_gradients(self.G, self.dist)
            self.opt_G.step()
        with clock("D"):
            self.opt_D.zero_grad(set_to_none=True)
            real = self.images[torch.randint(len(self.images), [n])]
            logs = self.loss.discriminator_step(real, None, torch.randn(n, self.z_dim), None,
                                                do_r1=i % 16 == 0)
        with clock("Adam"):
            reduce_gradients(self.D, self.dist)
            self.opt_D.step()
        with clock("other"):
            self.ada.accumulate(logs.pop("real_signs"))
            _ema(self.G_ema, self.G, n)
        self.step_index += 1

    def images_per_second(self, steps: int, clock: PhaseClock | None = None) -> float:
        """Time `steps` steps (a multiple of 16: R1 and PL amortised exactly)."""
        clock = clock or PhaseClock()
        self.step_index = 0
        started = time.perf_counter()
        for _ in range(steps):
            self.step(clock)
        return steps * self.batch / (time.perf_counter() - started)


class ReferenceTrainer:
    """StyleGAN2-ADA's training inner loop (its training/training_loop.py, the part inside
    ``while True``) at one of this file's configurations, built from a local checkout."""

    def __init__(self, checkout: Path, config: dict, seed: int = 0):
        networks_module, loss_module, self.misc = _import_stylegan2_ada(checkout)
        torch.manual_seed(seed)
        c = config
        self.batch, self.z_dim = c["batch"], c["z_dim"]
        fp32 = dict(channel_base=c["channel_base"], channel_max=c["channel_max"],
                    num_fp16_res=0, conv_clamp=None)
        self.G = networks_module.Generator(
            z_dim=c["z_dim"], c_dim=0, w_dim=c["w_dim"], img_resolution=c["resolution"],
            img_channels=3, mapping_kwargs=dict(num_layers=c["mapping_layers"]),
            synthesis_kwargs=fp32).train().requires_grad_(False)
        self.D = networks_module.Discriminator(
            c_dim=0, img_resolution=c["resolution"], img_channels=3,
            epilogue_kwargs=dict(mbstd_group_size=c["mbstd_group_size"]),
            **fp32).train().requires_grad_(False)
        self.G_ema = copy.deepcopy(self.G).eval()
        self.loss = loss_module.StyleGAN2Loss(
            device=torch.device("cpu"), G_mapping=self.G.mapping, G_synthesis=self.G.synthesis,
            D=self.D, augment_pipe=None, style_mixing_prob=0.9, r1_gamma=c["r1_gamma"],
            pl_batch_shrink=2, pl_decay=0.01, pl_weight=c["pl_weight"])
        self.phases = []  # (name, module, optimiser, interval), as its training_loop builds them
        for name, module, interval in (("G", self.G, 4), ("D", self.D, 16)):
            ratio = interval / (interval + 1)
            opt = torch.optim.Adam(module.parameters(), lr=0.0025 * ratio,
                                   betas=(0.0, 0.99 ** ratio), eps=1e-8)
            self.phases += [(name + "main", module, opt, 1), (name + "reg", module, opt, interval)]
        self.images = torch.rand(64, 3, c["resolution"], c["resolution"]) * 2 - 1
        self.step_index = 0

    def step(self, clock: PhaseClock) -> None:
        n = self.batch
        real = self.images[torch.randint(len(self.images), [n])]
        real_c = torch.zeros([n, 0])
        all_gen_z = torch.randn([len(self.phases), n, self.z_dim])
        for (name, module, opt, interval), gen_z in zip(self.phases, all_gen_z, strict=True):
            if self.step_index % interval != 0:
                continue
            with clock({"Gmain": "G", "Greg": "PL"}.get(name, "D")):
                opt.zero_grad(set_to_none=True)
                module.requires_grad_(True)
                self.loss.accumulate_gradients(phase=name, real_img=real, real_c=real_c,
                                               gen_z=gen_z, gen_c=real_c, sync=True,
                                               gain=interval)
                module.requires_grad_(False)
            with clock("Adam"):
                for param in module.parameters():
                    if param.grad is not None:
                        self.misc.nan_to_num(param.grad, nan=0, posinf=1e5, neginf=-1e5,
                                             out=param.grad)
                opt.step()
        with clock("other"):
            _ema(self.G_ema, self.G, n)
        self.step_index += 1

    images_per_second = Trainer.images_per_second


def _import_stylegan2_ada(checkout: Path):
    """(training.networks, training.loss, torch_utils.misc) of a StyleGAN2-ADA checkout."""
    checkout = Path(checkout).resolve()
    if not (checkout / "training" / "networks.py").is_file():
        raise SystemExit(f"train_throughput: {checkout} is not a checkout of "
                         "NVlabs/stylegan2-ada-pytorch (no training/networks.py)")
    sys.path.insert(0, str(checkout))
    try:
        import warnings

        with warnings.catch_warnings():  # its conv2d_gradfix warns about unknown torch versions
            warnings.simplefilter("ignore")
            return (importlib.import_module("training.networks"),
                    importlib.import_module("training.loss"),
                    importlib.import_module("torch_utils.misc"))
    finally:
        sys.path.remove(str(checkout))


def _parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _with_modconv(function, call):
    original = networks.modulated_conv2d
    networks.modulated_conv2d = function  # SynthesisLayer looks the name up at call time
    try:
        return call()
    finally:
        networks.modulated_conv2d = original


def _measure_auto32(steps: int, rounds: int, variants: bool) -> dict:
    """Ours, and (when `variants`) StyleGAN2's grouped modulated convolution, interleaved
    round by round so that both see the same load; the ratio is taken per round."""
    ours, grouped = Trainer(AUTO32), Trainer(AUTO32)
    ours.images_per_second(2)  # warm-up: allocator, oneDNN kernels
    if variants:
        _with_modconv(grouped_modulated_conv2d, lambda: grouped.images_per_second(2))
    rates, ratios, loads = [], [], []
    for _ in range(rounds):
        rates.append(ours.images_per_second(steps))
        loads.append(_load())
        if variants:
            other = _with_modconv(grouped_modulated_conv2d,
                                  lambda: grouped.images_per_second(steps))
            ratios.append(rates[-1] / other)
            loads.append(_load())
    rate = statistics.median(rates)
    out = {"config": AUTO32, "images_per_second": round(rate, 2),
           "per_round": [round(r, 2) for r in rates], "target": TARGET_IMAGES_PER_SECOND,
           "meets_target": rate >= TARGET_IMAGES_PER_SECOND,
           "seconds_per_kimg": round(1000 / rate, 1), "load_average_1min": loads}
    if variants:
        out["ours_over_grouped_modconv"] = round(statistics.median(ratios), 2)
    return out


def _measure_side_by_side(checkout: Path, steps: int, rounds: int) -> dict:
    """Ours and StyleGAN2-ADA's loop at AUTO32 in alternating rounds, ours first in even
    rounds: the ratio is taken per round, then its median overall and per order."""
    ours, reference = Trainer(AUTO32), ReferenceTrainer(checkout, AUTO32)
    counts = {"ours": {"G": _parameters(ours.G), "D": _parameters(ours.D)},
              "stylegan2_ada": {"G": _parameters(reference.G), "D": _parameters(reference.D)}}
    if counts["ours"] != counts["stylegan2_ada"]:
        raise SystemExit(f"train_throughput: the two configurations differ: {counts}")
    for trainer in (ours, reference):
        trainer.images_per_second(16)  # warm-up: allocator, oneDNN kernels, lazy imports
    clocks = {"ours": PhaseClock(), "stylegan2_ada": PhaseClock()}
    rates: dict[str, list[float]] = {"ours": [], "stylegan2_ada": []}
    loads = []
    for index in range(rounds):
        order = ("ours", "stylegan2_ada") if index % 2 == 0 else ("stylegan2_ada", "ours")
        for side in order:
            trainer = ours if side == "ours" else reference
            rates[side].append(trainer.images_per_second(steps, clocks[side]))
            loads.append(_load())
    ratios = [a / b for a, b in zip(rates["ours"], rates["stylegan2_ada"], strict=True)]
    cycles = rounds * steps / 16
    phases = {side: {phase: round(seconds / cycles, 3)
                     for phase, seconds in clock.seconds.items()}
              for side, clock in clocks.items()}
    return {
        "checkout": "NVlabs/stylegan2-ada-pytorch, training/training_loop.py's inner loop",
        "config": AUTO32, "parameters": counts, "steps_per_round": steps, "rounds": rounds,
        "images_per_second": {side: round(statistics.median(r), 2) for side, r in rates.items()},
        "per_round": {side: [round(x, 2) for x in r] for side, r in rates.items()},
        "ours_over_stylegan2_ada": round(statistics.median(ratios), 2),
        "ours_over_stylegan2_ada_per_round": [round(x, 2) for x in ratios],
        "ours_first_median": round(statistics.median(ratios[0::2]), 2),
        "stylegan2_ada_first_median": round(statistics.median(ratios[1::2]), 2),
        "seconds_per_16_steps": phases,
        "load_average_1min": loads,
    }


def _carried_side_by_side(path: Path = RESULTS_FILE) -> dict | None:
    """The last measured side-by-side section of the committed results, with its date."""
    try:
        earlier = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    section = earlier.get("stylegan2_ada")
    if not isinstance(section, dict) or "ours_over_stylegan2_ada" not in section:
        return None
    when = section.get("carried_from") or earlier.get("_machine", {}).get("when")
    return section | {"carried_from": when}


def _measure_adam(repeats: int = 20) -> dict:
    """Milliseconds per G + D optimiser step for AUTO32's parameters, default vs fused."""
    out = {}
    for fused in (False, True, False, True):   # twice each, interleaved; keep the best
        trainer = Trainer(AUTO32, fused_adam=fused)
        for p in [*trainer.G.parameters(), *trainer.D.parameters()]:
            p.grad = torch.randn_like(p)
        trainer.opt_G.step()
        trainer.opt_D.step()
        started = time.perf_counter()
        for _ in range(repeats):
            trainer.opt_G.step()
            trainer.opt_D.step()
        ms = (time.perf_counter() - started) / repeats * 1000
        key = "fused_ms_per_step" if fused else "default_ms_per_step"
        out[key] = round(min(ms, out.get(key, ms)), 1)
    out["load_average_1min"] = _load()
    return out


def _with_lowpass(form_depthwise: bool, call):
    original = networks.lowpass_each_channel

    def forced(x, gain, conv=F.conv2d, depthwise=None, **kwargs):
        return original(x, gain, conv, form_depthwise, **kwargs)

    networks.lowpass_each_channel = forced  # upsample2x/downsample2x look it up at call time
    try:
        return call()
    finally:
        networks.lowpass_each_channel = original


def _measure_lowpass(steps: int, rounds: int) -> dict:
    depthwise, single = Trainer(PRESETS[PROPOSED_PRESET]), Trainer(PRESETS[PROPOSED_PRESET])
    for trainer, form in ((depthwise, True), (single, False)):
        _with_lowpass(form, lambda t=trainer: t.images_per_second(2))
    rates = {"depthwise": [], "single_channel": []}
    for _ in range(rounds):
        rates["depthwise"].append(_with_lowpass(True, lambda: depthwise.images_per_second(steps)))
        rates["single_channel"].append(
            _with_lowpass(False, lambda: single.images_per_second(steps)))
    ratios = [a / b for a, b in zip(rates["depthwise"], rates["single_channel"], strict=True)]
    return {"preset": PROPOSED_PRESET,
            **{f"{form}_images_per_second": [round(r, 2) for r in rs]
               for form, rs in rates.items()},
            "depthwise_over_single_channel": round(statistics.median(ratios), 2),
            "load_average_1min": _load()}


def _measure_presets(steps: int, names: list[str]) -> dict:
    out = {}
    for name in names:
        config = PRESETS[name]
        trainer = Trainer(config)
        trainer.images_per_second(2)
        rate = trainer.images_per_second(steps)
        out[name] = {"config": config, "images_per_second": round(rate, 2),
                     "kimg_in_15_min": round(rate * RUN_SECONDS / 1000, 1),
                     "steps_in_15_min": int(rate * RUN_SECONDS / config["batch"]),
                     "load_average_1min": _load()}
    return out


# The CPU's convolution kernels, forward and backward (oneDNN's, or the fallback of a build
# without it), with the index of the weight among each operator's inputs.
CONVOLUTION_KERNELS = {"aten::mkldnn_convolution": 1, "aten::convolution_backward": 2,
                       "aten::_slow_conv2d_forward": 1, "aten::_slow_conv2d_backward": 2}


def _conv_throughput(repeats: int) -> dict:
    """GFLOP/s of a 3x3, 128-channel convolution at 32 px (batch 8), forward and forward +
    backward (3x the forward's arithmetic), beside a matrix product of the forward's."""
    x = torch.randn(8, 128, 32, 32, requires_grad=True)
    w = torch.randn(128, 128, 3, 3, requires_grad=True)
    flop = 2 * 8 * 128 * 128 * 9 * 32 * 32
    a, b = torch.randn(128, 128 * 9), torch.randn(128 * 9, 8 * 32 * 32)

    def forward_backward():
        F.conv2d(x, w, padding=1).sum().backward()

    out = {}
    for name, call, arithmetic in (("forward", lambda: F.conv2d(x, w, padding=1), flop),
                                   ("forward_backward", forward_backward, 3 * flop),
                                   ("matmul_same_arithmetic", lambda: a @ b, flop)):
        for _ in range(3):
            call()
        started = time.perf_counter()
        for _ in range(repeats):
            call()
        seconds = (time.perf_counter() - started) / repeats
        out[f"{name}_gflop_per_s"] = round(arithmetic / seconds / 1e9, 1)
    return out


def _measure_where_time_goes(steps: int, side_by_side, config: dict = AUTO32,
                             conv_repeats: int = 20) -> dict:
    """See the module docstring (6)."""
    from torch.profiler import ProfilerActivity, profile

    trainer = Trainer(config)
    trainer.images_per_second(4)  # warm-up: allocator, oneDNN kernels
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        trainer.images_per_second(steps)
    total = conv = conv3x3 = 0.0
    for event in prof.key_averages(group_by_input_shape=True):
        total += event.self_cpu_time_total
        if event.key in CONVOLUTION_KERNELS:
            conv += event.self_cpu_time_total
            weight = event.input_shapes[CONVOLUTION_KERNELS[event.key]]
            if len(weight) == 4 and weight[1] > 1 and weight[2:] == [3, 3]:
                conv3x3 += event.self_cpu_time_total
    out = {"steps": steps, "conv_share": round(conv / total, 3),
           "conv3x3_full_width_share": round(conv3x3 / total, 3),
           "conv3x3_32px": _conv_throughput(conv_repeats), "load_average_1min": _load()}
    return {**out, **_ceiling(side_by_side, out["conv_share"])}


def _ceiling(side_by_side, conv_share: float) -> dict:
    """The side-by-side ratio with everything but the convolutions free (nothing when there
    is no side-by-side result)."""
    if (not isinstance(side_by_side, dict) or "ours_over_stylegan2_ada" not in side_by_side
            or conv_share <= 0):
        return {}
    return {"ceiling_over_stylegan2_ada": round(
        side_by_side["ours_over_stylegan2_ada"] / conv_share, 2)}


def run(quick: bool = False, stylegan2_ada: str | None = None) -> dict:
    """``stylegan2_ada``: a checkout of NVlabs/stylegan2-ada-pytorch to time beside ours."""
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        started = time.time()
        result = {"threads": THREADS,
                  "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
        result["auto32"] = _measure_auto32(steps=16 if quick else 32, rounds=1 if quick else 3,
                                           variants=not quick)
        if stylegan2_ada:
            result["stylegan2_ada"] = _measure_side_by_side(
                Path(stylegan2_ada), steps=16 if quick else 32, rounds=2 if quick else 12)
        else:
            result["stylegan2_ada"] = _carried_side_by_side() or (
                "not measured: python -m benchmarks train_throughput --stylegan2-ada CHECKOUT")
        result["adam"] = _measure_adam()
        if not quick:
            result["lowpass"] = _measure_lowpass(steps=16, rounds=3)
        names = [PROPOSED_PRESET] if quick else list(PRESETS)
        result["presets"] = _measure_presets(steps=16 if quick else 32, names=names)
        result["proposed_cpu_preset"] = PROPOSED_PRESET
        result["where_the_time_goes"] = _measure_where_time_goes(
            steps=16 if quick else 32, side_by_side=result["stylegan2_ada"])
        result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        result["seconds"] = round(time.time() - started, 1)
        return result
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    import json
    print(json.dumps(run(quick=True), indent=2))
