"""Procedural paintings (and drawings, prints, photographs, sculptures) for the demo collection.

Each fictional artist is a :class:`Style`: a palette, a brush manner and a canvas texture.
:func:`paint` renders one deterministic work of a genre in that style; ``variant`` gives further
works of the same series (same layout family and manner, other light, sky and object placement),
the near-duplicates that de-duplication must tell apart from true copies of one work.

For speed every work is composed and brushed at a fixed small base resolution (so a thumbnail
and a large render show the same picture), resized to the target and overlaid with a cached,
tileable full-resolution texture (canvas weave, paper fibre or film grain).

Try it::

    python -c "import numpy as np; from demo.painter import Style, paint; \\
      paint('landscape', Style.random(np.random.default_rng(1)), 7, (900, 600)).show()"
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

GENRES = ("landscape", "seascape", "portrait", "still_life", "geometric")
OBJECT_KINDS = ("drawing", "print", "photograph", "sculpture")  # non-painting object types
KINDS = GENRES + OBJECT_KINDS

RGB = tuple[int, int, int]
BASE_LONG_SIDE = 352  # composition and brushwork resolution, independent of the target size
LINE_LONG_SIDE = 768  # drawings and prints: line work needs more pixels to stay crisp
TILE = 384  # side of the tileable full-resolution texture
_GROUNDS = ((150, 85, 55), (185, 150, 95), (125, 120, 110), (225, 215, 195), (90, 70, 60))

# Time of day: sky at the top, sky at the horizon, light tint, sun (or moon) colour, sun height.
_TIMES: dict[str, tuple[RGB, RGB, tuple[float, float, float], RGB | None, float]] = {
    "overcast": ((140, 145, 155), (205, 205, 200), (0.85, 0.88, 0.9), None, 0.0),
    "morning": ((135, 180, 228), (250, 228, 195), (1.05, 1.0, 0.92), (255, 244, 210), 0.3),
    "noon": ((75, 135, 215), (200, 222, 240), (1.05, 1.05, 1.02), (255, 255, 235), 0.8),
    "evening": ((65, 80, 150), (250, 160, 90), (1.1, 0.85, 0.7), (255, 190, 100), 0.1),
    "dusk": ((25, 30, 70), (140, 95, 120), (0.55, 0.55, 0.75), (235, 235, 215), 0.6),
}
_TIME_NAMES = tuple(_TIMES)


@dataclass(frozen=True)
class Style:
    """One fictional artist's recognisable manner."""

    palette: tuple[RGB, ...]  # 5-7 colours the artist favours, dark to light
    ground: RGB  # underpainting colour that shows between strokes
    brush_size: float  # stroke width as a fraction of the long side
    stroke_length: float  # stroke length in stroke widths
    stroke_angle: float  # dominant stroke direction, degrees
    angle_jitter: float  # spread of stroke directions, degrees
    form_following: float  # 0: strokes keep stroke_angle; 1: strokes run along contours
    colour_jitter: float  # per-stroke colour noise, RGB units
    palette_pull: float  # 0-1: how far local colours are pulled towards the palette
    softness: float  # blur after brushing, in base pixels
    contrast: float
    saturation: float
    texture_strength: float  # 0-1: canvas weave and bristle relief at full resolution
    light_angle: float  # where light comes from, degrees (0 right, 90 above, 180 left)

    @classmethod
    def random(cls, rng: np.random.Generator) -> Style:
        hue = float(rng.uniform())
        scheme = int(rng.integers(4))
        offsets = ((0, 0.06, -0.06, 0.12, -0.1), (0, 0.5, 0.04, 0.46, -0.04),
                   (0, 1 / 3, 2 / 3, 0.05, 0.38), (0, 0.04, 0.55, 0.08, -0.03))[scheme]
        if scheme == 3:  # earth palette: ochres and umbers with one cool accent
            hue = float(rng.uniform(0.03, 0.12))
        n = int(rng.integers(5, 8))
        palette = []
        for value in np.linspace(0.15, 0.95, n):
            h = (hue + offsets[int(rng.integers(len(offsets)))] + rng.normal(0, 0.02)) % 1.0
            s = rng.uniform(0.2, 0.85) * (0.5 if value > 0.85 else 1.0)
            palette.append(tuple(round(c * 255) for c in colorsys.hsv_to_rgb(h, s, value)))
        return cls(
            palette=tuple(palette),
            ground=_GROUNDS[int(rng.integers(len(_GROUNDS)))],
            brush_size=float(rng.uniform(0.005, 0.014)),
            stroke_length=float(rng.uniform(1.5, 4.5)),
            stroke_angle=float(rng.uniform(0, 180)),
            angle_jitter=float(rng.uniform(5, 50)),
            form_following=float(rng.uniform(0, 1) ** 1.5),
            colour_jitter=float(rng.uniform(3, 14)),
            palette_pull=float(rng.uniform(0.3, 0.75)),
            softness=float(rng.uniform(0, 0.9)),
            contrast=float(rng.uniform(0.85, 1.3)),
            saturation=float(rng.uniform(0.7, 1.35)),
            texture_strength=float(rng.uniform(0.2, 1.0)),
            light_angle=float(rng.choice((1, -1)) * rng.uniform(25, 70) + 90),
        )


# ----------------------------------------------------------------------------------------------
# Small helpers.


def _rng(*keys: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([k % 2**63 for k in keys])))


def _mix(a, b, t: float) -> RGB:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b, strict=True))


def _scale(c, f) -> RGB:
    f = f if isinstance(f, tuple) else (f, f, f)
    return tuple(int(min(255, max(0, round(x * k)))) for x, k in zip(c, f, strict=True))


def _base_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    w, h = size
    if w >= h:
        return long_side, max(16, round(long_side * h / w))
    return max(16, round(long_side * w / h)), long_side


