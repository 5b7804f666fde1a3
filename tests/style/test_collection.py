"""style/collection.py: styles chosen from the curated collection by a pandas query, read from
the crawl's content store with their licence evidence."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from crawl.storage import ContentStore
from curate.manifests import CURATED_SCHEMA
from marcus.errors import UserError
from style.collection import decode_rgb, select_styles


def _png(colour: tuple[int, int, int], size=(12, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def collection(tmp_path):
    crawl = tmp_path / "crawl"
    paintings = [("met:3", "Vincent van Gogh", 1889, "landscape", (200, 160, 40)),
                 ("met:1", "Vincent van Gogh", 1887, "portrait", (30, 60, 200)),
                 ("met:2", "Jan Vermeer", 1665, "interior", (90, 90, 90))]
    with ContentStore(crawl / "met" / "images") as store:
        shas = [store.put(_png(colour))[0] for *_, colour in paintings]
    rows = [{"key": key, "source": "met", "source_id": key[4:], "sha256": sha,
             "title": f"Painting {key}", "artist": artist, "date_end": year, "genre": genre,
             "license": "CC0", "licence_rule": "source_flag+death_year<=1955",
             "page_url": f"https://example.org/{key}", "copies": [key], "provenance": [key]}
            for (key, artist, year, genre, _), sha in zip(paintings, shas, strict=True)]
    table = pa.Table.from_pylist(rows, schema=CURATED_SCHEMA)
    pq.write_table(table, tmp_path / "curated.parquet")
    return tmp_path / "curated.parquet", crawl


def test_a_query_selects_paintings_in_key_order_with_their_bytes_and_licence(collection):
    curated, crawl = collection
    rows, images = select_styles(curated, crawl, "artist == 'Vincent van Gogh'", limit=5)
    assert [r["key"] for r in rows] == ["met:1", "met:3"]
    assert rows[0]["license"] == "CC0" and rows[0]["licence_rule"].startswith("source_flag")
    assert rows[0]["page_url"] == "https://example.org/met:1"
    assert decode_rgb(images[0])[0, :, 0, 0].mul(255).round().tolist() == [30, 60, 200]
    rows, _ = select_styles(curated, crawl, "date_end < 1700 or genre == 'landscape'", limit=1)
    assert [r["key"] for r in rows] == ["met:2"]


def test_a_query_that_matches_nothing_or_does_not_run_says_so(collection):
    curated, crawl = collection
    with pytest.raises(UserError, match="matches none of the 3 curated paintings"):
        select_styles(curated, crawl, "artist == 'Nobody'", limit=1)
    with pytest.raises(UserError, match="does not run on curated.parquet.*columns: "):
        select_styles(curated, crawl, "painter == 'x'", limit=1)
    with pytest.raises(UserError, match="no curated manifest"):
        select_styles(curated.parent / "absent.parquet", crawl, "", limit=1)


def test_a_painting_missing_from_the_content_store_names_the_crawl_to_rerun(collection, tmp_path):
    curated, _ = collection
    with pytest.raises(UserError, match=r"not in the content store of met.*crawl@met"):
        select_styles(curated, tmp_path / "empty_crawl", "", limit=1)


def test_decoding_shrinks_large_images_and_refuses_broken_bytes():
    image = decode_rgb(_png((10, 20, 30), size=(400, 100)), max_side=100)
    assert image.shape == (1, 3, 25, 100)
    with pytest.raises(UserError, match="not a readable image"):
        decode_rgb(b"\x89PNG broken")
