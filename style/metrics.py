"""How well a stylised image took the style and kept the content, without any downloaded net.

- ``swd_to_style``: the texture distance (evaluate/metrics.py's Laplacian-pyramid patch SWD,
  patches normalised by the style's statistics, so colour counts) between crops of the result
  and crops of the style image(s); ``swd_content_to_style`` is the same for the content, the
  distance before any transfer, and ``swd_ratio`` their quotient (below 1: closer to the style).
- ``ssim_y_quarter``: SSIM of the luma of result and content, both box-averaged to 1/4 of the
  result's size: is the picture still there once brush-stroke scale detail is averaged out.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from evaluate.metrics import swd
from style.transfer import resize_long, style_side
from train.upscaler import ssim_y


def crops(images: list[torch.Tensor], side: int, count: int, seed: int) -> np.ndarray:
    """uint8 [N, side, side, 3]: ``count`` random crops (seeded), spread over the images."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        image = images[i % len(images)][0]
        h, w = image.shape[-2:]
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        out.append(image[:, y:y + side, x:x + side])
    stacked = torch.stack(out).permute(0, 2, 3, 1).clamp(0, 1)
    return (stacked * 255).round().to(torch.uint8).numpy()


def style_scores(result: torch.Tensor, content: torch.Tensor, styles: list[torch.Tensor],
                 crop_px: int = 128, count: int = 16, seed: int = 0,
                 style_scale: float = 1.0) -> dict[str, float]:
    """The module docstring's scores of ``result`` (all [1, 3, H, W] RGB in [0, 1])."""
    # the style at the scale the transfer matched it (style/transfer.py, stylize)
    factor = max(result.shape[-2:]) / max(content.shape[-2:]) * style_scale
    styles = [resize_long(s, style_side(s, factor)) for s in styles]
    if content.shape[-2:] != result.shape[-2:]:
        content = F.interpolate(content, size=result.shape[-2:], mode="bicubic",
                                align_corners=False, antialias=True).clamp(0, 1)
    side = min(crop_px, *result.shape[-2:], *(min(s.shape[-2:]) for s in styles))
    side = max(side // 16 * 16, 16)     # the pyramid's coarsest level is 16 px
    styles, result_, content_ = ([_at_least(x, side) for x in group]
                                 for group in (styles, [result], [content]))
    reference = crops(styles, side, count, seed)
    to_style = swd(reference, crops(result_, side, count, seed + 1),
                   normalise="reference")["swd_mean"]
    before = swd(reference, crops(content_, side, count, seed + 1),
                 normalise="reference")["swd_mean"]
    quarter = [F.avg_pool2d(x, 4) for x in (result, content)]
    ssim = round(ssim_y(*quarter), 4) if min(quarter[0].shape[-2:]) >= 11 else None
    return {"swd_to_style": round(to_style, 3), "swd_content_to_style": round(before, 3),
            "swd_ratio": round(to_style / max(before, 1e-9), 4),
            "ssim_y_quarter": ssim, "crop_px": side, "crops": count}


def _at_least(image: torch.Tensor, side: int) -> torch.Tensor:
    """``image`` enlarged (bicubic) where its short side is below ``side`` (tiny tests only)."""
    h, w = image.shape[-2:]
    if min(h, w) >= side:
        return image
    factor = side / min(h, w)
    size = (max(side, round(h * factor)), max(side, round(w * factor)))
    return F.interpolate(image, size=size, mode="bicubic", align_corners=False).clamp(0, 1)
