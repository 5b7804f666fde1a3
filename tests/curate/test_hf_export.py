"""curate.manifests.write_hf_export: the curated set with its image bytes, in Parquet shards
named as the Hugging Face Hub names them, cut by image bytes, written one small row group at
a time, and swapped in as one folder.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from PIL import Image

from crawl.blobs import CrawlStores
from crawl.storage import ContentStore
from curate.manifests import CURATED_SCHEMA, write_hf_export
from marcus.errors import UserError


def curated_frame(root, images: list[bytes], source: str = "met") -> pd.DataFrame:
    """Curated rows over ``images``, stored as the crawl stores them, a pack for each (so that
    a test can break one)."""
    with ContentStore(root / source / "images", pack_bytes=1) as store:
        shas = [store.put(data)[0] for data in images]
    rows = []
    for i, sha in enumerate(shas):
        key = f"{source}:{i}"
        rows.append({"key": key, "source": source, "source_id": str(i), "sha256": sha,
                     "width": 8 + i, "height": 6, "format": "PNG",
                     "title": f"Painting {i}", "artist": "Jan Vermeer", "date_start": 1660,
                     "date_end": 1670, "license": "PD", "licence_rule": "life+70",
                     "cluster_id": i, "copies": [key], "provenance": [key]})
    return pd.DataFrame(rows, columns=CURATED_SCHEMA.names)


def pngs(count: int) -> list[bytes]:
    out = []
    for i in range(count):
        buffer = io.BytesIO()
        Image.new("RGB", (8 + i, 6), (i * 40 % 256, 90, 160)).save(buffer, "PNG")
        out.append(buffer.getvalue())
    return out


def noise(sizes: list[int], seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(n) for n in sizes]


def shards(folder) -> list:
    return sorted(folder.glob("train-*.parquet"))


def test_images_are_split_into_shards_named_i_of_n_by_their_byte_budget(tmp_path):
    root, folder = tmp_path / "crawl", tmp_path / "hf"
    sizes = [300, 300, 300, 1500, 900, 100, 500, 500]
    curated = curated_frame(root, noise(sizes))
    write_hf_export(curated, root, folder, shard_bytes=1000)

    assert [p.name for p in shards(folder)] == [f"train-{i:05d}-of-00004.parquet"
                                                for i in range(4)]
    tables = [pq.read_table(p) for p in shards(folder)]
    # A shard closes before the image that would take it over budget; an image larger than
    # the budget gets a shard of its own.
    assert [t.num_rows for t in tables] == [3, 1, 2, 2]
    for table in tables:
        image_bytes = sum(len(image["bytes"]) for image in table.column("image").to_pylist())
        assert image_bytes <= 1000 or table.num_rows == 1
    # Every curated row once, in order, with its own image.
    rows = pd.concat([t.to_pandas() for t in tables], ignore_index=True)
    assert rows["key"].tolist() == curated["key"].tolist()
    assert [image["path"] for image in rows["image"]] == [
        f"met/{sha}.png" for sha in curated["sha256"]]
    assert [hashlib.sha256(image["bytes"]).hexdigest() for image in rows["image"]] == \
        curated["sha256"].tolist()
    assert set(folder.iterdir()) == set(shards(folder))  # nothing else in the folder


def test_row_groups_never_exceed_row_group_rows_nor_cross_a_shard(tmp_path):
    root, folder = tmp_path / "crawl", tmp_path / "hf"
    write_hf_export(curated_frame(root, noise([10] * 25)), root, folder,
                    shard_bytes=100, row_group_rows=4)
    groups = [[pq.ParquetFile(p).metadata.row_group(g).num_rows
               for g in range(pq.ParquetFile(p).metadata.num_row_groups)]
              for p in shards(folder)]
    assert groups == [[4, 4, 2], [4, 4, 2], [4, 1]]


def test_a_row_group_also_closes_at_its_byte_budget_so_large_originals_stay_few_in_memory(
        tmp_path):
    root, folder = tmp_path / "crawl", tmp_path / "hf"
    write_hf_export(curated_frame(root, noise([30, 30, 50, 10, 10, 10, 10])), root, folder,
                    row_group_rows=4, row_group_bytes=60)
    (path,) = shards(folder)
    meta = pq.ParquetFile(path).metadata
    assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [2, 2, 3]


def test_the_same_input_writes_byte_identical_files(tmp_path):
    root = tmp_path / "crawl"
    curated = curated_frame(root, noise([400, 700, 200, 900, 50]))
    for folder in (tmp_path / "a", tmp_path / "b"):
        write_hf_export(curated, root, folder, shard_bytes=1000, row_group_rows=2)
    first = {p.name: p.read_bytes() for p in shards(tmp_path / "a")}
    second = {p.name: p.read_bytes() for p in shards(tmp_path / "b")}
    assert len(first) > 1 and first == second


def test_an_empty_curated_set_writes_one_empty_shard_with_the_schema(tmp_path):
    root = tmp_path / "crawl"
    write_hf_export(curated_frame(root, pngs(2)), root, tmp_path / "full")
    write_hf_export(curated_frame(root, []), root, tmp_path / "empty")

    assert [p.name for p in shards(tmp_path / "empty")] == ["train-00000-of-00001.parquet"]
    table = pq.read_table(shards(tmp_path / "empty")[0])
    assert table.num_rows == 0
    full = pq.read_schema(shards(tmp_path / "full")[0])
    assert table.schema.equals(full, check_metadata=True)
    assert table.schema.names == CURATED_SCHEMA.names + ["image"]


def test_a_missing_image_is_a_user_error_naming_it_and_leaves_the_older_export(tmp_path):
    root, out = tmp_path / "crawl", tmp_path / "out"
    curated = curated_frame(root, pngs(3))
    write_hf_export(curated, root, out / "hf", row_group_rows=1)
    older = {p.name: p.read_bytes() for p in shards(out / "hf")}

    missing = Path(CrawlStores(root).locate("met", curated["sha256"].iloc[2]).path)
    missing.unlink()
    with pytest.raises(UserError, match="dvc repro crawl@met") as raised:
        write_hf_export(curated, root, out / "hf", row_group_rows=1)
    assert str(missing) in str(raised.value)
    # The older export is intact, and no temporary folder or partial shard is left beside it.
    assert {p.name: p.read_bytes() for p in shards(out / "hf")} == older
    assert [p.name for p in out.iterdir()] == ["hf"]

    with pytest.raises(UserError, match=re.escape(str(missing))):
        write_hf_export(curated, root, out / "fresh", row_group_rows=1)
    assert not (out / "fresh").exists()


def test_an_image_its_store_has_lost_is_a_user_error_before_any_shard_is_written(tmp_path):
    root, out = tmp_path / "crawl", tmp_path / "out"
    curated = curated_frame(root, pngs(3))
    cut = Path(CrawlStores(root).locate("met", curated["sha256"].iloc[2]).path)
    cut.write_bytes(b"")  # its index record now points past the end: a torn end, not read
    with pytest.raises(UserError, match="dvc repro crawl@met") as raised:
        write_hf_export(curated, root, out / "hf", row_group_rows=1)
    assert f"holds no image {curated['sha256'].iloc[2]}" in str(raised.value)
    assert str(cut.parent) in str(raised.value)
    assert not out.exists()


def test_the_hugging_face_metadata_is_on_every_shard(tmp_path):
    root, folder = tmp_path / "crawl", tmp_path / "hf"
    images = pngs(5)
    write_hf_export(curated_frame(root, images), root, folder,
                    shard_bytes=2 * max(map(len, images)))
    metadata = [pq.read_schema(p).metadata[b"huggingface"] for p in shards(folder)]
    assert len(metadata) > 1 and len(set(metadata)) == 1
    features = json.loads(metadata[0])["info"]["features"]
    assert features["image"] == {"_type": "Image"}
    assert features["key"] == {"dtype": "string", "_type": "Value"}
    assert features["copies"]["_type"] == "Sequence"


def test_hugging_face_datasets_loads_every_shard_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # its cache, not the user's
    datasets = pytest.importorskip("datasets", reason="dev dependency: pip install -e .[dev]")
    root, folder = tmp_path / "crawl", tmp_path / "hf"
    images = pngs(5)
    curated = curated_frame(root, images)
    write_hf_export(curated, root, folder, shard_bytes=2 * max(map(len, images)))
    assert len(shards(folder)) > 1

    ds = datasets.load_dataset("parquet", data_files={"train": str(folder / "train-*.parquet")},
                               split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert ds["key"] == curated["key"].tolist()
    assert isinstance(ds.features["image"], datasets.Image)
    assert [image.size for image in ds["image"]] == [(8 + i, 6) for i in range(5)]
