"""Is this body a usable image? Decide from the bytes alone, fast, and say why not.

``inspect_image`` identifies the format, reads the size from the header, refuses decompression
bombs before decoding, and then decodes (JPEG in draft mode, at 1/8 scale, which still reads
every byte of the scan) to catch truncated and corrupt data. It runs in worker threads, off
the crawler's event loop.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from crawl import reasons

# Magic numbers of formats a museum might serve: bytes starting like this *claim* to be an
# image, so a failure to read them is corruption rather than "not an image at all".
_MAGIC = (b"\xff\xd8", b"\x89PNG", b"GIF8", b"II*\x00", b"MM\x00*", b"BM", b"RIFF",
          b"\x00\x00\x00\x0cjP", b"\x00\x00\x00\x0cjp")


@dataclass(frozen=True)
class Inspection:
    format: str | None = None
    width: int | None = None
    height: int | None = None
    reason: str | None = None  # None: a good image
    error: str | None = None


def looks_like_html(data: bytes, content_type: str | None) -> bool:
    if content_type and content_type.split(";")[0].strip().lower() in ("text/html",
                                                                       "application/xhtml+xml"):
        return True
    head = data[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


def inspect_image(data: bytes, content_type: str | None = None,
                  max_pixels: int = 150_000_000) -> Inspection:
    if looks_like_html(data, content_type):
        return Inspection(reason=reasons.HTML_PAGE,
                          error=f"HTML page instead of an image ({content_type or 'no type'})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        return Inspection(reason=reasons.DECOMPRESSION_BOMB, error=str(exc))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        claimed = data.startswith(_MAGIC)
        reason = reasons.NOT_IMAGE
        if claimed:  # cut off inside the headers, or damaged
            reason = reasons.TRUNCATED if "truncat" in str(exc).lower() else reasons.CORRUPT
        return Inspection(reason=reason,
                          error=f"cannot identify image: {reasons.describe(exc, 280)}")
    with im:
        width, height = im.size
        fmt = im.format
        if width <= 0 or height <= 0:
            return Inspection(fmt, width, height, reasons.CORRUPT, "zero-sized image")
        if width * height > max_pixels:
            return Inspection(fmt, width, height, reasons.DECOMPRESSION_BOMB,
                              f"{width}x{height} = {width * height:,} pixels, over the limit "
                              f"of {max_pixels:,}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if fmt == "JPEG":
                    im.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                im.load()
        except (OSError, EOFError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            message = reasons.describe(exc, 300)
            truncated = isinstance(exc, EOFError) or "truncat" in str(exc).lower()
            return Inspection(fmt, width, height,
                              reasons.TRUNCATED if truncated else reasons.CORRUPT, message)
    return Inspection(fmt, width, height)
