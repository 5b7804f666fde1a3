"""The ``pack`` stage: curated paintings -> fixed-size GAN training shards and native copies.

Run it as the DVC stage ``pack`` (``dvc repro pack``), or by hand::

    python -m train.pack                                   # params.yaml, section pack
    python -m train.pack --params other.yaml --out /tmp/pack

It reads ``curated.parquet`` in ``paths.curate`` and each image's original bytes from the
content stores under ``paths.crawl`` (by source and sha256), and writes ``paths.pack``.
Everything else comes from the ``pack`` section of params.yaml, checked before any image is
read::

    pack:
      resolution: 32               # GAN training side in px, a power of two >= 8
      aspect: centre_crop          # centre_crop | letterbox | random_crops
      crops_per_image: 4           # random_crops only: square crops taken per painting
      crop_min_fraction: 0.6       # random_crops only: smallest crop side, share of the short side
      val_fraction: 0.1            # share of artworks (never copies) held out for evaluation
      seed: 1234                   # split and crops: same seed + same manifest = same shards
      codec: png                   # GAN shard images: png | webp (both lossless) | jpeg (lossy)
      jpeg_quality: 95             # jpeg only: 1-100 (4:4:4 chroma, no subsampling)
      shard_images: 4096           # images per shard file: few files, DVC-friendly
      native_max_side: 1024        # native copies for the upscaler: long side cap (0 = no cap)
      workers: 0                   # decoding processes; 0 = all cores

What lands in ``out`` (the whole folder is swapped in atomically, so a crash leaves the previous
pack or none, never half of one):

- ``gan-{split}-{NNNNN}.zip``: the R x R samples of a split, one encoded image per entry
  (``{sample_index:08d}.png``, ``.webp`` or ``.jpg``; stored, not deflated, entries in sample
  order), so any zip tool can list or extract them and a reader can seek to one; a shard closes
  at ``shard_images`` entries or GAN_SHARD_BYTES, whichever comes first. Encoded, a 1024 px
  painting is a fraction of its 3 MB of raw pixels (benchmarks/results/pack_codec.json);
- ``native-{split}-{NNNNN}.parquet``: one row per artwork (``key``, ``png``, ``width``,
  ``height``): the image as RGB PNG, long side capped at ``native_max_side`` (Lanczos), for the
  upscaler to random-crop at native resolution; a shard closes at ``shard_images`` rows or
  256 MiB of PNG, whichever comes first;
- ``labels.parquet``: one row per GAN sample, in sample order: ``split``, ``shard``,
  ``index_in_shard``, ``sample_index`` (position in its split), ``key``, ``cluster_id``,
  ``crop`` (number of the crop within its artwork), ``artist_id``, ``period_id``,
  ``object_type_id``, ``genre_id``, the crop box ``x0, y0, x1, y1`` in source pixels (after EXIF
  orientation), the box ``inner_x0 .. inner_y1`` that the picture covers in the R x R sample
  (all of it, except for letterbox), ``source_width``, ``source_height``, and the label strings
  ``artist``, ``period``, ``object_type``, ``genre`` (the first genre the painting's records
  state);
- ``vocab.json``: ``{"artist": [...], "period": [...], "object_type": [...], "genre": [...]}``,
  each a list whose position is the id (sorted names; a period is the century of
  ``date_start``, e.g. ``"1600-1699"``; missing values are ``"unknown"``);
- ``pack.json``: counts per split, resolution, aspect, seed, the params echo (without ``out``
  and ``workers``, which do not change a byte of the pack), every file's sha256, the
  ``fingerprint`` of what GAN training reads, ``native_fingerprint``, ``manifest_sha256``,
  ``skipped`` (key and reason of each unreadable image) and ``upscaled`` (artworks whose short
  side is below ``resolution``).

The split is by artwork, never by copy. An artwork is named by its *anchor*: the smallest key
among all its copies (the row's ``key`` and ``copies``, over every row of its ``cluster_id``;
a negative ``cluster_id`` means a cluster of one). ``sha256("pack-split:{seed}:{anchor}")``,
read as a number in [0, 1), below ``val_fraction`` puts the artwork in ``val``. The draw
depends on nothing but the seed and the artwork itself, so adding, removing or re-electing other
artworks never moves one between splits, and ``cluster_id`` renumbering does not either.

Determinism: rows are processed in key order; random crops come from a generator seeded with
``sha256(seed, key)``, so adding an image changes no other image's crops; PNG and Parquet
writers have fixed settings and no timestamps. Same manifest + same params = the same bytes,
whatever ``workers`` is.

Training and evaluation read a pack through :mod:`train.data`, never through this module, so
that a change to the writer reruns ``pack`` alone (its outputs, if unchanged, rerun nothing).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import json
import os
import re
import sys
import warnings
import zipfile
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, ImageOps, UnidentifiedImageError

from crawl.blobs import HEX, Blob, CrawlStores
from marcus.atomic import atomic_dir
from marcus.config import check, one_of
from marcus.errors import UserError, reported
from marcus.params import load_params
from train.data import CODECS, SPLITS, sha256_file

SCHEMA_VERSION = 3  # 2: the genre label; 3: encoded GAN shards (zip) instead of .npy
ASPECTS = ("centre_crop", "letterbox", "random_crops")
UNKNOWN = "unknown"
LANCZOS = Image.Resampling.LANCZOS
# Fixed, so that the same pixels always give the same bytes. Level 1: on the demo paintings
# level 6 made files only 6 % smaller at 4.6 times the encoding time (157 vs 34 ms an image).
PNG_COMPRESS_LEVEL = 1
NATIVE_SHARD_BYTES = 256 << 20  # a native shard also closes at this much PNG
NATIVE_ROW_GROUP = 64           # rows per Parquet row group: readers stream, not slurp
GAN_SHARD_BYTES = 1 << 30       # a GAN shard also closes at this many encoded bytes
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # every entry's timestamp: same pixels, same bytes
EXTENSIONS = {"png": "png", "webp": "webp", "jpeg": "jpg"}
POOL_MIN_IMAGES_PER_WORKER = 4  # below this a process pool costs more than it saves

REQUIRED_COLUMNS = ("key", "cluster_id")
# An image is found by source and sha256 in the crawl's content stores (curated.parquet), or
# read from its own file, image_path (a manifest of loose files).
IMAGE_COLUMNS = ("source", "sha256", "image_path")
OPTIONAL_COLUMNS = ("copies", "artist", "date_start", "object_type", "genre", *IMAGE_COLUMNS)
CURATED_FILE = "curated.parquet"  # the curate stage's training manifest, in paths.curate
SPEC = {"resolution": int, "aspect": one_of(*ASPECTS), "crops_per_image": int,
        "crop_min_fraction": float, "val_fraction": float, "seed": int,
        "codec": one_of(*CODECS), "jpeg_quality": int, "shard_images": int,
        "native_max_side": int, "workers": int}  # the pack section of params.yaml
NOT_ECHOED = ("out", "workers")  # where the pack goes and how fast: neither changes a byte

LABELS_SCHEMA = pa.schema([
    ("split", pa.string()), ("shard", pa.int32()), ("index_in_shard", pa.int32()),
    ("sample_index", pa.int64()), ("key", pa.string()), ("cluster_id", pa.int64()),
    ("crop", pa.int32()), ("artist_id", pa.int32()), ("period_id", pa.int32()),
    ("object_type_id", pa.int32()), ("genre_id", pa.int32()),
    ("x0", pa.int32()), ("y0", pa.int32()), ("x1", pa.int32()), ("y1", pa.int32()),
    ("inner_x0", pa.int32()), ("inner_y0", pa.int32()), ("inner_x1", pa.int32()),
    ("inner_y1", pa.int32()), ("source_width", pa.int32()), ("source_height", pa.int32()),
    ("artist", pa.string()), ("period", pa.string()), ("object_type", pa.string()),
    ("genre", pa.string()),
])
NATIVE_SCHEMA = pa.schema([("key", pa.string()), ("png", pa.binary()),
                           ("width", pa.int32()), ("height", pa.int32())])


# ----------------------------------------------------------------------------------------------
# Params, checked before any work


@dataclass(frozen=True)
class PackConfig:
    curated: Path
    images_root: Path
    out: Path
    resolution: int
    aspect: str
    crops_per_image: int
    crop_min_fraction: float
    val_fraction: float
    seed: int
    codec: str
    jpeg_quality: int
    shard_images: int
    native_max_side: int
    workers: int

    @classmethod
    def from_params(cls, params: dict, paths: dict, out: str | Path | None = None) -> PackConfig:
        """Validated settings from the ``pack`` and ``paths`` sections: an unknown, missing or
        mistyped key is a UserError (marcus.config), a value out of range a ValueError naming
        the ``pack.*`` param."""
        check("pack", params, SPEC)
        ints = {k: params[k] for k in ("resolution", "crops_per_image", "seed", "jpeg_quality",
                                       "shard_images", "native_max_side", "workers")}
        floats = {k: float(params[k]) for k in ("crop_min_fraction", "val_fraction")}
        r = ints["resolution"]
        if r < 8 or r & (r - 1):
            raise ValueError(f"pack.resolution must be a power of two >= 8, got {r}")
        if not 0 <= floats["val_fraction"] < 1:
            raise ValueError(f"pack.val_fraction must be in [0, 1), got {floats['val_fraction']}")
        if not 0 < floats["crop_min_fraction"] <= 1:
            raise ValueError("pack.crop_min_fraction must be in (0, 1], "
                             f"got {floats['crop_min_fraction']}")
        for name, least in (("crops_per_image", 1), ("shard_images", 1), ("native_max_side", 0),
                            ("workers", 0), ("seed", 0)):
            if ints[name] < least:
                raise ValueError(f"pack.{name} must be >= {least}, got {ints[name]}")
        if not 1 <= ints["jpeg_quality"] <= 100:
            raise ValueError(f"pack.jpeg_quality must be in 1..100, got {ints['jpeg_quality']}")
        return cls(curated=Path(paths["curate"]) / CURATED_FILE,
                   images_root=Path(paths["crawl"]), out=Path(out or paths["pack"]),
                   aspect=params["aspect"], codec=params["codec"], **ints, **floats)

    def echo(self) -> dict:
        """The params that decide the pack's content, as written to pack.json."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()
                if k not in NOT_ECHOED}


