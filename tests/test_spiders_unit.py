"""Parsing in the Cleveland, NGA, Commons and URL-list spiders, on small real-format records.

No network and no reactor: callbacks are called with hand-built responses (formats as in
demo/FORMATS.md) and their output is inspected.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scrapy
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler

from crawl import reasons
from crawl.items import ArtworkImage
from crawl.spiders.base import CrawlState
from crawl.spiders.cleveland import ClevelandSpider
from crawl.spiders.commons import CommonsSpider, title_from_file, without_tracking
from crawl.spiders.nga import FILES, NgaSpider
from crawl.spiders.urls import UrlListSpider, url_id
from crawl.storage import ContentStore
from demo.apis.nga import csv_bytes

SETTINGS = {"MARCUS_MAX_BYTES": 50 * 2**20, "MARCUS_TIMEOUT_S": 60.0,
            "MARCUS_RETRY_AFTER_MAX_S": 300.0}


def make_spider(cls, tmp_path, config: dict, api_root: str | None = None, limit=None):
    state = CrawlState(previous={}, store=ContentStore(tmp_path / "images"), limit=limit)
    crawler = get_crawler(cls, SETTINGS)
    return cls.from_crawler(crawler, api_root=api_root, config=config, state=state)


def response(url: str, body, request: scrapy.Request | None = None, headers=None):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return TextResponse(url, body=data, encoding="utf-8", headers=headers,
                        request=request or scrapy.Request(url))


def items(output) -> list[ArtworkImage]:
    """Items, with the item of each image Request unwrapped."""
    found = []
    for x in output:
        if isinstance(x, ArtworkImage):
            found.append(x)
        elif isinstance(x, scrapy.Request) and "item" in x.cb_kwargs:
            found.append(x.cb_kwargs["item"])
    return found


def listing_requests(output) -> list[scrapy.Request]:
    return [x for x in output if isinstance(x, scrapy.Request) and "item" not in x.cb_kwargs]


# --- Cleveland ---------------------------------------------------------------------------------

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
    assert json.loads(item.raw_record)["accession_number"] == "1958.31"


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


# --- NGA ---------------------------------------------------------------------------------------

NGA = "https://github.com/NationalGalleryOfArt/opendata/raw/main"


def nga_tables(old: bool) -> dict[str, bytes]:
    """Four small files; ``old`` drops uuid and openaccess, as older releases did."""
    objects = [
        {"objectid": "1138", "uuid": "x", "title": "Saint Martin and the Beggar",
         "displaydate": "c. 1597/1599", "beginyear": "1597", "endyear": "1599",
         "medium": "oil on canvas", "attribution": "El Greco",
         "classification": "Painting", "provenancetext": "long " * 50_000},
        {"objectid": "2000", "uuid": "y", "title": "A Sketch", "displaydate": "1600",
         "beginyear": "1600", "endyear": "1600", "medium": "pen and ink",
         "attribution": "El Greco", "classification": "Drawing", "provenancetext": ""},
        {"objectid": "3000", "uuid": "z", "title": "Portrait", "displaydate": "1950",
         "beginyear": "1950", "endyear": "1950", "medium": "oil on canvas",
         "attribution": "Circle of Someone Modern", "classification": "Painting",
         "provenancetext": ""},
    ]
    images = [
        {"uuid": "a1", "iiifurl": "https://api.nga.gov/iiif/a1", "viewtype": "alternate",
         "sequence": "1", "width": "5000", "height": "9000", "maxpixels": "",
         "openaccess": "1", "depictstmsobjectid": "1138"},
        {"uuid": "p1", "iiifurl": "https://api.nga.gov/iiif/p1", "viewtype": "primary",
         "sequence": "0", "width": "1200", "height": "2000", "maxpixels": "",
         "openaccess": "1", "depictstmsobjectid": "1138"},
        {"uuid": "p3", "iiifurl": "https://api.nga.gov/iiif/p3", "viewtype": "primary",
         "sequence": "0", "width": "3000", "height": "4000", "maxpixels": "640",
         "openaccess": "0", "depictstmsobjectid": "3000"},
    ]
    links = [
        {"objectid": "1138", "constituentid": "77", "displayorder": "3", "roletype": "artist",
         "prefix": ""},
        {"objectid": "1138", "constituentid": "1", "displayorder": "1", "roletype": "artist",
         "prefix": "workshop of"},
        {"objectid": "1138", "constituentid": "77", "displayorder": "2", "roletype": "artist",
         "prefix": ""},
        {"objectid": "1138", "constituentid": "99", "displayorder": "0", "roletype": "owner",
         "prefix": ""},
        {"objectid": "3000", "constituentid": "5", "displayorder": "1", "roletype": "artist",
         "prefix": "circle of"},
    ]
    people = [
        {"constituentid": "1", "uuid": "c", "forwarddisplayname": "El Greco",
         "displaydate": "Greek, 1541 - 1614", "beginyear": "1541", "endyear": "1614"},
        {"constituentid": "5", "uuid": "d", "forwarddisplayname": "Someone Modern",
         "displaydate": "American, 1900 - 1980", "beginyear": "1900", "endyear": "1980"},
        {"constituentid": "77", "uuid": "e", "forwarddisplayname": "Wrong Person",
         "displaydate": "", "beginyear": "", "endyear": ""},
    ]
    drop = {"uuid", "openaccess"} if old else set()

    def table(rows):
        header = [k for k in rows[0] if k not in drop]
        return csv_bytes(header, [{k: v for k, v in r.items() if k in header} for r in rows])

    return {"objects.csv": table(objects), "published_images.csv": table(images),
            "objects_constituents.csv": table(links), "constituents.csv": table(people)}


def crawl_nga(spider, tables: dict[str, bytes]) -> list:
    """Feed the four files through the request chain; returns the last callback's output."""
    request = spider.csv_request(0, {})
    for index, name in enumerate(FILES):
        assert request.url == f"{NGA}/data/{name}"
        out = list(spider.parse_csv(response(request.url, tables[name], request),
                                    **request.cb_kwargs))
        if index + 1 < len(FILES):
            assert len(out) == 1 and not items(out)  # nothing before all four files are in
            request = out[0]
    return out


