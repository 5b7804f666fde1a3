"""What the pack's GAN shards cost per codec, next to raw uint8 arrays (issue 18, item 5).

For each resolution (256 and 1024 px) the real ``pack`` stage packs the same paintings once per
codec (``png``, ``webp``, ``jpeg`` at quality 95), and the raw pixels are written as one
``.npy`` array, as packs were before schema 3. Reported per codec:

- ``bytes_per_image`` and ``size_vs_raw`` (the share of the raw 3 R^2 bytes), and what 300,000
  paintings take (``gb_at_300k``);
- ``encode_ms``: the pack stage's encoding of one sample, one core (``train.pack.encode_sample``);
- ``decode_per_core``: images/s that one process reads and decodes through the training
  reader (``train.data.PackedImages.decode``, the shards in the page cache); raw is a copy out
  of the memory-mapped array;
- ``cores_for_90_per_s``: the decoding cores that keep up with StyleGAN2-ADA's 1024 px training
  on 8 A100s (about 90 images/s in all, issue 18), at 1024 px.

The paintings are the demo painter's (brushwork, canvas texture, glazes), saved as JPEG at
quality 90 as museums serve them, packed by centre crop from 1.25 times the resolution. Real
photographs of paintings carry more sensor noise and craquelure than these, so real PNG and
WebP sizes are likely larger: read the sizes as a lower bound, the ratios between codecs as the
finding. Rounds alternate the codecs so that a slow moment of the machine is shared.

    python -m benchmarks pack_codec            # about 5 minutes on 2 cores
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from demo.painter import GENRES, Style, paint
from train.data import PackedImages
from train.pack import encode_sample, pack

CODECS = ("png", "webp", "jpeg")
JPEG_QUALITY = 95
GAN_1024_IMAGES_PER_S = 90  # StyleGAN2-ADA at 1024 px on 8 A100s, all GPUs together
ROUNDS = 3


def paintings(folder: Path, count: int, long_side: int) -> list[dict]:
    """``count`` demo paintings as JPEG files under ``folder/crawl``; their curated rows."""
    rng = np.random.default_rng(7)
    rows = []
    (folder / "crawl").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        style = Style.random(rng)
        aspect = float(rng.uniform(0.75, 1.33))
        size = (long_side, round(long_side / aspect)) if aspect > 1 else \
            (round(long_side * aspect), long_side)
        image = paint(GENRES[i % len(GENRES)], style, seed=i, size=size)
        name = f"p{i:04d}.jpg"
        image.save(folder / "crawl" / name, quality=90)
        rows.append({"key": f"bench:{i:04d}", "image_path": name, "cluster_id": -1})
    return rows


def pack_params(resolution: int, codec: str) -> dict:
    return {"resolution": resolution, "aspect": "centre_crop", "crops_per_image": 1,
            "crop_min_fraction": 1.0, "val_fraction": 0.0, "seed": 1, "codec": codec,
            "jpeg_quality": JPEG_QUALITY, "shard_images": 4096, "native_max_side": 64,
            "workers": 1}


def decode_rate(read, count: int) -> float:
    started = time.perf_counter()
    for i in range(count):
        read(i)
    return count / (time.perf_counter() - started)


def measure(resolution: int, count: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pd.DataFrame(paintings(root, count, round(resolution * 1.25))).to_parquet(
            root / "curated.parquet")
        paths = {"curate": str(root), "crawl": str(root / "crawl")}
        readers = {}
        for codec in CODECS:
            pack(pack_params(resolution, codec), paths, out=root / codec)
            readers[codec] = PackedImages(root / codec, "train")
        pixels = readers["png"].batch(np.arange(count))        # lossless: the raw samples
        np.save(root / "raw.npy", pixels)
        raw = np.load(root / "raw.npy", mmap_mode="r")
        readers["raw"] = raw

        sizes = {"raw": pixels[0].nbytes}
        for codec in CODECS:
            sizes[codec] = statistics.mean(len(readers[codec].encoded(i)) for i in range(count))
        encode_ms: dict[str, list[float]] = {c: [] for c in CODECS}
        decode: dict[str, list[float]] = {c: [] for c in ("raw", *CODECS)}
        for round_number in range(ROUNDS):
            order = CODECS if round_number % 2 == 0 else CODECS[::-1]
            for codec in order:
                started = time.perf_counter()
                for sample in pixels:
                    encode_sample(sample, codec, JPEG_QUALITY)
                encode_ms[codec].append((time.perf_counter() - started) / count * 1000)
                decode[codec].append(decode_rate(readers[codec].decode, count))
            decode["raw"].append(decode_rate(lambda i: np.array(raw[i]), count))
        if not (readers["webp"].batch(np.arange(count)) == pixels).all():
            raise AssertionError("webp is meant to be lossless")
        jpeg_error = float(np.abs(readers["jpeg"].batch(np.arange(count)).astype(int)
                                  - pixels).mean())

    result = {"images": count}
    for codec in ("raw", *CODECS):
        rate = statistics.median(decode[codec])
        entry = {"bytes_per_image": round(sizes[codec]),
                 "size_vs_raw": round(sizes[codec] / sizes["raw"], 4),
                 "gb_at_300k": round(sizes[codec] * 300_000 / 1e9, 1),
                 "decode_per_core": round(rate, 1),
                 "decode_rounds": [round(r, 1) for r in decode[codec]]}
        if codec != "raw":
            entry["encode_ms"] = round(statistics.median(encode_ms[codec]), 2)
        if resolution == 1024:
            entry["cores_for_90_per_s"] = round(GAN_1024_IMAGES_PER_S / rate, 2)
        result[codec] = entry
    result["jpeg"]["mean_abs_error"] = round(jpeg_error, 3)
    return result


def run(quick: bool = False) -> dict:
    sizes = {256: 16, 1024: 8} if quick else {256: 120, 1024: 40}
    result = {"codecs": list(CODECS), "jpeg_quality": JPEG_QUALITY,
              "anchor": f"StyleGAN2-ADA at 1024 px on 8 A100s consumes about "
                        f"{GAN_1024_IMAGES_PER_S} images/s in all (issue 18)",
              "source": "demo painter paintings saved as JPEG q90, centre-cropped by the pack "
                        "stage from 1.25x the resolution (sizes are a lower bound for real "
                        "photographs)"}
    for resolution, count in sizes.items():
        result[f"{resolution}px"] = measure(resolution, count)
    return result