# ----------------------------------------------------------------------------------------------
# The manifest and the split by artwork


def read_manifest(path: Path) -> pd.DataFrame:
    """The curated rows this stage needs, sorted by key; only the needed columns are read."""
    if not path.is_file():
        raise FileNotFoundError(f"paths.curate: no curated manifest at {path} "
                                "(run `dvc repro curate` first)")
    try:
        present = set(pq.read_schema(path).names)
    except (OSError, pa.ArrowException) as exc:
        raise ValueError(f"paths.curate: {path} is not a readable Parquet file ({exc})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if "image_path" not in present:
        missing += [c for c in ("source", "sha256") if c not in present]
    if missing:
        raise ValueError(f"paths.curate: {path} lacks the column(s) {', '.join(missing)}")
    columns = [*REQUIRED_COLUMNS, *(c for c in OPTIONAL_COLUMNS if c in present)]
    frame = pd.read_parquet(path, columns=columns)
    if frame.empty:
        raise ValueError(f"paths.curate: the curated manifest {path} has no rows "
                         "(nothing passed curation? see metrics/curate.json)")
    if frame["key"].isna().any():
        raise ValueError(f"paths.curate: {path} has rows without a key")
    duplicated = frame["key"][frame["key"].duplicated()]
    if len(duplicated):
        raise ValueError(f"paths.curate: {path} repeats keys, e.g. {duplicated.iloc[0]!r}")
    for column in OPTIONAL_COLUMNS:
        if column not in frame:
            frame[column] = None
    frame["cluster_id"] = pd.to_numeric(frame["cluster_id"]).fillna(-1).astype("int64")
    return frame.sort_values("key", ignore_index=True)


def artwork_anchors(manifest: pd.DataFrame) -> pd.Series:
    """Each row's artwork name: the smallest key among all copies of its cluster."""
    own = [min([key, *(c for c in (copies if copies is not None else []) if c)])
           for key, copies in zip(manifest["key"], manifest["copies"], strict=True)]
    anchors = pd.Series(own, index=manifest.index, dtype=object)
    clustered = manifest["cluster_id"] >= 0
    anchors[clustered] = anchors[clustered].groupby(manifest.loc[clustered, "cluster_id"]) \
        .transform("min")
    return anchors


def split_draw(seed: int, anchor: str) -> float:
    """A number in [0, 1) that depends only on the seed and the artwork."""
    digest = hashlib.sha256(f"pack-split:{seed}:{anchor}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign_splits(manifest: pd.DataFrame, seed: int, val_fraction: float) -> pd.Series:
    """"train" or "val" for each row; every copy of one artwork lands in the same split."""
    anchors = artwork_anchors(manifest)
    return pd.Series(["val" if split_draw(seed, a) < val_fraction else "train" for a in anchors],
                     index=manifest.index)


def period_label(date_start) -> str:
    """The century bucket of a start year, e.g. 1650 -> "1600-1699"; missing -> "unknown"."""
    if date_start is None or pd.isna(date_start):
        return UNKNOWN
    start = int(date_start) // 100 * 100
    return f"{start}-{start + 99}"


def _period_order(label: str) -> tuple:
    return (1, 0) if label == UNKNOWN else (0, int(label.rsplit("-", 1)[0]))


def _name(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return UNKNOWN
    return str(value).strip() or UNKNOWN


# ----------------------------------------------------------------------------------------------
# One image: decode, orient, to RGB, samples and native copy (runs in the worker processes)


@dataclass(frozen=True)
class ImageJob:
    key: str
    path: str | None
    resolution: int
    aspect: str
    crops_per_image: int
    crop_min_fraction: float
    seed: int
    native_max_side: int
    codec: str = "png"
    jpeg_quality: int = 95
    offset: int = 0            # where the image's bytes start in ``path``
    size: int | None = None    # how many bytes; None: the whole file


@dataclass
class PackedArtwork:
    key: str
    error: str | None = None
    samples: list[bytes] = field(default_factory=list)   # each R x R sample, encoded
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)   # in source pixels
    inner: list[tuple[int, int, int, int]] = field(default_factory=list)   # in the sample
    width: int = 0
    height: int = 0
    native_png: bytes = b""
    native_width: int = 0
    native_height: int = 0


def open_rgb(path) -> Image.Image:
    """A fully decoded RGB image, EXIF orientation applied; raises on anything unusable."""
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; both are bombs to us,
        # as in curate/hashing.py.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as img:
            img.load()
            oriented = ImageOps.exif_transpose(img)
    if oriented.width < 1 or oriented.height < 1:
        raise ValueError("image has no pixels")
    return to_rgb(oriented)


def to_rgb(img: Image.Image) -> Image.Image:
    """RGB for every mode Pillow reads: transparency is composited on white, 16-bit grey is
    scaled (not clipped) to 8 bits, palette and CMYK go through Pillow's conversions."""
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        grey = np.asarray(img).astype(np.float64) / 257.0   # 0..65535 -> 0..255
        img = Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8), "L")
    elif mode == "F":
        img = Image.fromarray(np.clip(np.rint(np.asarray(img)), 0, 255).astype(np.uint8), "L")
    elif mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    rgb.info = {}   # no ICC profile, gamma or text travels into the PNGs we write
    return rgb