class _Canvas:
    """Base-resolution image under construction, with the layout and variant random streams.

    ``lay`` fixes the series' layout family (only the seed feeds it), ``var`` the variant's
    light, sky and object placement.  Scenes draw natural colours; style comes later.
    """

    def __init__(self, size: tuple[int, int], lay, var, light_angle: float):
        self.w, self.h = size
        self.lay, self.var = lay, var
        # A series keeps to one part of the day; each work takes that light or a neighbour.
        when = int(lay.integers(len(_TIME_NAMES))) + int(var.integers(-1, 2))
        self.time = _TIMES[_TIME_NAMES[min(max(when, 0), len(_TIME_NAMES) - 1)]]
        angle = math.radians(light_angle if var.random() < 0.6 else 180 - light_angle)
        self.lx, self.ly = math.cos(angle), -math.sin(angle)  # image y points down
        self.img = Image.new("RGB", size, (128, 128, 128))
        self.draw = ImageDraw.Draw(self.img)

    def lit(self, c, f: float = 1.0) -> RGB:
        return _scale(c, tuple(t * f for t in self.time[2]))

    def set_array(self, arr: np.ndarray) -> None:
        self.img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        self.draw = ImageDraw.Draw(self.img)

    def gradient(self, top, bottom) -> np.ndarray:
        t = np.linspace(0, 1, self.h, dtype=np.float32)[:, None, None]
        arr = (1 - t) * np.float32(top) + t * np.float32(bottom)
        return np.broadcast_to(arr, (self.h, self.w, 3)).copy()

    def sky(self, horizon: float) -> None:
        top, low, _, sun, sun_height = self.time
        t = np.clip(np.arange(self.h, dtype=np.float32) / max(horizon, 1), 0, 1) ** 1.3
        arr = (1 - t)[:, None, None] * np.float32(top) + t[:, None, None] * np.float32(low)
        arr = np.broadcast_to(arr, (self.h, self.w, 3)).copy()
        var, w = self.var, self.w
        if sun:
            sx = w * (0.5 + 0.3 * self.lx + var.uniform(-0.15, 0.15))
            sy = horizon * (0.92 - 0.75 * sun_height)
            yy, xx = np.ogrid[: self.h, : w]
            glow = np.exp(-((xx - sx) ** 2 + (yy - sy) ** 2) / (2 * (0.25 * horizon) ** 2))
            arr += glow[..., None] * (np.float32(sun) - arr) * 0.6
            self.set_array(arr)
            r = 0.035 * max(w, self.h)
            self.draw.ellipse((sx - r, sy - r, sx + r, sy + r), fill=sun)
            self.sun_x = sx
        else:
            self.set_array(arr)
            self.sun_x = None
        n_clouds = int(var.integers(6, 12) if sun is None else var.integers(0, 6))
        for _ in range(n_clouds):
            cx, cy = var.uniform(-0.1, 1.1) * w, var.uniform(0.1, 0.75) * horizon
            cw = var.uniform(0.08, 0.25) * w
            lit = _mix(sun or low, (255, 255, 255), 0.5)
            for _ in range(int(var.integers(3, 7))):
                px, py = cx + var.uniform(-0.5, 0.5) * cw, cy + var.uniform(-0.3, 0.1) * cw * 0.3
                rx, ry = cw * var.uniform(0.2, 0.4), cw * var.uniform(0.1, 0.2)
                self.draw.ellipse((px - rx, py - ry + ry * 0.4, px + rx, py + ry * 1.4),
                                  fill=_mix(top, (120, 120, 130), 0.4))
                self.draw.ellipse((px - rx, py - ry, px + rx, py + ry), fill=_mix(lit, low, 0.3))

    def ball(self, box, colour, highlight: bool = True) -> None:
        """A shaded ellipse: shadow side, lit side offset towards the light, highlight."""
        x0, y0, x1, y1 = box
        rx, ry = (x1 - x0) / 2, (y1 - y0) / 2
        cx, cy = x0 + rx, y0 + ry
        dark, light = self.lit(colour, 0.5), self.lit(colour, 1.1)
        self.draw.ellipse(box, fill=dark)
        for k in range(1, 5):
            f = 1 - 0.18 * k
            ox, oy = self.lx * rx * (1 - f) * 0.9, self.ly * ry * (1 - f) * 0.9
            self.draw.ellipse((cx + ox - rx * f, cy + oy - ry * f, cx + ox + rx * f,
                               cy + oy + ry * f), fill=_mix(dark, light, k / 4))
        if highlight:
            hx, hy, r = cx + self.lx * rx * 0.45, cy + self.ly * ry * 0.45, 0.12 * min(rx, ry)
            self.draw.ellipse((hx - r, hy - r, hx + r, hy + r), fill=_mix(light, (255,) * 3, 0.6))

    def ridge(self, base: float, amp: float, fill) -> None:
        phases, freqs = self.lay.uniform(0, 6.3, 3), self.lay.uniform(1, 5, 3)
        phases = phases + self.var.normal(0, 0.15, 3)
        x = np.linspace(0, self.w, 48)
        y = base - amp * np.sin(np.outer(x / self.w, freqs) * math.pi + phases).mean(1)
        outline = list(zip(x.tolist(), y.tolist(), strict=True))
        self.draw.polygon([(0, self.h), *outline, (self.w, self.h)], fill=fill)


# ----------------------------------------------------------------------------------------------
# Scenes: natural colours at base resolution.


