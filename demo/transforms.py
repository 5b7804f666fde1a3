"""Degradations that turn one master image into "another museum's scan" of the same work.

Every function is pure and deterministic: it takes an image and parameters (plus a seed where
randomness is involved) and returns a new RGB image, leaving its input untouched.  The demo
collection chains them (resize, crop, recolour, frame, ...) to make the near-copies that the
pipeline's de-duplication has to recognise.

Try it::

    python -c "from PIL import Image; from demo import transforms as t; \\
      t.add_frame(Image.new('RGB', (300, 200), 'teal'), 0.12, 'gilt', 1).show()"
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

FRAME_STYLES = ("mat", "gilt", "black")


def _rgb(img: Image.Image) -> Image.Image:
    return img.convert("RGB") if img.mode != "RGB" else img


def resize(img: Image.Image, scale: float) -> Image.Image:
    """Scale both sides by `scale` (LANCZOS), keeping the aspect ratio."""
    img = _rgb(img)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS)


def crop(img: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    """Cut the given fractions (0-0.3 each) of the width/height off each side."""
    img = _rgb(img)
    w, h = img.size
    x0, y0 = round(w * left), round(h * top)
    x1, y1 = max(x0 + 1, round(w * (1 - right))), max(y0 + 1, round(h * (1 - bottom)))
    return img.crop((x0, y0, x1, y1))


def detail(img: Image.Image, box: tuple[float, float, float, float]) -> Image.Image:
    """The sub-region at fractional coordinates (left, top, right, bottom), like a museum's
    "detail" photograph of part of a work."""
    left, top, right, bottom = box
    return crop(img, left, top, 1 - right, 1 - bottom)


def colour_grade(img: Image.Image, gamma: float, saturation: float,
                 warmth: float) -> Image.Image:
    """Another camera and monitor: tone curve, saturation and a red/blue shift (warmth -1..1)."""
    img = _rgb(img)
    levels = np.arange(256) / 255.0
    curve = 255 * levels ** gamma
    red = np.clip(curve * (1 + 0.12 * warmth) + 8 * warmth, 0, 255)
    blue = np.clip(curve * (1 - 0.12 * warmth) - 8 * warmth, 0, 255)
    lut = np.concatenate([red, np.clip(curve, 0, 255), blue]).round().astype(int).tolist()
    return ImageEnhance.Color(img.point(lut)).enhance(saturation)


def squash(img: Image.Image, x_factor: float) -> Image.Image:
    """Change the aspect ratio by stretching the width (0.85-1.15), as a careless scan does."""
    img = _rgb(img)
    return img.resize((max(1, round(img.width * x_factor)), img.height),
                      Image.Resampling.LANCZOS)


def add_frame(img: Image.Image, border_frac: float, style: str, seed: int) -> Image.Image:
    """Photograph the work in its frame: a border of `border_frac` of the long side on each side.

    "mat" is a flat off-white mat with a bevelled cut; "gilt" an ornamented gold-brown moulding
    lit from the top left; "black" a plain black frame with a soft bevel.
    """
    if style not in FRAME_STYLES:
        raise ValueError(f"unknown frame style {style!r}; expected one of {FRAME_STYLES}")
    img = _rgb(img)
    rng = np.random.Generator(np.random.PCG64(seed))
    b = max(2, round(border_frac * max(img.size)))
    w, h = img.width + 2 * b, img.height + 2 * b
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    # Distance in from the outer edge and which side is nearest: a mitred frame's four sides.
    sides = np.stack([xx, yy, w - 1 - xx, h - 1 - yy])
    nearest = sides.argmin(0)
    depth = np.clip(sides.min(0) / b, 0, 1)  # 0 at the outer edge, 1 at the picture
    along = np.where(nearest % 2 == 0, yy, xx)  # position along the nearest side
    facing = np.array([1.15, 1.2, 0.8, 0.7], np.float32)[nearest]  # top/left lit
    if style == "mat":
        tone = np.float32([236, 232, 220]) + rng.uniform(-8, 8)
        bevel = (depth > 0.93) * 0.08 * (facing - 1) * -4  # the cut bevel catches light oppositely
        arr = tone * (1 + bevel[..., None] + 0.01 * (depth < 0.03)[..., None])
    elif style == "black":
        profile = 0.5 + 0.5 * np.sin(depth * math.pi)  # rounded moulding
        arr = np.float32([22, 20, 20]) * (0.6 + profile * facing)[..., None] + 25 * (
            profile > 0.97)[..., None] * facing[..., None]
    else:
        gold = np.float32([178, 135, 60]) * rng.uniform(0.85, 1.1)
        ridges = 0.6 + 0.4 * np.cos(depth * math.pi * rng.choice((3, 4, 5)))  # mouldings
        period = b * rng.uniform(0.25, 0.4)
        phase = (along % period) / period - 0.5
        band = (depth - 0.5) / 0.15
        beads = (phase**2 * 4 + band**2 < 1) * (0.35 - 0.4 * phase * facing)  # ornament beads
        shade = (ridges + beads) * facing * (0.75 + 0.25 * depth)
        arr = gold * shade[..., None] + 40 * (shade > 1.25)[..., None]
    frame = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    frame.paste(img, (b, b))
    return frame


def watermark(img: Image.Image, text: str, opacity: float) -> Image.Image:
    """Overlay a semi-transparent logo and `text` (PIL's default font) near the lower centre."""
    img = _rgb(img)
    w, h = img.size
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font_size = max(8, min(round(w * 0.9 / (max(len(text), 1) * 0.6 + 2)), h // 10))
    try:
        font = ImageFont.load_default(size=font_size)
    except TypeError:  # Pillow built without FreeType only has the fixed bitmap font
        font = ImageFont.load_default()
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    tw, th = x1 - x0, y1 - y0
    r = th * 0.8
    x, y = (w - tw - 2.5 * r) / 2, h * 0.75 - th / 2
    alpha = round(255 * min(max(opacity, 0.0), 1.0))
    ink = (255, 255, 255, alpha)
    draw.ellipse((x, y + th / 2 - r, x + 2 * r, y + th / 2 + r), outline=ink,
                 width=max(1, round(r / 5)))
    draw.text((x + r * 0.55, y + th / 2), "©", font=font, fill=ink, anchor="lm")
    draw.text((x + 2.5 * r - x0, y - y0), text, font=font, fill=ink)
    shadow = Image.new("RGBA", img.size, (0, 0, 0, 0))
    shadow.putalpha(layer.getchannel("A").point(lambda a: a // 3))
    out = Image.alpha_composite(img.convert("RGBA"), shadow.transform(
        img.size, Image.Transform.AFFINE, (1, 0, -1, 0, 1, -1)))
    return Image.alpha_composite(out, layer).convert("RGB")


def mirror(img: Image.Image) -> Image.Image:
    """Left and right swapped: a reversed transparency, or a print made after the painting
    (an engraver copies the picture onto the plate as it is, and the print comes out reversed)."""
    return _rgb(img).transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def _perspective_coefficients(output_corners: np.ndarray, input_corners: np.ndarray) -> tuple:
    """PIL's eight PERSPECTIVE coefficients taking each output corner to its input corner."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(output_corners, input_corners, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return tuple(np.linalg.solve(np.array(rows, float), np.array(rhs, float)).tolist())


def perspective(img: Image.Image, turn: float, tilt: float, seed: int) -> Image.Image:
    """Photographed at an angle, hand-held: the picture turned about its vertical axis by
    ``turn`` (-0.3..0.3: that share of the height lost at the far side) and tipped about its
    horizontal axis by ``tilt`` (likewise for the width), in a photograph of the same size
    whose margins show the wall."""
    img = _rgb(img)
    w, h = img.size
    margin = 0.04
    # Where the picture's corners land: the far side (right for turn > 0) shorter.
    left_h, right_h = (1 - max(0.0, -turn)), (1 - max(0.0, turn))
    top_w, bottom_w = (1 - max(0.0, tilt)), (1 - max(0.0, -tilt))
    corners = []
    for fx, fy in ((0, 0), (1, 0), (1, 1), (0, 1)):
        side_h = left_h if fx == 0 else right_h
        side_w = top_w if fy == 0 else bottom_w
        x = 0.5 + (fx - 0.5) * side_w
        y = 0.5 + (fy - 0.5) * side_h
        corners.append((margin + x * (1 - 2 * margin)) * w)
        corners.append((margin + y * (1 - 2 * margin)) * h)
    output = np.array(corners).reshape(4, 2)
    source = np.array([(0, 0), (w, 0), (w, h), (0, h)], float)
    rng = np.random.Generator(np.random.PCG64(seed))
    wall = tuple(int(v) for v in rng.integers(150, 225, size=3))
    return img.transform((w, h), Image.Transform.PERSPECTIVE,
                         _perspective_coefficients(output, source), Image.Resampling.BICUBIC,
                         fillcolor=wall)


def on_wall(img: Image.Image, share: float, height_share: float, seed: int) -> Image.Image:
    """The picture (framed or not) hanging on a wall, photographed with the wall around it:
    the picture takes ``share`` (0.3-0.8) of the photograph's width and ``height_share`` of its
    height, a little off centre, on a softly lit wall with a skirting board below."""
    img = _rgb(img)
    rng = np.random.Generator(np.random.PCG64(seed))
    width, height = wall_size(img.size, share, height_share)
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    tone = rng.uniform(120, 230, size=3).astype(np.float32)
    light = 1.05 - 0.25 * ((xx / width - rng.uniform(0.3, 0.7)) ** 2 + (yy / height) ** 2)
    wall = tone * light[..., None] + rng.normal(0, 2.5, size=(height, width, 1))
    skirting = yy > height * 0.93
    wall[skirting] = tone * 0.45
    photo = Image.fromarray(np.clip(wall, 0, 255).astype(np.uint8))
    x = round((width - img.width) * rng.uniform(0.35, 0.65))
    y = round((height - img.height) * rng.uniform(0.3, 0.5))
    photo.paste(img, (x, y))
    return photo


def wall_size(size: tuple[int, int], share: float, height_share: float) -> tuple[int, int]:
    """The size of `on_wall`'s photograph of a picture of ``size``."""
    return (max(size[0] + 4, round(size[0] / share)),
            max(size[1] + 4, round(size[1] / height_share)))


def low_resolution_scale(size: tuple[int, int], long_side: float) -> float:
    """`low_resolution`'s scale for a picture of ``size``."""
    return min(long_side / max(size), 0.5)


def low_resolution(img: Image.Image, long_side: float) -> Image.Image:
    """A small web image of the work (a collection's thumbnail, an old scan): its long side
    ``long_side`` px, or half of what it was when that is smaller."""
    img = _rgb(img)
    return resize(img, low_resolution_scale(img.size, long_side))
