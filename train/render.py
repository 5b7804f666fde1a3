"""Print rendering: generator samples -> upscaler chain -> exact print size -> PNG or TIFF.

    python -m train.render                      # the DVC stage: params.yaml's render section
    python -m train.render --generator data/models/gan --upscaler data/models/upscaler \\
        --seeds 1-4 --truncation 0.7 --inches 20 --dpi 300 --out out/prints
    python -m train.render ... --factors 4,4 --format tiff --tile-px 192 --workdir /big/tmp

Every setting comes from the ``render`` section of params.yaml (checked before any work) and
the models and output folder from its ``paths`` section; a flag overrides its setting.
``render()`` itself takes arrays, so any image (not only generator samples) can be printed.
For each image:

1. the upscaler chain (``--factors``, e.g. ``4,4`` = x16 or ``8``; default: the fewest passes
   of the given models reaching the print size, but no more than the upscaler's card allows:
   ``train_upscaler`` scores a pass on its own output against one pass then Lanczos, and
   Lanczos alone, on held-out paintings, and keeps the best whose lattice stays within
   ``GOAL_EXCESS_DB`` of Lanczos), tile by tile, each pass's output in a raw float file on
   disk (``train/tiling.py``), with the downscale-consistency projection unless
   ``--no-project``;
2. a final resize to the exact print size (it enlarges what passes the card left out): the
   long side becomes ``inches * dpi`` px (20 in at 300 dpi = 6000 px), the short side keeps
   the aspect ratio. The resize is a separable
   Lanczos-3 filter, widened by the scale when shrinking (antialiased, as Pillow's LANCZOS),
   computed in bands of rows, so it never holds the whole print either. It is the one step
   that is not exactly consistent with the painting (the chain rarely lands on the size);
3. the print is written row band by row band with its dpi recorded: PNG through a streaming
   zlib writer (pHYs chunk, pixels per metre), or baseline uncompressed TIFF (XResolution,
   YResolution, ResolutionUnit = inch). Both are standard-library code: no TIFF package is
   needed, and Pillow reads both back (the tests do). Each file appears atomically.

Peak memory is one tile's working set plus one band of rows, whatever the print size
(``benchmarks/upscaler_render.py`` measures it).
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import scipy.sparse
import torch

from marcus.atomic import atomic_path, scratch_dir
from marcus.config import check, list_of, one_of, optional
from marcus.errors import UserError, reported
from marcus.params import load_params
from train.memory import peak_memory_mib
from train.tiling import upscale_chain
from train.upscaler import FACTORS, CompactSR, card_chain

BAND_ROWS = 64             # output rows resized and written at a time
METRES_PER_INCH = 0.0254
SPEC = {"seeds": list_of(int), "truncation": float, "factors": optional(list_of(int)),
        "inches": float, "dpi": float, "format": one_of("png", "tiff"), "tile_px": int,
        "project": bool, "threads": int}  # the render section of params.yaml


# ----------------------------------------------------------------------------------------------
# Print size and the upscaler chain


def print_size(height: int, width: int, inches: float, dpi: float) -> tuple[int, int]:
    """(height, width) in px of a print whose long side is ``inches`` at ``dpi``."""
    if not (inches > 0 and dpi > 0):
        raise ValueError(f"render: inches and dpi must be positive, got {inches}, {dpi}")
    long_px = round(inches * dpi)
    if height >= width:
        return long_px, max(1, round(long_px * width / height))
    return max(1, round(long_px * height / width)), long_px


def choose_factors(available: Sequence[int], start_px: int, target_px: int) -> list[int]:
    """The fewest passes from ``start_px`` to at least ``target_px``: each pass takes the
    smallest available factor that arrives, else the largest (then the final resize shrinks,
    which loses nothing, rather than enlarging with a plain filter)."""
    factors, size = [], start_px
    while size < target_px:
        enough = [f for f in sorted(available) if size * f >= target_px]
        f = enough[0] if enough else max(available)
        factors.append(f)
        size *= f
    return factors


def card_network_passes(models: Sequence[CompactSR]) -> int | None:
    """The most upscaler passes the models' cards allow (train_upscaler.evaluate_chains: the
    chain that scored best on held-out paintings), or None where no card limits them."""
    picks = [chain["network_passes"] for chain in map(card_chain, models)
             if chain and chain.get("network_passes") is not None]
    return min(picks) if picks else None


def models_for(models: Sequence[CompactSR], factors: Sequence[int]) -> list[CompactSR]:
    by_factor = {m.factor: m for m in models}
    for f in factors:
        if f not in FACTORS:
            raise ValueError(f"render: factor {f} is not one of {FACTORS}")
        if f not in by_factor:
            raise ValueError(f"render: no upscaler for factor {f} "
                             f"(have: {sorted(by_factor) or 'none'})")
    return [by_factor[f] for f in factors]


# ----------------------------------------------------------------------------------------------
# The final resize, in bands of rows


def resize_matrix(n_in: int, n_out: int, lobes: int = 3) -> scipy.sparse.csr_matrix:
    """[n_out, n_in] weights of a Lanczos resize along one axis (pixel centres aligned as in
    Pillow; the kernel is stretched by the scale when shrinking, so it also antialiases)."""
    scale = n_in / n_out
    stretch = max(scale, 1.0)
    support = lobes * stretch
    rows, cols, vals = [], [], []
    for i in range(n_out):
        centre = (i + 0.5) * scale
        lo, hi = max(int(centre - support + 0.5), 0), min(int(centre + support + 0.5), n_in)
        j = np.arange(lo, hi)
        t = (j + 0.5 - centre) / stretch
        w = np.sinc(t) * np.sinc(t / lobes) * (np.abs(t) < lobes)
        w = w / w.sum()
        rows.append(np.full(len(j), i))
        cols.append(j)
        vals.append(w)
    return scipy.sparse.csr_matrix(
        (np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_out, n_in))


def resized_bands(image, height: int, width: int, band_rows: int = BAND_ROWS
                  ) -> Iterable[np.ndarray]:
    """Yield uint8 [<=band_rows, width, 3] bands of ``image`` (float [H, W, 3] in [0, 1]; an
    array or a DiskImage) resized to (height, width), reading only the rows each band needs."""
    in_h, in_w = int(image.shape[0]), int(image.shape[1])
    same = (in_h, in_w) == (height, width)
    rows_m = None if same else resize_matrix(in_h, height)
    cols_m = None if same else resize_matrix(in_w, width)
    for r0 in range(0, height, band_rows):
        r1 = min(r0 + band_rows, height)
        if same:
            band = np.asarray(image[r0:r1, :], dtype=np.float32)
        else:
            part = rows_m[r0:r1]
            need = part.indices
            s0, s1 = int(need.min()), int(need.max()) + 1
            src = np.asarray(image[s0:s1, :], dtype=np.float32)          # [s, in_w, 3]
            src = src.transpose(1, 0, 2).reshape(in_w, -1)                # [in_w, s * 3]
            src = (cols_m @ src).reshape(width, s1 - s0, 3).transpose(1, 0, 2)  # [s, w, 3]
            sub = part[:, s0:s1]
            band = (sub @ src.reshape(s1 - s0, -1)).reshape(r1 - r0, width, 3)
        yield (np.clip(band, 0, 1) * 255 + 0.5).astype(np.uint8)


# ----------------------------------------------------------------------------------------------
# Streaming writers


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def write_png(path: str | os.PathLike, bands: Iterable[np.ndarray], height: int, width: int,
              dpi: float, level: int = 6) -> None:
    """An 8-bit RGB PNG from uint8 row bands, compressed as they arrive ("Up" filter: each row
    minus the one above, which suits paintings), with pHYs set to ``dpi``."""
    ppm = round(dpi / METRES_PER_INCH)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        f.write(_png_chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1)))
        compressor = zlib.compressobj(level)
        previous = np.zeros((1, width * 3), np.uint8)
        rows_written = 0
        for band in bands:
            flat = band.reshape(len(band), width * 3)
            above = np.concatenate([previous, flat[:-1]])
            filtered = np.empty((len(flat), width * 3 + 1), np.uint8)
            filtered[:, 0] = 2                                  # filter type Up
            filtered[:, 1:] = flat - above                      # uint8: modulo 256, as PNG says
            previous = flat[-1:]
            rows_written += len(flat)
            data = compressor.compress(filtered.tobytes())
            if data:
                f.write(_png_chunk(b"IDAT", data))
        f.write(_png_chunk(b"IDAT", compressor.flush()))
        f.write(_png_chunk(b"IEND", b""))
        if rows_written != height:
            raise RuntimeError(f"write_png: got {rows_written} rows, expected {height}")


def write_tiff(path: str | os.PathLike, bands: Iterable[np.ndarray], height: int, width: int,
               dpi: float) -> None:
    """A baseline uncompressed 8-bit RGB TIFF (one strip per row, little-endian) from uint8
    row bands, with XResolution = YResolution = ``dpi`` per inch. The pixel data comes first
    and the directory after it, so the rows can be written as they arrive."""
    row_bytes = width * 3
    data_bytes = row_bytes * height
    if 8 + data_bytes + 16 * height + 512 >= 2**32:
        raise ValueError(f"write_tiff: {width}x{height} is over classic TIFF's 4 GiB; "
                         "use PNG or a smaller print")
    ifd_offset = 8 + data_bytes + (data_bytes % 2)  # the directory starts on a word boundary
    numerator, denominator = _rational(dpi)
    entries = 13
    extra = ifd_offset + 2 + 12 * entries + 4       # where values too long for an entry go
    bits_at, res_x_at, res_y_at = extra, extra + 6, extra + 14
    offsets_at = extra + 22
    counts_at = offsets_at + 4 * height
    tags = [  # (tag, type, count, value or offset); types: 3 SHORT, 4 LONG, 5 RATIONAL
        (256, 4, 1, width), (257, 4, 1, height), (258, 3, 3, bits_at), (259, 3, 1, 1),
        (262, 3, 1, 2), (273, 4, height, offsets_at), (277, 3, 1, 3), (278, 4, 1, 1),
        (279, 4, height, counts_at), (282, 5, 1, res_x_at), (283, 5, 1, res_y_at),
        (284, 3, 1, 1), (296, 3, 1, 2),
    ]
    if height == 1:  # a single LONG fits in the entry itself
        tags[5] = (273, 4, 1, 8)
        tags[8] = (279, 4, 1, row_bytes)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(b"II*\x00" + struct.pack("<I", ifd_offset))
        rows_written = 0
        for band in bands:
            f.write(np.ascontiguousarray(band, dtype=np.uint8).tobytes())
            rows_written += len(band)
        if rows_written != height:
            raise RuntimeError(f"write_tiff: got {rows_written} rows, expected {height}")
        if data_bytes % 2:
            f.write(b"\x00")
        f.write(struct.pack("<H", entries))
        for tag, kind, count, value in tags:
            packed = struct.pack("<H", value) + b"\x00\x00" if kind == 3 and count == 1 \
                else struct.pack("<I", value)
            f.write(struct.pack("<HHI", tag, kind, count) + packed)
        f.write(struct.pack("<I", 0))                                # no next directory
        f.write(struct.pack("<3H", 8, 8, 8))
        f.write(struct.pack("<II", numerator, denominator) * 2)
        f.write((8 + row_bytes * np.arange(height, dtype=np.uint64)).astype("<u4").tobytes())
        f.write(np.full(height, row_bytes, dtype="<u4").tobytes())


def _rational(value: float) -> tuple[int, int]:
    denominator = 1
    while abs(value * denominator - round(value * denominator)) > 1e-9 and denominator < 10**6:
        denominator *= 10
    return round(value * denominator), denominator


# ----------------------------------------------------------------------------------------------
# render()


def _to_float01(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"render: expected an [H, W, 3] image, got shape {image.shape}")
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"render: images must be uint8 or float in [0, 1], got {image.dtype}")
    image = image.astype(np.float32)
    if not np.isfinite(image).all():
        raise ValueError("render: the image has NaN or infinite values")
    return np.clip(image, 0, 1)


def render(images: Iterable[np.ndarray],
           models: CompactSR | Sequence[CompactSR],
           factors: Sequence[int] | None = None,  # e.g. [4, 4] or [8]; None: the card's pick
           tile_px: int = 256,                    # upscaler input tile side, context included
           inches: float = 20.0,                  # long side of the print
           dpi: float = 300.0,                    # print resolution, recorded in the file
           out_dir: str | os.PathLike = "prints",
           fmt: str = "png",                      # png | tiff
           project: bool = True,                  # downscale-consistency projection per pass
           names: Sequence[str] | None = None,    # file stems; default 0000, 0001, ...
           workdir: str | os.PathLike | None = None,  # intermediates; default: beside out_dir
           ) -> list[Path]:
    """Upscale each image through the chain, resize to the print size and write it; returns
    the written paths. ``images``: [H, W, 3] uint8 or float arrays in [0, 1]."""
    if fmt not in ("png", "tiff"):
        raise ValueError(f"render: fmt must be png or tiff, got {fmt!r}")
    models = [models] if isinstance(models, CompactSR) else list(models)
    if not models:
        raise ValueError("render: no upscaler models")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for index, image in enumerate(images):
        image = _to_float01(image)
        height, width = print_size(image.shape[0], image.shape[1], inches, dpi)
        chain = list(factors) if factors is not None else choose_factors(
            [m.factor for m in models], max(image.shape[:2]), max(height, width)
        )[:card_network_passes(models)]
        chain_models = models_for(models, chain)
        name = names[index] if names is not None else f"{index:04d}"
        path = out_dir / f"{name}.{'png' if fmt == 'png' else 'tif'}"
        # Intermediates beside the prints (or in workdir), not in /tmp: a killed render's
        # leftovers are then found and deleted by the next render.
        with scratch_dir(Path(workdir) / "render" if workdir else out_dir) as scratch:
            big = upscale_chain(chain_models, image, tile_px=tile_px, project=project,
                                workdir=scratch) if chain_models else image
            bands = resized_bands(big, height, width)
            if fmt == "png":
                write_png(path, bands, height, width, dpi)
            else:
                write_tiff(path, bands, height, width, dpi)
        written.append(path)
    return written


# ----------------------------------------------------------------------------------------------
# Generator samples (the only part that needs train.networks)


def generator_images(generator_path: str | os.PathLike, seeds: Sequence[int],
                     truncation: float, label: int = 0) -> Iterable[np.ndarray]:
    """float32 [H, W, 3] images in [0, 1] from a train_gan generator, one per seed (the seed
    fixes z, as in train.generate); a conditional generator paints class ``label``."""
    from train.generate import latent, load_generator

    G = load_generator(generator_path)
    for seed in seeds:
        with torch.no_grad():
            c = None
            if getattr(G, "c_dim", 0):
                if not 0 <= label < G.c_dim:
                    raise UserError(f"render: --label must be in 0..{G.c_dim - 1}")
                c = torch.nn.functional.one_hot(torch.tensor([label]), G.c_dim).float()
            x = G(latent(G, seed), c, truncation_psi=truncation, noise_mode="const")
        yield ((x[0].clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy().astype(np.float32)


@reported("render")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.render", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml",
                        help="defaults for every flag: its render and paths sections")
    parser.add_argument("--generator", help="generator.pt or its model folder")
    parser.add_argument("--upscaler", action="append",
                        help="upscaler.pt or its folder; repeat for several factors")
    parser.add_argument("--seeds", help='e.g. "1-4" or "1,5,9"')
    parser.add_argument("--truncation", type=float, help="psi in [0, 1]")
    parser.add_argument("--label", type=int, default=0,
                        help="class index, for a conditional generator")
    parser.add_argument("--factors", help='chain such as "4,4" or "8" (default: fewest passes)')
    parser.add_argument("--inches", type=float, help="long side of the print")
    parser.add_argument("--dpi", type=float)
    parser.add_argument("--format", choices=["png", "tiff"])
    parser.add_argument("--tile-px", type=int)
    parser.add_argument("--project", action=argparse.BooleanOptionalAction,
                        help="make each pass downscale exactly to its input (default: "
                             "render.project, else off)")
    parser.add_argument("--workdir", help="folder for the intermediate float images")
    parser.add_argument("--threads", type=int, help="torch CPU threads; 0 = default")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="where the upscaler runs (default cpu: the same bytes as "
                             "`dvc repro render`); the peak memory used there is printed")
    parser.add_argument("--out", help="output folder")
    args = parser.parse_args(argv)

    from train.generate import parse_seeds
    from train.upscaler import load_upscaler

    p = check("render", load_params("render", args.params), SPEC)
    paths = load_params("paths", args.params)

    def pick(flag, key):
        return flag if flag is not None else p[key]

    generator, out = args.generator or paths["gan"], args.out or paths["prints"]
    upscalers = args.upscaler or [paths["upscaler"]]
    seeds = args.seeds if args.seeds is not None else p["seeds"]
    seeds = parse_seeds(seeds if isinstance(seeds, str) else ",".join(map(str, seeds)))
    factors = pick(args.factors, "factors")
    if isinstance(factors, str):
        factors = [int(f) for f in factors.split(",")]
    threads = pick(args.threads, "threads")
    if threads:
        torch.set_num_threads(threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UserError("render: --device cuda, but torch sees no CUDA device")
    device = torch.device(args.device)
    models = [load_upscaler(path, device) for path in upscalers]
    try:
        written = render(
            generator_images(generator, seeds, pick(args.truncation, "truncation"), args.label),
            models, factors=factors, tile_px=pick(args.tile_px, "tile_px"),
            inches=float(pick(args.inches, "inches")), dpi=float(pick(args.dpi, "dpi")),
            out_dir=out, fmt=pick(args.format, "format"), project=pick(args.project, "project"),
            names=[f"seed{s:04d}" for s in seeds], workdir=args.workdir)
    except (ValueError, RuntimeError) as exc:
        raise UserError(f"render: {str(exc).removeprefix('render: ')}") from None
    if factors is None and card_network_passes(models) is not None:
        print(f"passes: at most {card_network_passes(models)} (the upscaler card's pick on "
              "held-out paintings), then the final Lanczos resize")
    for path in written:
        print(path)
    print(f"peak memory on {device}: {peak_memory_mib(device):.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