def _landscape(c: _Canvas) -> None:
    w, h, lay, var = c.w, c.h, c.lay, c.var
    horizon = h * (lay.uniform(0.38, 0.6) + var.uniform(-0.04, 0.04))
    c.sky(horizon)
    land = ((95, 130, 60), (175, 150, 80), (150, 105, 50), (105, 125, 90))[int(lay.integers(4))]
    haze = c.time[1]
    n_hills = int(lay.integers(2, 5))
    for i in range(n_hills):
        near = i / (n_hills - 1)
        colour = _mix(_mix(land, haze, 0.65 * (1 - near)), (40, 50, 30), 0.35 * near)
        c.ridge(horizon + near * (h - horizon) * 0.35, h * lay.uniform(0.04, 0.12), c.lit(colour))
    if lay.random() < 0.4:  # a pond reflecting the sky
        py, pw = horizon + (h - horizon) * lay.uniform(0.45, 0.7), w * lay.uniform(0.2, 0.45)
        px = w * lay.uniform(0.2, 0.8)
        c.draw.ellipse((px - pw, py - pw * 0.12, px + pw, py + pw * 0.12),
                       fill=c.lit(_mix(haze, (60, 80, 110), 0.4)))
    feature = int(lay.integers(3))  # trees, haystacks or houses
    things = [(lay.uniform(0.05, 0.95), lay.uniform(0.1, 0.9), lay.uniform(0.8, 1.3))
              for _ in range(int(lay.integers(2, 7)))]
    things = [t for t in things if var.random() > 0.15] + (
        [(var.uniform(0.05, 0.95), var.uniform(0.1, 0.9), 1.0)] if var.random() < 0.5 else [])
    for fx, fy, fs in sorted(things, key=lambda t: t[1]):
        x = w * (fx + var.normal(0, 0.05))
        y = horizon + (h - horizon) * (0.1 + 0.85 * fy)
        s = h * 0.09 * fs * (0.5 + fy)
        if feature == 0:
            c.draw.line((x, y, x, y - s * 1.2), fill=c.lit((60, 45, 30)),
                        width=max(1, round(s / 8)))
            for _ in range(4):
                ox, oy = var.uniform(-0.35, 0.35) * s, -s * var.uniform(1.0, 1.6)
                r = s * var.uniform(0.35, 0.55)
                c.ball((x + ox - r, y + oy - r, x + ox + r, y + oy + r),
                       _mix(land, (30, 60, 25), 0.5), highlight=False)
        elif feature == 1:
            hay = (200, 160, 80)
            c.draw.ellipse((x - s * 0.6, y - s * 0.1, x + s * 0.9, y + s * 0.12),
                           fill=c.lit((50, 50, 40)))
            c.draw.polygon([(x - s * 0.5, y), (x + s * 0.5, y), (x + s * 0.35, y - s * 0.6),
                            (x - s * 0.35, y - s * 0.6)], fill=c.lit(hay, 0.8))
            c.ball((x - s * 0.45, y - s * 1.1, x + s * 0.45, y - s * 0.35), hay, False)
        else:
            wall, roof = c.lit((215, 200, 170)), c.lit((150, 70, 50))
            c.draw.rectangle((x - s * 0.5, y - s * 0.6, x + s * 0.5, y), fill=wall)
            shade_x = x - math.copysign(s * 0.5, c.lx)  # the wall turned away from the light
            c.draw.rectangle((min(shade_x, x), y - s * 0.6, max(shade_x, x), y),
                             fill=_scale(wall, 0.7))
            c.draw.polygon([(x - s * 0.6, y - s * 0.6), (x + s * 0.6, y - s * 0.6),
                            (x, y - s * 1.05)], fill=roof)
            c.draw.rectangle((x - s * 0.1, y - s * 0.3, x + s * 0.1, y), fill=(50, 40, 35))


def _seascape(c: _Canvas) -> None:
    w, h, lay, var = c.w, c.h, c.lay, c.var
    horizon = h * (lay.uniform(0.35, 0.6) + var.uniform(-0.03, 0.03))
    c.sky(horizon)
    sea = ((40, 90, 110), (30, 60, 110), (70, 100, 90), (50, 70, 80))[int(lay.integers(4))]
    arr = np.asarray(c.img, dtype=np.float32).copy()
    t = np.clip((np.arange(h) - horizon) / max(h - horizon, 1), 0, 1)[:, None, None]
    far, near = _mix(c.time[1], sea, 0.55), c.lit(sea, 0.7)
    below = np.arange(h)[:, None, None] >= horizon
    c.set_array(np.where(below, (1 - t) * np.float32(far) + t * np.float32(near), arr))
    for _ in range(int(120 * w * h / 80000)):  # waves: longer and further apart near the viewer
        d = var.uniform() ** 1.6
        y, x, ln = horizon + d * (h - horizon), var.uniform(0, w), w * (0.01 + 0.05 * d)
        shade = c.lit(sea, 0.55) if var.random() < 0.6 else _mix(c.time[1], far, 0.5)
        c.draw.line((x - ln, y, x + ln, y), fill=shade, width=max(1, round(1 + 3 * d)))
    if c.sun_x is not None:  # glitter under the sun
        for _ in range(40):
            d = var.uniform() ** 1.3
            y, x = horizon + d * (h - horizon) * 0.9, c.sun_x + var.normal(0, w * (0.01 + 0.04 * d))
            c.draw.line((x - w * 0.015 * (0.3 + d), y, x + w * 0.015 * (0.3 + d), y),
                        fill=_mix(c.time[3], (255,) * 3, 0.4), width=max(1, round(2 * d + 1)))
    if lay.random() < 0.6:  # a headland on one side
        side, cw = float(lay.choice((0, 1))), w * lay.uniform(0.2, 0.45)
        top = horizon - h * lay.uniform(0.05, 0.2)
        xs = (0, cw, cw * 0.6, 0) if side == 0 else (w, w - cw, w - cw * 0.6, w)
        c.draw.polygon([(xs[0], h), (xs[1], h), (xs[2], top + h * 0.05), (xs[3], top)],
                       fill=c.lit((95, 85, 70), 0.8))
    for _ in range(int(lay.integers(0, 4))):
        x = w * ((lay.uniform(0.15, 0.85) + var.uniform(-0.25, 0.25)) % 1.0)
        d = lay.uniform(0.05, 0.6)
        y, s = horizon + d * (h - horizon), h * (0.04 + 0.12 * d)
        c.draw.polygon([(x - s, y - s * 0.2), (x + s, y - s * 0.2), (x + s * 0.7, y + s * 0.1),
                        (x - s * 0.7, y + s * 0.1)], fill=c.lit((60, 40, 30)))
        sail = c.lit(_mix((235, 225, 200), (170, 60, 40), var.uniform() * lay.uniform()))
        c.draw.polygon([(x, y - s * 0.25), (x, y - s * 1.6), (x + s * 0.8 * var.choice((-1, 1)),
                                                               y - s * 0.3)], fill=sail)


