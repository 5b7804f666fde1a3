"""The evaluate stage's look at the prints themselves (the ``render`` stage's folder): does the
upscaler chain print a pixel lattice across the canvas?

For each print (PNG or TIFF): its lattice peak (evaluate/lattice.py) beside that of its Lanczos
reference, the same picture box-averaged down to the generator's size and enlarged back by
Lanczos; the difference is what the chain added (goal: at most ``GOAL_EXCESS_DB``). And for the
report, the central ``CROP_PX`` square of each print at 100 % beside the same square of its
reference, as a buyer would look at the canvas from close up.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from evaluate.lattice import (
    GOAL_EXCESS_DB,
    MIN_PATCH_PX,
    PATCH_PX,
    lanczos_reference,
    print_lattice,
)
from evaluate.upscaler_scores import central_crop
from marcus.atomic import atomic_path

CROP_PX = 256                # side of the 100 % crops in the report
MAX_PRINT_PIXELS = 120_000_000  # larger prints are listed, not decoded (about 360 MB of RGB)
PRINT_SUFFIXES = (".png", ".tif", ".tiff")


def prints_section(prints_dir: Path, source_px: int, figure: Path,
                   max_pixels: int = MAX_PRINT_PIXELS) -> dict:
    """Score every print in ``prints_dir``; draw the crops to ``figure``. ``source_px``: the
    long side of the generator samples the prints were rendered from."""
    files = sorted(p for p in prints_dir.glob("*") if p.suffix.lower() in PRINT_SUFFIXES)
    if not files:
        return {"skipped": f"no prints in {prints_dir}"}
    scored, crops = {}, []
    for path in files:
        with Image.open(path) as opened:
            if opened.width * opened.height > max_pixels:
                scored[path.stem] = {"skipped": f"{opened.width}x{opened.height} px is more "
                                                f"than {max_pixels:,} pixels"}
                continue
            if min(opened.size) < MIN_PATCH_PX:
                scored[path.stem] = {"skipped": f"{opened.width}x{opened.height} px is less "
                                                f"than {MIN_PATCH_PX} px on a side"}
                continue
            image = np.asarray(opened.convert("RGB"))
        patch_px = min(PATCH_PX, *image.shape[:2])   # small test prints: one smaller patch
        reference = lanczos_reference(image, source_px)
        scored[path.stem] = print_lattice(image, reference, patch_px) | {
            "width": image.shape[1], "height": image.shape[0], "patch_px": patch_px}
        crops.append((central_crop(image, CROP_PX, 1), central_crop(reference, CROP_PX, 1)))
    excess = [v["excess_db"] for v in scored.values() if "excess_db" in v]
    if crops:
        _side_by_side(crops, figure)
    return {"source_px": source_px, "goal_excess_db": GOAL_EXCESS_DB, "prints": scored,
            **({"max_excess_db": max(excess)} if excess else {})}


def _side_by_side(pairs: list[tuple[np.ndarray, np.ndarray]], path: Path, gap: int = 8) -> None:
    """One row per print: its crop, then its reference's, at 100 % (no resampling)."""
    side = max(max(a.shape[0], a.shape[1]) for a, _ in pairs)
    canvas = np.full((len(pairs) * (side + gap) - gap, 2 * side + gap, 3), 255, np.uint8)
    for row, (ours, reference) in enumerate(pairs):
        top = row * (side + gap)
        for column, crop in enumerate((ours, reference)):
            left = column * (side + gap)
            canvas[top:top + crop.shape[0], left:left + crop.shape[1]] = crop
    with atomic_path(path) as tmp:
        Image.fromarray(canvas).save(tmp, format="PNG")