@pytest.mark.parametrize("old", [False, True])
def test_nga_join_by_column_name_with_old_and_new_headers(tmp_path, old):
    spider = make_spider(NgaSpider, tmp_path, {"classifications": ["Painting"],
                                               "iiif_width": 1686}, api_root=NGA)
    by_id = {i.source_id: i for i in items(crawl_nga(spider, nga_tables(old)))}
    assert set(by_id) == {"1138", "3000"}  # the drawing is not even visited
    assert ("nga", "2000") not in spider.state.visited
    greco = by_id["1138"]
    assert (greco.artist, greco.attribution_qualifier) == ("El Greco", "workshop of")
    assert (greco.artist_birth_year, greco.artist_death_year) == (1541, 1614)
    assert (greco.date_start, greco.date_end) == (1597, 1599)
    assert (greco.license, greco.is_public_domain_flag) == ("CC0", True)
    assert greco.image_url == "https://api.nga.gov/iiif/p1/full/1200,/0/default.jpg"
    assert greco.object_type == "painting"
    assert "long" not in greco.raw_record  # unneeded columns are not kept
    modern = by_id["3000"]
    assert modern.attribution_qualifier == "circle of"
    assert (modern.license, modern.is_public_domain_flag) == ("copyrighted", False)
    assert modern.status == "metadata_only" and modern.reason == reasons.NOT_PUBLIC_DOMAIN


def test_nga_bad_file_is_a_listing_failure_and_emits_nothing(tmp_path):
    spider = make_spider(NgaSpider, tmp_path, {"classifications": ["Painting"]}, api_root=NGA)
    tables = nga_tables(old=False)
    tables["published_images.csv"] = b"<!DOCTYPE html><html>rate limited</html>"
    request = spider.csv_request(0, {})
    out = list(spider.parse_csv(response(request.url, tables["objects.csv"], request),
                                **request.cb_kwargs))
    request = out[0]
    out = list(spider.parse_csv(response(request.url, tables["published_images.csv"], request),
                                **request.cb_kwargs))
    assert out == [] and spider.state.listing_failures == 1


def test_nga_limit_counts_wanted_objects_only(tmp_path):
    spider = make_spider(NgaSpider, tmp_path, {"classifications": ["painting"]}, api_root=NGA,
                         limit=1)
    assert [i.source_id for i in items(crawl_nga(spider, nga_tables(old=False)))] == ["1138"]


# --- Commons -----------------------------------------------------------------------------------

COMMONS = "https://commons.wikimedia.org"
UTM = "utm_source=commons.wikimedia.org&utm_campaign=imageinfo&utm_content="