def sample_boxes(job: ImageJob, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """The square source boxes to resize to R x R (the whole image for letterbox)."""
    if job.aspect == "letterbox":
        return [(0, 0, width, height)]
    short = min(width, height)
    if job.aspect == "centre_crop":
        x0, y0 = (width - short) // 2, (height - short) // 2
        return [(x0, y0, x0 + short, y0 + short)]
    rng = np.random.Generator(np.random.PCG64(crop_seed(job.seed, job.key)))
    boxes = []
    for _ in range(job.crops_per_image):
        side = max(1, min(short, round(rng.uniform(job.crop_min_fraction, 1.0) * short)))
        x0 = int(rng.integers(0, width - side + 1))
        y0 = int(rng.integers(0, height - side + 1))
        boxes.append((x0, y0, x0 + side, y0 + side))
    return boxes


def crop_seed(seed: int, key: str) -> int:
    """One artwork's crop seed: adding or removing other images never changes its crops."""
    return int.from_bytes(hashlib.sha256(f"pack-crops:{seed}:{key}".encode()).digest()[:16],
                          "big")


def letterbox(rgb: Image.Image, resolution: int) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """The whole image inside R x R, padded with its own mean colour; and where it lies."""
    scale = resolution / max(rgb.size)
    w = min(resolution, max(1, round(rgb.width * scale)))
    h = min(resolution, max(1, round(rgb.height * scale)))
    mean = np.asarray(rgb, dtype=np.uint8).reshape(-1, 3).mean(axis=0, dtype=np.float64)
    canvas = Image.new("RGB", (resolution, resolution), tuple(int(v) for v in np.rint(mean)))
    x0, y0 = (resolution - w) // 2, (resolution - h) // 2
    canvas.paste(rgb.resize((w, h), LANCZOS), (x0, y0))
    return canvas, (x0, y0, x0 + w, y0 + h)


def native_copy(rgb: Image.Image, max_side: int) -> tuple[bytes, int, int]:
    """The image as RGB PNG, long side capped at ``max_side`` (0 = no cap), Lanczos."""
    if max_side and max(rgb.size) > max_side:
        scale = max_side / max(rgb.size)
        rgb = rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))),
                         LANCZOS)
        rgb.info = {}
    buffer = io.BytesIO()
    rgb.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL, optimize=False)
    return buffer.getvalue(), rgb.width, rgb.height


