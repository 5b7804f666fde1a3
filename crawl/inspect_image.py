"""Is this body a usable image? Decide from the bytes alone, fast, and say why not.

``inspect_image`` identifies the format, reads the size from the header, refuses decompression
bombs before decoding, and then decodes (JPEG in draft mode, at 1/8 scale, which still reads
every byte of the scan) to catch truncated and corrupt data. It runs in worker threads, off
the crawler's event loop.

Memory. A full decode holds the whole bitmap: a 12,000 x 12,400 RGBA PNG (under the default
``crawl.max_pixels``) is 595 MB decoded although it may arrive as 600 kB, and Scrapy runs
``run_in_thread`` on asyncio's default executor (cores + 4 threads, not
REACTOR_THREADPOOL_MAXSIZE), so several such images decoded at once would take gigabytes. A
``DecodeGate`` shared by those threads admits a decode only while the estimated decoded bytes
in flight (``decoded_bytes``: width x height x Pillow's bytes per pixel, after the JPEG draft,
so a 1/8 draft costs 1/64) fit its budget, and always admits one when none is running: an image
bigger than the budget is still checked, alone, and nothing waits forever.

``decode_budget`` derives that budget from ``crawl.max_rss_mb``, the target for the crawl
process's peak RSS. What the target covers: a fixed reserve for the process itself
(interpreter, Scrapy, Pillow, pyarrow: ``PROCESS_RESERVE_MIB``), the response bodies Scrapy can
hold at once (CONCURRENT_REQUESTS x ``crawl.max_bytes``, the worst case: every download in
flight at the size cap), and the decodes, which get the rest. The one case it does not cover is
a single image whose decode alone exceeds what is left (at most max_pixels x 4 bytes, 600 MB
by default): it runs alone, so peak RSS is then about reserve + bodies + that one bitmap.
Measured: ``python -m benchmarks crawl_memory`` (benchmarks/results/crawl_memory.json).

PNG is still decoded in full (under the gate) rather than checked in strips: Pillow cannot
decode a PNG into less than the whole bitmap, ``verify()`` checks chunk CRCs but not the
deflate stream, and a hand-written streaming check would judge ``truncated``/``corrupt``
differently from the decoder the rest of the pipeline reads images with.
"""

from __future__ import annotations

import ctypes
import io
import threading
import warnings
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
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


# The crawl process without any image: interpreter, Scrapy, Pillow, pyarrow, the journal. Crawls
# of small images peak at 200-290 MiB (benchmarks/results/crawl_throughput.json).
PROCESS_RESERVE_MIB = 256


def decode_budget(max_rss_mb: int, concurrent_requests: int, max_body_bytes: int) -> int | None:
    """Bytes of decoded bitmaps allowed in flight under a peak-RSS target of ``max_rss_mb``
    MiB; None (no gate) when the target is 0. Can be 0: then decodes run one at a time."""
    if max_rss_mb <= 0:
        return None
    bodies = max(concurrent_requests, 1) * max(max_body_bytes, 0)
    return max(0, (max_rss_mb - PROCESS_RESERVE_MIB) * 2**20 - bodies)


def decoded_bytes(width: int, height: int, mode: str) -> int:
    """What Pillow allocates to hold a decoded ``mode`` bitmap: 1 byte per pixel for 8-bit
    single-band modes, 2 for I;16*, 4 for every other mode (RGB is stored padded to 4)."""
    if mode in ("1", "L", "P"):
        size = 1
    elif mode.startswith("I;16"):
        size = 2
    else:
        size = 4
    return width * height * size


class DecodeGate:
    """Admit decodes while their estimated bytes in flight fit ``budget`` bytes.

    Shared by the worker threads that inspect images. First come, first served: a big decode
    waiting for room is not overtaken by a stream of small ones, which could starve it. A
    decode is always admitted when none is running, so one bigger than the whole budget is
    checked alone instead of waiting forever.
    """

    def __init__(self, budget: int):
        self.budget = budget
        self._cond = threading.Condition()
        self._waiting: deque[object] = deque()
        self._in_flight = 0
        self._running = 0
        self.peak_in_flight = 0  # the most estimated bytes ever admitted at once

    @property
    def in_flight(self) -> tuple[int, int]:
        """(decodes running, their estimated bytes)."""
        with self._cond:
            return self._running, self._in_flight

    @contextmanager
    def admit(self, cost: int) -> Iterator[None]:
        ticket = object()
        with self._cond:
            self._waiting.append(ticket)
            try:
                self._cond.wait_for(lambda: self._waiting[0] is ticket and (
                    self._running == 0 or self._in_flight + cost <= self.budget))
            finally:
                self._waiting.remove(ticket)
                self._cond.notify_all()  # the next in line may fit too (or we gave up)
            self._running += 1
            self._in_flight += cost
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._in_flight -= cost
                self._cond.notify_all()


# glibc keeps memory freed by a worker thread in that thread's malloc arena: decodes run one at
# a time but in different threads would each leave ~50-180 MB of a big bitmap behind (measured
# with 595 MB PNGs), so RSS would climb as if they had overlapped. malloc_trim hands it back.
try:
    _malloc_trim = ctypes.CDLL(None).malloc_trim  # glibc only; elsewhere nothing to do
except (OSError, AttributeError):
    _malloc_trim = None
TRIM_ABOVE_BYTES = 64 * 2**20  # smaller bitmaps are reused by the next decode anyway


def _free_bitmap(im: Image.Image, cost: int) -> None:
    im.close()  # drops the decoded bitmap (closing again on leaving ``with im`` is harmless)
    if _malloc_trim is not None and cost >= TRIM_ABOVE_BYTES:
        _malloc_trim(0)


def inspect_image(data: bytes, content_type: str | None = None,
                  max_pixels: int = 150_000_000, gate: DecodeGate | None = None) -> Inspection:
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
                # After the draft: im.size is then the reduced size the decoder allocates.
                cost = decoded_bytes(*im.size, im.mode)
                with gate.admit(cost) if gate else nullcontext():
                    try:
                        im.load()
                    finally:  # the bitmap is gone before the gate admits the next decode
                        _free_bitmap(im, cost)
        except (OSError, EOFError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            message = reasons.describe(exc, 300)
            truncated = isinstance(exc, EOFError) or "truncat" in str(exc).lower()
            return Inspection(fmt, width, height,
                              reasons.TRUNCATED if truncated else reasons.CORRUPT, message)
    return Inspection(fmt, width, height)
