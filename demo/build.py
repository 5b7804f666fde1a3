"""Render the demo collection to disk: every source's original files plus the ground truth.

Run it as the DVC stage does::

    python -m demo build --out data/demo --seed 1234 --artworks 2000

Output folder (replaced atomically, so a killed build leaves the old one or none):

- ``collection.json``: the params the collection was built from (the server rebuilds the
  catalogue from them) and a format version;
- ``files/{source}/{copy_id}.{jpg|png}``: each copy's original bytes as the source would serve
  them, defective ones included (the oversized body is streamed by the server, not stored);
- ``files.parquet``: one row per stored file (path, sha256, bytes, width, height);
- ``ground_truth.parquet``: one row per copy: which artwork it shows, how it was transformed,
  which trap it is, and which rules a correct pipeline must reject it by.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from demo import transforms
from demo.catalog import Artwork, Catalog, Copy, build_catalog, describe, expected_size
from demo.painter import paint
from demo.settings import GROUND_TRUTH_FILE
from marcus.atomic import atomic_dir, write_text

FORMAT_VERSION = 1
FRAME_STYLES = ("mat", "gilt", "black")
PAINTERS = ("full", "fast")  # demo.painter: see painter.paint

GROUND_TRUTH_SCHEMA = pa.schema([
    ("copy_id", pa.string()), ("source", pa.string()), ("source_id", pa.string()),
    ("image_id", pa.string()), ("artwork_id", pa.int64()), ("series_id", pa.int64()),
    ("hand", pa.int64()),  # > 0: a replica of the series' work painted by another hand
    ("artist_id", pa.int64()), ("artist", pa.string()),
    ("artist_birth_year", pa.int64()), ("artist_death_year", pa.int64()),
    ("title", pa.string()), ("object_type", pa.string()), ("kind", pa.string()),
    ("date_start", pa.int64()), ("date_end", pa.int64()), ("date_text", pa.string()),
    ("attribution_qualifier", pa.string()), ("is_public_domain_flag", pa.bool_()),
    ("license", pa.string()), ("has_image", pa.bool_()),
    ("transform", pa.string()), ("transform_params", pa.string()),
    ("is_exact_copy_of", pa.string()), ("file_format", pa.string()), ("defect", pa.string()),
    ("distractor", pa.string()), ("expected_reject", pa.list_(pa.string())),
    ("file", pa.string()), ("file_sha256", pa.string()), ("file_bytes", pa.int64()),
    ("width", pa.int64()), ("height", pa.int64()),
])


# ----------------------------------------------------------------------------------------------
# Rendering one artwork's copies (runs in worker processes).


def apply_transforms(img: Image.Image, copy: Copy) -> Image.Image:
    for name, params in copy.transforms:
        p = dict(params)
        if name == "resize":
            img = transforms.resize(img, p["scale"])
        elif name == "crop":
            img = transforms.crop(img, p["left"], p["top"], p["right"], p["bottom"])
        elif name == "detail":
            img = transforms.detail(img, (p["left"], p["top"], p["right"], p["bottom"]))
        elif name == "colour":
            img = transforms.colour_grade(img, p["gamma"], p["saturation"], p["warmth"])
        elif name == "frame":
            img = transforms.add_frame(img, p["border_frac"], FRAME_STYLES[int(p["style"])],
                                       int(p["seed"]))
        elif name == "squash":
            img = transforms.squash(img, p["x_factor"])
        elif name == "watermark":
            img = transforms.watermark(img, "(c) Demo Picture Library", p["opacity"])
        elif name == "colour_strong":
            img = transforms.colour_grade(img, p["gamma"], p["saturation"], p["warmth"])
        elif name == "mirror":
            img = transforms.mirror(img)
        elif name == "perspective":
            img = transforms.perspective(img, p["turn"], p["tilt"], int(p["seed"]))
        elif name == "wall":
            img = transforms.on_wall(img, p["share"], p["height_share"], int(p["seed"]))
        elif name == "low_res":
            img = transforms.low_resolution(img, p["long_side"])
        else:
            raise ValueError(f"unknown transform {name!r} in {copy.copy_id}")
    return img


def encode(img: Image.Image, file_format: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if file_format == "PNG":
        img.save(buf, "PNG", compress_level=1)  # fast; the bytes are still deterministic
    else:
        img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def defect_bytes(defect: str, good: bytes, seed: int) -> bytes:
    """The bytes of a broken file, derived deterministically from the good ones."""
    rng = np.random.Generator(np.random.PCG64(seed))
    if defect == "corrupt":  # a JPEG start marker and then noise: no decoder can identify it
        return good[:2] + rng.integers(0, 256, size=max(2048, len(good) // 4),
                                       dtype=np.uint8).tobytes()
    if defect == "truncated":  # a valid header, the scan cut off mid-stream
        return good[: int(len(good) * rng.uniform(0.35, 0.65))]
    if defect == "decompression_bomb":  # 400 megapixels of nothing in ~50 kB of PNG
        buf = io.BytesIO()
        Image.new("1", (20_000, 20_000)).save(buf, "PNG")
        return buf.getvalue()
    if defect == "not_image":
        return b"This resource is not an image. Lorem ipsum dolor sit amet.\n" * 40
    if defect == "html_error":
        return (b"<!DOCTYPE html><html><head><title>Error</title></head><body>"
                b"<h1>Service temporarily unavailable</h1><p>Please try again later.</p>"
                b"</body></html>\n")
    raise ValueError(f"no stored bytes for defect {defect!r}")


def render_artwork(catalog_args: tuple, artwork_id: int, copy_ids: list[str],
                   out_dir: str, fast: bool = False) -> list[dict]:
    """Paint one master and derive every copy of it; returns one file row per stored file."""
    catalog = _worker_catalog(catalog_args)
    artwork = catalog.artwork(artwork_id)
    artist = catalog.artist(artwork.artist_id)
    every_copy = _worker_copies(catalog_args)
    copies = {copy_id: every_copy[copy_id] for copy_id in copy_ids}
    master = None
    rows = []
    stored: dict[str, bytes] = {}
    for copy_id in sorted(copy_ids, key=lambda cid: bool(copies[cid].is_exact_copy_of)):
        copy = copies[copy_id]
        if copy.is_exact_copy_of:
            data = stored[copy.is_exact_copy_of]
        elif copy.distractor == "tiny":
            size = expected_size(artwork, copy, catalog.size_scale)
            data = encode(_paint(artwork, artist.style, size, fast), copy.file_format,
                          copy.jpeg_quality)
        else:
            if master is None:
                master = _paint(artwork, artist.style, (artwork.width, artwork.height), fast)
            img = apply_transforms(master, copy)
            data = encode(img, copy.file_format, copy.jpeg_quality)
        stored[copy_id] = data  # exact mirrors repeat these (good) bytes
        if copy.defect == "oversized":
            continue  # streamed by the server, never stored
        if copy.defect:
            data = defect_bytes(copy.defect, data, artwork.composition_seed ^ artwork_id)
        rel = f"files/{copy.source}/{copy.copy_id}.{copy.extension}"
        path = Path(out_dir) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        width = height = -1
        if not copy.defect:
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
        rows.append({"copy_id": copy_id, "file": rel,
                     "file_sha256": hashlib.sha256(data).hexdigest(),
                     "file_bytes": len(data), "width": width, "height": height})
    return rows


def _paint(artwork: Artwork, style, size: tuple[int, int], fast: bool) -> Image.Image:
    return paint(artwork.kind, style, artwork.composition_seed, size, artwork.variant, fast,
                 artwork.hand)


_CATALOG_CACHE: dict[tuple, Catalog] = {}
_COPIES_CACHE: dict[tuple, dict] = {}


def _worker_catalog(args: tuple) -> Catalog:
    # Each worker rebuilds the (cheap, deterministic) catalogue once instead of unpickling it
    # for every task.
    if args not in _CATALOG_CACHE:
        seed, artworks, reference_year, defect_share, size_scale = args
        _CATALOG_CACHE[args] = build_catalog(seed, artworks, reference_year, defect_share,
                                             size_scale=size_scale)
    return _CATALOG_CACHE[args]


def _worker_copies(args: tuple) -> dict:
    """copy_id -> Copy of the worker's catalogue, built once: looking each artwork's copies up
    by a scan of every copy made a build quadratic in the collection."""
    if args not in _COPIES_CACHE:
        _COPIES_CACHE[args] = {c.copy_id: c for c in _worker_catalog(args).copies}
    return _COPIES_CACHE[args]


# ----------------------------------------------------------------------------------------------


def build_collection(out: str | os.PathLike, seed: int, artworks: int, reference_year: int = 2026,
                     defect_share: float = 0.004, oversized_mib: int = 80,
                     workers: int | None = None, size_scale: float = 1.0,
                     painter: str = "full") -> tuple[dict, dict]:
    """Build the collection into ``out`` (replaced atomically); returns its summary metrics
    and the build's timings. ``size_scale`` and ``painter="fast"`` make a scaled demo cheap
    (see build_catalog and painter.paint)."""
    if painter not in PAINTERS:
        raise ValueError(f"demo.painter must be one of {', '.join(PAINTERS)}, got {painter!r}")
    started = time.perf_counter()
    catalog_args = (seed, artworks, reference_year, defect_share, size_scale)
    catalog = _worker_catalog(catalog_args)
    fast = painter == "fast"
    by_artwork: dict[int, list[str]] = defaultdict(list)
    for c in catalog.copies:
        by_artwork[c.artwork_id].append(c.copy_id)
    # Largest first so that the pool does not end on one slow 3000 px painting.
    order = sorted(by_artwork, key=lambda a: -catalog.artwork(a).width * catalog.artwork(a).height)
    workers = workers or os.cpu_count() or 1
    with atomic_dir(out) as tmp:
        rows: list[dict] = []
        if workers == 1:
            for a in order:
                rows += render_artwork(catalog_args, a, by_artwork[a], str(tmp), fast)
        else:
            with ProcessPoolExecutor(workers) as pool:
                futures = [pool.submit(render_artwork, catalog_args, a, by_artwork[a], str(tmp),
                                       fast) for a in order]
                for f in futures:
                    rows += f.result()
        files = pd.DataFrame(rows).sort_values("copy_id", ignore_index=True)
        pq.write_table(pa.Table.from_pandas(files, preserve_index=False), tmp / "files.parquet")
        truth = ground_truth(catalog, files)
        pq.write_table(truth, tmp / GROUND_TRUTH_FILE)
        info = {"format_version": FORMAT_VERSION, "seed": seed, "artworks": artworks,
                "reference_year": reference_year, "defect_share": defect_share,
                "oversized_mib": oversized_mib, "size_scale": size_scale, "painter": painter}
        write_text(tmp / "collection.json", json.dumps(info, indent=2) + "\n")
    summary = describe(catalog)
    summary["stored_files"] = len(files)
    summary["stored_mib"] = round(float(files["file_bytes"].sum()) / 2**20, 1)
    return summary, {"seconds": round(time.perf_counter() - started, 1)}


def ground_truth(catalog: Catalog, files: pd.DataFrame) -> pa.Table:
    stored = files.set_index("copy_id")
    rows = []
    for c in catalog.copies:
        artwork = catalog.artwork(c.artwork_id)
        artist = catalog.artist(artwork.artist_id)
        f = stored.loc[c.copy_id] if c.copy_id in stored.index else None
        rows.append({
            "copy_id": c.copy_id, "source": c.source, "source_id": c.source_id,
            "image_id": c.image_id, "artwork_id": c.artwork_id, "series_id": artwork.series_id,
            "hand": artwork.hand,
            "artist_id": artist.artist_id, "artist": artist.name,
            "artist_birth_year": artist.birth_year, "artist_death_year": artist.death_year,
            "title": artwork.title, "object_type": artwork.object_type, "kind": artwork.kind,
            "date_start": artwork.date_start, "date_end": artwork.date_end,
            "date_text": artwork.date_text, "attribution_qualifier": artwork.attribution_qualifier,
            "is_public_domain_flag": c.is_public_domain_flag, "license": c.license,
            "has_image": c.has_image, "transform": c.transform_names,
            "transform_params": json.dumps({n: dict(p) for n, p in c.transforms}, sort_keys=True),
            "is_exact_copy_of": c.is_exact_copy_of, "file_format": c.file_format,
            "defect": c.defect, "distractor": c.distractor,
            "expected_reject": list(c.expected_reject),
            "file": None if f is None else f["file"],
            "file_sha256": None if f is None else f["file_sha256"],
            "file_bytes": None if f is None else int(f["file_bytes"]),
            "width": None if f is None or f["width"] < 0 else int(f["width"]),
            "height": None if f is None or f["height"] < 0 else int(f["height"]),
        })
    return pa.Table.from_pylist(rows, schema=GROUND_TRUTH_SCHEMA)
