"""Tiled inference: upscale an image of any size with memory bounded by the tile, not the image.

    from train.tiling import upscale, upscale_chain
    big = upscale(model, image, tile_px=256, project=True)               # in memory
    big = upscale_chain([m4, m4], image, tile_px=256, workdir="/tmp/x")  # x16 through disk

The image is cut into tiles of ``tile_px`` input pixels (context included). Each tile keeps
the ``overlap_px`` outer pixels only as context and writes the upscaled core; with overlap at
least ``receptive_radius(model)`` every output pixel sees exactly the input it would see in one
pass over the whole image (zero padding happens only at the true image border, where tile and
image borders coincide), so the tiled result equals the untiled one up to float rounding of the
convolution kernels. The consistency projection works block by block, so it is tile-local.

Large outputs live on disk (``DiskImage``: a raw float32 file read and written by row bands
through short-lived ``np.memmap`` views). A long-lived memmap of the whole output would not
bound memory: the pages it has touched stay resident and count in the process RSS, so every
access maps only the rows it needs and unmaps them at once. Repeated application (x4 then x4)
streams through such an intermediate file.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from train.memory import available_memory_bytes
from train.upscaler import FACTORS, CompactSR, receptive_radius
from train.upscaler import project as project_blocks

BYTES_PER_VALUE = 4  # float32


# ----------------------------------------------------------------------------------------------
# Resources: say clearly what does not fit, before any work


def check_disk(folder: str | os.PathLike, need_bytes: int, what: str) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if need_bytes > free:
        raise RuntimeError(f"{what} needs {need_bytes / 2**30:.2f} GiB on disk but {folder} has "
                           f"{free / 2**30:.2f} GiB free: choose another work folder "
                           "(--workdir) or a smaller print")


def check_memory(need_bytes: int, what: str) -> None:
    have = available_memory_bytes()
    if need_bytes > have:
        raise RuntimeError(f"{what} needs about {need_bytes / 2**30:.2f} GiB of memory but "
                           f"only {have / 2**30:.2f} GiB is available: use a smaller tile_px "
                           "or write the output to disk")


def tile_memory_bytes(model: CompactSR, tile_px: int) -> int:
    """A rough upper estimate of one tile's working memory: two feature maps at the widest
    layer plus about six high-resolution images (shuffle, bilinear base, sum, projection)."""
    widest = max(m.out_channels for m in model.features if isinstance(m, torch.nn.Conv2d))
    low = 2 * widest * tile_px**2
    high = 6 * 3 * (model.factor * tile_px) ** 2
    return (low + high) * BYTES_PER_VALUE


# ----------------------------------------------------------------------------------------------
# An image on disk


class DiskImage:
    """A float32 [H, W, 3] image in a raw file, sliced like an array: ``img[y0:y1, x0:x1]``
    returns a copy, ``img[y0:y1, x0:x1] = block`` writes. Each access maps only the rows it
    touches, so resident memory stays at the size of the slice."""

    def __init__(self, path: str | os.PathLike, height: int, width: int, create: bool = True):
        self.path = Path(path)
        self.shape = (int(height), int(width), 3)
        self.dtype = np.dtype(np.float32)
        nbytes = self.shape[0] * self.shape[1] * 3 * BYTES_PER_VALUE
        if create:
            check_disk(self.path.parent, nbytes, f"a {width}x{height} float image")
            with open(self.path, "wb") as f:
                f.truncate(nbytes)  # sparse: blocks are allocated as rows are written
        elif self.path.stat().st_size != nbytes:
            raise ValueError(f"{self.path}: {self.path.stat().st_size} bytes, expected {nbytes} "
                             f"for {width}x{height}x3 float32")

    @property
    def nbytes(self) -> int:
        return self.shape[0] * self.shape[1] * 3 * BYTES_PER_VALUE

    def _rows(self, key) -> tuple[slice, slice]:
        if not isinstance(key, tuple):
            key = (key, slice(None))
        rows, cols = key[0], key[1] if len(key) > 1 else slice(None)
        for s in (rows, cols):
            if not isinstance(s, slice) or s.step not in (None, 1):
                raise TypeError("DiskImage supports [y0:y1, x0:x1] slices only")
        return rows, cols

    def _band(self, y0: int, y1: int, mode: str) -> np.memmap:
        width = self.shape[1]
        return np.memmap(self.path, dtype=np.float32, mode=mode,
                         offset=y0 * width * 3 * BYTES_PER_VALUE, shape=(y1 - y0, width, 3))

    def __getitem__(self, key) -> np.ndarray:
        rows, cols = self._rows(key)
        y0, y1, _ = rows.indices(self.shape[0])
        if y1 <= y0:
            return np.empty((0, len(range(*cols.indices(self.shape[1]))), 3), np.float32)
        band = self._band(y0, y1, "r")
        out = np.array(band[:, cols])
        del band  # unmap now: the pages leave this process's resident set
        return out

    def __setitem__(self, key, value) -> None:
        rows, cols = self._rows(key)
        y0, y1, _ = rows.indices(self.shape[0])
        if y1 <= y0:
            return
        band = self._band(y0, y1, "r+")
        band[:, cols] = value
        band.flush()
        del band

    def __array__(self, dtype=None, copy=None):
        out = self[:, :]
        return out if dtype is None else out.astype(dtype)


# ----------------------------------------------------------------------------------------------
# Tiled upscaling


def _as_float(block: np.ndarray) -> np.ndarray:
    if block.dtype == np.uint8:
        return block.astype(np.float32) / 255
    return block.astype(np.float32, copy=False)


def validate(model: CompactSR, shape: Sequence[int], tile_px: int, overlap_px: int) -> None:
    if getattr(model, "factor", None) not in FACTORS:
        raise ValueError(f"upscale: the model's factor must be one of {FACTORS}, "
                         f"got {getattr(model, 'factor', None)}")
    if len(shape) != 3 or shape[2] != 3 or shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"upscale: expected an [H, W, 3] image, got shape {tuple(shape)}")
    radius = receptive_radius(model)
    if overlap_px < radius:
        raise ValueError(f"upscale: overlap_px={overlap_px} is below the model's receptive "
                         f"radius {radius}: tiles would not match the untiled output")
    if tile_px <= 2 * overlap_px:
        raise ValueError(f"upscale: tile_px={tile_px} leaves no core inside the overlap of "
                         f"{overlap_px} px on each side: use tile_px >= {2 * overlap_px + 1} "
                         f"(efficient: >= {8 * overlap_px})")


@torch.no_grad()
def upscale(model: CompactSR, image, *,
            tile_px: int = 256,              # input tile side, context included
            overlap_px: int | None = None,   # context on each side; default: receptive radius
            project: bool = False,           # make box_down(output) == input exactly
            out: str | os.PathLike | np.ndarray | DiskImage | None = None,
            ) -> np.ndarray | DiskImage:
    """Upscale an [H, W, 3] image (uint8, or float in [0, 1]; an ndarray, np.memmap or
    DiskImage) by ``model.factor`` tile by tile. Returns a float32 [fH, fW, 3] array, or the
    DiskImage / array passed as ``out`` (a path makes a new DiskImage there). Values are not
    clamped unless ``project`` (the clamped projection keeps them in [0, 1])."""
    overlap_px = receptive_radius(model) if overlap_px is None else int(overlap_px)
    tile_px = int(tile_px)
    height, width = int(image.shape[0]), int(image.shape[1])
    validate(model, image.shape, tile_px, overlap_px)
    f = model.factor
    out_shape = (height * f, width * f, 3)
    check_memory(tile_memory_bytes(model, tile_px), f"a {tile_px} px tile")
    if out is None:
        check_memory(math.prod(out_shape) * BYTES_PER_VALUE,
                     f"a {out_shape[1]}x{out_shape[0]} float image in memory")
        out = np.empty(out_shape, dtype=np.float32)
    elif isinstance(out, (str, os.PathLike)):
        out = DiskImage(out, out_shape[0], out_shape[1])
    if tuple(out.shape) != out_shape:
        raise ValueError(f"upscale: out has shape {tuple(out.shape)}, expected {out_shape}")

    device = next(model.parameters()).device
    core = tile_px - 2 * overlap_px
    for y0 in range(0, height, core):
        y1 = min(y0 + core, height)
        cy0, cy1 = max(y0 - overlap_px, 0), min(y1 + overlap_px, height)
        rows = _as_float(np.asarray(image[cy0:cy1, :]))  # one band of input rows
        for x0 in range(0, width, core):
            x1 = min(x0 + core, width)
            cx0, cx1 = max(x0 - overlap_px, 0), min(x1 + overlap_px, width)
            tile = torch.from_numpy(np.ascontiguousarray(rows[:, cx0:cx1]))
            tile = tile.permute(2, 0, 1)[None].to(device)
            sr = model(tile)
            sr = sr[:, :, (y0 - cy0) * f:(y1 - cy0) * f, (x0 - cx0) * f:(x1 - cx0) * f]
            if project:
                lr = tile[:, :, y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0]
                sr = project_blocks(sr, lr, f, clamp=True)
            out[y0 * f:y1 * f, x0 * f:x1 * f] = sr[0].permute(1, 2, 0).cpu().numpy()
    return out


def upscale_chain(models: Sequence[CompactSR], image, *,
                  tile_px: int = 256,             # input tile side of every pass
                  project: bool = True,           # project after every pass
                  workdir: str | os.PathLike | None = None,  # intermediates; default: a temp dir
                  out_path: str | os.PathLike | None = None,  # the final DiskImage file
                  ) -> DiskImage:
    """Apply ``models`` one after the other (x4 then x4 = x16), each pass reading the previous
    one's DiskImage and writing its own; the intermediates are deleted as soon as they have
    been read. Returns the final DiskImage (at ``out_path``, or in ``workdir``)."""
    if not models:
        raise ValueError("upscale_chain: no models")
    workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="upscale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    height, width = int(image.shape[0]), int(image.shape[1])
    # The largest moment on disk: the last pass's input and output together.
    sizes = [height * width]
    for m in models:
        sizes.append(sizes[-1] * m.factor**2)
    peak = max(a + b for a, b in zip(sizes, sizes[1:], strict=False)) * 3 * BYTES_PER_VALUE
    total = math.prod(m.factor for m in models)
    check_disk(workdir, peak, f"upscaling {width}x{height} by {total}")
    current, previous_file = image, None
    for i, model in enumerate(models):
        last = i == len(models) - 1
        target = Path(out_path) if last and out_path is not None else workdir / f"pass{i}.f32"
        current = upscale(model, current, tile_px=tile_px, project=project,
                          out=target)
        if previous_file is not None:
            previous_file.unlink(missing_ok=True)
        previous_file = None if last else target
    return current
