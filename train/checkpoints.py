"""Seeds, RNG capture and atomic checkpoints: what makes a resumed training run exact on CPU.

    seed_everything(seed, dist.rank)
    ckpt = load_checkpoint(run_dir / "last.pt", expect=config_fingerprint)
    ...
    save_checkpoint(run_dir / "last.pt", {..., "rng": all_rng_states(dist)})

A checkpoint holds every piece of state that influences the next step: weights, optimiser
moments, counters, and the Python, NumPy and torch RNG states of every rank. It carries a
``fingerprint`` of the configuration and data it was made with; a run with other params or
other data ignores a stale checkpoint instead of resuming from it (DVC keeps the run folder
across ``dvc exp run -S ...`` because it is ``persist``).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed

from marcus.atomic import atomic_path
from train.distributed import Dist


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


def all_rng_states(dist: Dist) -> list[dict]:
    """Every rank's RNG state, in rank order (a collective: all ranks must call it)."""
    if not dist.enabled:
        return [rng_state()]
    states: list = [None] * dist.world_size
    torch.distributed.all_gather_object(states, rng_state())
    return states


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