def encode_sample(pixels, codec: str, jpeg_quality: int = 95) -> bytes:
    """One R x R sample (uint8 [R, R, 3] or an RGB image) in the GAN shards' codec, with fixed
    settings: the same pixels always give the same bytes."""
    img = pixels if isinstance(pixels, Image.Image) else Image.fromarray(
        np.ascontiguousarray(pixels, dtype=np.uint8), "RGB")
    buffer = io.BytesIO()
    if codec == "png":
        img.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL, optimize=False)
    elif codec == "webp":   # lossless: quality is then libwebp's effort (100: smallest, slowest)
        img.save(buffer, format="WEBP", lossless=True, quality=100, method=4, exact=True)
    elif codec == "jpeg":   # 4:4:4: chroma subsampling smears the fine colour of brushwork
        img.save(buffer, format="JPEG", quality=jpeg_quality, subsampling=0, optimize=False)
    else:
        raise ValueError(f"pack.codec must be one of {', '.join(CODECS)}, got {codec!r}")
    return buffer.getvalue()


def pack_image(job: ImageJob) -> PackedArtwork:
    """Everything the pack needs from one image; a failure comes back as ``error``, never as
    an exception, so one bad file cannot stop the stage."""
    if not job.path:
        return PackedArtwork(job.key, error="no_image")  # no file, and not in the store
    if not os.path.isfile(job.path):
        return PackedArtwork(job.key, error="missing_file")
    try:
        data = job.path if job.size is None else io.BytesIO(
            Blob(job.path, job.offset, job.size).read())
    except OSError as exc:
        return PackedArtwork(job.key, error=f"unreadable_file: {_clean(exc)}")
    try:
        rgb = open_rgb(data)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return PackedArtwork(job.key, error=f"decompression_bomb: {_clean(exc)}")
    except UnidentifiedImageError:
        return PackedArtwork(job.key, error="not_an_image: Pillow cannot identify the format")
    except Exception as exc:  # any decoder failure is a reason, not a crash
        return PackedArtwork(job.key, error=f"decode_error: {type(exc).__name__}: {_clean(exc)}")

    r = job.resolution
    boxes = sample_boxes(job, rgb.width, rgb.height)
    if job.aspect == "letterbox":
        canvas, inner_box = letterbox(rgb, r)
        samples, inner = [np.asarray(canvas)], [inner_box]
    else:
        # Crop, then resize: resize(box=...) would let the filter reach outside the box.
        samples = [np.asarray(rgb.crop(box).resize((r, r), LANCZOS)) for box in boxes]
        inner = [(0, 0, r, r)] * len(boxes)
    png, native_width, native_height = native_copy(rgb, job.native_max_side)
    encoded = [encode_sample(s, job.codec, job.jpeg_quality) for s in samples]
    return PackedArtwork(job.key, samples=encoded,
                         boxes=boxes, inner=inner, width=rgb.width, height=rgb.height,
                         native_png=png, native_width=native_width, native_height=native_height)


