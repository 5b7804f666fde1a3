"""A built demo collection, loaded for serving: catalogue, stored files, scaled derivatives.

The API emulators (``demo/apis/``) ask this object for records and image bytes; it knows
nothing about HTTP.
"""

from __future__ import annotations

import functools
import io
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from PIL import Image

from demo.catalog import Artist, Artwork, Catalog, Copy, build_catalog

OVERSIZED_CHUNK = 1 << 16
LISTINGS_KEPT = 16  # listing queries whose selected records are kept for their next pages


class DemoCollection:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        info_path = self.root / "collection.json"
        if not info_path.is_file():
            raise FileNotFoundError(f"{self.root} is not a built demo collection (no "
                                    "collection.json); build one with: python -m demo build")
        self.info = json.loads(info_path.read_text())
        self.catalog: Catalog = build_catalog(self.info["seed"], self.info["artworks"],
                                              self.info["reference_year"],
                                              self.info["defect_share"],
                                              size_scale=self.info.get("size_scale", 1.0))
        files = pd.read_parquet(self.root / "files.parquet")
        self._files = {row.copy_id: row for row in files.itertuples(index=False)}
        self.copies = {c.copy_id: c for c in self.catalog.copies}
        self._by_source_id = {(c.source, c.source_id): c for c in self.catalog.copies}
        self._by_image_id = {c.image_id: c for c in self.catalog.copies if c.image_id}
        self._lock = threading.Lock()
        self._indexes: dict[tuple, dict[str, Copy]] = {}
        # Grouped and sorted once: every API request starts from its source's records, and
        # sorting all copies per request made the demo server, not the crawler, the cost of a
        # scaled crawl (quadratic in the collection).
        by_source: dict[str, list[Copy]] = {}
        for c in self.catalog.copies:
            by_source.setdefault(c.source, []).append(c)
        self._source_copies = {source: tuple(sorted(copies, key=_listing_order))
                               for source, copies in by_source.items()}
        self._listings: OrderedDict[tuple, list] = OrderedDict()

    # --- records ---------------------------------------------------------------------------

    def source_copies(self, source: str) -> tuple[Copy, ...]:
        """A source's records in the order its API lists them (by numeric id)."""
        return self._source_copies.get(source, ())

    def listing(self, key: tuple, select: Callable[[], list]) -> list:
        """``select()``: the records one listing query selects, computed for its first page
        and kept for the next ones (the last ``LISTINGS_KEPT`` queries, by ``key``: the query
        without its paging arguments, see ``Request.listing_key``). Paging through N records
        then costs the server O(N) in all, as a real API's index does, not O(N) per page.
        Callers must not change the list."""
        with self._lock:
            if key in self._listings:
                self._listings.move_to_end(key)
                return self._listings[key]
        selected = select()  # outside the lock: a slow query does not hold up image requests
        with self._lock:
            self._listings[key] = selected
            while len(self._listings) > LISTINGS_KEPT:
                self._listings.popitem(last=False)
        return selected

    def by_source_id(self, source: str, source_id: str) -> Copy | None:
        return self._by_source_id.get((source, source_id))

    def by_image_id(self, image_id: str) -> Copy | None:
        return self._by_image_id.get(image_id)

    def index(self, source: str, key: Callable[[Copy], str]) -> dict[str, Copy]:
        """A source's copies keyed by ``key`` (built once per key function, then cached)."""
        cache_key = (source, key)
        with self._lock:
            if cache_key not in self._indexes:
                self._indexes[cache_key] = {key(c): c for c in self.source_copies(source)}
            return self._indexes[cache_key]

    def artwork(self, copy: Copy) -> Artwork:
        return self.catalog.artwork(copy.artwork_id)

    def artist(self, copy: Copy) -> Artist:
        return self.catalog.artist(self.artwork(copy).artist_id)

    # --- image bytes -------------------------------------------------------------------------

    def size(self, copy: Copy) -> tuple[int, int]:
        """Pixel size of the copy's original file; a plausible claim for broken ones."""
        row = self._files.get(copy.copy_id)
        if row is not None and row.width > 0:
            return int(row.width), int(row.height)
        art = self.artwork(copy)
        return art.width, art.height

    def file_path(self, copy: Copy) -> Path | None:
        row = self._files.get(copy.copy_id)
        return None if row is None else self.root / row.file

    def original(self, copy: Copy) -> bytes:
        path = self.file_path(copy)
        if path is None:
            raise KeyError(f"{copy.copy_id} has no stored file")
        return path.read_bytes()

    def oversized_length(self) -> int:
        return int(self.info["oversized_mib"]) << 20

    def oversized_chunks(self):
        """An endless-looking JPEG: a valid start marker, then filler up to the stated length."""
        remaining = self.oversized_length()
        chunk = b"\xff\xd8\xff\xe0" + b"\x00" * (OVERSIZED_CHUNK - 4)
        while remaining > 0:
            yield chunk[:remaining]
            remaining -= len(chunk)
            chunk = b"\x00" * OVERSIZED_CHUNK

    def derived(self, copy: Copy, region: tuple[int, int, int, int] | None,
                size: tuple[int, int] | None, fmt: str = "jpg", gray: bool = False) -> bytes:
        """The original cropped to ``region`` (x, y, w, h) and scaled to ``size``, re-encoded.

        Broken originals are served as they are: a server does not repair them.
        """
        if copy.defect:
            return self.original(copy)
        return _derive(self.file_path(copy), region, size, fmt, gray)


@functools.lru_cache(maxsize=512)
def _derive(path: Path, region, size, fmt: str, gray: bool) -> bytes:
    with Image.open(path) as im:
        im = im.convert("RGB")
        if region is not None:
            x, y, w, h = region
            im = im.crop((x, y, x + w, y + h))
        if size is not None and size != im.size:
            im = im.resize(size, Image.Resampling.LANCZOS)
        if gray:
            im = im.convert("L")
        buf = io.BytesIO()
        if fmt == "png":
            im.save(buf, "PNG", compress_level=1)
        elif fmt == "tif":
            im.save(buf, "TIFF")  # uncompressed, like museums' "full" masters
        else:
            im.save(buf, "JPEG", quality=90)
        return buf.getvalue()


def _listing_order(copy: Copy) -> tuple:
    """Numeric ids (Q-ids without their Q) as numbers, then text ids as text."""
    digits = copy.source_id.removeprefix("Q")
    return (0, int(digits), "") if digits.isdigit() else (1, 0, copy.source_id)