def commons_page(pageid: int, info: bool = True, pd: bool = True, width: int = 4000) -> dict:
    name = f"Jan_Steen_-_The_Feast_({pageid}).jpg"
    page = {"pageid": pageid, "ns": 6, "title": f"File:{name.replace('_', ' ')}",
            "imagerepository": "local"}
    if not info:
        return page
    upload = "https://upload.wikimedia.org/wikipedia/commons"
    meta = {
        "ObjectName": {"value": "The Feast of Saint Nicholas", "source": "mediawiki-metadata",
                       "hidden": True},
        "Categories": {"value": "17th-century paintings|Paintings by Jan Steen|"
                       + ("PD-Art (PD-old-100)" if pd else "CC-BY-SA-4.0"),
                       "source": "commons-categories", "hidden": True},
        "DateTimeOriginal": {"value": 'circa 1665<div style="display: none;">date QS:P571,'
                             '+1665-00-00T00:00:00Z/9,P1480,Q5727902</div>',
                             "source": "commons-desc-page"},
        "Artist": {"value": 'attributed to <bdi><a href="https://www.wikidata.org/wiki/Q205863"'
                   ' class="extiw" title="d:Q205863">Jan Steen</a></bdi>',
                   "source": "commons-desc-page"},
        "LicenseShortName": {"value": "Public domain" if pd else "CC BY-SA 4.0",
                             "source": "commons-desc-page", "hidden": True},
        "Copyrighted": {"value": "False" if pd else "True", "source": "commons-desc-page",
                        "hidden": True},
        "License": {"value": "pd" if pd else "cc-by-sa-4.0", "source": "commons-templates",
                    "hidden": True},
    }
    page["imageinfo"] = [{
        "size": 5_000_000, "width": width, "height": 3000,
        "thumburl": f"{upload}/thumb/a/ab/{name}/1920px-{name}?{UTM}thumbnail",
        "thumbwidth": min(1920, width), "thumbheight": 1440,
        "url": f"{upload}/a/ab/{name}?{UTM}original",
        "descriptionurl": f"{COMMONS}/wiki/File:{name}",
        "descriptionshorturl": f"{COMMONS}/w/index.php?curid={pageid}",
        "sha1": "0" * 40, "mime": "image/jpeg", "extmetadata": meta}]
    return page


def test_commons_page_with_html_artist_and_hidden_qs_date(tmp_path):
    spider = make_spider(CommonsSpider, tmp_path, {"max_width": 1920})
    item = spider.item_from_page(commons_page(4242))
    assert item.source_id == "4242"
    assert (item.artist, item.attribution_qualifier) == ("Jan Steen", "attributed to")
    assert (item.date_start, item.date_end, item.date_text) == (1665, 1665, "circa 1665")
    assert item.title == "The Feast of Saint Nicholas"
    assert (item.license, item.is_public_domain_flag) == ("PD", True)
    assert item.object_type == "painting"
    assert item.image_url.endswith("/1920px-Jan_Steen_-_The_Feast_(4242).jpg")  # no utm_*
    assert item.page_url == f"{COMMONS}/wiki/File:Jan_Steen_-_The_Feast_(4242).jpg"
    small = spider.item_from_page(commons_page(1, width=1000))  # narrower than max_width
    assert small.image_url.endswith("/a/ab/Jan_Steen_-_The_Feast_(1).jpg")
    restricted = spider.item_from_page(commons_page(2, pd=False))
    assert (restricted.license, restricted.is_public_domain_flag) == ("CC-BY-SA", False)


def test_commons_title_falls_back_to_the_file_name(tmp_path):
    spider = make_spider(CommonsSpider, tmp_path, {})
    page = commons_page(7)
    del page["imageinfo"][0]["extmetadata"]["ObjectName"]
    assert spider.item_from_page(page).title == "Jan Steen - The Feast (7)"
    assert title_from_file("File:A.B. Smith - View.tiff") == "A.B. Smith - View"
    assert without_tracking(f"https://u.org/x.jpg?{UTM}original&a=1") == "https://u.org/x.jpg?a=1"


