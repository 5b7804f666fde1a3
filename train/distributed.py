"""Data-parallel training: torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; without them this is
one process and every helper here does nothing.

    dist = setup_distributed()                  # torchrun's env vars switch it on
    ...
    reduce_gradients(model, dist)               # after backward, before optimiser.step()

Gradients are averaged explicitly (no DistributedDataParallel), so lazily regularised steps and
several backward passes per step need no DDP tricks.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed

from marcus.errors import UserError


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
        raise UserError("device=cuda was asked for, but torch sees no CUDA device "
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


def reduce_gradients(modules: torch.nn.Module | Iterable[torch.nn.Module], dist: Dist) -> None:
    """After backward, before the optimiser's step: average ``.grad`` over ranks (what DDP
    does, done explicitly so that lazily regularised steps and several backward passes per
    step need no DDP tricks), then make every gradient finite, NaN to 0 and +-inf to +-1e5,
    as StyleGAN2-ADA does: one float16 overflow must not put NaN into the weights and Adam's
    moments for good. All gradients go in one flat buffer: one collective per call; finite
    gradients come back unchanged, bit for bit."""
    if isinstance(modules, torch.nn.Module):
        modules = [modules]
    params = [p for m in modules for p in m.parameters() if p.grad is not None]
    if not params:
        return
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    if dist.enabled:
        torch.distributed.all_reduce(flat)
        flat /= dist.world_size
    torch.nan_to_num(flat, nan=0.0, posinf=1e5, neginf=-1e5, out=flat)
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
