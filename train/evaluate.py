"""Evaluate the generator against held-out paintings, beside a floor and a baseline.

Run it as the DVC stage ``evaluate`` or by hand::

    python -m train.evaluate                      # params.yaml, section evaluate

It scores in the feature space of the encoder that the ``encoder`` stage
(:mod:`train.train_encoder`) trains on the pack alone, so every experiment that changes only
training is scored in the same space (``dvc exp run -S train_gan...`` reruns ``train_gan`` and
``evaluate``, not ``encoder``).

What it compares, each against the held-out (validation) paintings of the pack:

- ``gan``: samples of the trained EMA generator (seeds 0..N-1, ``truncation``);
- ``markov``: the baseline, a Markov-chain pixel painter fitted on the same training shards:
  every metric has a floor to beat;
- ``real``: training paintings themselves, the real-vs-real floor: the best any generator can
  hope for with this many images.

Metrics per set: SWD on Laplacian-pyramid patches (per level and mean, x1e3), and in the
encoder's feature space FD, KID (mean, std), precision and recall; with
``inception_weights`` set to the published FID Inception file, FD and KID in that space too.
For the GAN: the novelty report (nearest training image by phash and by feature, the share of
samples closer to the training set than held-out paintings are) and a gallery of the closest
pairs. Lower SWD/FD/KID is better; higher precision/recall; a memorised share near the
``expected_share_if_novel`` is what a non-copying generator scores.

The upscaler (``upscaler``: the folder train_upscaler writes; skipped with a note when it does
not exist), on the first ``upscaler_images`` held-out paintings at native resolution:

- reconstruction: PSNR and SSIM (luma) of SR(box_down(y)) against y on central crops of at most
  256 px, beside bicubic and Lanczos upscaling of the same input (the baselines to beat);
- round trip: PSNR (dB, RGB) of box_down(SR(x)) against x, without and with the consistency
  projection, on those crops and on GAN samples (projected, it is exact: the cap of 100 dB);
- texture at print scale: GAN samples upscaled once (e.g. 32 -> 128 px), random 32 px crops of
  them, against as many crops of held-out paintings resized to the same scale: SWD for the
  upscaler, for Lanczos upscaling (the baseline), and for training paintings (the floor).

The report also charts the GAN's per-tick SWD during training, read from its dvclive folder
(``gan_live``), when that file exists.
"""

from __future__ import annotations

import argparse
import base64
import csv
import html
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from marcus.atomic import atomic_path, write_text
from marcus.params import load_params
from train import encoder as encoder_lib
from train import metrics, novelty
from train.markov import MarkovPainter
from train.pack import PackedImages, native_images, read_summary
from train.tiling import upscale
from train.upscaler import box_down, load_upscaler, psnr_y, ssim_y


def all_images(data: PackedImages) -> np.ndarray:
    return np.asarray(data.batch(np.arange(len(data))))


# ----------------------------------------------------------------------------------------------
# Stage `evaluate`


@torch.no_grad()
def gan_samples(model_dir: Path, count: int, truncation: float, batch: int = 64) -> np.ndarray:
    """uint8 NHWC samples for seeds 0..count-1 (seed i paints sample i, whatever the batch)."""
    from train.generate import latent, load_generator
    G = load_generator(model_dir)
    out = []
    for start in range(0, count, batch):
        z = torch.cat([latent(G, s) for s in range(start, min(start + batch, count))])
        ws = G.mapping(z, None, truncation_psi=truncation)
        out.append(metrics.to_uint8_nhwc(G.synthesis(ws, noise_mode="const")))
    return np.concatenate(out)


def score(name: str, images: np.ndarray, features: np.ndarray, real_images: np.ndarray,
          real_features: np.ndarray, seed: int) -> dict:
    kid_size = min(len(features), len(real_features), 1000)
    result = {"swd": metrics.swd(real_images, images, seed=seed)}
    result.update(metrics.feature_metrics(real_features, features, seed=seed,
                                          kid_subset_size=kid_size))
    print(f"evaluate: {name}: " + ", ".join(f"{k} {v if isinstance(v, dict) else round(v, 4)}"
                                             for k, v in result.items() if k != "swd")
          + f", swd {result['swd']['swd_mean']:.3f}")
    return result