def _clean(exc: BaseException) -> str:
    """An exception's message without object addresses, so reasons are reproducible."""
    return re.sub(r" at 0x[0-9a-fA-F]+", "", str(exc))[:300]


def pack_images(jobs: list[ImageJob], workers: int) -> Iterator[PackedArtwork]:
    """``pack_image`` over ``jobs``, results in the order of ``jobs``. Several processes when
    there is enough work; a bounded window of jobs in flight keeps memory flat."""
    if workers <= 1 or len(jobs) < POOL_MIN_IMAGES_PER_WORKER * workers:
        yield from map(pack_image, jobs)
        return
    with ProcessPoolExecutor(workers) as pool:
        remaining = iter(jobs)
        in_flight = deque(pool.submit(pack_image, job)
                          for job in itertools.islice(remaining, 4 * workers))
        while in_flight:
            result = in_flight.popleft().result()
            following = next(remaining, None)
            if following is not None:
                in_flight.append(pool.submit(pack_image, following))
            yield result


# ----------------------------------------------------------------------------------------------
# Shard writers


class ZipShardWriter:
    """``gan-{split}-{NNNNN}.zip`` files of encoded samples, entries stored (the codec has
    compressed already) in sample order with fixed metadata; a shard closes at
    ``shard_images`` entries or GAN_SHARD_BYTES."""

    def __init__(self, folder: Path, split: str, codec: str, shard_images: int):
        self.folder, self.split = folder, split
        self.extension = EXTENSIONS[codec]
        self.shard_images = shard_images
        self.names: list[str] = []
        self.total = 0
        self._zip: zipfile.ZipFile | None = None
        self._in_shard = self._shard_bytes = 0

    def append(self, samples: list[bytes]) -> list[tuple[int, int]]:
        """Write encoded samples; return (shard, index_in_shard) of each."""
        places = []
        for sample in samples:
            if self._zip is None:
                self.names.append(f"gan-{self.split}-{len(self.names):05d}.zip")
                self._zip = zipfile.ZipFile(self.folder / self.names[-1], "w",
                                            zipfile.ZIP_STORED)
                self._in_shard = self._shard_bytes = 0
            entry = zipfile.ZipInfo(f"{self.total:08d}.{self.extension}", date_time=ZIP_DATE)
            entry.external_attr = 0o644 << 16   # a plain file, whoever extracts it
            self._zip.writestr(entry, sample, compress_type=zipfile.ZIP_STORED)
            places.append((len(self.names) - 1, self._in_shard))
            self._in_shard += 1
            self._shard_bytes += len(sample)
            self.total += 1
            if self._in_shard == self.shard_images or self._shard_bytes >= GAN_SHARD_BYTES:
                self.close()
        return places

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None


