"""Style images chosen from the curated collection by a pandas query.

    rows, images = select_styles("data/curate/curated.parquet", "data/crawl",
                                 "artist == 'Vincent van Gogh' and date_end < 1890", limit=2)

``query`` is ``DataFrame.query`` over ``curated.parquet``'s columns (artist, date_start,
date_end, genre, movement, medium, source, title, ...); the matching rows are taken in key
order (a stable order that does not depend on the crawl), the first ``limit`` of them, and
their original bytes read from the crawl's content stores by (source, sha256). Each chosen
row comes back with the evidence that makes it usable: its licence, the rule that passed it,
and where it came from; an output's card lists them.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from crawl.blobs import CrawlStores
from marcus.errors import UserError

EVIDENCE = ("key", "source", "source_id", "sha256", "title", "artist", "date_text", "license",
            "licence_rule", "page_url", "image_url")


def select_styles(curated: str | Path, crawl_root: str | Path, query: str, limit: int
                  ) -> tuple[list[dict], list[bytes]]:
    """(rows with their evidence, original image bytes) of the first ``limit`` curated
    paintings matching ``query``, in key order."""
    curated = Path(curated)
    if not curated.is_file():
        raise UserError(f"no curated manifest at {curated}: run `dvc repro curate` first")
    if limit < 1:
        raise UserError(f"style limit must be at least 1, not {limit}")
    frame = pd.read_parquet(curated)
    try:
        chosen = frame.query(query) if query.strip() else frame
    except Exception as exc:  # noqa: BLE001 - pandas raises many types for a bad expression
        raise UserError(f"style query {query!r} does not run on curated.parquet "
                        f"({type(exc).__name__}: {exc}); columns: "
                        f"{', '.join(frame.columns)}") from exc
    if not isinstance(chosen, pd.DataFrame):
        raise UserError(f"style query {query!r} must select rows, not compute a value")
    if chosen.empty:
        raise UserError(f"style query {query!r} matches none of the {len(frame)} curated "
                        "paintings")
    chosen = chosen.sort_values("key").head(limit)
    stores = CrawlStores(crawl_root)
    rows, images = [], []
    for row in chosen.to_dict("records"):
        blob = stores.locate(row["source"], row["sha256"])
        if blob is None:
            raise UserError(f"{row['key']}: its image {row['sha256']} is not in the content "
                            f"store of {row['source']} under {crawl_root}: re-run "
                            f"`dvc repro crawl@{row['source']}`")
        rows.append({k: _plain(row.get(k)) for k in EVIDENCE})
        images.append(blob.read())
    return rows, images


def decode_rgb(data: bytes, max_side: int | None = None) -> torch.Tensor:
    """Image bytes -> [1, 3, H, W] float RGB in [0, 1], shrunk (Lanczos) to ``max_side``."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (max_side, max_side) if max_side else image.size)
            image = image.convert("RGB")
            if max_side and max(image.size) > max_side:
                image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            array = np.asarray(image, dtype=np.float32) / 255
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise UserError(f"not a readable image ({type(exc).__name__}: {exc})") from exc
    return torch.from_numpy(array).permute(2, 0, 1)[None].contiguous()


def _plain(value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value
