"""The training stream: which packed images each rank trains on, decoded ahead of the loop.

    from train.stream import real_batches
    batches = real_batches(data, seed=1234, batch_size=64, batch_gpu=16, rank=0, world_size=2,
                           start_nimg=0, workers=4, prefetch_batches=2)
    images, indices = next(batches)   # uint8 [16, R, R, 3], int64 [16]: rows of data.labels

The order is a pure function of (seed, number of images, position), never of the run's other
random draws or of how many workers decode:

- the global stream is epoch after epoch, each a permutation of the split seeded by
  ``(seed, epoch)``, so every image is shown once per epoch (StyleGAN2-ADA draws the same way);
- optimiser step ``s`` takes stream positions ``[s * batch_size, (s + 1) * batch_size)``, and
  rank ``r`` the ``r``-th slice of ``batch_size / world_size`` of them, ``batch_gpu`` at a time;
- a run resumed at ``cur_nimg`` starts the stream at that position, so it reads exactly the
  images an uninterrupted run would have read next.

``workers`` DataLoader processes decode ahead (``prefetch_batches`` each); DataLoader hands the
batches back in order, so the images are the same with 0 or 8 workers. The loader gets its own
seeded generator: it would otherwise take a draw from torch's global RNG, and the training's
random stream would depend on this module.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from train.data import PackedImages


def epoch_order(seed: int, epoch: int, count: int) -> np.ndarray:
    """The permutation of ``count`` images that epoch ``epoch`` shows."""
    return np.random.Generator(np.random.PCG64([seed, epoch])).permutation(count)


class RankOrder(Sampler[int]):
    """The endless sequence of image indices one rank reads, from stream position
    ``start_nimg`` (a multiple of ``batch_size``) on."""

    def __init__(self, count: int, seed: int, batch_size: int, rank: int, world_size: int,
                 start_nimg: int = 0):
        if count < 1:
            raise ValueError("the training split is empty")
        if batch_size % world_size or start_nimg % batch_size:
            raise ValueError(f"batch_size {batch_size} must split evenly over {world_size} "
                             f"ranks, and start_nimg {start_nimg} must be a multiple of it")
        self.count, self.seed, self.batch_size = count, seed, batch_size
        self.share = batch_size // world_size
        self.rank, self.start_nimg = rank, start_nimg

    def __iter__(self) -> Iterator[int]:
        orders: dict[int, np.ndarray] = {}
        step_start = self.start_nimg
        while True:
            first = step_start + self.rank * self.share
            for position in range(first, first + self.share):
                epoch, offset = divmod(position, self.count)
                if epoch not in orders:
                    orders = {e: o for e, o in orders.items() if e >= epoch - 1}
                    orders[epoch] = epoch_order(self.seed, epoch, self.count)
                yield int(orders[epoch][offset])
            step_start += self.batch_size


class DecodedImages(Dataset):
    """``(uint8 [R, R, 3] tensor, index)`` for an index of a packed split."""

    def __init__(self, data: PackedImages):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.data.decode(index)), index


def real_batches(data: PackedImages, seed: int, batch_size: int, batch_gpu: int, rank: int,
                 world_size: int, start_nimg: int = 0, workers: int = 0,
                 prefetch_batches: int = 2,
                 pin_memory: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """This rank's real images, ``batch_gpu`` at a time, forever (see the module docstring)."""
    order = RankOrder(len(data), seed, batch_size, rank, world_size, start_nimg)
    loader = DataLoader(DecodedImages(data), batch_size=batch_gpu, sampler=order,
                        num_workers=workers,
                        prefetch_factor=prefetch_batches if workers else None,
                        persistent_workers=workers > 0, pin_memory=pin_memory,
                        generator=torch.Generator().manual_seed(seed))
    return iter(loader)
