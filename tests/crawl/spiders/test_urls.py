"""crawl.spiders.urls: URL lists as CSV from a URL or Parquet from a path, blank licences, bad rows,
the allowed hosts, a list without a url column; and any value in any cell ends as one row.

No network and no reactor: callbacks are called with hand-built responses (formats as in
demo/FORMATS.md) and their output is inspected.
"""

from __future__ import annotations

import asyncio
import hashlib

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st

from crawl import reasons
from crawl.spiders.urls import UrlListSpider, url_id
from tests.crawl.spiders.helpers import (
    FUZZ,
    JSON_VALUES,
    items,
    make_spider,
    response,
    rows_written,
)


def test_url_row_with_blank_licence(tmp_path):
    spider = make_spider(UrlListSpider, tmp_path, {"list": "x.csv"})
    url = "https://example.org/web/urls-000001.jpg"
    row = {"url": url, "title": "Winter Landscape", "artist": "Follower of Hendrick Avercamp",
           "date": "ca. 1620", "license": ""}
    item = spider.item_from_row(row, url)
    assert item.source_id == hashlib.sha1(url.encode()).hexdigest()[:16] == url_id(url)
    assert (item.license, item.is_public_domain_flag) == ("unknown", None)
    assert (item.artist, item.attribution_qualifier) == ("Hendrick Avercamp", "follower of")
    assert (item.date_start, item.date_end) == (1620, 1620)
    assert item.object_type == "other" and item.image_url == url
    typed = spider.item_from_row({**row, "type": "Painting", "license": "Public Domain"}, url)
    assert typed.object_type == "painting" and typed.license == "PD"


def test_url_list_from_a_url_with_bad_rows(tmp_path):
    spider = make_spider(UrlListSpider, tmp_path, {"allowed_origins": [],
                                                   "object_types": ["painting", "other"]},
                         api_root="http://127.0.0.1:8765/urls")
    assert spider.list_location == "http://127.0.0.1:8765/urls/list.csv"
    assert spider.allowed_origins == [("http", "127.0.0.1", 8765)]
    body = (b"URL,Title,License\n"
            b"https://a.example/1.jpg,One,Public Domain\n"
            b",Empty,\n"
            b"ftp://b.example/2.jpg,Ftp,\n"
            b"https://b.example/3.png,Three,CC BY-NC 4.0\n"
            b"https://a.example/1.jpg,Repeated,\n")
    out = list(spider.parse_list(response(spider.list_location, body)))
    rows = [(i.source_id, i.status, i.reason) for i in items(out)]
    assert rows == [(url_id("https://a.example/1.jpg"), "pending", None),
                    ("row-2", "failed", reasons.BAD_RECORD),
                    ("row-3", "failed", reasons.BAD_RECORD),
                    (url_id("https://b.example/3.png"), "metadata_only",
                     reasons.NOT_PUBLIC_DOMAIN)]
    assert spider.allowed_origins == [("http", "127.0.0.1", 8765), ("https", "a.example", 443),
                                      ("https", "b.example", 443)]


def test_url_list_parquet_from_a_local_path_and_configured_hosts(tmp_path):
    path = tmp_path / "list.parquet"
    pq.write_table(pa.table({"url": ["https://a.example/1.jpg", None, "https://c.example/x"],
                             "title": ["One", "Two", None],
                             "license": [None, "CC0", "cc-by-sa-4.0"]}), path)
    spider = make_spider(UrlListSpider, tmp_path, {"list": str(path),
                                                   "allowed_origins": ["https://a.example"],
                                                   "object_types": ["painting", "other"]})

    async def collect():
        return [x async for x in spider.start()]

    found = items(asyncio.run(collect()))
    assert [(i.source_id, i.status) for i in found] == [
        (url_id("https://a.example/1.jpg"), "pending"), ("row-2", "failed"),
        (url_id("https://c.example/x"), "metadata_only")]
    assert (found[2].license, found[2].reason) == ("CC-BY-SA", reasons.NOT_PUBLIC_DOMAIN)
    assert spider.allowed_origins == [("https", "a.example", 443)]  # not widened by the list


def test_url_list_without_url_column_is_a_listing_failure(tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("link,title\nhttps://a.example/1.jpg,One\n")
    spider = make_spider(UrlListSpider, tmp_path, {"list": str(path)})

    async def collect():
        return [x async for x in spider.start()]

    assert asyncio.run(collect()) == [] and spider.state.listing_failures == 1


@FUZZ
@given(cells=st.dictionaries(st.sampled_from(["title", "artist", "date", "license", "type"]),
                             JSON_VALUES))
def test_any_value_in_any_url_list_cell_ends_as_one_row_that_parquet_holds(tmp_path, cells):
    spider = make_spider(UrlListSpider, tmp_path, {"object_types": ["painting", "other"]})
    found = items(spider.items_from_rows([{"url": "https://a.example/1.jpg", **cells}]))
    assert len(found) == 1 and len(rows_written(found, tmp_path)) == 1
