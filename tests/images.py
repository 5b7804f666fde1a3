"""Synthetic images for every test: one place that draws them, so a test says what kind of
picture it needs (a painting, noise, a file of some format) rather than how to draw one.

    from tests.images import encode, noise, painting, painting_array, paintings, write

- ``paintings(n, px, seed)``: a batch of small square painting-like images, uint8 NHWC: a
  gradient sky, a striped ground and a disc (train.synthetic.paintings, which the benchmarks
  use too). ``painting_tensors(n, px, seed)`` is the same batch as the networks see it: float32
  NCHW in [-1, 1].
- ``painting(size, seed)``: one painting-like PIL image of any size, ``(width, height)`` as PIL
  counts: smooth colour fields with brush-like texture, so it compresses and hashes like a
  photographed painting. ``painting_array(shape, seed, dtype)`` is the same picture as an
  ``[H, W, 3]`` array, ``shape=(height, width)`` as numpy counts; float dtypes in [0, 1].
- ``noise(shape, seed, dtype)``: uniform noise, every value independent (integers 0-255 for
  integer dtypes, [0, 1) for float dtypes), for tests that want no structure at all.
- ``encode(image, fmt, **options)``: the bytes of the image saved as ``fmt`` (JPEG, PNG, ...,
  with Pillow's save options); ``write(path, image, fmt, **options)`` saves it to a file,
  making its folder.

A test that needs one particular picture (a lattice, two flat halves, a solid colour of a
known value, a decompression bomb) still draws it itself, next to what it checks.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from train.synthetic import paintings

__all__ = ["encode", "noise", "painting", "painting_array", "painting_tensors", "paintings",
           "write"]


def painting_tensors(n: int = 16, px: int = 16, seed: int = 0):
    """``paintings(n, px, seed)`` as a float32 torch tensor [n, 3, px, px] in [-1, 1]."""
    import torch

    images = torch.from_numpy(paintings(n, px, seed)).permute(0, 3, 1, 2)
    return (images.float() / 127.5 - 1).contiguous()


def painting(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """An RGB painting-like image of ``size`` (width, height): a coarse grid of random colours
    smoothed into colour fields, plus some texture."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)
    texture = rng.normal(0, 12, size=(size[1], size[0], 3))
    return Image.fromarray(np.clip(np.asarray(img) + texture, 0, 255).astype(np.uint8))


def painting_array(shape: tuple[int, int], seed: int = 0, dtype=np.uint8) -> np.ndarray:
    """``painting`` as an [H, W, 3] array of ``shape`` (height, width); float dtypes hold the
    pixels divided by 255."""
    height, width = shape
    pixels = np.asarray(painting((width, height), seed))
    if np.issubdtype(dtype, np.floating):
        return (pixels / 255).astype(dtype)
    return pixels.astype(dtype)


def noise(shape: tuple[int, ...], seed: int = 0, dtype=np.uint8) -> np.ndarray:
    """Uniform noise of ``shape``: integers 0-255 for integer dtypes, [0, 1) for float ones."""
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.floating):
        return rng.random(shape, dtype=dtype)
    return rng.integers(0, 256, shape, dtype=dtype)


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    """The bytes of ``image`` saved as ``fmt`` with Pillow's ``options`` (quality=...)."""
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    return buf.getvalue()


def write(path: Path, image: Image.Image, fmt: str = "PNG", **options) -> Path:
    """``image`` saved as ``fmt`` at ``path`` (its folder made if needed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt, **options)
    return path