def _portrait(c: _Canvas) -> None:
    w, h, lay, var = c.w, c.h, c.lay, c.var
    backdrop = ((45, 35, 28), (35, 45, 35), (25, 25, 30), (60, 50, 40))[int(lay.integers(4))]
    arr = c.gradient(_scale(backdrop, 1.3), _scale(backdrop, 0.6))
    yy, xx = np.ogrid[:h, :w]
    glow = np.exp(-((xx - w * (0.5 + 0.3 * c.lx)) ** 2 + (yy - h * 0.3) ** 2) / (0.1 * w * w + 1))
    c.set_array(arr + glow[..., None] * np.float32(c.lit(backdrop, 1.0)) * 0.8)
    if lay.random() < 0.5:  # a window or hanging behind the sitter, on one side
        x0 = w * lay.choice((lay.uniform(-0.2, 0.1), lay.uniform(0.6, 0.9)))
        c.draw.rectangle((x0, h * lay.uniform(-0.1, 0.2), x0 + w * lay.uniform(0.25, 0.45),
                          h * lay.uniform(0.5, 0.9)), fill=c.lit(_mix(c.time[0], backdrop, 0.4)))
    unit = min(w, h * 0.8) * lay.uniform(0.8, 1.2)
    cx = w * (lay.uniform(0.35, 0.65) + var.uniform(-0.08, 0.08))
    cy = h * (lay.uniform(0.26, 0.42) + var.uniform(-0.03, 0.03))
    rx, ry = unit * lay.uniform(0.12, 0.17), unit * lay.uniform(0.17, 0.22)
    body_x = cx + w * var.uniform(-0.08, 0.08)  # sitter turned a little
    skin = ((225, 185, 155), (200, 150, 115), (150, 100, 75), (235, 205, 185))[int(lay.integers(4))]
    clothes = ((40, 40, 60), (110, 30, 30), (30, 60, 40), (90, 70, 50), (20, 20, 20))
    cloth = clothes[int(lay.integers(5) if var.random() < 0.6 else var.integers(5))]
    hair = ((40, 25, 15), (90, 60, 30), (160, 120, 70), (20, 18, 18))[int(lay.integers(4))]
    c.ball((body_x - unit * 0.5, cy + ry * 1.5, body_x + unit * 0.5, cy + ry * 5.5), cloth, False)
    c.draw.polygon([(cx - rx * 0.5, cy + ry * 1.55), (cx + rx * 0.5, cy + ry * 1.55),
                    (cx, cy + ry * 2.3)], fill=c.lit((230, 225, 210), 0.9))
    c.draw.rectangle((cx - rx * 0.45, cy + ry * 0.5, cx + rx * 0.45, cy + ry * 1.6),
                     fill=c.lit(skin, 0.65))
    c.ball((cx - rx * 1.12, cy - ry * 1.15, cx + rx * 1.12, cy + ry * 0.7), hair, False)
    c.ball((cx - rx, cy - ry, cx + rx, cy + ry), skin)
    if var.random() < 0.3:  # a hat
        hat = clothes[int(var.integers(5))]
        c.draw.ellipse((cx - rx * 1.6, cy - ry * 0.85, cx + rx * 1.6, cy - ry * 0.55), fill=hat)
        c.draw.rectangle((cx - rx, cy - ry * 1.5, cx + rx, cy - ry * 0.7), fill=hat)
    else:
        c.draw.chord((cx - rx * 1.05, cy - ry * 1.1, cx + rx * 1.05, cy + ry * 0.3), 180, 360,
                     fill=c.lit(hair))
    gaze = var.uniform(-0.06, 0.06) * rx
    for side in (-1, 1):
        ex, ey, er = cx + side * rx * 0.4 + gaze, cy - ry * 0.05, rx * 0.12
        c.draw.ellipse((ex - er * 1.4, ey - er, ex + er * 1.4, ey + er), fill=c.lit(skin, 0.6))
        c.draw.ellipse((ex - er * 0.6, ey - er * 0.6, ex + er * 0.6, ey + er * 0.6),
                       fill=(35, 25, 20))
        c.draw.line((ex - er * 1.6, ey - er * 2, ex + er * 1.6, ey - er * 2.2),
                    fill=c.lit(hair, 0.8), width=max(1, round(er * 0.6)))
    c.draw.line((cx - c.lx * rx * 0.1, cy, cx - c.lx * rx * 0.15, cy + ry * 0.35),
                fill=c.lit(skin, 0.6), width=max(1, round(rx * 0.08)))
    mw = rx * var.uniform(0.25, 0.35)
    c.draw.ellipse((cx - mw, cy + ry * 0.5, cx + mw, cy + ry * 0.62), fill=c.lit((160, 70, 65)))


def _still_life(c: _Canvas) -> None:
    w, h, lay, var = c.w, c.h, c.lay, c.var
    wall = ((95, 90, 60), (70, 60, 50), (40, 38, 35), (110, 115, 120))[int(lay.integers(4))]
    table_y = h * (lay.uniform(0.55, 0.7) + var.uniform(-0.03, 0.03))
    wood = ((120, 75, 40), (90, 60, 40), (225, 220, 205))[int(lay.integers(3))]
    arr = c.gradient(c.lit(wall, 1.2), c.lit(wall, 0.8))
    c.set_array(arr)
    c.draw.rectangle((0, table_y, w, h), fill=c.lit(wood))
    c.draw.rectangle((0, h * 0.9, w, h), fill=c.lit(wood, 0.55))
    if lay.random() < 0.5:  # a cloth hanging over the front edge
        x0, x1 = w * lay.uniform(0, 0.4), w * lay.uniform(0.6, 1.0)
        c.draw.polygon([(x0 + w * 0.05, table_y), (x1, table_y), (x1 + w * 0.03, h),
                        (x0, h)], fill=c.lit((235, 230, 215), 0.95))
    vx = w * (lay.uniform(0.2, 0.8) + var.uniform(-0.08, 0.08))
    vh, vw = h * lay.uniform(0.3, 0.45), w * lay.uniform(0.06, 0.1)
    vase = ((70, 90, 120), (180, 170, 150), (120, 60, 40), (60, 90, 70))[int(lay.integers(4))]
    base = table_y + h * 0.05
    c.draw.ellipse((vx - vw * 1.2, base - vw * 0.2, vx + vw * 1.6, base + vw * 0.25),
                   fill=c.lit(wood, 0.5))
    c.draw.rectangle((vx - vw * 0.35, base - vh, vx + vw * 0.35, base - vh * 0.5),
                     fill=c.lit(vase, 0.8))
    c.ball((vx - vw, base - vh * 0.6, vx + vw, base), vase)
    c.draw.ellipse((vx - vw * 0.5, base - vh - vw * 0.15, vx + vw * 0.5, base - vh + vw * 0.15),
                   fill=c.lit(vase, 0.4))
    if lay.random() < 0.5:  # flowers
        for _ in range(int(var.integers(5, 12))):
            fx, fy, r = vx + var.normal(0, vw * 1.2), base - vh - var.uniform(0, vh * 0.5), vw * 0.4
            c.ball((fx - r, fy - r, fx + r, fy + r),
                   ((200, 40, 40), (240, 220, 90), (240, 240, 230))[int(var.integers(3))], False)
    fruit_kinds = ((200, 50, 30), (235, 150, 30), (230, 210, 60), (90, 40, 80), (120, 160, 50))
    fruits = [(lay.uniform(0.08, 0.92), lay.uniform(0, 1), int(lay.integers(5)))
              for _ in range(int(lay.integers(3, 8)))]
    fruits = [(fx + var.normal(0, 0.09), fy, k) for fx, fy, k in fruits if var.random() > 0.2]
    for fx, fy, k in sorted(fruits, key=lambda f: f[1]):
        x, y = w * fx, table_y + (h * 0.88 - table_y) * (0.2 + 0.8 * fy)
        r = min(w, h) * lay.uniform(0.045, 0.07)
        c.draw.ellipse((x - r - c.lx * r * 0.6, y - r * 0.25, x + r * 1.2 - c.lx * r * 0.6,
                        y + r * 0.3), fill=c.lit(wood, 0.45))
        c.ball((x - r, y - r * 1.8, x + r, y + r * 0.1), fruit_kinds[k])


