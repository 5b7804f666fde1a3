"""curate.hashing: phash equals imagehash's (within Hamming 2 on the JPEG draft path), bad bytes
become error rows, and the frame detector finds a frame without cutting into plain pictures."""

from __future__ import annotations

import io
import struct
import zlib

import imagehash
import numpy as np
import pytest
from PIL import Image

from crawl.demo import transforms
from curate.hashing import hash_files, hash_image


def _hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")





def _smooth(seed: int, size) -> Image.Image:
    """A paint-like image: smooth colour fields plus some texture."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)
    noise = rng.normal(0, 12, size=(size[1], size[0], 3))
    return Image.fromarray(np.clip(np.asarray(img) + noise, 0, 255).astype(np.uint8))


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("seed", range(6))
def test_png_phash_equals_imagehash(seed):
    data = _encode(_smooth(seed, (640, 480)), "PNG")
    row = hash_image(data)
    assert row["error"] is None
    assert row["phash"] == str(imagehash.phash(Image.open(io.BytesIO(data))))
    assert (row["width"], row["height"], row["format"]) == (640, 480, "PNG")


def test_jpeg_draft_phash_within_two_of_imagehash():
    distances = []
    for seed in range(12):
        # Odd sizes: the draft's last block row is partial, the case the box correction handles.
        data = _encode(_smooth(100 + seed, (1003 + 37 * seed, 755 + 11 * seed)), "JPEG",
                       quality=88)
        row = hash_image(data)
        distances.append(_hamming(row["phash"], str(imagehash.phash(Image.open(io.BytesIO(data))))))
    assert max(distances) <= 2, distances


def test_demo_paintings_hash_like_imagehash(demo_root):
    files = sorted((demo_root / "files").glob("*/*.jpg"))[:25]
    distances = []
    for path in files:
        row = hash_image(path.read_bytes())
        if row["error"] is None:
            distances.append(_hamming(row["phash"], str(imagehash.phash(Image.open(path)))))
    assert len(distances) >= 20
    assert np.mean(np.array(distances) <= 2) >= 0.95, distances


def _tiny_png_header(width: int, height: int) -> bytes:
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


@pytest.mark.parametrize("data", [
    b"",
    b"<html><body>404 not found</body></html>",
    b"\xff\xd8\xff\xe0" + bytes(range(256)) * 20,  # JPEG marker then noise
    _tiny_png_header(30000, 30000),  # 900 megapixels: a decompression bomb
    _tiny_png_header(10000, 10000),  # 100 MP: above MAX_IMAGE_PIXELS, below the hard limit
], ids=["empty", "html", "corrupt_jpeg", "bomb", "bomb_warning"])
def test_bad_bytes_are_error_rows(data):
    row = hash_image(data)
    assert row["error"], row
    assert row["phash"] is None and row["thumb"] is None
    assert len(row["sha256"]) == 64


def test_truncated_jpeg_is_an_error_row():
    data = _encode(_smooth(3, (800, 600)), "JPEG", quality=90)
    row = hash_image(data[: len(data) // 2])
    assert row["error"] and "truncated" in row["error"].lower()


def test_frame_is_detected_and_plain_picture_is_not_cut():
    picture = _smooth(11, (800, 600))
    for style in ("mat", "gilt", "black"):
        framed = transforms.add_frame(picture, 0.08, style, seed=3)
        row = hash_image(_encode(framed, "JPEG", quality=90))
        border = 0.08 * 800 / framed.width
        assert all(abs(t - border) < 0.035 for t in row["trim"]), (style, row["trim"])
    assert max(hash_image(_encode(picture, "JPEG", quality=90))["trim"]) == 0


def test_hash_files_keeps_order(tmp_path):
    paths = []
    for i in range(40):
        path = tmp_path / f"{i}.png"
        path.write_bytes(_encode(_smooth(i, (64, 48)), "PNG"))
        paths.append(path)
    paths.append(tmp_path / "missing.jpg")
    rows = hash_files(paths, workers=2, chunksize=4)
    assert [r["phash"] for r in rows[:40]] == [hash_image(p.read_bytes())["phash"]
                                                for p in paths[:40]]
    assert rows[-1]["error"]
