"""Per-image hashes and small de-duplication features, computed fast from the image bytes.

Run it over files::

    python -c "from curate.hashing import hash_files; print(hash_files(['a.jpg'])[0])"

and benchmark it with ``python -m benchmarks curate_hashing``.

What one row holds (`hash_image`), every value a plain Python value that fits a Parquet column:

- ``sha256`` of the bytes (exact copies), ``width``/``height``/``format``/``mode`` of the file;
- ``phash``: 64-bit perceptual hash with exactly ``imagehash.phash`` semantics (grayscale,
  LANCZOS to 32x32, 2-D DCT-II, top-left 8x8, bit = coefficient > median, hex string as
  ``str(imagehash.phash(img))``);
- ``trim``: the fractions cut from the left, top, right and bottom edges by the border/frame
  detector (all 0.0 when it found none);
- ``phash_trim`` (phash of the image inside its border/frame) and ``phash_centre`` (phash of the
  central 70 % of that): extra keys for the candidate search, so a framed copy or a 10-30 % crop
  still lands near its original in Hamming space;
- ``thumb``: a 64x64 grayscale thumbnail (uint8, row-major bytes, 4,096 bytes) of the trimmed
  image, aspect ratio discarded (which makes squashed scans line up), for the verification
  step in :mod:`curate.dedup`;
- ``error``: ``None``, or why the bytes could not be hashed (unreadable, truncated, a
  decompression bomb...). Bad images become rows with an error, never exceptions.

Speed: a JPEG is decoded in draft mode (libjpeg's DCT scaling straight to grayscale at 1/2, 1/4
or 1/8 size), to the smallest scale whose both sides are still >= ``DRAFT_MIN_SIDE``, which is
enough for the 32x32 hash input and the 64x64 thumbnail. The hash math is then imagehash's own
on the reduced image, so bits differ from a full decode only by the reduction's rounding (a
Hamming distance of 0-2 on almost all images; ``benchmarks/curate_hashing.py`` measures it).
Pillow reads the header (format, size, mode, the decompression-bomb check) and picks the scale;
the scaled decode itself goes through simplejpeg (libjpeg-turbo's TurboJPEG API on the bytes in
memory, no chunked feeding of the decoder), about 6 % faster per image than Pillow's decode. Its
pixels are bit-identical to Pillow's draft decode (same library, same scale, same integer IDCT;
tests check it), so the stored bits are the same either way. Anything simplejpeg refuses or
would decode differently (CMYK/YCCK, no reduction, a recoverable error such as a truncated or
corrupt stream: strict mode makes those errors) is decoded by Pillow, which gives the same
pixels or the same error as before. A reduced JPEG is then brought to the 32x32 hash input the
way Pillow's ``reducing_gap=2.0`` does it (an integer box reduction to within twice the target,
then LANCZOS): on a 3000 px JPEG that is 0.1 ms instead of 0.55 ms for LANCZOS over the whole
375 px draft, and the bits stay within Hamming 2 of imagehash's on about 98 % of images.
Almost all of the remaining time is libjpeg's entropy (Huffman) decoding, which no scaling can
skip. Other formats (PNG, TIFF, ...) are decoded in full and their ``phash`` equals
imagehash's.

``HASH_PIPELINE`` names this decode+hash path; rows from different pipelines must never be
compared in one index, because each path shifts bits slightly (the curate stage refuses to mix
them). History: ``draft-v1`` resized the draft with plain LANCZOS; ``draft-v2`` adds the box
reduction.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import warnings
from concurrent.futures import ProcessPoolExecutor

import numba
import numpy as np
import simplejpeg
from PIL import Image

HASH_PIPELINE = "draft-v2"

# Pillow's `reducing_gap` for a draft-decoded JPEG's hash input: box-reduce by an integer factor
# while the result stays >= 2x the 32 px target, then LANCZOS. It leaves drafts under 128 px
# (JPEGs up to ~1000 px) exactly as plain LANCZOS would.
DRAFT_REDUCING_GAP = 2.0

HASH_INPUT_SIDE = 32  # imagehash.phash: hash_size 8 x highfreq_factor 4
# Draft target: both sides at least this big. 64 keeps the 64 px thumbnail and the frame
# detector supplied with real pixels; for any image >= 512 px this is still libjpeg's 1/8 scale.
DRAFT_MIN_SIDE = 64
# Frame detection and the extra hashes work on at most this long a side: enough to see a 4 %
# frame (10 px), small enough to cost well under a millisecond.
WORK_LONG_SIDE = 256
THUMB_SIDE = 64
CENTRE_FRACTION = 0.70
MAX_TRIM_FRACTION = 0.25  # per side; a wider "frame" is more likely part of the picture

ROW_FIELDS = ("sha256", "phash", "phash_trim", "phash_centre", "trim", "thumb", "width",
              "height", "format", "mode", "error")


# ----------------------------------------------------------------------------------------------
# phash with imagehash's exact math


def _dct_rows(n: int, keep: int) -> np.ndarray:
    """The first `keep` rows of scipy.fftpack's unnormalised DCT-II matrix for length `n`:
    y[k] = 2 * sum_i x[i] * cos(pi * k * (2i + 1) / (2n))."""
    k = np.arange(keep)[:, None]
    i = np.arange(n)[None, :]
    return 2.0 * np.cos(np.pi * k * (2 * i + 1) / (2 * n))


# imagehash keeps only the top-left 8x8 of the 32x32 DCT; two small matrix products compute
# exactly those 64 coefficients (scipy computes all 1,024 and discards the rest).
_DCT_8x32 = _dct_rows(HASH_INPUT_SIDE, 8)


def phash_hex(gray: Image.Image, box: tuple | None = None, reducing_gap: float | None = None
              ) -> str:
    """imagehash.phash(gray) as its hex string, for an 'L' image. `box` is the source region in
    `gray`'s pixels, fractional for a draft-decoded JPEG whose last block row is partial.
    `reducing_gap` (Pillow's resize option: box-reduce first, then LANCZOS) is faster on large
    inputs but no longer imagehash's exact resampling; it is used for the dedup-only hashes."""
    pixels = np.asarray(gray.resize((HASH_INPUT_SIDE, HASH_INPUT_SIDE),
                                    Image.Resampling.LANCZOS, box=box,
                                    reducing_gap=reducing_gap), dtype=np.float64)
    low = _DCT_8x32 @ pixels @ _DCT_8x32.T
    bits = (low > np.median(low)).ravel()
    # imagehash's hex: the first coefficient is the most significant bit.
    return f"{int(np.packbits(bits).view('>u8')[0]):016x}"


# ----------------------------------------------------------------------------------------------
# Border and frame detection


@numba.njit(cache=True, nogil=True)
def _side_profiles(rows: np.ndarray, limit: int, edge_level: float) -> tuple[np.ndarray,
                                                                            np.ndarray]:
    """For the leading `limit` rows of one side (row 0 = the outer edge): how flat each row is
    along its length (standard deviation), and whether each row boundary is a full-length edge:
    at least half of the row steps by more than `edge_level` at that exact boundary, as along
    a frame's moulding, which painted content rarely does. (Counting is a cheaper stand-in for
    a median of the steps.) Compiled: one pass over a strided view of the image beats a dozen
    numpy calls on these small arrays."""
    length = rows.shape[1]
    spread = np.empty(limit)
    edges = np.empty(limit, dtype=np.bool_)
    for r in range(limit):
        total = 0.0
        for c in range(length):
            total += rows[r, c]
        mean = total / length
        squares = 0.0
        steps = 0
        for c in range(length):
            d = rows[r, c] - mean
            squares += d * d
            if abs(rows[r + 1, c] - rows[r, c]) > edge_level:
                steps += 1
        spread[r] = np.sqrt(squares / length)
        edges[r] = steps > 0.5 * length
    return spread, edges


def detect_frame(gray: np.ndarray) -> tuple[int, int, int, int]:
    """Pixels to cut from (left, top, right, bottom) to remove a uniform border or a frame.

    Two cues, read from the outside in on each side. A run of flat rows (scanner margin, mat,
    plain moulding) is cut when it ends at a sharp full-length edge: a flat sky that fades into
    the picture has no such edge. Framing lines (straight full-length edges, e.g. the ridges of
    a gilt moulding) are cut up to the innermost one, but only when all four sides show one at
    comparable depths, as a real frame does; one straight horizon near an edge must not be cut.
    """
    h, w = gray.shape
    # The central 80 % of each side, so that mitred frame corners do not blur the statistics.
    cx0, cx1, cy0, cy1 = w // 10, w - w // 10, h // 10, h - h // 10
    sides = [gray[cy0:cy1, :].T, gray[:, cx0:cx1], gray[cy0:cy1, ::-1].T, gray[::-1, cx0:cx1]]
    interior = gray[h // 4: h - h // 4, w // 4: w - w // 4]
    interior_level = (float(np.median(np.abs(np.diff(interior, axis=0))))
                      if interior.shape[0] > 1 else 0.0)
    edge_level = max(12.0, 4.0 * interior_level)
    flat_depth, line_depth = [], []
    for side in sides:
        limit = int(MAX_TRIM_FRACTION * side.shape[0])
        if limit < 2:
            flat_depth.append(0)
            line_depth.append(0)
            continue
        spread, is_edge = _side_profiles(side, limit, edge_level)
        edges = np.flatnonzero(is_edge)
        flat = spread < 2.5
        run = int(np.argmin(flat)) if not flat.all() else limit
        # The flat run must stop at an edge (within 2 rows: JPEG and resampling blur it).
        ok = run > 0 and edges.size and np.abs(edges + 1 - run).min() <= 2
        flat_depth.append(run if ok else 0)
        line_depth.append(int(edges[-1]) + 1 if edges.size else 0)
    long_side = max(h, w)
    depth = flat_depth
    if min(line_depth) > 0 and max(line_depth) <= 2.5 * min(line_depth) + 0.02 * long_side:
        depth = [max(f, ln) for f, ln in zip(flat_depth, line_depth, strict=True)]
    # A pixel more than detected: the last frame row is often blended with the picture.
    return tuple(d + 1 if d else 0 for d in depth)  # type: ignore[return-value]


# ----------------------------------------------------------------------------------------------
# One image


def _open_checked(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; both are bombs to us.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        img = Image.open(io.BytesIO(data))
    return img


def _features(gray: Image.Image) -> dict:
    """The extra dedup features, from a grayscale image of at most WORK_LONG_SIDE."""
    arr = np.asarray(gray, dtype=np.float32)
    left, top, right, bottom = detect_frame(arr)
    w, h = gray.size
    if w - left - right < 8 or h - top - bottom < 8:
        left = top = right = bottom = 0
    inner = gray.crop((left, top, w - right, h - bottom))
    iw, ih = inner.size
    mx, my = round(iw * (1 - CENTRE_FRACTION) / 2), round(ih * (1 - CENTRE_FRACTION) / 2)
    centre = inner.crop((mx, my, iw - mx, ih - my))
    thumb = inner.resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BOX)
    return {
        "phash_trim": phash_hex(inner, reducing_gap=2.0),
        "phash_centre": phash_hex(centre, reducing_gap=2.0),
        "trim": [round(left / w, 4), round(top / h, 4), round(right / w, 4), round(bottom / h, 4)],
        "thumb": np.asarray(thumb, dtype=np.uint8).tobytes(),
    }


def _simplejpeg_gray(data: bytes, size: tuple[int, int]) -> Image.Image | None:
    """The JPEG decoded by libjpeg-turbo (simplejpeg) straight to grayscale at the smallest DCT
    scale giving at least `size`, or None when it refuses: any warning is an error in strict
    mode (a truncated or corrupt stream), so only a clean decode is returned."""
    try:
        pixels = simplejpeg.decode_jpeg(data, colorspace="GRAY", min_width=size[0],
                                        min_height=size[1], strict=True)
    except (ValueError, RuntimeError):
        return None
    if pixels.shape[:2] != (size[1], size[0]):
        return None
    return Image.fromarray(pixels[:, :, 0])


def _decode_gray(img: Image.Image, data: bytes | None = None) -> tuple[Image.Image, tuple | None]:
    """The image as grayscale, reduced while decoding when it is a JPEG, and the box of the
    original extent in the decoded pixels (None when decoded at full size). `data`, the bytes
    `img` was opened from, lets a reduced JPEG take the faster simplejpeg decode."""
    box = None
    if img.format == "JPEG":
        # libjpeg scales while decoding (1/2, 1/4, 1/8) and skips colour conversion. The
        # returned box is the original extent in scaled pixels (w/8 is fractional when the
        # last block is partial); resizing exactly that region keeps the hash input aligned
        # with a full decode's, which is what keeps the bits within Hamming 2 of imagehash.
        original = img.size
        drafted = img.draft("L", (DRAFT_MIN_SIDE, DRAFT_MIN_SIDE))
        # A JPEG too small to reduce (scale 1) counts as decoded in full: box None.
        box = drafted[1] if drafted and img.size != original else None
        # Same pixels as Pillow's draft decode below: the same libjpeg-turbo scaling to the
        # same size (for sides >= 128, 1/scale is the only factor that gives exactly that
        # size). Only YCbCr/RGB/grayscale sources ("L" after draft): simplejpeg converts CMYK
        # to gray with its own formula. A refusal falls through to Pillow, whose decode then
        # gives the pixels or the error (e.g. "image file is truncated") it always gave.
        if data is not None and drafted and img.mode == "L" and img.size != original:
            gray = _simplejpeg_gray(data, img.size)
            if gray is not None:
                return gray, box
    return img.convert("L"), box  # convert forces the decode: truncated data raises here


def _main_phash(gray: Image.Image, box: tuple | None) -> str:
    """The stored ``phash`` of a decoded image: imagehash's exact resampling after a full decode
    (`box` None), the box-reduced one after a draft decode."""
    return phash_hex(gray, box, reducing_gap=None if box is None else DRAFT_REDUCING_GAP)


def phash_bytes(data: bytes) -> str:
    """Just the imagehash-compatible phash of an image's bytes (draft decode for JPEGs): the
    drop-in for ``str(imagehash.phash(Image.open(...)))``. Raises on unreadable data."""
    return _main_phash(*_decode_gray(_open_checked(data), data))


def hash_image(data: bytes) -> dict:
    """Hashes and dedup features of one image's bytes; a row with ``error`` set if unreadable."""
    row = dict.fromkeys(ROW_FIELDS)
    row["sha256"] = hashlib.sha256(data).hexdigest()
    try:
        img = _open_checked(data)
        row.update(width=img.width, height=img.height, format=img.format, mode=img.mode)
        gray, box = _decode_gray(img, data)
        row["phash"] = _main_phash(gray, box)
        if max(gray.size) > WORK_LONG_SIDE:
            scale = WORK_LONG_SIDE / max(gray.size)
            gray = gray.resize((max(1, round(gray.width * scale)),
                                max(1, round(gray.height * scale))), Image.Resampling.BOX)
        row.update(_features(gray))
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a property of the data
        for field in ROW_FIELDS:
            if field != "sha256":
                row[field] = None
        row["error"] = f"{type(exc).__name__}: {exc}"[:300]
    return row


def _hash_file(file, extra=None) -> dict:
    try:
        if hasattr(file, "read"):
            data = file.read()
        else:
            with open(file, "rb") as f:
                data = f.read()
    except OSError as exc:
        row = dict.fromkeys(ROW_FIELDS)
        row["error"] = f"{type(exc).__name__}: {exc}"[:300]
        return row
    row = hash_image(data)
    if extra is not None and row["error"] is None:
        row.update(extra(data))
    return row


def hash_files(files: list, workers: int | None = None, chunksize: int = 16,
               extra=None) -> list[dict]:
    """`hash_image` over files (paths, or picklable objects whose ``read()`` gives the bytes: a
    content store's ``crawl.blobs.Blob``) in a process pool; rows come back in the order of
    ``files``. ``workers=1`` hashes in this process (no pool), which is what a benchmark per
    core wants. ``extra``: a picklable function of the bytes giving more fields for each
    readable image's row, computed from the same read (the local features:
    ``curate.local_features.feature_fields``); unreadable images' rows lack them."""
    files = [f if hasattr(f, "read") else os.fspath(f) for f in files]
    workers = workers or os.cpu_count() or 1
    one = functools.partial(_hash_file, extra=extra)
    if workers == 1 or len(files) < 2 * chunksize:
        return [one(f) for f in files]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(one, files, chunksize=chunksize))
