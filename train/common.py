"""Conventions shared by the training stages (GAN, upscaler, encoder): distributed set-up,
seeding and RNG capture, atomic checkpoints, and the per-tick log.

Nothing here runs on its own; `train/train_gan.py` and `train/train_upscaler.py` read top to
bottom and call these helpers at the obvious places::

    dist = setup_distributed()                  # torchrun's env vars switch DDP on
    seed_everything(seed, dist.rank)
    ckpt = load_checkpoint(run_dir / "last.pt", expect=config_fingerprint)
    ...
    average_gradients(model, dist)              # after backward, before optimiser.step()
    ...
    save_checkpoint(run_dir / "last.pt", {..., "rng": rng_state()})

Resuming is exact on CPU because a checkpoint holds every piece of state that influences the
next step: weights, optimiser moments, counters, and the Python, NumPy and torch RNG states of
the rank that saved it. Checkpoints carry a ``fingerprint`` of the configuration and data they
were made with; a run with other params or other data ignores a stale checkpoint instead of
resuming from it (DVC keeps the run folder across ``dvc exp run -S ...`` because it is
``persist``).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import resource
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed

from marcus.atomic import atomic_dir, atomic_path

# ----------------------------------------------------------------------------------------------
# Configuration: presets in params.yaml


def resolve_preset(stage: str, params: dict, preset_name: str | None = None,
                   overrides: dict | None = None) -> dict:
    """The named preset of a stage's params section (default: its ``preset``), following
    ``extends: OTHER`` links so that a preset lists only what differs from OTHER; then the
    non-None ``overrides`` (command-line flags). ``config["preset"]`` names the preset."""
    presets = params.get("presets", {})
    name = preset_name or params["preset"]
    chain, config = [], {}
    while name is not None:
        if name not in presets:
            raise SystemExit(f"{stage}: unknown preset {name!r} (have: {', '.join(presets)})")
        if name in chain:
            raise SystemExit(f"{stage}: presets extend each other in a loop: {chain}")
        chain.append(name)
        name = presets[name].get("extends")
    for link in reversed(chain):
        config.update({k: v for k, v in presets[link].items() if k != "extends"})
    config.update({k: v for k, v in (overrides or {}).items() if v is not None})
    config["preset"] = chain[0]
    return config


def available_memory_bytes(device: torch.device | None = None) -> int:
    """Free memory on ``device``: CUDA's free bytes, or MemAvailable of /proc/meminfo for the
    CPU; a huge number where it cannot be read (not Linux), so that nothing is refused."""
    if device is not None and device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 2**62


PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = ("crawl", "curate", "marcus", "train")


def code_version() -> str:
    """``sha256:`` + 16 hex digits over the project source files this process has imported
    (their paths and bytes). The same code gives the same value in any clone and at any
    commit, so a model folder's hash depends on its code, never on ``git describe``; a
    change to any file the stage ran gives a new value (and, through its deps, a rerun)."""
    files = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path:
            continue
        path = Path(path).resolve()
        if path.is_relative_to(PROJECT_ROOT) and path.suffix == ".py" \
                and path.relative_to(PROJECT_ROOT).parts[0] in PROJECT_PACKAGES:
            files.add(path.relative_to(PROJECT_ROOT).as_posix())
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + (PROJECT_ROOT / name).read_bytes() + b"\0")
    return f"sha256:{digest.hexdigest()[:16]}"


# ----------------------------------------------------------------------------------------------
# Distributed: torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; without them this is one process.


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: str = "auto") -> Dist:
    """One process per device. ``device``: "auto" (CUDA when available), "cpu" or "cuda"."""
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if use_cuda and not torch.cuda.is_available():
        raise SystemExit("device=cuda was asked for, but torch sees no CUDA device "
                         "(install a CUDA build of torch 2.13 first, see README)")
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    if world_size > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend="nccl" if use_cuda else "gloo")
    return Dist(rank=rank, world_size=world_size, local_rank=local_rank, device=dev)


def teardown_distributed(dist: Dist) -> None:
    if dist.enabled and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def average_gradients(modules: torch.nn.Module | Iterable[torch.nn.Module], dist: Dist) -> None:
    """All-reduce and average ``.grad`` over ranks (what DDP does, done explicitly so that
    lazily regularised steps and several backward passes per step need no DDP tricks). All
    gradients go in one flat buffer: one collective per call."""
    if not dist.enabled:
        return
    if isinstance(modules, torch.nn.Module):
        modules = [modules]
    params = [p for m in modules for p in m.parameters() if p.grad is not None]
    if not params:
        return
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    torch.distributed.all_reduce(flat)
    flat /= dist.world_size
    offset = 0
    for p in params:
        n = p.grad.numel()
        p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
        offset += n


def average_tensors(tensors: Iterable[torch.Tensor], dist: Dist) -> None:
    """Average tensors in place over ranks: running statistics that each rank updates from
    its own batch (the generator's mean w, the path-length mean) must stay identical."""
    if not dist.enabled:
        return
    for t in tensors:
        torch.distributed.all_reduce(t.data)
        t.data /= dist.world_size


def broadcast_module(module: torch.nn.Module, dist: Dist) -> None:
    """Copy rank 0's parameters and buffers to every rank (after a resume, say)."""
    if not dist.enabled:
        return
    for tensor in list(module.parameters()) + list(module.buffers()):
        torch.distributed.broadcast(tensor.data, src=0)


def all_reduce_mean(value: float, dist: Dist) -> float:
    if not dist.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    torch.distributed.all_reduce(t)
    return float(t.item()) / dist.world_size


# ----------------------------------------------------------------------------------------------
# Seeds and RNG state


def seed_everything(seed: int, rank: int = 0) -> None:
    """Seed Python, NumPy and torch; ranks draw different noise but build identical weights
    (models are built before this is called again with the rank, see train_gan)."""
    s = seed + 1_000_003 * rank
    random.seed(s)
    np.random.seed(s % 2**32)
    torch.manual_seed(s)


def rng_state() -> dict:
    """Every global RNG state, as plain values and tensors (loadable with weights_only)."""
    version, internal, gauss = random.getstate()
    state = {"python": [version, list(internal), gauss],
             "numpy": _numpy_state_to_plain(np.random.get_state()),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(_numpy_state_from_plain(state["numpy"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def _numpy_state_to_plain(state: tuple) -> list:
    name, keys, pos, has_gauss, cached = state
    return [name, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss),
            float(cached)]


def _numpy_state_from_plain(state: list) -> tuple:
    name, keys, pos, has_gauss, cached = state
    return (name, keys.numpy().astype(np.uint32), pos, has_gauss, cached)


# ----------------------------------------------------------------------------------------------
# Checkpoints


def all_rng_states(dist: Dist) -> list[dict]:
    """Every rank's RNG state, in rank order (a collective: all ranks must call it)."""
    if not dist.enabled:
        return [rng_state()]
    states: list = [None] * dist.world_size
    torch.distributed.all_gather_object(states, rng_state())
    return states


def rank_weight_digests(module: torch.nn.Module, dist: Dist) -> list[str]:
    """A short hash of ``module``'s weights from every rank, in rank order (a collective): data
    parallel training must end with the same weights everywhere, and model cards record it."""
    digest = hashlib.sha256(b"".join(t.detach().cpu().numpy().tobytes()
                                     for t in module.state_dict().values())).hexdigest()[:16]
    if not dist.enabled:
        return [digest]
    digests: list = [None] * dist.world_size
    torch.distributed.all_gather_object(digests, digest)
    return digests


def fingerprint(*parts) -> str:
    """A short stable hash of JSON-able parts (params sections, data fingerprints)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def save_checkpoint(path: str | os.PathLike, checkpoint: dict) -> None:
    """torch.save through a temporary file and a rename: a kill at any moment leaves the
    previous checkpoint or the new one, never half of one."""
    with atomic_path(path) as tmp:
        torch.save(_canonical(checkpoint), tmp)


def _canonical(value):
    """``value`` with its strings interned and its dicts, lists and tuples rebuilt. Pickle
    memoizes by object identity, so without this a checkpoint saved after a resume (whose
    optimizer state has unpickled, not interned, keys) differs in bytes from the same
    checkpoint of an uninterrupted run, and DVC sees a different ``persist`` out."""
    if isinstance(value, str):
        return sys.intern(value)
    if type(value) is dict:
        return {_canonical(k): _canonical(v) for k, v in value.items()}
    if type(value) is list:
        return [_canonical(v) for v in value]
    if type(value) is tuple:
        return tuple(_canonical(v) for v in value)
    return value


def load_checkpoint(path: str | os.PathLike, expect: str | None = None) -> dict | None:
    """The checkpoint at ``path``, or None when there is none or it belongs to another
    configuration (its ``fingerprint`` differs from ``expect``)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a foreign or damaged file is not resumed from
        print(f"ignoring unreadable checkpoint {path}: {type(exc).__name__}: {exc}")
        return None
    if expect is not None and checkpoint.get("fingerprint") != expect:
        print(f"ignoring checkpoint {path}: made with other params or data "
              f"({checkpoint.get('fingerprint')} != {expect})")
        return None
    return checkpoint


def load_model_file(path: str | os.PathLike, filename: str, keys: tuple[str, ...],
                    what: str, hint: str) -> dict:
    """A saved model dict: ``path`` is the file, its model folder (``filename`` inside) or a
    training checkpoint; it must hold ``keys``. Clear exits for a wrong path or file."""
    path = Path(path)
    if path.is_dir():
        path = path / filename
    if not path.is_file():
        raise SystemExit(f"no {what} at {path} ({hint})")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise SystemExit(f"{path} is not a readable {what} file: "
                         f"{type(exc).__name__}: {exc}") from None
    if not isinstance(saved, dict) or any(k not in saved for k in keys):
        raise SystemExit(f"{path} is not a {what} file (it lacks {' / '.join(keys)})")
    return saved


def model_card(model: str, pack_dir: str | os.PathLike, params: dict, metrics: dict,
               **extra) -> dict:
    """What every model folder's ``card.json`` says: what the model is, the data it learnt
    from (the pack's fingerprint and its curated manifest's hash, images per split, per source
    and per licence rule), the code version, the params and the final metrics."""
    card: dict = {"model": model, "code_version": code_version()}
    summary = Path(pack_dir) / "pack.json"
    if summary.is_file():
        info = json.loads(summary.read_text())
        card |= {"pack_fingerprint": info.get("fingerprint"),
                 "manifest_sha256": info.get("manifest_sha256"), "images": info.get("counts")}
        manifest = Path(info.get("params", {}).get("curated", ""))
        if manifest.is_file():
            import pandas as pd
            curated = pd.read_parquet(manifest, columns=["source", "licence_rule"])
            card["per_source"] = curated["source"].value_counts().sort_index().to_dict()
            # "flag:PD + <rule> (evidence) [qualifier]": the date rule that agreed with the
            # source's flag, without its evidence ("life+71", "undated", "workshop: ...").
            rules = (curated["licence_rule"].str.split(" + ", n=1, regex=False).str[1]
                     .str.replace(r" \([^)]*\)| \[[^\]]*\]", "", regex=True))
            card["per_licence_rule"] = (rules.fillna("other").value_counts().sort_index()
                                        .to_dict())
    else:
        card["data"] = f"not from a pack ({summary} does not exist)"
    # Wall-clock time is not content: with it, two runs that end with identical weights would
    # give model folders of different hashes, and DVC would rerun everything downstream.
    metrics = {k: v for k, v in metrics.items() if k != "seconds"}
    return card | extra | {"params": params, "metrics": metrics}


def write_model_folder(folder: str | os.PathLike, card: dict,
                       write_model: Callable[[Path], None]) -> None:
    """Replace the model folder `folder` in one step with the model (``write_model(new_dir)``
    writes its file) and ``card.json``: a model and its card are never out of step, and a
    crash leaves the previous folder whole."""
    with atomic_dir(folder) as tmp:
        write_model(tmp)
        (tmp / "card.json").write_text(json.dumps(card, indent=2) + "\n")


# ----------------------------------------------------------------------------------------------
# Logging


def peak_memory_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


class Ticker:
    """Wall-clock bookkeeping for one log line per tick."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        seconds, self.last = now - self.last, now
        return seconds

    def total(self) -> float:
        return time.perf_counter() - self.start


def open_live(live_dir: str | os.PathLike, tick: int, resumed: bool):
    """The dvclive logger of a training stage, positioned at ``tick`` (tick k is dvclive step
    k - 1): rows that a crash undid are dropped first, so a resumed run logs them again."""
    from dvclive import Live

    trim_dvclive_history(live_dir, tick - 1)
    live = Live(str(live_dir), resume=resumed, dvcyaml=False, save_dvc_exp=False, report=None)
    live.step = tick
    return live


def trim_dvclive_history(live_dir: str | os.PathLike, last_step: int) -> None:
    """Drop dvclive rows logged after ``last_step``: they came from ticks that a crash undid,
    and the resumed run logs those steps again."""
    for tsv in Path(live_dir).glob("plots/metrics/**/*.tsv"):
        lines = tsv.read_text(encoding="utf-8").splitlines()
        if not lines:
            continue
        header, rows = lines[0], lines[1:]
        step_col = header.split("\t").index("step") if "step" in header.split("\t") else None
        if step_col is None:
            continue
        kept = [r for r in rows if int(r.split("\t")[step_col]) <= last_step]
        if len(kept) != len(rows):
            with atomic_path(tsv) as tmp:
                tmp.write_text("\n".join([header, *kept]) + "\n", encoding="utf-8")