def test_commons_iicontinue_emits_each_file_once_and_merges_continue(tmp_path):
    spider = make_spider(CommonsSpider, tmp_path, {"categories": ["Paintings"], "page_size": 3})
    (first,) = list(spider.next_category(0))
    query = parse_qs(urlsplit(first.url).query)
    assert query["gcmtitle"] == ["Category:Paintings"] and query["maxlag"] == ["5"]
    assert query["formatversion"] == ["2"] and query["iiprop"] == ["url|size|mime|sha1|extmetadata"]
    body = {"continue": {"iicontinue": "Jan_Steen_-_The_Feast_(3).jpg|20210601100000",
                         "continue": "gcmcontinue||"},
            "query": {"pages": [commons_page(1), commons_page(2), commons_page(3, info=False)]}}
    out = list(spider.parse_api(response(first.url, body, first), **first.cb_kwargs))
    assert [i.source_id for i in items(out)] == ["1", "2"]
    (second,) = listing_requests(out)
    query = parse_qs(urlsplit(second.url).query)
    assert query["iicontinue"] == ["Jan_Steen_-_The_Feast_(3).jpg|20210601100000"]
    assert query["continue"] == ["gcmcontinue||"] and query["gcmtitle"] == ["Category:Paintings"]
    body = {"batchcomplete": True,
            "continue": {"gcmcontinue": "file|4a|4", "continue": "gcmcontinue||"},
            "query": {"pages": [commons_page(1, info=False), commons_page(2, info=False),
                                commons_page(3)]}}
    out = list(spider.parse_api(response(second.url, body, second), **second.cb_kwargs))
    assert [i.source_id for i in items(out)] == ["3"]
    (third,) = listing_requests(out)
    query = parse_qs(urlsplit(third.url).query)
    assert query["gcmcontinue"] == ["file|4a|4"] and "iicontinue" not in query
    # The last batch: a file that never gets imageinfo ends as a no_image_url row.
    body = {"batchcomplete": True, "query": {"pages": [commons_page(4, info=False)]}}
    out = list(spider.parse_api(response(third.url, body, third), **third.cb_kwargs))
    assert [(i.source_id, i.status, i.reason) for i in items(out)] == [
        ("4", "rejected", reasons.NO_IMAGE_URL)]
    assert listing_requests(out) == [] and spider.state.listing_failures == 0


def test_commons_maxlag_asks_again_and_other_errors_end_the_category(tmp_path):
    spider = make_spider(CommonsSpider, tmp_path, {"categories": ["Category:A", "Category:B"]})
    (first,) = list(spider.next_category(0))
    lagged = {"error": {"code": "maxlag", "info": "Waiting for 10.64.48.35: 6 seconds lagged",
                        "*": "See the API help"}}
    out = list(spider.parse_api(response(first.url, lagged, first, {"Retry-After": "7"}),
                                **first.cb_kwargs))
    (again,) = out
    assert again.url == first.url and again.dont_filter
    assert again.meta["marcus_not_before"] > 0 and spider.state.listing_failures == 0
    broken = {"error": {"code": "badcontinue", "info": "Invalid continue param."}}
    out = list(spider.parse_api(response(again.url, broken, again), **again.cb_kwargs))
    (next_category,) = out
    assert parse_qs(urlsplit(next_category.url).query)["gcmtitle"] == ["Category:B"]
    assert spider.state.listing_failures == 1


# --- URL lists ---------------------------------------------------------------------------------

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


# --- types at the edge: any JSON value in any field of any spider's record -----------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from crawl.records import read_records, write_records  # noqa: E402
from crawl.spiders.aic import AicSpider  # noqa: E402
from crawl.spiders.met import MetSpider  # noqa: E402

# What real APIs have been seen to send where a field was expected: every JSON type, numbers
# too big for any column, digits that are not ASCII, blanks, NaN (Python's parser reads it).
ODD_VALUES = st.sampled_from([10**30, -(2**63), 2**64, 1e308, float("nan"), "4\u00b2",
                              "\u0663", "", "   ", "javascript:alert(1)", "/relative.jpg",
                              "\ud800", "x" * 5000, True, False, None, [], {}])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
    | ODD_VALUES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=8)

MET_RECORD = {
    "objectID": 7, "title": "The Feast", "artistDisplayName": "Workshop of Jan Steen",
    "artistPrefix": "", "artistDisplayBio": "Dutch, 1626-1679", "artistBeginDate": "1626",
    "artistEndDate": "1679", "objectDate": "ca. 1663", "objectBeginDate": 1660,
    "objectEndDate": 1665, "isPublicDomain": True, "classification": "Paintings",
    "objectName": "Painting", "medium": "Oil on canvas",
    "primaryImage": "https://images.metmuseum.org/x.jpg",
    "objectURL": "https://www.metmuseum.org/art/collection/search/7"}