def grid_png(images: np.ndarray, columns: int, path: Path, scale: int = 2) -> None:
    n, h, w, _ = images.shape
    rows = -(-n // columns)
    canvas = np.full((rows * h, columns * w, 3), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        canvas[r * h:(r + 1) * h, c * w:(c + 1) * w] = img
    picture = Image.fromarray(canvas).resize((columns * w * scale, rows * h * scale),
                                             Image.Resampling.NEAREST)
    with atomic_path(path) as tmp:
        picture.save(tmp, format="PNG")


def bar_chart(values: dict[str, float], title: str, path: Path) -> None:
    """A small static bar chart (Pillow only: the report must read offline, no scripts)."""
    width, bar_h, pad = 480, 26, 10
    img = Image.new("RGB", (width, pad * 3 + 16 + bar_h * len(values)), "white")
    draw = ImageDraw.Draw(img)
    draw.text((pad, pad), title, fill="black")
    top = max(max(values.values(), default=0.0), 1e-12)
    for i, (label, value) in enumerate(values.items()):
        y = pad * 2 + 16 + i * bar_h
        length = int((width - 200) * max(value, 0.0) / top)
        draw.rectangle([110, y, 110 + length, y + bar_h - 8], fill=(70, 110, 160))
        draw.text((pad, y + 2), label, fill="black")
        draw.text((115 + length, y + 2), f"{value:.4g}", fill="black")
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")


def line_chart(xs: list[float], ys: list[float], title: str, path: Path,
               x_label: str = "tick") -> None:
    """A small static line chart (Pillow only, like ``bar_chart``): the series, its first and
    last x, and its lowest and highest y."""
    width, height, left, right, top, bottom = 480, 260, 70, 16, 34, 34
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    draw.text((10, 10), title, fill="black")
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    x_span, y_span = (x1 - x0) or 1.0, (y1 - y0) or abs(y1) or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom
    draw.rectangle([left, top, left + plot_w, top + plot_h], outline=(160, 160, 160))
    points = [(left + plot_w * (x - x0) / x_span, top + plot_h * (1 - (y - y0) / y_span))
              for x, y in zip(xs, ys, strict=True)]
    if len(points) > 1:
        draw.line(points, fill=(70, 110, 160), width=2)
    for px, py in points:
        draw.ellipse([px - 2, py - 2, px + 2, py + 2], fill=(70, 110, 160))
    draw.text((6, top - 6), f"{y1:.4g}", fill="black")
    draw.text((6, top + plot_h - 6), f"{y0:.4g}", fill="black")
    draw.text((left, top + plot_h + 6), f"{x0:g}", fill="black")
    draw.text((left + plot_w - 40, top + plot_h + 6), f"{x1:g}", fill="black")
    draw.text((left + plot_w // 2 - 12, top + plot_h + 6), x_label, fill="black")
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")


# ----------------------------------------------------------------------------------------------
# The upscaler: reconstruction, round trip, and texture at print scale

DEFAULT_UPSCALER = "data/models/upscaler"
DEFAULT_UPSCALER_IMAGES = 16
UPSCALER_CROP_PX = 256  # central crop side of each scored painting, at most (as train_upscaler)
MIN_SCORED_PX = 16      # smaller crops are left out: SSIM's window alone is 11 px
PRINT_CROP_PX = 32      # side of the random crops compared at print scale
PRINT_CROPS_PER_IMAGE = 16  # crops of each painting or sample in the compared sets
PRINT_NHOODS = 64       # SWD patches per crop: a 16 px level of a 32 px crop has only 100 places


def to_nchw(image: np.ndarray) -> torch.Tensor:
    """[H, W, 3] uint8, or float in [0, 1] -> float32 [1, 3, H, W] in [0, 1]."""
    image = np.asarray(image)
    scale = 255.0 if image.dtype == np.uint8 else 1.0
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32) / scale
                            ).permute(2, 0, 1)[None]


def to_hwc(x: torch.Tensor) -> np.ndarray:
    return x[0].permute(1, 2, 0).contiguous().numpy()


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)


def pil_upscale(image: np.ndarray, factor: int, method: Image.Resampling) -> np.ndarray:
    """A float [H, W, 3] image upscaled by Pillow channel by channel in float ("F") mode, so the
    baseline sees the same unquantised input as the upscaler."""
    h, w = image.shape[:2]
    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(image[..., c], np.float32))
                           .resize((w * factor, h * factor), method)) for c in range(3)]
    return np.stack(channels, axis=-1)


