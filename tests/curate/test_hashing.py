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

from curate import hashing
from curate.hashing import _decode_gray, _open_checked, hash_files, hash_image
from demo import transforms
from tests.images import encode, painting


def _hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


@pytest.mark.parametrize("seed", range(6))
def test_png_phash_equals_imagehash(seed):
    data = encode(painting((640, 480), seed), "PNG")
    row = hash_image(data)
    assert row["error"] is None
    assert row["phash"] == str(imagehash.phash(Image.open(io.BytesIO(data))))
    assert (row["width"], row["height"], row["format"]) == (640, 480, "PNG")


def test_jpeg_draft_phash_within_two_of_imagehash():
    distances = []
    for seed in range(12):
        # Odd sizes: the draft's last block row is partial, the case the box correction handles.
        data = encode(painting((1003 + 37 * seed, 755 + 11 * seed), 100 + seed), "JPEG",
                       quality=88)
        row = hash_image(data)
        distances.append(_hamming(row["phash"], str(imagehash.phash(Image.open(io.BytesIO(data))))))
    assert max(distances) <= 2, distances


def test_large_jpeg_phash_takes_the_box_reduction_and_stays_near_imagehash():
    # ~2600 px: the 1/8 draft is ~325 px, which the hash path box-reduces before LANCZOS.
    distances = []
    for seed in range(6):
        data = encode(painting((2600 + 53 * seed, 1900 - 41 * seed), 200 + seed), "JPEG",
                       quality=90)
        gray, box = _decode_gray(_open_checked(data), data)
        assert box is not None and gray.width < 400
        row = hash_image(data)
        assert row["phash"] == hashing.phash_hex(gray, box, reducing_gap=2.0)
        distances.append(_hamming(row["phash"], str(imagehash.phash(Image.open(io.BytesIO(data))))))
    assert max(distances) <= 4 and np.mean(np.array(distances) <= 2) >= 0.8, distances


