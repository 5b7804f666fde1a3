"""IIIF Image API 2.x for the demo server: ``{id}/{region}/{size}/{rotation}/{quality}.{format}``.

The Art Institute of Chicago and the National Gallery of Art serve images this way. Supported:
regions ``full``, ``square``, ``x,y,w,h``, ``pct:x,y,w,h``; sizes ``full``, ``max``, ``w,``,
``,h``, ``pct:n``, ``w,h``, ``!w,h``; rotation ``0``; qualities ``default``, ``color``,
``gray``; formats ``jpg`` and ``png``; and ``info.json``. A request beyond the image or the
source's size cap gets 400, as real IIIF servers answer.
"""

from __future__ import annotations

import math

from demo.catalog import Copy
from demo.collection import DemoCollection
from demo.server import Request, Response, error_response, json_response

CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png"}


class IIIFError(ValueError):
    pass


def parse_region(spec: str, width: int, height: int) -> tuple[int, int, int, int] | None:
    if spec == "full":
        return None
    if spec == "square":
        side = min(width, height)
        return (width - side) // 2, (height - side) // 2, side, side
    pct = spec.startswith("pct:")
    try:
        x, y, w, h = (float(v) for v in spec.removeprefix("pct:").split(","))
    except ValueError:
        raise IIIFError(f"bad region {spec!r}") from None
    if pct:
        x, y, w, h = x * width / 100, y * height / 100, w * width / 100, h * height / 100
    x, y, w, h = round(x), round(y), round(w), round(h)
    if w <= 0 or h <= 0 or x >= width or y >= height or x < 0 or y < 0:
        raise IIIFError(f"region {spec!r} is outside the {width}x{height} image")
    return x, y, min(w, width - x), min(h, height - y)


def parse_size(spec: str, width: int, height: int, max_width: int | None) -> tuple[int, int]:
    """Target size for a region of ``width`` x ``height``."""
    if spec in ("full", "max"):
        w, h = width, height
        if spec == "max" and max_width and w > max_width:
            w, h = max_width, max(1, round(height * max_width / width))
    elif spec.startswith("pct:"):
        try:
            scale = float(spec[4:]) / 100
        except ValueError:
            raise IIIFError(f"bad size {spec!r}") from None
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
    else:
        best_fit = spec.startswith("!")
        try:
            ws, hs = spec.lstrip("!").split(",")
            tw = int(ws) if ws else None
            th = int(hs) if hs else None
        except ValueError:
            raise IIIFError(f"bad size {spec!r}") from None
        if tw is None and th is None:
            raise IIIFError(f"bad size {spec!r}")
        if best_fit:
            if tw is None or th is None:
                raise IIIFError(f"best-fit size needs both w and h: {spec!r}")
            scale = min(tw / width, th / height)
            w, h = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
        elif th is None:
            w, h = tw, max(1, round(height * tw / width))
        elif tw is None:
            w, h = max(1, round(width * th / height)), th
        else:
            w, h = tw, th
    if w <= 0 or h <= 0:
        raise IIIFError(f"size {spec!r} is empty")
    if w > width or h > height:
        raise IIIFError(f"size {spec!r} would upscale the {width}x{height} region")
    if max_width and w > max_width:
        raise IIIFError(f"size {spec!r} exceeds this server's maximum width {max_width}")
    return w, h


def info_json(copy: Copy, size: tuple[int, int], image_base: str,
              max_width: int | None) -> dict:
    width, height = size
    sizes = []
    w, h = width, height
    while w >= 64:
        if not max_width or w <= max_width:
            sizes.append({"width": w, "height": h})
        w, h = w // 2, h // 2
    profile: dict = {"formats": ["jpg", "png"], "qualities": ["default", "color", "gray"],
                     "supports": ["regionByPct", "regionSquare", "sizeByForcedWh", "sizeByWh"]}
    if max_width:
        profile["maxWidth"] = max_width
    return {
        "@context": "http://iiif.io/api/image/2/context.json",
        "@id": f"{image_base}/{copy.image_id}",
        "protocol": "http://iiif.io/api/image",
        "width": width,
        "height": height,
        "profile": ["http://iiif.io/api/image/2/level2.json", profile],
        "sizes": sorted(sizes, key=lambda s: s["width"]),
        "tiles": [{"width": 512, "scaleFactors": [1, 2, 4, 8, 16]}],
    }


def serve(collection: DemoCollection, request: Request, path: str, image_base: str,
          max_width_for: callable) -> Response:
    """Answer ``path`` = ``/{id}/info.json`` or ``/{id}/{region}/{size}/{rot}/{quality}.{fmt}``."""
    parts = path.strip("/").split("/")
    copy = collection.by_image_id(parts[0]) if parts and parts[0] else None
    if copy is None or not copy.has_image:
        return error_response(404, "image not found", as_json=False)
    size = collection.size(copy)
    max_width = max_width_for(copy)
    if len(parts) == 1:  # the bare identifier redirects to info.json in IIIF 2
        return Response(303, b"", "text/plain", {"Location": f"{image_base}/{parts[0]}/info.json"})
    if parts[1:] == ["info.json"]:
        response = json_response(info_json(copy, size, image_base, max_width))
        response.content_type = "application/json"
        return response
    if len(parts) != 5:
        return error_response(400, "expected {id}/{region}/{size}/{rotation}/{quality}.{format}",
                              as_json=False)
    region_spec, size_spec, rotation, last = parts[1:]
    quality, _, fmt = last.partition(".")
    if fmt not in CONTENT_TYPES:
        return error_response(400, f"unsupported format {fmt!r}", as_json=False)
    if quality not in ("default", "color", "gray"):
        return error_response(400, f"unsupported quality {quality!r}", as_json=False)
    if rotation not in ("0", "0.0"):
        return error_response(400, f"unsupported rotation {rotation!r}", as_json=False)
    if copy.defect == "oversized":
        return Response(200, collection.oversized_chunks(), "image/jpeg",
                        length=collection.oversized_length())
    try:
        region = parse_region(region_spec, *size)
        rw, rh = (region[2], region[3]) if region else size
        target = parse_size(size_spec, rw, rh, max_width)
    except IIIFError as exc:
        return error_response(400, str(exc), as_json=False)
    body = collection.derived(copy, region, target, fmt, quality == "gray")
    return Response(200, body, CONTENT_TYPES[fmt] if not copy.defect
                    else _defect_content_type(copy))


def _defect_content_type(copy: Copy) -> str:
    # An HTML error page keeps its HTML type; everything else claims to be the image it isn't.
    return "text/html; charset=utf-8" if copy.defect == "html_error" else "image/jpeg"
