"""train.stream, the training stream: every image once per epoch, each step's images split
among the ranks, a resumed run reading exactly what an uninterrupted one would read next, and
the same batches whatever the number of DataLoader workers, without touching torch's RNG.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from tests.train.helpers import collection, stage
from train.data import PackedImages
from train.pack import pack
from train.stream import RankOrder, epoch_order, real_batches


def take(order: RankOrder, count: int) -> list[int]:
    return list(itertools.islice(iter(order), count))


def test_every_image_is_shown_once_per_epoch_in_a_seeded_order():
    stream = take(RankOrder(10, seed=7, batch_size=4, rank=0, world_size=1), 30)
    for epoch in range(3):
        assert sorted(stream[10 * epoch:10 * (epoch + 1)]) == list(range(10))
    assert stream[:10] != stream[10:20]                          # a new order each epoch
    assert stream[:10] == list(epoch_order(7, 0, 10))
    assert take(RankOrder(10, seed=8, batch_size=4, rank=0, world_size=1), 10) != stream[:10]


def test_ranks_split_each_step_and_together_read_the_single_process_stream():
    single = take(RankOrder(13, seed=1, batch_size=8, rank=0, world_size=1), 8 * 5)
    ranks = [take(RankOrder(13, seed=1, batch_size=8, rank=r, world_size=2), 4 * 5)
             for r in range(2)]
    for step in range(5):
        assert single[8 * step:8 * step + 4] == ranks[0][4 * step:4 * step + 4]
        assert single[8 * step + 4:8 * step + 8] == ranks[1][4 * step:4 * step + 4]


def test_a_resumed_stream_continues_exactly_where_the_run_stood():
    whole = take(RankOrder(11, seed=3, batch_size=6, rank=1, world_size=2), 3 * 40)
    resumed = take(RankOrder(11, seed=3, batch_size=6, rank=1, world_size=2, start_nimg=6 * 25),
                   3 * 15)
    assert resumed == whole[3 * 25:]


@pytest.mark.parametrize("count, batch_size, world_size, start", [
    (0, 4, 1, 0), (10, 5, 2, 0), (10, 4, 1, 6)])
def test_impossible_streams_are_refused(count, batch_size, world_size, start):
    with pytest.raises(ValueError):
        RankOrder(count, seed=0, batch_size=batch_size, rank=0, world_size=world_size,
                  start_nimg=start)


def test_batches_are_the_same_with_or_without_workers_and_leave_torch_rng_alone(tmp_path):
    collection(tmp_path, count=10)
    pack(*stage(tmp_path, resolution=16, val_fraction=0))
    data = PackedImages(tmp_path / "pack", "train")
    torch.manual_seed(5)
    before = torch.get_rng_state()
    runs = {}
    for workers in (0, 2):
        batches = real_batches(data, seed=2, batch_size=8, batch_gpu=4, rank=0, world_size=1,
                               workers=workers)
        runs[workers] = [next(batches) for _ in range(6)]     # 24 images: past two epochs
    assert torch.equal(torch.get_rng_state(), before)
    expected = take(RankOrder(len(data), seed=2, batch_size=8, rank=0, world_size=1), 24)
    for workers, run in runs.items():
        images = torch.cat([b[0] for b in run])
        indices = torch.cat([b[1] for b in run])
        assert indices.tolist() == expected, workers
        assert images.dtype == torch.uint8 and images.shape == (24, 16, 16, 3)
        assert np.array_equal(images.numpy(), data.batch(expected))