def _geometric(c: _Canvas) -> None:
    w, h, lay, var = c.w, c.h, c.lay, c.var
    colours = ((200, 40, 35), (30, 60, 150), (235, 200, 40), (240, 236, 225), (25, 25, 25),
               (60, 130, 90), (220, 120, 40))
    mode = int(lay.integers(3))
    pick = [int(lay.integers(len(colours))) for _ in range(24)]
    recolour = {int(var.integers(24)): int(var.integers(len(colours))) for _ in range(4)}
    pick = [recolour.get(i, p) for i, p in enumerate(pick)]
    bg = colours[3] if mode == 0 else colours[pick[0]]
    c.draw.rectangle((0, 0, w, h), fill=bg)
    if mode == 0:  # grid of black bars and a few coloured cells
        # The jitter can push a line past the canvas edge (once in a few thousand works):
        # it then lies on the edge, never outside, where a cell would have negative width.
        xs = sorted(np.clip(lay.uniform(0.1, 0.9, 4) + var.normal(0, 0.03, 4), 0, 1) * w)
        ys = sorted(np.clip(lay.uniform(0.1, 0.9, 3) + var.normal(0, 0.03, 3), 0, 1) * h)
        edges_x, edges_y = [0, *xs, w], [0, *ys, h]
        for i in range(len(edges_x) - 1):
            for j in range(len(edges_y) - 1):
                k = pick[(i * 5 + j) % 24]
                if k != 4 and (i + j + pick[j]) % 3 == 0:
                    c.draw.rectangle((edges_x[i], edges_y[j], edges_x[i + 1], edges_y[j + 1]),
                                     fill=colours[k])
        bar = max(2, round(min(w, h) * 0.02))
        for x in xs:
            c.draw.rectangle((x - bar / 2, 0, x + bar / 2, h), fill=colours[4])
        for y in ys:
            c.draw.rectangle((0, y - bar / 2, w, y + bar / 2), fill=colours[4])
    elif mode == 1:  # floating circles, bars and triangles
        for i in range(int(lay.integers(5, 10))):
            x, y = (lay.uniform(0.1, 0.9) + var.normal(0, 0.06)) * w, (
                lay.uniform(0.1, 0.9) + var.normal(0, 0.06)) * h
            r = min(w, h) * lay.uniform(0.05, 0.25) * var.uniform(0.8, 1.2)
            shape, fill = int(lay.integers(3)), colours[pick[i + 1]]
            if shape == 0:
                c.draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
            elif shape == 1:
                c.draw.line((x - r * 2, y - r, x + r * 2, y + r * 0.5), fill=fill,
                            width=max(1, round(r * 0.25)))
            else:
                c.draw.polygon([(x, y - r), (x + r, y + r * 0.8), (x - r, y + r * 0.8)], fill=fill)
    else:  # stacked soft colour fields
        n = int(lay.integers(2, 4))
        cuts = np.cumsum(lay.uniform(0.6, 1.4, n) * var.uniform(0.8, 1.2, n))
        cuts = 0.06 + 0.88 * np.concatenate([[0], cuts / cuts[-1]])
        for i in range(n):
            c.draw.rectangle((w * 0.08, h * (cuts[i] + 0.015), w * 0.92, h * (cuts[i + 1] - 0.015)),
                             fill=colours[pick[i + 1]])
        c.img = c.img.filter(ImageFilter.GaussianBlur(max(w, h) * 0.006))
        c.draw = ImageDraw.Draw(c.img)


_SCENES = {"landscape": _landscape, "seascape": _seascape, "portrait": _portrait,
           "still_life": _still_life, "geometric": _geometric}


