"""crawl.spiders.cleveland on small real-format records: string years and workshop qualifiers,
the image variant, copyrighted records, skip/limit paging, an unreadable page; and any JSON in
any field ends as one row.

No network and no reactor: callbacks are called with hand-built responses (formats as in
demo/FORMATS.md) and their output is inspected.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from hypothesis import given

from crawl import reasons
from crawl.spiders.cleveland import ClevelandSpider
from tests.crawl.spiders.helpers import (
    FUZZ,
    items,
    listing_requests,
    make_spider,
    one_record_crawl,
    overrides,
    response,
    rows_written,
)

CMA = "https://openaccess-api.clevelandart.org"
CDN = "https://openaccess-cdn.clevelandart.org/1958.31"


def cma_record(**changes) -> dict:
    record = {
        "id": 135382, "accession_number": "1958.31", "share_license_status": "CC0",
        "title": "The Holy Family", "creation_date": "c. 1520–25",
        "creation_date_earliest": 1520, "creation_date_latest": 1525,
        "creators": [{"id": 9932, "description": "Joos van Cleve (Netherlandish, 1485–1541)",
                      "extent": None, "qualifier": "Workshop of", "role": "artist",
                      "biography": None, "name_in_original_language": None,
                      "birth_year": "1485", "death_year": "1541"}],
        "technique": "oil on wood", "type": "Painting",
        "url": "https://clevelandart.org/art/1958.31",
        "images": {v: {"url": f"{CDN}/1958.31_{v}.{'tif' if v == 'full' else 'jpg'}",
                       "width": "3400", "height": "2800", "filesize": "1200000",
                       "filename": f"1958.31_{v}.jpg"} for v in ("web", "print", "full")},
    }
    record.update(changes)
    return record


def test_cleveland_record_with_string_years_and_workshop_qualifier(tmp_path):
    spider = make_spider(ClevelandSpider, tmp_path, {"image_variant": "print"})
    item = spider.item_from_record(cma_record(), "135382")
    assert (item.artist, item.attribution_qualifier) == ("Joos van Cleve", "workshop of")
    assert (item.artist_birth_year, item.artist_death_year) == (1485, 1541)
    assert (item.date_start, item.date_end, item.date_text) == (1520, 1525, "c. 1520–25")
    assert (item.license, item.is_public_domain_flag) == ("CC0", True)
    assert item.object_type == "painting" and item.medium == "oil on wood"
    assert item.image_url == f"{CDN}/1958.31_print.jpg"
    assert item.page_url == "https://clevelandart.org/art/1958.31"
    assert item.accession_number == json.loads(item.raw_record)["accession_number"] == "1958.31"


def test_cleveland_image_variant_falls_back_to_web_but_never_to_full(tmp_path):
    images = cma_record()["images"]
    only_web_full = {"web": images["web"], "full": images["full"]}
    spider = make_spider(ClevelandSpider, tmp_path, {})
    assert spider.image_url(only_web_full) == f"{CDN}/1958.31_web.jpg"
    assert spider.image_url({"full": images["full"]}) is None
    assert spider.image_url({}) is None and spider.image_url([]) is None
    full = make_spider(ClevelandSpider, tmp_path, {"image_variant": "full"})
    assert full.image_url(images) == f"{CDN}/1958.31_full.tif"


def test_cleveland_copyrighted_record_without_creators_or_dates(tmp_path):
    spider = make_spider(ClevelandSpider, tmp_path, {})
    record = cma_record(share_license_status="Copyrighted", creators=[], images={},
                        creation_date="1890s", creation_date_earliest=None,
                        creation_date_latest=None)
    item = spider.item_from_record(record, "135382")
    assert (item.license, item.is_public_domain_flag) == ("copyrighted", False)
    assert item.artist is None and item.image_url is None
    assert (item.date_start, item.date_end) == (1890, 1899)
    done = spider.fetch_image(item)
    assert done.status == "metadata_only" and done.reason == reasons.NOT_PUBLIC_DOMAIN


def test_cleveland_pages_with_skip_until_total(tmp_path):
    spider = make_spider(ClevelandSpider, tmp_path, {"types": ["Painting", "Drawing"],
                                                     "page_size": 2, "cc0_only": True})
    first = spider.page_request(0)
    query = parse_qs(urlsplit(first.url).query)
    assert query == {"cc0": ["1"], "has_image": ["1"], "type": ["Painting,Drawing"],
                     "limit": ["2"], "skip": ["0"]}
    page = {"info": {"total": 3, "parameters": {}},
            "data": [cma_record(id=1), cma_record(id=2, creators="not a list")]}
    out = list(spider.parse_page(response(first.url, page, first), skip=0))
    assert [i.source_id for i in items(out)] == ["1", "2"]
    assert items(out)[1].artist is None and items(out)[1].title == "The Holy Family"
    (following,) = listing_requests(out)
    assert parse_qs(urlsplit(following.url).query)["skip"] == ["2"]
    last = {"info": {"total": 3}, "data": [cma_record(id=3)]}
    out = list(spider.parse_page(response(following.url, last, following), skip=2))
    assert [i.source_id for i in items(out)] == ["3"] and not listing_requests(out)


def test_cleveland_unreadable_page_is_a_listing_failure(tmp_path):
    spider = make_spider(ClevelandSpider, tmp_path, {})
    request = spider.page_request(0)
    out = list(spider.parse_page(response(request.url, b"<html>oops</html>", request), skip=0))
    assert out == [] and spider.state.listing_failures == 1

CLEVELAND_RECORD = {
    "id": 7, "accession_number": "1915.1", "title": "The Feast", "type": "Painting",
    "share_license_status": "CC0", "creation_date": "1650", "creation_date_earliest": 1650,
    "creation_date_latest": 1650, "technique": "oil on canvas",
    "url": "https://clevelandart.org/art/1915.1",
    "creators": [{"description": "Jan Steen (Dutch, 1626-1679)", "qualifier": "",
                  "birth_year": "1626", "death_year": "1679"}],
    "images": {"print": {"url": "https://openaccess-cdn.clevelandart.org/x_print.jpg"}}}


@FUZZ
@given(changed=overrides(CLEVELAND_RECORD))
def test_any_json_in_any_cleveland_field_ends_as_one_row_that_parquet_holds(tmp_path, changed):
    body = {"info": {"total": 1}, "data": [{**CLEVELAND_RECORD, **changed}]}
    found, spider = one_record_crawl(ClevelandSpider, tmp_path, body, "parse_page", skip=0)
    assert len(found) == 1 and len(rows_written(found, tmp_path)) == 1