class NativeShardWriter:
    """``native-{split}-{NNNNN}.parquet``, streamed one row group of NATIVE_ROW_GROUP rows at a
    time (memory stays at one row group of PNGs); a shard closes at ``shard_images`` rows or
    NATIVE_SHARD_BYTES of PNG, whichever comes first."""

    def __init__(self, folder: Path, split: str, shard_images: int):
        self.folder, self.split, self.shard_images = folder, split, shard_images
        self.names: list[str] = []
        self.total = 0
        self._writer: pq.ParquetWriter | None = None
        self._group: list[tuple[str, bytes, int, int]] = []
        self._shard_rows = 0
        self._shard_bytes = 0

    def append(self, key: str, png: bytes, width: int, height: int) -> None:
        self._group.append((key, png, width, height))
        self._shard_rows += 1
        self._shard_bytes += len(png)
        self.total += 1
        if self._shard_rows >= self.shard_images or self._shard_bytes >= NATIVE_SHARD_BYTES:
            self.close()
        elif len(self._group) == NATIVE_ROW_GROUP:
            self._flush_group()

    def close(self) -> None:
        """End the current shard (the next append starts a new one)."""
        self._flush_group()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._shard_rows = self._shard_bytes = 0

    def _flush_group(self) -> None:
        if not self._group:
            return
        if self._writer is None:
            self.names.append(f"native-{self.split}-{len(self.names):05d}.parquet")
            # PNG is already compressed: Parquet compression would only cost time.
            self._writer = pq.ParquetWriter(self.folder / self.names[-1], NATIVE_SCHEMA,
                                            compression="none", use_dictionary=False)
        keys, pngs, widths, heights = zip(*self._group, strict=True)
        self._writer.write_table(pa.Table.from_arrays(
            [pa.array(keys, pa.string()), pa.array(pngs, pa.binary()),
             pa.array(widths, pa.int32()), pa.array(heights, pa.int32())], schema=NATIVE_SCHEMA))
        self._group = []