def _sculpture(c: _Canvas) -> None:
    """Union of shaded ellipsoids (bust, vase or abstract form) on a plinth and backdrop."""
    w, h, lay, var = c.w, c.h, c.lay, c.var
    u, cx = min(w, h), w * (0.5 + var.uniform(-0.08, 0.08))
    cy = h * (0.5 + var.uniform(-0.04, 0.04))
    backdrops = ((150, 150, 148), (185, 175, 160), (95, 95, 100), (205, 205, 200))
    backdrop = backdrops[int(lay.integers(4))]
    materials = (((232, 226, 214), 0.25), ((105, 78, 45), 0.9), ((190, 112, 72), 0.1),
                 ((198, 165, 112), 0.1))  # marble, bronze, terracotta, limewood
    colour, shine = materials[int(lay.integers(4))]
    form = int(lay.integers(3))
    if form == 0:  # bust: head, neck, chest
        parts = [(0, -0.3, 0.13, 0.17), (0, -0.1, 0.07, 0.1), (0, 0.06, 0.3, 0.15)]
    elif form == 1:  # vase: lip, neck, body
        parts = [(0, -0.36, 0.1, 0.03), (0, -0.26, 0.055, 0.11), (0, 0.0, 0.2, 0.2)]
    else:  # abstract: blobs around a centre
        parts = [(lay.uniform(-0.15, 0.15), lay.uniform(-0.25, 0.1), lay.uniform(0.08, 0.2),
                  lay.uniform(0.08, 0.2)) for _ in range(int(lay.integers(3, 6)))]
    parts = [(cx + (dx + var.normal(0, 0.025)) * u, cy + (dy + var.normal(0, 0.02)) * u,
              rx * u * var.uniform(0.85, 1.15), ry * u) for dx, dy, rx, ry in parts]
    floor = max(py + ry for _, py, _, ry in parts)
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    depth = np.full((h, w), -1.0, np.float32)
    normal = np.zeros((3, h, w), np.float32)
    for px, py, rx, ry in parts:
        dx, dy = (xx - px) / rx, (yy - py) / ry
        inside = np.clip(1 - dx * dx - dy * dy, 1e-4, None)
        z = np.sqrt(inside) * min(rx, ry)
        wins = (dx * dx + dy * dy < 1) & (z > depth)
        n = np.stack([dx / rx, dy / ry, np.sqrt(inside) / min(rx, ry)])
        normal = np.where(wins, n / np.linalg.norm(n, axis=0), normal)
        depth = np.where(wins, z, depth)
    mask = depth >= 0
    light = np.array([c.lx, c.ly, 0.7], np.float32) / np.linalg.norm([c.lx, c.ly, 0.7])
    diffuse = np.clip(np.tensordot(light, normal, 1), 0, 1)
    half = (light + [0, 0, 1]) / np.linalg.norm(light + [0, 0, 1])
    spec = np.clip(np.tensordot(half.astype(np.float32), normal, 1), 0, 1) ** 30 * shine
    lit = np.float32(colour) * (0.22 + 0.9 * diffuse[..., None]) + 255 * spec[..., None]
    back = c.gradient(_scale(backdrop, 1.15), _scale(backdrop, 0.75))
    back[int(floor):] *= 0.8
    plinth = (cx - 0.22 * u, floor, cx + 0.22 * u, h + 1)
    shadow = Image.fromarray((mask * 255).astype(np.uint8)).transform(
        (w, h), Image.Transform.AFFINE, (1, 0, c.lx * 0.08 * u, 0, 1, 0.04 * u))
    shadow = np.asarray(shadow.filter(ImageFilter.GaussianBlur(0.03 * u)), np.float32) / 255
    back *= 1 - 0.45 * shadow[..., None]
    c.set_array(np.where(mask[..., None], lit, back))
    c.draw.rectangle(plinth, fill=_scale(backdrop, 0.55))
    c.draw.rectangle((plinth[0], floor, plinth[2], floor + 0.03 * u), fill=_scale(backdrop, 0.9))


# ----------------------------------------------------------------------------------------------
# Turning a scene into a painting, drawing, print or photograph.


@lru_cache(maxsize=256)
def _colour_lut(style: Style) -> ImageFilter.Color3DLUT:
    """The artist's colour handling as one 3-D lookup table, applied in C to the whole scene:
    pull towards a soft mix of the nearest palette colours (soft, so no banding), then
    contrast and saturation."""
    grid = np.linspace(0, 255, 17, dtype=np.float32)
    blue, green, red = np.meshgrid(grid, grid, grid, indexing="ij")  # red varies fastest
    rgb = np.stack([red, green, blue], -1).reshape(-1, 3)
    pal = np.asarray(style.palette, np.float32)
    dist = ((rgb[:, None, :] - pal) ** 2).sum(-1)
    weight = np.exp(-(dist - dist.min(-1, keepdims=True)) / 2500.0)
    rgb = rgb + style.palette_pull * (weight @ pal / weight.sum(-1, keepdims=True) - rgb)
    rgb = (rgb - 128) * style.contrast + 128
    grey = rgb.mean(-1, keepdims=True)
    rgb = grey + (rgb - grey) * style.saturation
    return ImageFilter.Color3DLUT(17, (np.clip(rgb, 0, 255) / 255).ravel().tolist())


def _stroke_angles(gy, gx, xi, yi, style: Style, rng) -> np.ndarray:
    """Mix the artist's dominant direction with the local contour, weighted by edge strength."""
    mag = np.hypot(gx[yi, xi], gy[yi, xi])
    f = style.form_following * np.clip(mag / 8.0, 0, 1)
    contour = np.arctan2(gx[yi, xi], -gy[yi, xi])
    vec = (1 - f) * np.exp(2j * math.radians(style.stroke_angle)) + f * np.exp(2j * contour)
    return np.angle(vec) / 2 + np.radians(rng.normal(0, style.angle_jitter, len(xi)))


