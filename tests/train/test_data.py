"""train.data, the reader of packs: PackedImages and native_images round trip what pack wrote,
across several shards, losslessly for PNG and WebP; a damaged shard is a clear error; the
fingerprint catches a changed shard.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

import train.pack
from tests.train.helpers import collection, stage
from train.data import PackedImages, native_images, pack_fingerprint
from train.pack import pack


def shard_pixels(out, names) -> np.ndarray:
    """Every entry of the shards, decoded by Pillow straight from the zip files."""
    images = []
    for name in names:
        with zipfile.ZipFile(out / name) as shard:
            images += [np.asarray(Image.open(io.BytesIO(shard.read(e))).convert("RGB"))
                       for e in shard.infolist()]
    return np.stack(images)


def test_packed_images_and_native_images_round_trip(tmp_path, monkeypatch):
    monkeypatch.setattr(train.pack, "NATIVE_ROW_GROUP", 2)    # native shards of 3 rows: 2 + 1
    rows = collection(tmp_path, count=10)
    summary = pack(*stage(tmp_path, shard_images=3, resolution=16, native_max_side=0,
                            val_fraction=0.2))
    out = tmp_path / "pack"
    data = PackedImages(out, "train")
    assert len(data) == summary["counts"]["train"] and data.resolution == 16
    assert len(summary["shards"]["train"]) == -(-len(data) // 3)        # several shards
    stacked = shard_pixels(out, summary["shards"]["train"])
    order = np.array([len(data) - 1, 0, 4, 3, -1])
    assert (data.batch(order) == stacked[order]).all()
    assert (data[2] == stacked[2]).all() and data.batch([]).shape == (0, 16, 16, 3)
    assert list(data.labels["sample_index"]) == list(range(len(data)))
    assert (data.labels["split"] == "train").all()
    assert data.labels["key"].is_monotonic_increasing
    assert data.vocab == json.loads((out / "vocab.json").read_text())
    with pytest.raises(IndexError):
        data.batch([len(data)])
    with pytest.raises(ValueError, match="split"):
        PackedImages(out, "test")

    sources = {r["key"]: np.asarray(Image.open(tmp_path / "crawl" / r["image_path"]))
               for r in rows}
    seen = []
    for split in ("train", "val"):
        for key, pixels in native_images(out, split):
            seen.append(key)
            assert pixels.dtype == np.uint8 and (pixels == sources[key]).all()   # lossless
    assert sorted(seen) == sorted(sources)
    first_native = pq.ParquetFile(out / summary["native_shards"]["train"][0]).metadata
    assert (first_native.num_rows, first_native.num_row_groups) == (3, 2)

    assert pack_fingerprint(out) == summary["fingerprint"]
    shard = out / summary["shards"]["train"][0]
    shard.write_bytes(shard.read_bytes()[:-1] + b"\x01")
    with pytest.raises(ValueError, match="does not match"):
        pack_fingerprint(out, verify=True)


def test_webp_is_lossless_and_jpeg_close_and_smaller(tmp_path):
    collection(tmp_path, count=8)
    packs = {codec: pack(*stage(tmp_path, pack=tmp_path / codec, resolution=16, codec=codec,
                                  jpeg_quality=90))
             for codec in ("png", "webp", "jpeg")}
    pixels = {codec: PackedImages(tmp_path / codec, "train") for codec in packs}
    everything = np.arange(len(pixels["png"]))
    reference = pixels["png"].batch(everything)
    assert (pixels["webp"].batch(everything) == reference).all()
    lossy = pixels["jpeg"].batch(everything).astype(int)
    assert 0 < np.abs(lossy - reference).mean() < 8
    names = {codec: zipfile.ZipFile(tmp_path / codec / p["shards"]["train"][0]).namelist()
             for codec, p in packs.items()}
    assert names["png"][0] == "00000000.png" and names["jpeg"][0] == "00000000.jpg"
    assert packs["webp"]["params"]["codec"] == "webp"
    assert packs["png"]["fingerprint"] != packs["webp"]["fingerprint"]


def test_a_damaged_entry_is_an_error_naming_the_image(tmp_path):
    collection(tmp_path, count=6)
    summary = pack(*stage(tmp_path, resolution=16, val_fraction=0))
    shard = tmp_path / "pack" / summary["shards"]["train"][0]
    with zipfile.ZipFile(shard) as z:
        second = z.infolist()[1]
        start = second.header_offset + 30 + len(second.filename) + len(second.extra)
    body = bytearray(shard.read_bytes())
    body[start + 40] ^= 0xFF                                # a byte inside image 1's PNG
    shard.write_bytes(bytes(body))
    data = PackedImages(tmp_path / "pack", "train")
    assert data.batch([0]).shape == (1, 16, 16, 3)          # the others still read
    with pytest.raises(ValueError, match="train image 1 is not a readable png"):
        data.batch([1])


def test_a_reader_can_be_pickled_for_a_spawned_worker(tmp_path):
    collection(tmp_path, count=6)
    pack(*stage(tmp_path, resolution=16, val_fraction=0))
    data = PackedImages(tmp_path / "pack", "train")
    first = data[0]                                         # opens a shard
    copy = pickle.loads(pickle.dumps(data))
    assert (copy[0] == first).all() and len(copy) == len(data)
