"""Demo photographs: the content images of style transfer, for the offline demo and the tests.

    from style.photograph import photograph
    pixels = photograph(seed=0, width=768, height=512)   # uint8 [512, 768, 3]

A landscape as a camera records it, not as a painter would: a sky with a smooth gradient and a
sun, ranges of hills fading into haze with distance (aerial perspective), a lake that mirrors
them with ripples, a tree line in the foreground, depth-of-field softness on the distant
ranges, and sensor grain. Smooth tones and hard silhouettes are what style transfer must turn
into brush strokes, and what the content loss must keep. A pure function of (seed, size).
(Not the painter's ``photograph`` object kind: that is an old toned print, a record the
licence gate and the object-type filter must keep out of the paintings.)
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _ridge(rng: np.random.Generator, width: int, base: float, roughness: float) -> np.ndarray:
    """A hill line: heights (fractions of the height) over x, sums of random sines."""
    x = np.linspace(0, 1, width)
    line = np.full(width, base)
    for octave in range(1, 6):
        freq = rng.uniform(1.5, 3.0) * 2 ** octave
        line += roughness / octave ** 1.3 * np.sin(2 * np.pi * freq * x + rng.uniform(0, 6.3))
    return line


def photograph(seed: int = 0, width: int = 768, height: int = 512) -> np.ndarray:
    """uint8 [height, width, 3]: the module docstring's landscape."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    horizon = rng.uniform(0.55, 0.65)
    zenith, haze = rng.uniform([40, 90, 170], [80, 130, 210]), np.array([220.0, 215, 205])
    sky = zenith + (haze - zenith) * (yy / horizon)[..., None] ** 0.7
    sun_x, sun_y = rng.uniform(0.2, 0.8), rng.uniform(0.12, 0.3) * horizon / 0.6
    glow = np.exp(-((xx - sun_x) ** 2 * (width / height) ** 2 + (yy - sun_y) ** 2) / 0.004)
    sky = sky + glow[..., None] * np.array([35.0, 30, 10])
    sun = (xx - sun_x) ** 2 * (width / height) ** 2 + (yy - sun_y) ** 2 < 0.0009
    image = np.where(sun[..., None], np.array([255.0, 250, 225]), sky)
    # Ranges from far to near: higher lines, paler and bluer far away (aerial perspective).
    ranges = [(horizon - 0.16, 0.05, 0.55), (horizon - 0.09, 0.045, 0.35),
              (horizon - 0.03, 0.03, 0.15)]
    green = rng.uniform([50, 75, 40], [70, 100, 60])
    for top, roughness, fade in ranges:
        line = _ridge(rng, width, top, roughness)
        land = (yy >= line[None, :]) & (yy < horizon)
        colour = green * (1 - fade) + haze * fade
        shade = 1 - 0.25 * (yy - line[None, :]).clip(0, 0.2) / 0.2
        layer = colour * shade[..., None]
        if fade > 0.3:                        # distant: out of focus
            layer = ndimage.gaussian_filter(layer, sigma=(1.5, 1.5, 0))
        image = np.where(land[..., None], layer, image)
    # The lake: the scene above the horizon mirrored, darker, broken by ripples.
    below = yy >= horizon
    rows = np.clip((2 * horizon - yy) * height, 0, height - 1)
    ripple = 2.5 * np.sin(yy * height * 0.9 + 3 * np.sin(xx * width / 37)) * (yy - horizon)
    src_y = np.clip(rows + ripple * height / 8, 0, height - 1).astype(int)
    src_x = np.clip(xx * width + ripple * 6, 0, width - 1).astype(int)
    water = image[src_y, src_x] * 0.72 + np.array([10.0, 25, 35])
    image = np.where(below[..., None], water, image)
    # A tree line on the near shore, dark and sharp.
    trees = _ridge(rng, width, horizon - 0.06, 0.02)
    trees += 0.04 * np.abs(np.sin(np.linspace(0, 1, width) * width / 9.0))
    near = (yy >= trees[None, :]) & (yy < horizon + 0.01)
    shore_mask = xx < rng.uniform(0.25, 0.45)
    image = np.where((near & shore_mask)[..., None], np.array([25.0, 45, 30]), image)
    image += rng.normal(0, 2.5, image.shape)  # sensor grain
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)
