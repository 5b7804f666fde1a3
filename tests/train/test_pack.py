"""The pack stage (train/pack.py) on small synthetic collections: shards, determinism, the split by
artwork, the aspect policies, odd image modes, unreadable files and clear errors. The reader
of packs is tested in test_data.py.

Every test builds its own curated manifest and images under tmp_path (a few tiny PNGs and
JPEGs, tests/train/helpers.py), packs at 8 or 16 px, and checks the bytes that come out.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from crawl.storage import ContentStore
from marcus.errors import UserError
from tests.images import encode, painting
from tests.projects import PARAMS
from tests.train.helpers import (
    collection,
    files_of,
    paths_for,
    row,
    save,
    settings,
    stage,
    write_manifest,
)
from train.data import PackedImages, pack_fingerprint
from train.pack import (
    ImageJob,
    artwork_anchors,
    assign_splits,
    main,
    pack,
    period_label,
    sample_boxes,
)


def halves(width: int, height: int, left=(200, 0, 0), right=(0, 0, 200)) -> Image.Image:
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2] = left
    pixels[:, width // 2:] = right
    return Image.fromarray(pixels, "RGB")


# ----------------------------------------------------------------------------------------------
# What comes out


def test_shapes_dtypes_labels_and_summary(tmp_path):
    rows = collection(tmp_path)
    summary = pack(*stage(tmp_path, native_max_side=16))
    out = tmp_path / "pack"

    counts = summary["counts"]
    assert counts["train"] + counts["val"] == len(rows) and counts["train"] > 0
    for split in ("train", "val"):
        for name in summary["shards"][split]:
            with zipfile.ZipFile(out / name) as shard:
                entries = shard.infolist()
                assert all(e.compress_type == zipfile.ZIP_STORED for e in entries)
                for entry in entries:
                    image = Image.open(io.BytesIO(shard.read(entry)))
                    assert (image.format, image.mode, image.size) == ("PNG", "RGB", (8, 8))
    assert summary["codec"] == "png"
    labels = pd.read_parquet(out / "labels.parquet")
    assert len(labels) == len(rows) and labels["key"].is_unique
    assert labels[["artist_id", "period_id", "object_type_id", "genre_id"]].dtypes.eq(
        "int32").all()
    vocab = json.loads((out / "vocab.json").read_text())
    assert vocab["artist"] == ["Painter 0", "Painter 1", "Painter 2"]
    assert vocab["period"] == ["900-999", "1400-1499", "unknown"]   # by century, unknown last
    assert vocab["object_type"] == ["painting", "panel"]
    assert vocab["genre"] == ["landscape art", "portrait", "unknown"]  # a painting's first genre
    for name in ("artist", "period", "object_type", "genre"):
        assert (labels[name] == [vocab[name][i] for i in labels[f"{name}_id"]]).all()

    assert summary["upscaled"] == 1 and summary["skipped"] == []
    assert summary["manifest_rows"] == len(rows) and len(summary["manifest_sha256"]) == 64
    assert "out" not in summary["params"] and summary["params"]["resolution"] == 8
    assert json.loads((out / "pack.json").read_text()) == summary

    natives = pd.concat([pd.read_parquet(out / name) for split in ("train", "val")
                         for name in summary["native_shards"][split]])
    assert sorted(natives["key"]) == sorted(r["key"] for r in rows)
    for _key, png, width, height in natives.itertuples(index=False):
        image = Image.open(io.BytesIO(png))
        assert image.format == "PNG" and image.mode == "RGB" and "icc_profile" not in image.info
        assert image.size == (width, height) and max(width, height) <= 16   # native_max_side
    biggest = natives.set_index("key").loc["src:009"]          # 47 x 16 -> 16 x 5
    assert (biggest["width"], biggest["height"]) == (16, 5)


def test_same_inputs_same_bytes_whatever_the_workers(tmp_path):
    collection(tmp_path, count=12)
    first = pack(*stage(tmp_path, pack=tmp_path / "one", aspect="random_crops"))
    pooled = pack(*stage(tmp_path, pack=tmp_path / "two", aspect="random_crops",
                           workers=2))                        # 12 images: a process pool
    again = pack(*stage(tmp_path, pack=tmp_path / "one", aspect="random_crops"))
    assert files_of(tmp_path / "one") == files_of(tmp_path / "two")
    assert first == pooled == again
    assert pack_fingerprint(tmp_path / "two", verify=True) == first["fingerprint"]
    assert first["counts"]["train"] + first["counts"]["val"] == 12 * 4


# ----------------------------------------------------------------------------------------------
# The split by artwork


def test_copies_of_one_artwork_never_straddle_the_split():
    rows = [{"key": f"s:{i:04d}", "cluster_id": i // 3, "copies": None} for i in range(600)]
    manifest = pd.DataFrame(rows)
    split = assign_splits(manifest, seed=5, val_fraction=0.5)
    per_cluster = split.groupby(manifest["cluster_id"]).nunique()
    assert (per_cluster == 1).all()
    assert 0.35 < (split == "val").mean() < 0.65          # 200 artworks, half of them held out

    lonely = pd.DataFrame([{"key": "a:1", "cluster_id": -1, "copies": None},
                           {"key": "a:2", "cluster_id": -1, "copies": None}])
    assert list(artwork_anchors(lonely)) == ["a:1", "a:2"]  # -1 is no cluster, not one cluster


def test_split_is_stable_when_artworks_are_added_or_clusters_renumbered():
    base = pd.DataFrame([{"key": f"m:{i}", "cluster_id": i, "copies": [f"m:{i}", f"c:{i}"]}
                         for i in range(200)])
    before = assign_splits(base, seed=1234, val_fraction=0.2)
    grown = pd.concat([pd.DataFrame([{"key": "a:new", "cluster_id": 0, "copies": None}]),
                       base.assign(cluster_id=base["cluster_id"] + 1)], ignore_index=True)
    after = assign_splits(grown, seed=1234, val_fraction=0.2)
    assert list(after.iloc[1:]) == list(before)
    # The anchor is the smallest key among the copies, not the elected row's key.
    assert artwork_anchors(base).iloc[0] == "c:0"
    assert list(assign_splits(base, seed=99, val_fraction=0.2)) != list(before)


def test_packed_split_keeps_a_cluster_together_and_survives_a_new_artwork(tmp_path):
    rows = collection(tmp_path, count=10)
    extra = save(tmp_path, "src/images/xx/copy", painting((20, 14), seed=0))
    rows.append(row("other:000", extra, cluster_id=0))              # a copy of src:000
    write_manifest(tmp_path, rows)
    pack(*stage(tmp_path, val_fraction=0.5))
    before = pd.read_parquet(tmp_path / "pack" / "labels.parquet")
    assert (before.groupby("cluster_id")["split"].nunique() == 1).all()

    new = save(tmp_path, "src/images/yy/new", painting((30, 20), seed=77))
    write_manifest(tmp_path, [*rows, row("src:999", new, cluster_id=50)])
    pack(*stage(tmp_path, val_fraction=0.5))
    after = pd.read_parquet(tmp_path / "pack" / "labels.parquet").set_index("key")
    assert (after.loc[before["key"], "split"].to_numpy() == before["split"].to_numpy()).all()


# ----------------------------------------------------------------------------------------------
# Aspect policies


def test_centre_crop_takes_the_middle_square(tmp_path):
    save(tmp_path, "s/wide", halves(30, 10))                  # the crop is x 10..20
    save(tmp_path, "s/flanked", Image.fromarray(np.concatenate(
        [np.full((10, 15, 3), (0, 160, 0), np.uint8), np.full((10, 10, 3), (90, 20, 30), np.uint8),
         np.full((10, 15, 3), (0, 160, 0), np.uint8)], axis=1)))
    write_manifest(tmp_path, [row("s:1", "s/wide", 1), row("s:2", "s/flanked", 2)])
    pack(*stage(tmp_path, val_fraction=0.0))
    data = PackedImages(tmp_path / "pack", "train")
    wide, flanked = data.batch([0, 1]).astype(int)
    assert tuple(data.labels.loc[0, ["x0", "y0", "x1", "y1"]]) == (10, 0, 20, 10)
    # Lanczos rings next to the seam, but the outer columns are clean: red left, blue right.
    assert np.abs(wide[:, 0] - (200, 0, 0)).max() <= 2
    assert np.abs(wide[:, -1] - (0, 0, 200)).max() <= 2
    assert wide[:, :4, 0].mean() > 150 > wide[:, 4:, 0].mean()
    assert (flanked == (90, 20, 30)).all()                # not a trace of the green flanks
    assert len(PackedImages(tmp_path / "pack", "val")) == 0   # val_fraction 0: empty, readable


def test_letterbox_keeps_the_whole_picture_padded_with_its_mean_colour(tmp_path):
    save(tmp_path, "s/wide", halves(32, 16))                  # mean colour (100, 0, 100)
    write_manifest(tmp_path, [row("s:1", "s/wide", 1)])
    pack(*stage(tmp_path, aspect="letterbox", val_fraction=0.0))
    data = PackedImages(tmp_path / "pack", "train")
    sample = data.batch([0])[0].astype(int)
    label = data.labels.iloc[0]
    assert tuple(label[["x0", "y0", "x1", "y1"]]) == (0, 0, 32, 16)
    assert tuple(label[["inner_x0", "inner_y0", "inner_x1", "inner_y1"]]) == (0, 2, 8, 6)
    pad = np.concatenate([sample[:2], sample[6:]])
    assert (pad == (100, 0, 100)).all()
    assert np.abs(sample[2:6, 0] - (200, 0, 0)).max() <= 2     # both halves are in
    assert np.abs(sample[2:6, -1] - (0, 0, 200)).max() <= 2


def test_random_crops_are_seeded_per_image_and_match_their_boxes(tmp_path):
    rows = collection(tmp_path, count=4)
    params = settings(tmp_path, aspect="random_crops", crops_per_image=3, crop_min_fraction=0.5,
                      resolution=16, val_fraction=0.0)
    pack(params, paths_for(tmp_path))
    before = PackedImages(tmp_path / "pack", "train")
    labels = before.labels
    assert len(before) == 4 * 3 and list(labels["crop"]) == [0, 1, 2] * 4
    sides = labels["x1"] - labels["x0"]
    assert (sides == labels["y1"] - labels["y0"]).all()
    short = np.minimum(labels["source_width"], labels["source_height"])
    assert (sides >= np.floor(0.5 * short)).all() and (sides <= short).all()
    assert (labels["x1"] <= labels["source_width"]).all() and (labels["x0"] >= 0).all()
    assert labels.groupby("key")["x0"].nunique().max() > 1    # crops differ within an image
    for i in (0, 5):                                          # pixels are those of the box
        box = tuple(int(v) for v in labels.loc[i, ["x0", "y0", "x1", "y1"]])
        source = Image.open(tmp_path / "crawl" / rows[i // 3]["image_path"]).convert("RGB")
        expected = np.asarray(source.crop(box).resize((16, 16), Image.Resampling.LANCZOS))
        assert (before.batch([i])[0] == expected).all()

    job = ImageJob("k:1", None, 16, "random_crops", 3, 0.5, 1234, 0)
    assert sample_boxes(job, 40, 30) == sample_boxes(job, 40, 30)
    other = ImageJob("k:2", None, 16, "random_crops", 3, 0.5, 1234, 0)
    assert sample_boxes(other, 40, 30) != sample_boxes(job, 40, 30)   # not one seed for all

    new = save(tmp_path, "src/images/00/aaa", painting((40, 30), seed=9))
    write_manifest(tmp_path, [row("src:000a", new, cluster_id=99), *rows])
    pack(params, paths_for(tmp_path))
    after = PackedImages(tmp_path / "pack", "train")
    kept = after.labels["key"] != "src:000a"
    same = ["key", "crop", "x0", "y0", "x1", "y1", "artist", "period", "object_type"]
    assert after.labels.loc[kept, same].reset_index(drop=True).equals(labels[same])
    assert (after.batch(np.flatnonzero(kept)) == before.batch(np.arange(len(before)))).all()


# ----------------------------------------------------------------------------------------------
# Image modes and unreadable files


def test_every_colour_mode_becomes_rgb(tmp_path):
    solid = {"rgba": Image.new("RGBA", (12, 10), (255, 0, 0, 0)),       # transparent: white
             "la": Image.new("LA", (12, 10), (0, 255)),                   # opaque black
             "l": Image.new("L", (12, 10), 100),
             "p": Image.new("RGB", (12, 10), (0, 128, 255)).quantize(4),
             "i16": Image.fromarray(np.full((10, 12), 128 * 257, np.uint16))}  # scaled, not clipped
    expected = {"rgba": (255, 255, 255), "la": (0, 0, 0), "l": (100, 100, 100),
                "p": (0, 128, 255), "i16": (128, 128, 128), "cmyk": (255, 0, 0),
                "exif": None}
    rows = [row(f"m:{name}", save(tmp_path, f"m/{name}", image), i)
            for i, (name, image) in enumerate(solid.items())]
    cmyk = Image.new("CMYK", (12, 10), (0, 255, 255, 0))
    rows.append(row("m:cmyk", save(tmp_path, "m/cmyk", cmyk, "JPEG", quality=95), 10))
    rotated = Image.new("RGB", (20, 10), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6                                          # "rotate 90 degrees to display"
    rows.append(row("m:exif", save(tmp_path, "m/exif", rotated, "JPEG", exif=exif), 11))
    write_manifest(tmp_path, rows)
    summary = pack(*stage(tmp_path, val_fraction=0.0))
    assert summary["skipped"] == [] and summary["counts"]["train"] == len(rows)

    data = PackedImages(tmp_path / "pack", "train")
    for i, label in data.labels.iterrows():
        name = label["key"].removeprefix("m:")
        if expected[name] is not None:
            assert np.abs(data.batch([i])[0].astype(int) - expected[name]).max() <= 4, name
    exif_row = data.labels.set_index("key").loc["m:exif"]
    assert (exif_row["source_width"], exif_row["source_height"]) == (10, 20)


def test_unreadable_images_are_skipped_with_a_reason(tmp_path):
    rows = collection(tmp_path, count=6)
    (tmp_path / "crawl" / "bad").mkdir()
    (tmp_path / "crawl" / "bad" / "text").write_bytes(b"this is not an image")
    good = encode(painting((64, 48), seed=3), "JPEG")
    (tmp_path / "crawl" / "bad" / "cut").write_bytes(good[:-400])  # truncated
    rows += [row("z:text", "bad/text", 20), row("z:cut", "bad/cut", 21),
             row("z:gone", "bad/missing", 22), row("z:nopath", None, 23)]
    write_manifest(tmp_path, rows)
    summary = pack(*stage(tmp_path))
    reasons = {s["key"]: s["reason"] for s in summary["skipped"]}
    assert set(reasons) == {"z:text", "z:cut", "z:gone", "z:nopath"}
    assert reasons["z:text"].startswith("not_an_image")
    assert reasons["z:cut"].startswith("decode_error") and "truncated" in reasons["z:cut"]
    assert reasons["z:gone"] == "missing_file" and reasons["z:nopath"] == "no_image"
    assert summary["counts"]["train"] + summary["counts"]["val"] == 6
    labels = pd.read_parquet(tmp_path / "pack" / "labels.parquet")
    assert not labels["key"].str.startswith("z:").any()


def test_images_in_content_store_packs_pack_as_the_same_images_as_loose_files(tmp_path):
    rows = collection(tmp_path / "loose", count=6)
    loose = pack(*stage(tmp_path / "loose"))
    packed_root = tmp_path / "packed"
    store_root = packed_root / "crawl" / "src" / "images"
    with ContentStore(store_root) as store:  # one pack for all
        shas = [store.put((tmp_path / "loose" / "crawl" / r["image_path"]).read_bytes())[0]
                for r in rows]
    lost = ContentStore(store_root).put(encode(painting((30, 20), seed=99), "PNG"))[0]
    (store_root / "pack-000002.pack").write_bytes(b"cut")  # that run's pack, cut short
    packed_rows = [{**r, "image_path": None, "sha256": sha}
                   for r, sha in zip(rows, shas, strict=True)]
    packed_rows.append({**packed_rows[0], "key": "z:cut", "sha256": lost})
    write_manifest(packed_root, packed_rows)
    summary = pack(*stage(packed_root))
    assert summary["skipped"] == [{"key": "z:cut", "reason": "no_image"}]  # a torn end
    shards = {k: v for k, v in files_of(packed_root / "pack").items() if k != "pack.json"}
    assert shards == {k: v for k, v in files_of(tmp_path / "loose" / "pack").items()
                      if k != "pack.json"}  # pack.json lists the skipped row
    assert summary["counts"] == loose["counts"]


def test_decompression_bombs_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)      # 20 x 14 = 280 < 500 < 47 x 16
    rows = collection(tmp_path, count=10)
    write_manifest(tmp_path, rows)
    summary = pack(*stage(tmp_path))
    bombs = [s for s in summary["skipped"] if s["reason"].startswith("decompression_bomb")]
    assert {s["key"] for s in bombs} == {r["key"] for r in rows[5:]}   # > 500 px each


# ----------------------------------------------------------------------------------------------
# Clear errors before any work, and a failed run leaves the last pack alone


@pytest.mark.parametrize(("change", "error", "names"), [
    ({"resolution": 48}, ValueError, "pack.resolution"),
    ({"resolution": 4}, ValueError, "pack.resolution"),
    ({"aspect": "stretch"}, UserError, "pack.aspect must be one of"),
    ({"val_fraction": 1.0}, ValueError, "pack.val_fraction"),
    ({"val_fraction": -0.1}, ValueError, "pack.val_fraction"),
    ({"crops_per_image": "four"}, UserError, "pack.crops_per_image must be an integer"),
    ({"curate": "nowhere"}, FileNotFoundError, "paths.curate"),
    ({"crawl": "no/such/folder"}, FileNotFoundError, "paths.crawl"),
    ({"resolutoin": 16}, UserError, "unknown key 'resolutoin'"),
])
def test_bad_settings_fail_with_the_param_named(tmp_path, change, error, names):
    collection(tmp_path, count=2)
    with pytest.raises(error, match=names):
        pack(*stage(tmp_path, **change))
    assert not (tmp_path / "pack").exists()


def test_empty_manifest_and_empty_train_split_are_errors(tmp_path):
    write_manifest(tmp_path, [])
    with pytest.raises(ValueError, match="no rows"):
        pack(*stage(tmp_path))
    rel = save(tmp_path, "s/one", painting((10, 10), seed=1))
    write_manifest(tmp_path, [row("s:1", rel, 1)])
    with pytest.raises(ValueError, match="train split is empty"):
        pack(*stage(tmp_path, val_fraction=0.999999))
    assert not (tmp_path / "pack").exists()


def test_cli_turns_errors_into_a_pack_message(tmp_path, capsys):
    collection(tmp_path, count=2)
    params = tmp_path / "params.yaml"
    paths = {**PARAMS["paths"], **paths_for(tmp_path)}  # the other stages' paths too
    params.write_text(json.dumps({"pack": settings(tmp_path, resolution=48), "paths": paths}))
    assert main(["--params", str(params)]) == 2  # a message and status 2, no traceback
    assert capsys.readouterr().err.startswith("pack: pack.resolution must be a power of two")
    params.write_text(json.dumps({"pack": settings(tmp_path), "paths": paths}))
    assert main(["--params", str(params), "--out", str(tmp_path / "elsewhere")]) == 0
    assert (tmp_path / "elsewhere" / "pack.json").is_file()
    assert not (tmp_path / "pack").exists()


def test_a_failed_pack_leaves_the_previous_one_untouched(tmp_path):
    collection(tmp_path, count=4)
    pack(*stage(tmp_path))
    before = files_of(tmp_path / "pack")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no image of the train split could be packed"):
        pack(*stage(tmp_path, crawl=tmp_path / "empty"))
    assert files_of(tmp_path / "pack") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crawl", "curated.parquet", "empty",
                                                         "pack"]


def test_period_label_buckets_by_century():
    assert period_label(1650) == "1600-1699" and period_label(1700) == "1700-1799"
    assert period_label(None) == "unknown" and period_label(float("nan")) == "unknown"