AIC_RECORD = {
    "id": 7, "title": "The Feast", "is_public_domain": True, "copyright_notice": None,
    "date_start": 1650, "date_end": 1650, "date_display": "1650",
    "artist_display": "Jan Steen\nDutch, 1626-1679", "artist_title": "Jan Steen",
    "artwork_type_title": "Painting", "classification_titles": ["painting"],
    "medium_display": "Oil on canvas", "image_id": "abc-1",
    "thumbnail": {"width": 1000, "height": 800}, "api_link": "https://api.artic.edu/7"}
CLEVELAND_RECORD = {
    "id": 7, "accession_number": "1915.1", "title": "The Feast", "type": "Painting",
    "share_license_status": "CC0", "creation_date": "1650", "creation_date_earliest": 1650,
    "creation_date_latest": 1650, "technique": "oil on canvas",
    "url": "https://clevelandart.org/art/1915.1",
    "creators": [{"description": "Jan Steen (Dutch, 1626-1679)", "qualifier": "",
                  "birth_year": "1626", "death_year": "1679"}],
    "images": {"print": {"url": "https://openaccess-cdn.clevelandart.org/x_print.jpg"}}}
COMMONS_INFO = {
    "url": "https://upload.wikimedia.org/x.jpg", "descriptionurl": "https://c.org/wiki/F",
    "width": 4000, "height": 3000, "thumburl": "https://upload.wikimedia.org/t.jpg",
    "thumbwidth": 1920, "thumbheight": 1440,
    "extmetadata": {"ObjectName": {"value": "The Feast"}, "Artist": {"value": "Jan Steen"},
                    "DateTimeOriginal": {"value": "1650"},
                    "LicenseShortName": {"value": "Public domain"},
                    "Categories": {"value": "Paintings"}}}


def overrides(record: dict):
    """Any subset of the record's fields set to any JSON values."""
    return st.dictionaries(st.sampled_from(sorted(record)), JSON_VALUES, max_size=len(record))


def rows_written(found: list[ArtworkImage], tmp_path) -> dict:
    """The items' rows through the final Parquet write and back: this must never fail."""
    from crawl.records import item_row

    path = tmp_path / "records.parquet"
    write_records([item_row(i) for i in found], path)
    return read_records(path)


def one_record_crawl(cls, tmp_path, body, callback, **kwargs) -> list:
    spider = make_spider(cls, tmp_path, {"object_types": ["painting"]})
    url = "https://api.example/listing"
    data = json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")
    page = TextResponse(url, body=data, encoding="utf-8", request=scrapy.Request(url))
    output = list(getattr(spider, callback)(page, **kwargs))
    return [x for x in items(output)], spider


FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(changed=overrides(MET_RECORD))
def test_any_json_in_any_met_field_ends_as_one_row_that_parquet_holds(tmp_path, changed):
    found, _ = one_record_crawl(MetSpider, tmp_path, {**MET_RECORD, **changed}, "parse_object",
                                source_id="7")
    assert len(found) == 1 and len(rows_written(found, tmp_path)) == 1


@FUZZ
@given(changed=overrides(AIC_RECORD))
def test_any_json_in_any_aic_field_ends_as_one_row_that_parquet_holds(tmp_path, changed):
    body = {"pagination": {"total": 1, "limit": 10, "total_pages": 1},
            "config": {"iiif_url": "https://www.artic.edu/iiif/2"},
            "data": [{**AIC_RECORD, **changed}]}
    found, spider = one_record_crawl(AicSpider, tmp_path, body, "parse_page", page=1)
    assert len(found) == 1 and len(rows_written(found, tmp_path)) == 1
    assert spider.state.listing_failures == 0


@FUZZ
@given(changed=overrides(CLEVELAND_RECORD))
def test_any_json_in_any_cleveland_field_ends_as_one_row_that_parquet_holds(tmp_path, changed):
    body = {"info": {"total": 1}, "data": [{**CLEVELAND_RECORD, **changed}]}
    found, spider = one_record_crawl(ClevelandSpider, tmp_path, body, "parse_page", skip=0)
    assert len(found) == 1 and len(rows_written(found, tmp_path)) == 1


@FUZZ
@given(info=overrides(COMMONS_INFO), meta=overrides(COMMONS_INFO["extmetadata"]),
       page=overrides({"pageid": 1, "title": 1}))