def central_crop(image: np.ndarray, max_px: int, multiple: int) -> np.ndarray:
    """The central crop of each side min(side, max_px), rounded down to a multiple."""
    h, w = (min(s, max_px) // multiple * multiple for s in image.shape[:2])
    top, left = (image.shape[0] - h) // 2, (image.shape[1] - w) // 2
    return image[top:top + h, left:left + w]


def round_trip_db(upscaled: np.ndarray, image: np.ndarray, factor: int) -> float:
    """PSNR of box_down(upscaled) against the image it was made from. The upscale is clamped
    to [0, 1] first, as any image file of it is."""
    down = box_down(to_nchw(np.clip(upscaled, 0, 1)), factor)
    return metrics.psnr(to_hwc(down), to_hwc(to_nchw(image)))


def print_scale_resize(image: np.ndarray, sample_px: int, aspect: str,
                       crop_min_fraction: float) -> np.ndarray:
    """A native painting resized (Lanczos) to the scale of an upscaled GAN sample of
    ``sample_px``: per the pack's ``aspect``, a sample spans the painting's short side
    (centre_crop), its long side (letterbox), or on average (1 + crop_min_fraction) / 2 of its
    short side (random_crops)."""
    h, w = image.shape[:2]
    if aspect == "letterbox":
        scale = sample_px / max(h, w)
    elif aspect == "random_crops":
        scale = sample_px / (min(h, w) * (1 + crop_min_fraction) / 2)
    else:
        scale = sample_px / min(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def random_crops(images: list[np.ndarray], count: int, side: int,
                 rng: np.random.Generator) -> np.ndarray | None:
    """``count`` random side x side crops, uint8 [count, side, side, 3], each usable image used
    equally often (in a random order); None when no image holds a crop."""
    usable = [image for image in images if min(image.shape[:2]) >= side]
    if not usable:
        return None
    which = rng.permutation(np.resize(np.arange(len(usable)), count))
    crops = np.empty((count, side, side, 3), np.uint8)
    for i, k in enumerate(which):
        h, w = usable[k].shape[:2]
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crops[i] = usable[k][y:y + side, x:x + side]
    return crops


def mean_of(values: dict) -> dict:
    """Lists of per-image scores -> their means (rounded), keeping the nesting."""
    return {k: mean_of(v) if isinstance(v, dict) else round(float(np.mean(v)), 4)
            for k, v in values.items() if isinstance(v, dict) or v}


@torch.no_grad()
def upscaler_metrics(model, heldout: list[np.ndarray], train: list[np.ndarray],
                     gan_images: np.ndarray, seed: int, aspect: str = "centre_crop",
                     crop_min_fraction: float = 0.6) -> tuple[dict, np.ndarray]:
    """Scores of an upscaler on held-out natives (``heldout``, uint8 HWC), training natives
    (``train``, for the floor) and GAN samples (uint8 NHWC). Returns the summary and a
    strip of up to 8 samples: rows nearest, Lanczos, upscaler (projected), for the report.

    The print-scale sets are alike in make-up: as many GAN samples and training paintings as
    there are held-out paintings, ``PRINT_CROPS_PER_IMAGE`` crops of each. A set drawn from
    more images would be more varied and score a lower SWD for that reason alone."""
    f = model.factor
    recon: dict = {name: {"psnr_y": [], "ssim_y": []}
                   for name in ("sr", "sr_projected", "bicubic", "lanczos")}
    trip: dict = {split: {"sr": [], "sr_projected": []} for split in ("heldout", "gan")}
    for image in heldout:
        y = central_crop(image, UPSCALER_CROP_PX, f)
        if min(y.shape[:2]) < MIN_SCORED_PX:
            continue
        y_t = to_nchw(y)
        x = to_hwc(box_down(y_t, f))
        outs = {"sr": upscale(model, x, project=False),
                "sr_projected": upscale(model, x, project=True),
                "bicubic": pil_upscale(x, f, Image.Resampling.BICUBIC),
                "lanczos": pil_upscale(x, f, Image.Resampling.LANCZOS)}
        for name, out in outs.items():
            recon[name]["psnr_y"].append(psnr_y(to_nchw(out), y_t))
            recon[name]["ssim_y"].append(ssim_y(to_nchw(out), y_t))
        for name in ("sr", "sr_projected"):
            trip["heldout"][name].append(round_trip_db(outs[name], x, f))
    scored = len(recon["sr"]["psnr_y"])

    samples = gan_images[:len(heldout)]
    sample_px = samples.shape[1] * f
    upscaled, lanczos = [], []
    for sample in samples:
        sr = upscale(model, sample, project=False)
        projected = upscale(model, sample, project=True)
        trip["gan"]["sr"].append(round_trip_db(sr, sample, f))
        trip["gan"]["sr_projected"].append(round_trip_db(projected, sample, f))
        upscaled.append(to_uint8(projected))  # what a print is made of (render.project)
        lanczos.append(np.asarray(Image.fromarray(sample).resize(
            (sample_px, sample_px), Image.Resampling.LANCZOS)))

    summary: dict = {"factor": f, "heldout_images": scored, "crop_px": UPSCALER_CROP_PX,
                     "reconstruction": mean_of(recon), "round_trip_db": mean_of(trip)}
    if not scored:
        summary["reconstruction"] = {
            "skipped": f"no held-out painting of at least {MIN_SCORED_PX} px"}

    # Texture at print scale. Every set draws its crops from a stream of its own, the two
    # upscales of one sample set from the same stream: the same crop positions in both.
    side = min(PRINT_CROP_PX, sample_px)
    count = len(heldout) * PRINT_CROPS_PER_IMAGE
    scale = {"images_per_set": len(samples), "crops_per_set": count, "sample_px": sample_px,
             "crop_px": side, "aspect": aspect}
    real = {name: random_crops([print_scale_resize(im, sample_px, aspect, crop_min_fraction)
                                for im in images[:len(heldout)]], count, side,
                               np.random.default_rng([seed, k]))
            for k, (name, images) in enumerate((("heldout", heldout), ("train", train)), 1)}
    fake = {name: random_crops(images, count, side, np.random.default_rng([seed, 0]))
            for name, images in (("sr_projected", upscaled), ("lanczos", lanczos))}
    if side < 16:  # train.metrics.swd's coarsest pyramid level
        scale["skipped"] = f"crops of {side} px: SWD needs at least 16 px"
    elif real["heldout"] is None or real["train"] is None:
        scale["skipped"] = f"no held-out or training painting holds a {side} px crop at this scale"
    else:
        scale["swd_mean"] = {
            name: round(metrics.swd(real["heldout"], crops, seed=seed,
                                    nhoods_per_image=PRINT_NHOODS)["swd_mean"], 4)
            for name, crops in (("sr_projected", fake["sr_projected"]),
                                ("lanczos", fake["lanczos"]), ("real_floor", real["train"]))}
    summary["print_scale"] = scale

    shown = slice(0, min(8, len(samples)))
    nearest = np.repeat(np.repeat(samples[shown], f, axis=1), f, axis=2)
    strip = np.concatenate([nearest, np.stack(lanczos[shown]), np.stack(upscaled[shown])])
    return summary, strip


def upscaler_section(params: dict, pack_dir: Path, gan_images: np.ndarray, seed: int,
                     plots: Path) -> dict:
    """The ``upscaler`` entry of the result, or a note saying why there is none."""
    path = Path(params.get("upscaler") or DEFAULT_UPSCALER)
    if not path.exists():
        return {"skipped": f"no {path}: train one with `dvc repro train_upscaler`"}
    started = time.perf_counter()
    model = load_upscaler(path)
    count = int(params.get("upscaler_images", DEFAULT_UPSCALER_IMAGES))
    heldout = [image for _key, image in itertools.islice(native_images(pack_dir, "val"), count)]
    if not heldout:
        return {"skipped": f"no held-out native-resolution paintings in {pack_dir}"}
    train = [image for _key, image in itertools.islice(native_images(pack_dir, "train"), count)]
    pack_params = read_summary(pack_dir).get("params", {})
    summary, strip = upscaler_metrics(model, heldout, train, gan_images, seed,
                                      aspect=pack_params.get("aspect", "centre_crop"),
                                      crop_min_fraction=pack_params.get("crop_min_fraction", 0.6))
    grid_png(strip, len(strip) // 3, plots / "upscaled_samples.png", scale=1)
    summary = {"model": str(path), **summary,
               "seconds": round(time.perf_counter() - started, 1)}
    print(f"evaluate: upscaler: {json.dumps(numbers_only(summary))}")
    return summary


# ----------------------------------------------------------------------------------------------
# The GAN's SWD during training (its dvclive file)

DEFAULT_GAN_LIVE = "metrics/train_gan"
SWD_TSV = Path("plots/metrics/metric/swd.tsv")  # where dvclive puts log_metric("metric/swd")


def read_live_series(path: Path, column: str) -> tuple[list[float], list[float]]:
    """(steps, values) of one dvclive .tsv (tab-separated, a header naming ``step``, maybe
    ``timestamp``, and the metric); rows that do not parse are left out."""
    steps, values = [], []
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            try:
                step, value = float(row["step"]), float(row[column])
            except (KeyError, TypeError, ValueError):
                continue
            if np.isfinite(value):
                steps.append(step)
                values.append(value)
    return steps, values


def gan_training_swd(params: dict, plots: Path) -> tuple[dict, Path | None]:
    """A summary of the GAN's per-tick SWD and its chart, or a note when there is no file."""
    tsv = Path(params.get("gan_live") or DEFAULT_GAN_LIVE) / SWD_TSV
    if not tsv.is_file():
        return {"skipped": f"no {tsv}"}, None
    steps, values = read_live_series(tsv, "swd")
    if not values:
        return {"skipped": f"{tsv} holds no swd values"}, None
    chart = plots / "chart_swd_over_training.png"
    line_chart(steps, values, "GAN SWD (x1e3) over training, per tick", chart)
    return {"ticks": len(values), "first": round(values[0], 4), "last": round(values[-1], 4),
            "best": round(min(values), 4)}, chart


def upscaler_html(section: dict) -> str:
    """The report's upscaler tables, or the note saying why it was skipped."""
    if "skipped" in section:
        return (f'<p id="upscaler">Upscaler: skipped ({html.escape(section["skipped"])}).</p>')
    f = section["factor"]
    parts = [f'<div id="upscaler"><p>x{f} upscaler <code>{html.escape(section["model"])}</code> '
             f'on {section["heldout_images"]} held-out paintings (central crops of at most '
             f'{section["crop_px"]} px, downscaled by {f} and upscaled back).</p>']
    recon = section["reconstruction"]
    if "skipped" in recon:
        parts.append(f"<p>Reconstruction: skipped ({html.escape(recon['skipped'])}).</p>")
    else:
        rows = "".join(f"<tr><td>{name}</td><td>{v['psnr_y']:.2f}</td><td>{v['ssim_y']:.4f}"
                       "</td></tr>" for name, v in recon.items())
        parts.append('<table id="upscaler-reconstruction"><tr><th>method</th>'
                     f"<th>PSNR-Y (dB)</th><th>SSIM-Y</th></tr>{rows}</table>")
    rows = "".join(f"<tr><td>{split}</td><td>{v.get('sr', float('nan')):.2f}</td>"
                   f"<td>{v.get('sr_projected', float('nan')):.2f}</td></tr>"
                   for split, v in section["round_trip_db"].items())
    parts.append('<p>Round trip: PSNR (dB, RGB) of box_down(SR(x)) against x; the projection '
                 f'makes it exact (capped at {metrics.PSNR_CAP_DB:g} dB).</p>'
                 '<table id="upscaler-round-trip"><tr><th>input x</th><th>SR</th>'
                 f"<th>SR projected</th></tr>{rows}</table>")
    scale = section["print_scale"]
    if "swd_mean" in scale:
        rows = "".join(f"<tr><td>{name}</td><td>{v:.3f}</td></tr>"
                       for name, v in scale["swd_mean"].items())
        parts.append(f"<p>Texture at print scale: {scale['images_per_set']} GAN samples "
                     f"upscaled to {scale['sample_px']} px, {scale['crops_per_set']} random "
                     f"{scale['crop_px']} px crops of them, against as many crops of as many "
                     "held-out paintings resized to the same scale. SWD (x1e3), lower is "
                     "better; <em>real_floor</em> is training paintings in place of the "
                     "samples, <em>lanczos</em> the baseline.</p>"
                     '<table id="upscaler-print-scale"><tr><th>crops of</th>'
                     f"<th>SWD (x1e3)</th></tr>{rows}</table>")
    else:
        parts.append(f"<p>Texture at print scale: skipped "
                     f"({html.escape(scale.get('skipped', ''))}).</p>")
    return "\n".join(parts) + "</div>"


def write_report(path: Path, result: dict, images: dict[str, Path]) -> None:
    """One self-contained HTML file: tables, and the PNGs inlined as data: URIs, so it reads
    offline, from anywhere it is copied to, with nothing fetched."""
    rows = []
    for name in ("gan", "markov", "real"):
        if name not in result["sets"]:
            continue
        s = result["sets"][name]
        rows.append(f"<tr><td>{name}</td><td>{s['swd']['swd_mean']:.3f}</td><td>{s['fd']:.4f}</td>"
                    f"<td>{s['kid']:.5f}</td><td>{s['precision']:.3f}</td>"
                    f"<td>{s['recall']:.3f}</td></tr>")
    figures = "\n".join(
        f'<figure><img src="data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}"'
        f' alt="{html.escape(title)}"><figcaption>{html.escape(title)}</figcaption></figure>'
        for title, png in images.items())
    novel = result.get("novelty", {})
    training = result.get("gan_training_swd", {})
    training_line = (f"skipped ({html.escape(training['skipped'])})" if "skipped" in training
                     else f"{training.get('ticks')} ticks, first {training.get('first'):.3f}, "
                     f"last {training.get('last'):.3f}, best {training.get('best'):.3f} (x1e3)")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Marcus evaluation</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #aaa;padding:.3em .6em}}
figure{{display:inline-block;margin:1em}}img{{image-rendering:pixelated}}</style></head>
<body><h1>Marcus evaluation</h1>
<p>Against {result['heldout_images']} held-out paintings; {result['samples']} samples per set.
Lower SWD, FD and KID are better; higher precision and recall. <em>real</em> is the floor
(training paintings against held-out ones), <em>markov</em> the baseline.</p>
<table id="metrics"><tr><th>set</th><th>SWD (x1e3)</th><th>FD</th><th>KID</th>
<th>precision</th><th>recall</th></tr>
{chr(10).join(rows)}
</table>
<p id="novelty">Memorised share (feature space): {novel.get('memorised_share', 'n/a')}
(a novel generator scores about {novel.get('expected_share_if_novel', 'n/a')}).</p>
<p id="gan-training">GAN SWD during training: {training_line}</p>
<h2>Upscaler</h2>
{upscaler_html(result.get("upscaler", {"skipped": "not evaluated"}))}
<h2>Figures</h2>
{figures}
</body></html>
"""
    write_text(path, page)


def evaluate(params: dict) -> dict:
    started = time.perf_counter()
    seed, count = params["seed"], params["samples"]
    pack_dir, out_dir, plots = Path(params["pack"]), Path(params["out"]), Path(params["plots"])
    torch.set_num_threads(int(params.get("threads") or torch.get_num_threads()))
    train, heldout = PackedImages(pack_dir, "train"), PackedImages(pack_dir, "val")
    if len(heldout) < 2:
        raise SystemExit(f"evaluate: the pack has {len(heldout)} held-out images; raise "
                         "pack.val_fraction or curate more paintings")
    train_images, heldout_images = all_images(train), all_images(heldout)
    model = encoder_lib.load_encoder(params["encoder"])

    def features(images):
        return encoder_lib.embed(model, images)

    train_features, heldout_features = features(train_images), features(heldout_images)
    rng = np.random.default_rng(seed)
    real_pick = rng.choice(len(train_images), size=min(count, len(train_images)), replace=False)
    sets = {
        "gan": gan_samples(Path(params["gan"]), count, params["truncation"]),
        "markov": MarkovPainter.fit(train_images, seed=seed).sample(count, seed=seed),
        "real": train_images[np.sort(real_pick)],
    }
    result: dict = {"samples": count, "heldout_images": len(heldout_images),
                    "train_images": len(train_images),
                    "pack_fingerprint": read_summary(pack_dir).get("fingerprint"), "sets": {}}
    set_features = {}
    for name, images in sets.items():
        set_features[name] = features(images)
        result["sets"][name] = score(name, images, set_features[name], heldout_images,
                                     heldout_features, seed)

    inception_path = params.get("inception_weights")
    if inception_path:
        from train.inception import inception_features, load_inception
        net = load_inception(inception_path)
        real = inception_features(net, heldout_images)
        for name, images in sets.items():
            fake = inception_features(net, images)
            result["sets"][name]["inception"] = metrics.feature_metrics(
                real, fake, seed=seed, kid_subset_size=min(len(real), len(fake), 1000))

    report = novelty.novelty_report(
        set_features["gan"], train_features, heldout_features,
        novelty.phash_codes(sets["gan"]), novelty.phash_codes(train_images),
        novelty.phash_codes(heldout_images), percentile=params["novelty_percentile"])
    result["novelty"] = report.summary()
    pairs = report.closest_pairs(params["gallery_pairs"])
    novelty.write_gallery(plots / "nearest_pairs.png", sets["gan"], train_images, pairs)
    # A skipped section leaves no figure of an earlier run behind for `dvc plots show`.
    for stale in ("upscaled_samples.png", "chart_swd_over_training.png"):
        (plots / stale).unlink(missing_ok=True)
    result["upscaler"] = upscaler_section(params, pack_dir, sets["gan"], seed, plots)
    result["gan_training_swd"], swd_chart = gan_training_swd(params, plots)
    grid_png(sets["gan"][:32], 8, plots / "samples_gan.png")
    grid_png(sets["markov"][:32], 8, plots / "samples_markov.png")
    grid_png(heldout_images[:32], 8, plots / "heldout.png")
    for metric in ("fd", "kid", "precision", "recall"):
        bar_chart({n: s[metric] for n, s in result["sets"].items()}, metric.upper(),
                  plots / f"chart_{metric}.png")
    bar_chart({n: s["swd"]["swd_mean"] for n, s in result["sets"].items()}, "SWD (x1e3)",
              plots / "chart_swd.png")
    out_dir.mkdir(parents=True, exist_ok=True)
    result["seconds"] = round(time.perf_counter() - started, 1)
    figures = {"GAN samples": "samples_gan.png", "Markov baseline": "samples_markov.png",
               "Held-out paintings": "heldout.png", "Closest to training": "nearest_pairs.png",
               **{f"{m.upper()} by set": f"chart_{m}.png"
                  for m in ("swd", "fd", "kid", "precision", "recall")}}
    if swd_chart is not None:
        figures["SWD over training"] = swd_chart.name
    if "skipped" not in result["upscaler"]:
        figures[f"Upscaled GAN samples (x{result['upscaler']['factor']}): nearest, Lanczos, "
                "upscaler (projected)"] = "upscaled_samples.png"
    write_report(out_dir / "report.html", result,
                 {title: plots / name for title, name in figures.items()})
    write_text(params["metrics"], json.dumps(flatten_for_dvc(result), indent=2) + "\n")
    return result


def numbers_only(tree: dict) -> dict:
    """The numeric leaves of a nested dict, nesting kept (paths and notes left out)."""
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            if inner := numbers_only(v):
                out[k] = inner
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = v
    return out


def flatten_for_dvc(result: dict) -> dict:
    """The metrics file `dvc exp show` reads: numbers nested by set, and the upscaler's
    numbers, or the one note saying why it was skipped."""
    keep = {k: v for k, v in result.items() if isinstance(v, (int, float))}
    keep["sets"] = result["sets"]
    keep["novelty"] = result["novelty"]
    upscaler = result.get("upscaler", {})
    keep["upscaler"] = ({"skipped": upscaler["skipped"]} if "skipped" in upscaler
                        else numbers_only(upscaler))
    return json.loads(json.dumps(keep, default=float))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    evaluate(load_params("evaluate", args.params))
    return 0


if __name__ == "__main__":
    sys.exit(main())
