"""train.data, the reader of packs: PackedImages and native_images round trip what pack wrote,
across several shards, losslessly; the fingerprint catches a changed shard.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

import train.pack
from tests.train.helpers import collection, stage
from train.data import PackedImages, native_images, pack_fingerprint
from train.pack import pack


def test_packed_images_and_native_images_round_trip(tmp_path, monkeypatch):
    monkeypatch.setattr(train.pack, "NATIVE_ROW_GROUP", 2)    # native shards of 3 rows: 2 + 1
    rows = collection(tmp_path, count=10)
    summary = pack(*stage(tmp_path, shard_images=3, resolution=16, native_max_side=0,
                            val_fraction=0.2))
    out = tmp_path / "pack"
    data = PackedImages(out, "train")
    assert len(data) == summary["counts"]["train"] and data.resolution == 16
    assert len(summary["shards"]["train"]) == -(-len(data) // 3)        # several shards
    stacked = np.concatenate([np.load(out / n) for n in summary["shards"]["train"]])
    order = np.array([len(data) - 1, 0, 4, 3, -1])
    assert (data.batch(order) == stacked[order]).all()
    assert (data[2] == stacked[2]).all()
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