def _brush(img: Image.Image, style: Style, rng: np.random.Generator,
           stroke_scale: float = 1) -> Image.Image:
    """Repaint the scene with short directional strokes in (palette-pulled) local colours;
    ``stroke_scale`` times wider strokes, as many times fewer squared."""
    w, h = img.size
    styled = img.filter(_colour_lut(style))
    src = np.asarray(styled)
    canvas = Image.blend(styled, Image.new("RGB", img.size, style.ground), 0.3)
    draw = ImageDraw.Draw(canvas)
    gray = np.asarray(img.convert("L").filter(ImageFilter.GaussianBlur(1.5)), np.float32)
    gy, gx = np.gradient(gray)
    edges = np.hypot(gx, gy).ravel() + 0.5
    size = max(1.0, style.brush_size * max(w, h) * stroke_scale)
    # A broad covering pass, then finer strokes placed where the picture has edges so that
    # faces, horizons and fruit keep their shape.
    for scale, coverage, most in ((1.3, 1.7, 4500), (0.7, 0.8, 2500)):
        width, length = size * scale, size * scale * style.stroke_length
        n = min(int(most / stroke_scale**2), int(coverage * w * h / (width * length)))
        if scale > 1:
            xs, ys = rng.uniform(0, w, n), rng.uniform(0, h, n)
        else:
            idx = rng.choice(w * h, n, p=edges / edges.sum())
            xs, ys = idx % w + rng.uniform(0, 1, n), idx // w + rng.uniform(0, 1, n)
        xi, yi = np.minimum(xs.astype(int), w - 1), np.minimum(ys.astype(int), h - 1)
        colours = src[yi, xi] + rng.normal(0, style.colour_jitter, (n, 1)) + rng.normal(
            0, style.colour_jitter / 3, (n, 3))
        angle = _stroke_angles(gy, gx, xi, yi, style, rng)
        half = length * rng.uniform(0.6, 1.0, n) / 2
        dx, dy = np.cos(angle) * half, np.sin(angle) * half
        segments = np.stack([xs - dx, ys - dy, xs + dx, ys + dy], 1).tolist()
        fills = [tuple(col) for col in np.clip(colours, 0, 255).astype(int).tolist()]
        widths = np.maximum(1, np.round(width * rng.uniform(0.75, 1.25, n))).astype(int).tolist()
        for segment, fill, stroke_width in zip(segments, fills, widths, strict=True):
            draw.line(segment, fill=fill, width=stroke_width)
    if style.softness > 0.2:
        canvas = canvas.filter(ImageFilter.GaussianBlur(style.softness))
    return canvas


def _tones(c: _Canvas, subjects: tuple[str, ...], blur: float) -> np.ndarray:
    """Paint a natural-colour subject and return its contrast-stretched grey values in 0-1."""
    _SCENES[subjects[int(c.lay.integers(len(subjects)))]](c)
    gray = np.asarray(c.img.convert("L").filter(ImageFilter.GaussianBlur(blur)), np.float32)
    lo, hi = np.percentile(gray, (2, 98))
    return np.clip((gray - lo) / max(hi - lo, 1.0), 0, 1)


def _colourise(ink_amount: np.ndarray, ink, paper) -> Image.Image:
    paper_amount = Image.fromarray((255 * (1 - np.clip(ink_amount, 0, 1))).astype(np.uint8))
    return ImageOps.colorize(paper_amount, ink, paper)


def _drawing(c: _Canvas, style: Style, line_size, rng) -> Image.Image:
    """Sepia, graphite or chalk contours plus hatching in the artist's hand on light paper."""
    tone = _tones(c, ("landscape", "portrait", "still_life"), 1.0)
    ink = ((85, 55, 35), (55, 55, 62), (150, 65, 45))[int(c.lay.integers(3))]
    k = line_size[0] / c.w
    sheet = Image.new("L", line_size, 0)
    draw = ImageDraw.Draw(sheet)
    gy, gx = np.gradient(tone)
    ys, xs = np.nonzero(np.hypot(gx, gy) > 0.08)
    keep = rng.random(len(xs)) < min(1.0, 2500 / max(len(xs), 1))
    xs, ys = xs[keep] + rng.uniform(0, 1, keep.sum()), ys[keep] + rng.uniform(0, 1, keep.sum())
    grid = rng.uniform(0, 1, (2, int(c.w * c.h / 14))) * [[c.w], [c.h]]
    dark = 1 - tone[grid[1].astype(int), grid[0].astype(int)]
    grid = grid[:, rng.random(grid.shape[1]) < (dark - 0.35) * 1.5]
    cross = grid[:, (1 - tone[grid[1].astype(int), grid[0].astype(int)]) > 0.75]
    for (px, py), base, length in ((np.stack([xs, ys]), None, 2.5), (grid, 0.0, 6.0),
                                   (cross, 1.2, 5.0)):
        if base is None:
            angle = np.arctan2(gx, -gy)[py.astype(int), px.astype(int)]
        else:
            angle = math.radians(style.stroke_angle) + base + rng.normal(0, 0.08, px.size)
        dx, dy = np.cos(angle) * length * k / 2, np.sin(angle) * length * k / 2
        shades = rng.integers(110, 230, px.size).tolist()
        for seg, shade in zip(np.stack([px * k - dx, py * k - dy, px * k + dx, py * k + dy],
                                       1).tolist(), shades, strict=True):
            draw.line(seg, fill=shade, width=max(1, round(k * 0.6)))
    return _colourise(np.asarray(sheet, np.float32) / 255, ink, (238, 230, 212))


def _print(c: _Canvas, style: Style, line_size) -> Image.Image:
    """Engraving: line screens whose lines thicken with darkness, cross-hatched in shadows."""
    tone = _tones(c, ("landscape", "seascape", "portrait", "still_life"), 0.8)
    tone = np.asarray(Image.fromarray((tone * 255).astype(np.uint8)).resize(
        line_size, Image.Resampling.BILINEAR), np.float32) / 255
    yy, xx = np.mgrid[: line_size[1], : line_size[0]].astype(np.float32)
    period = max(3.0, line_size[0] / 150)
    ink = np.zeros_like(tone)
    for turn, start in ((0.0, 0.15), (math.pi / 2.4, 0.6)):
        a = math.radians(style.stroke_angle) + turn
        u = (xx * math.cos(a) + yy * math.sin(a)) / period
        between = np.abs(u % 1 - 0.5) * 2  # 0 on a line's centre, 1 halfway between lines
        # Lines thicken with darkness; the soft ramp over ~1 px anti-aliases them.
        ink = np.maximum(ink, (((1 - tone) - start) * 1.1 - between) * period / 2 + 0.5)
    ink = np.maximum(ink, np.hypot(*np.gradient(tone)) > 0.05)
    colour = ((20, 20, 24), (45, 30, 25), (25, 35, 60))[int(c.lay.integers(3))]
    return _colourise(ink, colour, (240, 236, 224))


def _photograph(c: _Canvas) -> Image.Image:
    """Smooth tonal image with an S-curve, vignetting and a sepia, albumen or neutral tone."""
    tone = _tones(c, ("landscape", "seascape", "portrait", "still_life"), 1.2)
    tone = tone * tone * (3 - 2 * tone) * 0.8 + tone * 0.2
    yy, xx = np.ogrid[: c.h, : c.w]
    r2 = ((xx / c.w - 0.5) ** 2 + (yy / c.h - 0.5) ** 2) * 2
    tone = tone * (1 - 0.5 * r2 ** 1.5)
    tint = ((1.0, 1.0, 1.0), (1.0, 0.86, 0.66), (0.98, 0.9, 0.78))[int(c.lay.integers(3))]
    arr = 15 + 230 * tone[..., None] * np.float32(tint)
    return Image.fromarray(arr.astype(np.uint8))


