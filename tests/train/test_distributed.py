"""Gradients between backward and the optimiser's step (train/distributed.py): averaged over
ranks and made finite, in one process and in two gloo processes running the code NCCL runs."""

from __future__ import annotations

import pytest
import torch
import torch.distributed
import torch.multiprocessing as mp

from train.distributed import Dist, reduce_gradients


def _module_with_grads(*grads: list[float]) -> torch.nn.Module:
    module = torch.nn.ParameterList(torch.nn.Parameter(torch.zeros(len(g))) for g in grads)
    for p, g in zip(module, grads, strict=True):
        p.grad = torch.tensor(g)
    return module


def test_finite_gradients_come_back_bit_for_bit_and_others_become_finite():
    finite = [0.1, -3.5e-8, 7e4]
    module = _module_with_grads(finite, [float("nan"), float("inf"), -float("inf"), 2.0])
    module.append(torch.nn.Parameter(torch.zeros(2)))                 # no gradient: left alone
    reduce_gradients(module, Dist())
    assert torch.equal(module[0].grad, torch.tensor(finite))
    assert module[1].grad.tolist() == [0.0, 1e5, -1e5, 2.0]
    assert module[2].grad is None


def _rank(rank: int, init_file: str, results) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}",
                                         rank=rank, world_size=2)
    try:
        overflow = float("inf") if rank == 1 else 1.0    # one rank's float16 step overflowed
        module = _module_with_grads([rank + 1.0, 10.0 * rank], [overflow])
        reduce_gradients(module, Dist(rank=rank, world_size=2))
        results[rank] = [p.grad.tolist() for p in module]
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.e2e   # two processes: seconds
def test_two_gloo_ranks_average_their_gradients_and_an_overflow_on_one_is_made_finite(tmp_path):
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_rank, args=(str(tmp_path / "init"), results), nprocs=2)
        assert results[0] == results[1] == [[1.5, 5.0], [1e5]]