def test_any_json_in_any_commons_field_ends_as_one_row_that_parquet_holds(tmp_path, info,
                                                                          meta, page):
    record = {"pageid": 7, "ns": 6, "title": "File:The Feast.jpg",
              "imageinfo": [{**COMMONS_INFO, **info,
                             "extmetadata": {**COMMONS_INFO["extmetadata"], **meta}}], **page}
    if "extmetadata" in info:
        record["imageinfo"][0]["extmetadata"] = info["extmetadata"]
    body = {"batchcomplete": True, "query": {"pages": [record]}}
    spider = make_spider(CommonsSpider, tmp_path, {"categories": ["Category:X"],
                                                   "object_types": ["painting"]})
    url = "https://commons.example/w/api.php"
    data = json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")
    output = list(spider.parse_api(TextResponse(url, body=data, encoding="utf-8",
                                                request=scrapy.Request(url)),
                                   index=0, params={"gcmtitle": "Category:X"},
                                   batch={"done": set(), "waiting": {}}))
    found = items(output)
    assert len(found) == 1 and len(rows_written(found, tmp_path)) == 1


@FUZZ
@given(cells=st.dictionaries(st.sampled_from(["title", "displaydate", "beginyear", "endyear",
                                              "medium", "attribution", "classification"]),
                             st.none() | st.text(max_size=40) | st.sampled_from(
                                 ["4\u00b2", "1" * 60, "-99999999999", "\ud800"])))
def test_any_text_in_any_nga_cell_ends_as_one_row_that_parquet_holds(tmp_path, cells):
    spider = make_spider(NgaSpider, tmp_path, {"object_types": ["painting"]})
    obj = {"objectid": "7", "title": "T", "displaydate": "1650", "beginyear": "1650",
           "endyear": "1650", "medium": "oil", "attribution": "Jan Steen",
           "classification": "Painting", **cells}
    image = {"iiifurl": "https://api.nga.gov/iiif/abc", "width": "100", "height": "80",
             "maxpixels": "", "openaccess": "1"}
    found = items(spider.emit({"objects": {"7": obj}, "images": {"7": image}}))
    assert len(found) == 1 and len(rows_written(found, tmp_path)) == 1


@FUZZ
@given(cells=st.dictionaries(st.sampled_from(["title", "artist", "date", "license", "type"]),
                             JSON_VALUES))
def test_any_value_in_any_url_list_cell_ends_as_one_row_that_parquet_holds(tmp_path, cells):
    spider = make_spider(UrlListSpider, tmp_path, {"object_types": ["painting", "other"]})
    found = items(spider.items_from_rows([{"url": "https://a.example/1.jpg", **cells}]))
    assert len(found) == 1 and len(rows_written(found, tmp_path)) == 1


def test_a_field_of_the_wrong_type_becomes_null_with_a_note(tmp_path):
    record = {**MET_RECORD, "title": {"en": "Feast"}, "objectDate": ["1650"],
              "objectBeginDate": 10**30, "medium": 3.5}
    found, _ = one_record_crawl(MetSpider, tmp_path, record, "parse_object", source_id="7")
    row = rows_written(found, tmp_path)[("met", "7")]
    assert row["title"] is None and row["date_text"] is None and row["medium"] == "3.5"
    assert "title: a JSON object" in row["error"] and "date_text: a JSON list" in row["error"]


@pytest.mark.parametrize("url, problem", [
    ("/images/x.jpg", "relative"), ("   ", "blank"), (12345, "relative"),
    ("javascript:alert(1)", "javascript"), ("data:image/png;base64,AA==", "data"),
    ("https://images.example/" + "a" * 3000, "characters")])
def test_an_unusable_image_url_is_a_rejected_row_with_its_reason(tmp_path, url, problem):
    found, _ = one_record_crawl(MetSpider, tmp_path, {**MET_RECORD, "primaryImage": url},
                                "parse_object", source_id="7")
    assert [(i.status, i.reason) for i in found] == [("rejected", reasons.BAD_URL)]
    assert problem in found[0].error


@pytest.mark.parametrize("ident, key, problem", [
    (10**250, None, "over 200 digits"), ({"x": 1}, None, "a JSON object"),
    (True, None, "true or false"), (None, None, "has no id"), (7.5, None, "a fraction"),
    ("4\u00b2", "4\u00b2", None), (7.0, "7", None)])
def test_an_id_of_any_type_gets_a_key_and_a_verdict(ident, key, problem):
    from crawl.spiders.base import record_id

    found_key, found_problem = record_id(ident, {"title": "x"})
    assert (found_key == key) if key else found_key.split("-")[0] in ("number", "bad", "no")
    assert (problem in found_problem) if problem else found_problem is None
