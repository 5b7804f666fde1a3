"""Scores of the print upscaler on held-out paintings: reconstruction (PSNR/SSIM on luma
against bicubic and Lanczos), round trip through the box downscale, and texture at print scale
(SWD of crops of upscaled GAN samples against crops of paintings resized to the same scale).

``upscaler_section`` is what the ``evaluate`` stage (:mod:`evaluate.stage`) calls; its module
docstring says what each number means.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from evaluate import metrics
from evaluate.lattice import MIN_PATCH_PX, PATCH_PX, lattice_peak
from evaluate.report import grid_png
from train.data import native_images, read_summary
from train.tiling import upscale
from train.upscaler import box_down, card_chain, load_upscaler, pil_upscale, psnr_y, ssim_y

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
    recon: dict = {name: {"psnr_y": [], "ssim_y": [], "lattice_db": []}
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
            if min(y.shape[:2]) >= MIN_PATCH_PX:  # one pass's own pattern (evaluate/lattice)
                patch = min(PATCH_PX, *y.shape[:2])
                recon[name]["lattice_db"].append(lattice_peak(to_uint8(out), patch).db)
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
    if side < 16:  # evaluate.metrics.swd's coarsest pyramid level
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


def upscaler_section(path: Path, count: int, pack_dir: Path, gan_images: np.ndarray,
                     seed: int, plots: Path) -> dict:
    """The ``upscaler`` entry of the result (the model folder or file at ``path``, scored on
    ``count`` held-out paintings), or a note saying why there is none."""
    if not path.exists():
        return {"skipped": f"no {path}: train one with `dvc repro train_upscaler`"}
    started = time.perf_counter()
    model = load_upscaler(path)
    heldout = [image for _key, image in itertools.islice(native_images(pack_dir, "val"), count)]
    if not heldout:
        return {"skipped": f"no held-out native-resolution paintings in {pack_dir}"}
    train = [image for _key, image in itertools.islice(native_images(pack_dir, "train"), count)]
    pack_params = read_summary(pack_dir)["params"]
    summary, strip = upscaler_metrics(model, heldout, train, gan_images, seed,
                                      aspect=pack_params["aspect"],
                                      crop_min_fraction=pack_params["crop_min_fraction"])
    grid_png(strip, len(strip) // 3, plots / "upscaled_samples.png", scale=1)
    # The chains train_upscaler scored and the one render took (card.json; None for a
    # training checkpoint): beside the prints' own lattice in `dvc exp show`.
    chain = card_chain(model)
    summary = {"model": str(path), **summary, **({"chain": chain} if chain else {}),
               "seconds": round(time.perf_counter() - started, 1)}
    print(f"evaluate: upscaler: {json.dumps(numbers_only(summary))}")
    return summary


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