# ----------------------------------------------------------------------------------------------
# Full-resolution texture and the public entry point.


@lru_cache(maxsize=64)
def _texture_tile(kind: str, angle_bucket: int) -> np.ndarray:
    """Tileable zero-mean texture (canvas, paper or grain), built once from a fixed seed.

    Filtering white noise in the Fourier domain keeps it seamless across tile edges; the
    canvas version adds bristle streaks elongated along the artist's stroke direction.
    """
    rng = _rng(7, ("canvas", "paper", "grain").index(kind), angle_bucket)
    spectrum = np.fft.fft2(rng.standard_normal((TILE, TILE)))
    fy, fx = np.fft.fftfreq(TILE)[:, None], np.fft.fftfreq(TILE)[None, :]
    if kind == "canvas":
        a = angle_bucket * math.pi / 12
        along, across = fx * math.cos(a) + fy * math.sin(a), fy * math.cos(a) - fx * math.sin(a)
        streaks = np.fft.ifft2(spectrum * np.exp(-(along / 0.03) ** 2 - (across / 0.25) ** 2)).real
        yy, xx = np.mgrid[:TILE, :TILE]
        weave = np.sin(xx * math.pi / 2) * np.sin(yy * math.pi / 2)  # 4 px threads
        tile = 0.8 * weave + 0.6 * streaks / streaks.std()
    elif kind == "paper":
        tile = np.fft.ifft2(spectrum * np.exp(-(fx**2 + fy**2) / 0.02)).real
    else:
        tile = np.fft.ifft2(spectrum * np.exp(-(fx**2 + fy**2) / 0.1)).real
    return (tile / tile.std()).astype(np.float32)


def _add_texture(img: Image.Image, tile: np.ndarray, amplitude: float, seed: int) -> Image.Image:
    if amplitude < 0.5:
        return img
    tile_img = Image.fromarray(np.clip(128 + amplitude * tile, 0, 255).astype(np.uint8))
    tile_img = tile_img.convert("RGB")
    texture = Image.new("RGB", img.size)
    ox, oy = seed % TILE, (seed // TILE) % TILE  # so works do not share one texture phase
    for y in range(-oy, img.height, TILE):
        for x in range(-ox, img.width, TILE):
            texture.paste(tile_img, (x, y))
    return ImageChops.add(img, texture, 1.0, -128)


def _copyists_drawing(img: Image.Image, hand: int) -> Image.Image:
    """The composition as another hand draws it when copying: every point displaced by a
    smooth field of up to about 1.5 % of the picture (a replica's outlines never land exactly
    where the original's do)."""
    rng = _rng(hand, 7)
    w, h = img.size
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    dx = np.zeros_like(xx)
    dy = np.zeros_like(yy)
    for _ in range(3):
        fx, fy, phase = rng.uniform(0.5, 2.0), rng.uniform(0.5, 2.0), rng.uniform(0, 6.3, 2)
        dx += np.sin(2 * math.pi * (fx * xx / w + fy * yy / h) + phase[0]) * 0.005 * w
        dy += np.cos(2 * math.pi * (fy * xx / w - fx * yy / h) + phase[1]) * 0.005 * h
    arr = np.asarray(img)
    x = np.clip(np.rint(xx + dx), 0, w - 1).astype(int)
    y = np.clip(np.rint(yy + dy), 0, h - 1).astype(int)
    return Image.fromarray(arr[y, x])


def paint(kind: str, style: Style, seed: int, size: tuple[int, int],
          variant: int = 0, fast: bool = False, hand: int = 0) -> Image.Image:
    """RGB image of exactly `size` (width, height). kind is one of GENRES or OBJECT_KINDS.

    ``fast`` (scaled demos of 100,000 artworks): composition on a canvas of half the side and
    brushwork in a quarter as many strokes of twice the width, about three times cheaper; the
    same scene, coarser strokes (a different image from the full painter's, as deterministic).
    ``hand`` > 0: a replica of the same work painted again by another hand (a workshop's
    copy): the same scene, drawn a little differently, in other strokes."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    width, height = int(size[0]), int(size[1])
    if width < 1 or height < 1:
        raise ValueError(f"size must be positive, got {size}")
    k = KINDS.index(kind)
    lay, var = _rng(k, seed), _rng(k, seed, variant, 1)
    strokes = _rng(k, seed, variant, 2) if hand == 0 else _rng(k, seed, variant, 2, hand)
    shrink = 2 if fast else 1
    c = _Canvas(_base_size((width, height), BASE_LONG_SIDE // shrink), lay, var,
                style.light_angle)
    line_size = _base_size((width, height), LINE_LONG_SIDE // shrink)
    if kind in GENRES:
        _SCENES[kind](c)
        scene = c.img if hand == 0 else _copyists_drawing(c.img, hand)
        img, texture = _brush(scene, style, strokes, stroke_scale=shrink), "canvas"
        amplitude = 9 * style.texture_strength
    elif kind == "drawing":
        img, texture, amplitude = _drawing(c, style, line_size, strokes), "paper", 4.0
    elif kind == "print":
        img, texture, amplitude = _print(c, style, line_size), "paper", 3.0
    elif kind == "photograph":
        img, texture, amplitude = _photograph(c), "grain", 7.0
    else:
        _sculpture(c)
        img = c.img.filter(ImageFilter.GaussianBlur(0.7))
        texture, amplitude = "grain", 4.0
    upscale = width * height > img.width * img.height
    img = img.resize((width, height), Image.Resampling.BICUBIC if upscale
                     else Image.Resampling.LANCZOS)
    # Fine texture is a full-resolution detail; on thumbnails it would only add noise.
    amplitude *= min(1.0, max(0.0, (max(width, height) - 200) / 800))
    bucket = round(style.stroke_angle / 15) % 12
    return _add_texture(img, _texture_tile(texture, bucket), amplitude, seed % 2**31)