def image_places(manifest: pd.DataFrame, crawl_root: Path
                 ) -> list[tuple[str | None, int, int | None]]:
    """Where each row's image lies: (file, offset, size), size None for the whole file; the
    file None when the row names no image or the store lacks it."""
    stores, places = CrawlStores(crawl_root), []
    for rel, source, sha256 in zip(manifest["image_path"], manifest["source"],
                                   manifest["sha256"], strict=True):
        if isinstance(rel, str):
            places.append((str(crawl_root / rel), 0, None))
            continue
        blob = (stores.locate(source, sha256) if isinstance(source, str)
                and isinstance(sha256, str) and HEX.fullmatch(sha256) else None)
        places.append((blob.path, blob.offset, blob.size) if blob else (None, 0, None))
    return places


# ----------------------------------------------------------------------------------------------
# The stage


def pack(params: dict, paths: dict, out: str | Path | None = None,
         progress: bool = False) -> dict:
    """Pack the curated manifest into ``out`` (default ``paths["pack"]``); return pack.json.

    Raises ValueError / FileNotFoundError with the offending ``pack.*`` param named, before any
    image is decoded; and ValueError if no image of the train split could be packed (the
    previous pack, if any, is then left as it was).
    """
    config = PackConfig.from_params(params, paths, out)
    manifest = read_manifest(config.curated)
    if not config.images_root.is_dir():
        raise FileNotFoundError(f"paths.crawl: no folder {config.images_root} "
                                "(the curated images' content stores are in it)")
    manifest["split"] = assign_splits(manifest, config.seed, config.val_fraction)
    if not (manifest["split"] == "train").any():
        raise ValueError(f"pack: the train split is empty ({len(manifest)} artworks, "
                         f"pack.val_fraction={config.val_fraction}): lower val_fraction or "
                         "curate more artworks")

    jobs = [ImageJob(key=key, path=path, offset=offset, size=size,
                     resolution=config.resolution, aspect=config.aspect,
                     crops_per_image=config.crops_per_image,
                     crop_min_fraction=config.crop_min_fraction, seed=config.seed,
                     native_max_side=config.native_max_side, codec=config.codec,
                     jpeg_quality=config.jpeg_quality)
            for key, (path, offset, size) in zip(manifest["key"],
                                                 image_places(manifest, config.images_root),
                                                 strict=True)]
    workers = config.workers or os.cpu_count() or 1
    rows = manifest.set_index("key")

    with atomic_dir(config.out) as folder:
        gan = {s: ZipShardWriter(folder, s, config.codec, config.shard_images) for s in SPLITS}
        native = {s: NativeShardWriter(folder, s, config.shard_images) for s in SPLITS}
        labels: dict[str, list[dict]] = {s: [] for s in SPLITS}
        skipped, upscaled = [], 0
        for done in _progress(pack_images(jobs, workers), len(jobs), progress):
            if done.error is not None:
                skipped.append({"key": done.key, "reason": done.error})
                continue
            row = rows.loc[done.key]
            split = row["split"]
            upscaled += min(done.width, done.height) < config.resolution
            places = gan[split].append(done.samples)
            native[split].append(done.key, done.native_png, done.native_width,
                                 done.native_height)
            for crop, ((shard, index), box, inner) in enumerate(
                    zip(places, done.boxes, done.inner, strict=True)):
                labels[split].append({
                    "split": split, "shard": shard, "index_in_shard": index,
                    "sample_index": len(labels[split]), "key": done.key,
                    "cluster_id": int(row["cluster_id"]), "crop": crop,
                    "x0": box[0], "y0": box[1], "x1": box[2], "y1": box[3],
                    "inner_x0": inner[0], "inner_y0": inner[1], "inner_x1": inner[2],
                    "inner_y1": inner[3], "source_width": done.width,
                    "source_height": done.height, "artist": _name(row["artist"]),
                    "period": period_label(row["date_start"]),
                    "object_type": _name(row["object_type"]),
                    "genre": _name(str(row["genre"]).split("|")[0]
                                   if isinstance(row["genre"], str) else None)})
        for writer in (*gan.values(), *native.values()):
            writer.close()
        if not labels["train"]:
            raise ValueError(f"pack: no image of the train split could be packed "
                             f"({len(skipped)} skipped, e.g. {skipped[:1]}); "
                             f"check paths.crawl={config.images_root}")

        vocab = write_labels(folder, labels["train"] + labels["val"])
        files = {p.name: sha256_file(p) for p in sorted(folder.iterdir())}
        summary = {
            "schema_version": SCHEMA_VERSION,
            "resolution": config.resolution, "aspect": config.aspect, "seed": config.seed,
            "codec": config.codec,
            "counts": {s: gan[s].total for s in SPLITS},
            "artworks": {s: native[s].total for s in SPLITS},
            "shards": {s: gan[s].names for s in SPLITS},
            "native_shards": {s: native[s].names for s in SPLITS},
            "vocab_sizes": {k: len(v) for k, v in vocab.items()},
            "files": files,
            "fingerprint": _fingerprint(files, lambda n: not n.startswith("native-")),
            "native_fingerprint": _fingerprint(files, lambda n: n.startswith("native-")),
            "manifest": str(config.curated),
            "manifest_sha256": sha256_file(config.curated),
            "manifest_rows": len(manifest),
            "skipped": skipped, "upscaled": int(upscaled),
            "split_rule": "val if sha256('pack-split:{seed}:{anchor}')[:8] / 2**64 < "
                          "val_fraction; anchor = smallest key among the artwork's copies",
            "params": config.echo(),
        }
        (folder / "pack.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n",
                                          encoding="utf-8")
    return summary