def test_unreduced_jpeg_phash_equals_imagehash():
    # Too narrow to reduce (libjpeg scale 1): decoded at full size, so imagehash's exact bits.
    for seed in range(4):
        data = encode(painting((100, 420), 300 + seed), "JPEG", quality=90)
        assert _decode_gray(_open_checked(data), data)[1] is None
        assert hash_image(data)["phash"] == str(imagehash.phash(Image.open(io.BytesIO(data))))


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
    data = encode(painting((800, 600), 3), "JPEG", quality=90)
    row = hash_image(data[: len(data) // 2])
    assert row["error"] and "truncated" in row["error"].lower()


def _pillow_draft(data: bytes) -> tuple[Image.Image, tuple]:
    """The reference decode: Pillow's draft path alone (no bytes, so no simplejpeg)."""
    return _decode_gray(_open_checked(data))


_ORIENTATION_6 = Image.Exif()
_ORIENTATION_6[0x0112] = 6

_DECODE_CASES = {
    "baseline_420": ((1203, 917), {}),
    "progressive": ((1203, 917), {"progressive": True}),
    "subsampling_444": ((1203, 917), {"subsampling": 0}),
    "subsampling_422": ((1203, 917), {"subsampling": 1}),
    "restart_markers": ((1203, 917), {"restart_marker_blocks": 4}),
    "grayscale": ((1203, 917), {"mode": "L"}),
    "rgb_colorspace": ((1203, 917), {"keep_rgb": True}),
    # EXIF orientation 6 (rotate 90): imagehash ignores it, so both decodes must too.
    "exif_orientation": ((1203, 917), {"exif": _ORIENTATION_6}),
    "scale_1_4": ((300, 260), {}),  # 1/4
    "scale_1_2": ((200, 150), {}),  # 1/2
}


@pytest.mark.parametrize("case", list(_DECODE_CASES))
def test_simplejpeg_decode_is_pillow_draft_bit_for_bit(case, monkeypatch):
    size, kw = _DECODE_CASES[case]
    kw = dict(kw)
    img = painting(size, 40 + len(case))
    if "mode" in kw:
        img = img.convert(kw.pop("mode"))
    data = encode(img, "JPEG", quality=90, **kw)
    calls = []
    decode = hashing.simplejpeg.decode_jpeg
    monkeypatch.setattr(hashing.simplejpeg, "decode_jpeg",
                        lambda *a, **k: calls.append(1) or decode(*a, **k))
    fast, fast_box = _decode_gray(_open_checked(data), data)
    assert calls, "the simplejpeg path was not taken"
    slow, slow_box = _pillow_draft(data)
    assert fast_box == slow_box and fast.size == slow.size and fast.mode == slow.mode == "L"
    assert np.array_equal(np.asarray(fast), np.asarray(slow))
    row = hash_image(data)
    assert row["phash"] == hashing._main_phash(slow, slow_box)
    assert (row["width"], row["height"]) == size


def test_cmyk_jpeg_keeps_the_pillow_decode(monkeypatch):
    data = encode(painting((900, 700), 50).convert("CMYK"), "JPEG", quality=90)
    monkeypatch.setattr(hashing.simplejpeg, "decode_jpeg",
                        lambda *a, **k: pytest.fail("simplejpeg used for a CMYK JPEG"))
    row = hash_image(data)
    assert row["error"] is None and row["mode"] == "CMYK"
    assert row["phash"] == hashing._main_phash(*_pillow_draft(data))


def test_truncated_jpeg_is_refused_by_simplejpeg_and_is_an_error_row():
    data = encode(painting((1200, 900), 3), "JPEG", quality=90)
    cut = data[: len(data) // 2]
    img = _open_checked(cut)
    img.draft("L", (hashing.DRAFT_MIN_SIDE, hashing.DRAFT_MIN_SIDE))
    assert hashing._simplejpeg_gray(cut, img.size) is None  # strict: never half an image
    assert hashing._simplejpeg_gray(data, img.size) is not None
    row = hash_image(cut)
    assert row["error"] and "truncated" in row["error"].lower() and row["phash"] is None


def test_frame_is_detected_and_plain_picture_is_not_cut():
    picture = painting((800, 600), 11)
    for style in ("mat", "gilt", "black"):
        framed = transforms.add_frame(picture, 0.08, style, seed=3)
        row = hash_image(encode(framed, "JPEG", quality=90))
        border = 0.08 * 800 / framed.width
        assert all(abs(t - border) < 0.035 for t in row["trim"]), (style, row["trim"])
    assert max(hash_image(encode(picture, "JPEG", quality=90))["trim"]) == 0


def test_hash_files_keeps_order(tmp_path):
    paths = []
    for i in range(40):
        path = tmp_path / f"{i}.png"
        path.write_bytes(encode(painting((64, 48), i), "PNG"))
        paths.append(path)
    paths.append(tmp_path / "missing.jpg")
    rows = hash_files(paths, workers=2, chunksize=4)
    assert [r["phash"] for r in rows[:40]] == [hash_image(p.read_bytes())["phash"]
                                                for p in paths[:40]]
    assert rows[-1]["error"]


def test_the_hash_stage_writes_a_row_group_at_a_time_with_one_schema_bad_files_included(
        tmp_path, monkeypatch):
    import pandas as pd
    import pyarrow.parquet as pq

    from curate import hash_stage

    crawl = tmp_path / "crawl"
    shas = []
    for i, data in enumerate([encode(painting((80, 60), i), "JPEG") for i in range(4)]
                             + [b"\xff\xd8 not a jpeg"]):
        sha = f"{i:02x}" + "0" * 62
        (crawl / "images" / sha[:2]).mkdir(parents=True, exist_ok=True)
        (crawl / "images" / sha[:2] / sha).write_bytes(data)
        shas.append(sha)
    pd.DataFrame({"status": ["stored"] * 5 + ["rejected"], "sha256": shas + [None]}
                 ).to_parquet(crawl / "records.parquet")
    monkeypatch.setattr(hash_stage, "ROWS_PER_GROUP", 2)
    out = tmp_path / "hashes.parquet"
    assert hash_stage.hash_source(crawl, out, workers=1) == 5
    file = pq.ParquetFile(out)
    assert file.schema_arrow == hash_stage.HASHES_SCHEMA
    assert [file.metadata.row_group(g).num_rows for g in range(file.num_row_groups)] == [2, 2, 1]
    rows = file.read().to_pandas()
    assert rows["sha256"].tolist() == shas
    assert (rows["hash_pipeline"] == hashing.HASH_PIPELINE).all()
    assert rows["error"].iloc[:4].isna().all() and rows["error"].iloc[4]
    assert rows["thumb"].iloc[:4].map(len).eq(64 * 64).all() and pd.isna(rows["phash"].iloc[4])
    # Local features for every readable image (80 px pictures, enlarged four times).
    from curate.local_features import FEATURES_PIPELINE, LocalFeatures

    assert all(LocalFeatures.from_bytes(f).size == (320, 240)
               for f in rows["local_features"].iloc[:4])
    assert rows["local_features"].iloc[4] is None
    assert (rows["features_pipeline"] == FEATURES_PIPELINE).all()
