"""crawl.spiders.commons on small real-format API answers: HTML artists and hidden QS dates, titles
from file names, iicontinue and continue merged, maxlag and other errors; and any JSON in any
field ends as one row.

No network and no reactor: callbacks are called with hand-built responses (formats as in
demo/FORMATS.md) and their output is inspected.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import scrapy
from hypothesis import given
from scrapy.http import TextResponse

from crawl import reasons
from crawl.spiders.commons import Category, CommonsSpider, title_from_file, without_tracking
from tests.crawl.spiders.helpers import (
    FUZZ,
    items,
    listing_requests,
    make_spider,
    overrides,
    response,
    rows_written,
)

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
    (first,) = list(spider.next_category())
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
    (subcategories,) = listing_requests(out)  # the files are done: the subcategories next
    query = parse_qs(urlsplit(subcategories.url).query)
    assert (query["list"], query["cmtitle"], query["cmtype"]) == (
        ["categorymembers"], ["Category:Paintings"], ["subcat"])
    assert spider.state.listing_failures == 0


def answer(spider, request, body):
    return list(request.callback(response(request.url, body, request), **request.cb_kwargs))


def subcats(*titles: str, proceed: str | None = None) -> dict:
    body = {"batchcomplete": True, "query": {"categorymembers": [
        {"pageid": 100 + n, "ns": 14, "title": t} for n, t in enumerate(titles)]}}
    if proceed:
        body["continue"] = {"cmcontinue": proceed, "continue": "-||"}
    return body


def test_category_trees_are_walked_each_category_once_to_max_depth_minus_exclusions(tmp_path):
    spider = make_spider(CommonsSpider, tmp_path, {
        "categories": ["paintings"], "max_depth": 2, "exclude_categories": ["details of"]})
    (root,) = list(spider.next_category())
    (listing,) = answer(spider, root, {"batchcomplete": True})  # no files of its own
    assert parse_qs(urlsplit(listing.url).query)["cmtitle"] == ["Category:Paintings"]
    # Paged subcategories, one of them excluded, one a cycle back to the root.
    (more,) = answer(spider, listing, subcats("Category:Paintings by artist",
                                              "Category:Details of paintings by Jan Steen",
                                              proceed="subcat|ab|2"))
    assert parse_qs(urlsplit(more.url).query)["cmcontinue"] == ["subcat|ab|2"]
    (by_artist,) = answer(spider, more, subcats("Category:Paintings"))
    assert spider.excluded == ["Category:Details of paintings by Jan Steen"]
    out = answer(spider, by_artist, {"batchcomplete": True,
                                     "query": {"pages": [commons_page(1)]}})
    (first,) = items(out)
    assert first.found_via == "Category:Paintings > Category:Paintings by artist"
    (listing,) = listing_requests(out)
    (steen,) = answer(spider, listing, subcats("Category:Paintings by Jan Steen",
                                               "Category:Paintings by artist"))
    out = answer(spider, steen, {"batchcomplete": True,
                                 "query": {"pages": [commons_page(1), commons_page(2)]}})
    (second,) = items(out)  # file 1 again, under another category: still one record
    assert second.source_id == "2" and second.found_via == (
        "Category:Paintings > Category:Paintings by artist > Category:Paintings by Jan Steen")
    assert listing_requests(out) == []  # depth 2 reached, nothing queued: the crawl is done
    assert spider.state.listing_failures == 0


def test_commons_maxlag_asks_again_and_other_errors_end_the_category(tmp_path):
    spider = make_spider(CommonsSpider, tmp_path, {"categories": ["Category:A", "Category:B"]})
    (first,) = list(spider.next_category())
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

COMMONS_INFO = {
    "url": "https://upload.wikimedia.org/x.jpg", "descriptionurl": "https://c.org/wiki/F",
    "width": 4000, "height": 3000, "thumburl": "https://upload.wikimedia.org/t.jpg",
    "thumbwidth": 1920, "thumbheight": 1440,
    "extmetadata": {"ObjectName": {"value": "The Feast"}, "Artist": {"value": "Jan Steen"},
                    "DateTimeOriginal": {"value": "1650"},
                    "LicenseShortName": {"value": "Public domain"},
                    "Categories": {"value": "Paintings"}}}


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
                                   category=Category("Category:X", 0, ()),
                                   params={"gcmtitle": "Category:X"},
                                   batch={"done": set(), "waiting": {}}))
    found = items(output)
    assert len(found) == 1 and len(rows_written(found, tmp_path)) == 1