def write_labels(folder: Path, samples: list[dict]) -> dict[str, list[str]]:
    """labels.parquet and vocab.json; ids are positions in the sorted vocabularies."""
    vocab = {
        "artist": sorted({s["artist"] for s in samples}),
        "period": sorted({s["period"] for s in samples}, key=_period_order),
        "object_type": sorted({s["object_type"] for s in samples}),
        "genre": sorted({s["genre"] for s in samples}),
    }
    for name, names in vocab.items():
        ids = {n: i for i, n in enumerate(names)}
        for s in samples:
            s[f"{name}_id"] = ids[s[name]]
    columns = {f.name: pa.array([s[f.name] for s in samples], f.type) for f in LABELS_SCHEMA}
    pq.write_table(pa.Table.from_pydict(columns, schema=LABELS_SCHEMA), folder / "labels.parquet")
    (folder / "vocab.json").write_text(json.dumps(vocab, indent=2, ensure_ascii=False) + "\n",
                                       encoding="utf-8")
    return vocab


def _fingerprint(files: dict[str, str], include) -> str:
    lines = "".join(f"{name} {sha}\n" for name, sha in sorted(files.items()) if include(name))
    return hashlib.sha256(lines.encode()).hexdigest()


def _progress(items: Iterable, total: int, enabled: bool) -> Iterable:
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, unit=" images", mininterval=1.0, dynamic_ncols=True,
                file=sys.stderr)


# ----------------------------------------------------------------------------------------------
# Command line


@reported("pack")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.pack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml", help="params file (section pack)")
    parser.add_argument("--out", help="write the pack here instead of paths.pack")
    args = parser.parse_args(argv)
    try:
        params, paths = load_params("pack", args.params), load_params("paths", args.params)
        summary = pack(params, paths, out=args.out, progress=sys.stderr.isatty())
    except (ValueError, FileNotFoundError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        raise UserError(f"pack: {message.removeprefix('pack: ')}") from None
    counts, artworks = summary["counts"], summary["artworks"]
    print(f"pack: {counts['train']} train / {counts['val']} val images at "
          f"{summary['resolution']} px ({summary['aspect']}) from {artworks['train']} / "
          f"{artworks['val']} artworks; {len(summary['skipped'])} skipped, "
          f"{summary['upscaled']} upscaled -> {args.out or paths['pack']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
