"""crawl.spiders.smithsonian on small real-format search answers: SAAM, NPG and Freer artist lines,
dates as written and as decades, the object number and the subject topics (accession number and
genre), the licence from the image media (CC0, "Usage conditions apply")
or the record, IDS URLs asked for a bounded size, start/rows paging to rowCount, broken pages and
api.data.gov's errors as listing failures, the key (params, $SI_API_KEY, DEMO_KEY on loopback
only) never in a URL or a log line; and any JSON in any field ends as one row.

No network and no reactor: callbacks are called with hand-built responses (formats as in
demo/FORMATS.md) and their output is inspected.
"""

from __future__ import annotations

import copy
import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import scrapy
from hypothesis import given
from scrapy.http import TextResponse

from crawl import reasons
from crawl.spiders.smithsonian import (
    DEMO_KEY,
    SmithsonianSpider,
    api_key,
    life_years,
    sized,
    split_artist_line,
)
from marcus.errors import UserError
from tests.crawl.spiders.helpers import (
    FUZZ,
    items,
    listing_requests,
    make_spider,
    overrides,
    response,
    rows_written,
)

API = "https://api.si.edu/openaccess/api/v1.0"
IDS = "https://ids.si.edu/ids/deliveryService"
KEY = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8s9T0"  # the shape of an api.data.gov key; not one


def si_row(number: int = 1, **changes) -> dict:
    """A SAAM search row as the API returns it (abridged: fewer freetext blocks)."""
    rid = f"saam_1929.6.{number}"
    row = {
        "id": f"edanmdm-{rid}", "title": "Breezing Up (A Fair Wind)", "unitCode": "SAAM",
        "type": "edanmdm", "url": f"edanmdm:{rid}",
        "content": {
            "descriptiveNonRepeating": {
                "record_ID": rid, "unit_code": "SAAM",
                "title": {"label": "Title", "content": "Breezing Up (A Fair Wind)"},
                "data_source": "Smithsonian American Art Museum",
                "record_link": f"https://americanart.si.edu/collections/search/artwork/?id={number}",
                "guid": "http://n2t.net/ark:/65665/vk796c355a9",
                "metadata_usage": {"access": "CC0"},
                "online_media": {"mediaCount": 1, "media": [{
                    "thumbnail": f"{IDS}?id=SAAM-1929.6.{number}_1&max=150",
                    "idsId": f"SAAM-1929.6.{number}_1", "usage": {"access": "CC0"},
                    "guid": "http://n2t.net/ark:/65665/m3e4cd892d4132d528b7028a963bcb5e71",
                    "type": "Images", "content": f"{IDS}?id=SAAM-1929.6.{number}_1",
                    "resources": [{"label": "High-resolution JPEG",
                                   "url": f"https://ids.si.edu/ids/download?id=SAAM-1929.6."
                                          f"{number}_1.jpg",
                                   "width": 4000, "height": 2600, "dimensions": "4000x2600"}]}]},
            },
            "indexedStructured": {"date": ["1870s"], "name": ["Homer, Winslow"],
                                  "object_type": ["Paintings"], "online_media_type": ["Images"],
                                  "topic": ["Seascapes"]},
            "freetext": {
                "name": [{"label": "Artist", "content": "Winslow Homer, born Boston, MA "
                                                        "1836-died Prouts Neck, ME 1910"}],
                "date": [{"label": "Date", "content": "1873-1876"}],
                "physicalDescription": [{"label": "Medium", "content": "oil on canvas"},
                                        {"label": "Dimensions", "content": "24 x 38 in."}],
                "objectType": [{"label": "Type", "content": "Painting"}],
                "objectRights": [{"label": "Restrictions & Rights", "content": "CC0"}],
                "identifier": [{"label": "Object number", "content": f"1929.6.{number}"}],
            },
        },
        "hash": "0106b9f4bbe0ea07807a6ab275d6fc83dd90092f",
        "docSignature": "860718e6b8703c3c798bb9b800842061", "timestamp": "1653672694",
        "lastTimeUpdated": "1653672694", "version": "",
    }
    row.update(changes)
    return row


def search_page(rows: list, total: int | None = None) -> dict:
    answer: dict = {"rows": rows, "message": "content found"}
    if total is not None:
        answer["rowCount"] = total
    return {"status": 200, "responseCode": 1, "response": answer}


def spider_for(tmp_path, config: dict | None = None, api_root: str = API, limit=None):
    return make_spider(SmithsonianSpider, tmp_path, {"api_key": KEY, **(config or {})},
                       api_root=api_root, limit=limit)


def described(row: dict) -> dict:
    return row["content"]["descriptiveNonRepeating"]


def test_a_saam_row_becomes_an_item_with_life_years_and_a_bounded_ids_url(tmp_path):
    spider = spider_for(tmp_path, {"image_max_px": 3000})
    item = spider.item_from_row(si_row(84))
    assert item.source_id == "edanmdm-saam_1929.6.84"
    assert item.title == "Breezing Up (A Fair Wind)"
    assert (item.artist, item.attribution_qualifier) == ("Winslow Homer", None)
    assert (item.artist_birth_year, item.artist_death_year) == (1836, 1910)
    assert (item.date_text, item.date_start, item.date_end) == ("1873-1876", 1873, 1876)
    assert (item.object_type, item.object_type_raw, item.medium) == (
        "painting", "Paintings", "oil on canvas")
    assert item.image_url == f"{IDS}?id=SAAM-1929.6.84_1&max=3000"
    assert item.page_url == "https://americanart.si.edu/collections/search/artwork/?id=84"
    assert (item.license, item.is_public_domain_flag) == ("CC0", True)
    assert json.loads(item.license_raw) == {"metadata_usage": {"access": "CC0"},
                                            "media_usage": [{"access": "CC0"}]}
    assert json.loads(item.raw_record)["url"] == "edanmdm:saam_1929.6.84"
    request = spider.fetch_image(item)
    assert isinstance(request, scrapy.Request) and "X-Api-Key" not in request.headers


def test_the_object_number_identifier_becomes_the_accession_number(tmp_path):
    item = spider_for(tmp_path).item_from_row(si_row(84))
    assert item.accession_number == "1929.6.84"  # SAAM's "Object number", as printed


# freetext.identifier as the units write it, from API answers quoted in a public client's source
# (jhandy's SmithsonianBrowser DataModel.swift): EDAN's example row edanmdm-nmaahc_2012.36.4ab
# ("Object number") and an NMAH row with three numbers ("ID Number" MA.316371.019, "catalog
# number", and the "accession number" of the whole lot).
NMAH_IDENTIFIERS = [{"label": "ID Number", "content": "MA.316371.019"},
                    {"label": "catalog number", "content": "316371.019"},
                    {"label": "accession number", "content": "316371"}]


@pytest.mark.parametrize("identifiers, number", [
    ([{"label": "Object number", "content": "2012.36.4ab"}], "2012.36.4ab"),
    (NMAH_IDENTIFIERS, "MA.316371.019"),  # the object's own number, not its lot's
    (NMAH_IDENTIFIERS[2:], "316371"),
    ([{"label": "Accession Number:", "content": " F1904.61 "}], "F1904.61"),
    ([{"label": "Object number", "content": ""}, {"label": "Object number", "content": "1.2"}],
     "1.2"),
    ([{"label": "Object number", "content": ["1929.6.84"]}], None),  # a list: no number
    ([{"label": "Other number", "content": "X-1"}, {"content": "1929.6.84"}], None),
    ("Object number 1929.6.84", None),
    (None, None),
], ids=["object_number", "nmah", "accession_only", "label_with_colon", "first_nonempty",
        "list_content", "unlabelled", "string", "missing"])
def test_identifier_labels_are_read_most_specific_first_and_odd_values_give_none(
        tmp_path, identifiers, number):
    row = si_row()
    row["content"]["freetext"]["identifier"] = identifiers
    assert spider_for(tmp_path).item_from_row(row).accession_number == number


@pytest.mark.parametrize("topics, genre", [
    (["Seascapes"], "marine art"),
    # SAAM's subject terms are hierarchies written with backslashes.
    (["Occupation\\science\\physicist", "Portrait male\\waist length"], "portrait"),
    (["Trees", "Landscapes"], "landscape art"),
    (["Still life\\fruit", "Landscape\\garden"], "landscape art|still life"),
    ([{"type": "topic", "content": "Religion\\New Testament\\Christ"}], "religious art"),
    (["Porträt", "Landschaft"], None),  # not English: no genre, and no error
    ([["Portraits"], 7, None, ""], None),
    ("Portraits", None),  # a string where EDAN writes a list
    ([], None),
], ids=["seascape", "saam_portrait", "landscapes", "two_genres", "older_dict", "german",
        "odd_values", "string", "empty"])
def test_indexed_topics_become_the_genre_and_there_is_no_movement(tmp_path, topics, genre):
    row = si_row()
    row["content"]["indexedStructured"]["topic"] = topics
    item = spider_for(tmp_path).item_from_row(row)
    assert (item.genre, item.movement) == (genre, None)


def test_image_media_under_usage_conditions_make_a_copyrighted_metadata_only_row(tmp_path):
    row = si_row()
    described(row)["online_media"]["media"] = [{
        "idsId": "SAAM-1929.6.1_1", "type": "Images",
        "usage": {"access": "Usage conditions apply"}}]  # nothing downloadable
    spider = spider_for(tmp_path)
    item = spider.item_from_row(row)  # the record's metadata is still CC0: not the images
    assert (item.license, item.is_public_domain_flag, item.image_url) == (
        "copyrighted", False, None)
    assert json.loads(item.license_raw)["media_usage"] == [{"access": "Usage conditions apply"}]
    done = spider.fetch_image(item)
    assert (done.status, done.reason) == ("metadata_only", reasons.NOT_PUBLIC_DOMAIN)
    # With fetch_non_pd a restricted image that has a URL is fetched, CC0 ones first.
    media = described(row)["online_media"]["media"]
    media[0]["content"] = f"{IDS}?id=SAAM-1929.6.1_1"
    media.append({"type": "Images", "usage": {"access": "CC0"}, "content": f"{IDS}?id=B"})
    media.insert(0, {"type": "3D Images", "usage": {"access": "CC0"}, "content": f"{IDS}?id=C"})
    assert spider.item_from_row(row).image_url == f"{IDS}?id=B&max=3000"
    del media[-1]
    bold = spider_for(tmp_path, {"fetch_non_pd": True})
    assert isinstance(bold.fetch_image(bold.item_from_row(row)), scrapy.Request)


@pytest.mark.parametrize(("metadata_usage", "licence", "flag"), [
    ({"access": "CC0"}, "CC0", True),
    ({"access": "Usage conditions apply"}, "copyrighted", False),
    (None, "unknown", None),
])
def test_a_record_without_image_media_takes_the_licence_of_its_metadata(
        tmp_path, metadata_usage, licence, flag):
    row = si_row()
    del described(row)["online_media"]
    if metadata_usage is None:
        del described(row)["metadata_usage"]
    else:
        described(row)["metadata_usage"] = metadata_usage
    spider = spider_for(tmp_path)
    item = spider.item_from_row(row)
    assert (item.license, item.is_public_domain_flag, item.image_url) == (licence, flag, None)
    done = spider.fetch_image(item)
    expected = ("metadata_only", reasons.NOT_PUBLIC_DOMAIN) if flag is False else (
        "rejected", reasons.NO_IMAGE_URL)
    assert (done.status, done.reason) == expected


@pytest.mark.parametrize(("label", "line", "name", "qualifier", "years"), [
    ("Artist", "Winslow Homer, born Boston, MA 1836-died Prouts Neck, ME 1910",
     "Winslow Homer", None, (1836, 1910)),
    ("Artist", "J. Francis Murphy, born 1853", "J. Francis Murphy", None, (1853, None)),
    ("Artist", "Gilbert Stuart, 3 Dec 1755 - 9 Jul 1828", "Gilbert Stuart", None, (1755, 1828)),
    ("Artist", "Possibly by Lü Ji (ca. 1420-ca. 1505)", "Lü Ji", "possibly by", (1420, 1505)),
    ("Attributed to", "Gilbert Stuart", "Gilbert Stuart", "attributed to", (None, None)),
    ("Artist", "Circle of Jan Steen, born Leiden 1626-died Leiden 1679", "Jan Steen",
     "circle of", (1626, 1679)),
])
def test_artist_lines_of_several_units_give_name_qualifier_and_life_years(
        tmp_path, label, line, name, qualifier, years):
    row = si_row()
    row["content"]["freetext"]["name"] = [{"label": "Sitter", "content": "Somebody Else"},
                                          {"label": label, "content": line}]
    item = spider_for(tmp_path).item_from_row(row)
    assert (item.artist, item.attribution_qualifier) == (name, qualifier)
    assert (item.artist_birth_year, item.artist_death_year) == years


def test_without_a_maker_in_freetext_the_indexed_name_is_used_in_reading_order(tmp_path):
    row = si_row(title="<i>Small</i> Landscape &amp; Trees")
    row["content"]["freetext"]["name"] = [{"label": "Sitter", "content": "Somebody Else"}]
    item = spider_for(tmp_path).item_from_row(row)
    assert (item.artist, item.artist_birth_year) == ("Winslow Homer", None)
    assert item.title == "Small Landscape & Trees"
    row["content"]["indexedStructured"]["name"] = [{"type": "personal_main",
                                                     "content": "Levy, S. H."}]
    assert spider_for(tmp_path).item_from_row(row).artist == "S. H. Levy"
    assert split_artist_line("Unidentified") == ("Unidentified", "")
    assert life_years("born Boston, MA 1836-died Prouts Neck, ME 1910") == (1836, 1910)


def test_dates_come_from_the_freetext_date_else_from_the_indexed_decades(tmp_path):
    spider = spider_for(tmp_path)
    row = si_row()
    row["content"]["freetext"]["date"] = [{"label": "Date", "content": "ca. 1880-1890"}]
    assert (spider.item_from_row(row).date_start, spider.item_from_row(row).date_end) == (
        1880, 1890)
    del row["content"]["freetext"]["date"]
    row["content"]["indexedStructured"]["date"] = ["1520s", "1490s", "1500s"]
    item = spider.item_from_row(row)
    assert (item.date_text, item.date_start, item.date_end) == ("1520s, 1490s, 1500s", 1490,
                                                                1529)
    row["content"]["freetext"]["date"] = [{"label": "Collection Date", "content": "22 Apr 1958"}]
    assert spider.item_from_row(row).date_start == 1958


def test_ids_urls_ask_for_a_bounded_size_in_either_form():
    assert sized(f"{IDS}?id=SAAM-1_1", 3000) == f"{IDS}?id=SAAM-1_1&max=3000"
    assert sized(f"{IDS}?id=SAAM-1_1&max=150", 3000) == f"{IDS}?id=SAAM-1_1&max=3000"
    ark = f"{IDS}/id/ark:/65665/m3ef2f1e3a01574de7a85701fca08ee922"
    assert sized(ark, 512) == f"{ark}/512"
    assert sized(f"{ark}/90", 512) == f"{ark}/90"  # already sized: left as the source gave it
    other = "https://collections.nmnh.si.edu/media/?irn=15814382"
    assert sized(other, 512) == other


def test_pages_are_walked_with_start_and_rows_until_row_count(tmp_path):
    spider = spider_for(tmp_path, {"page_size": 2, "query": "object_type:Paintings"})
    first = spider.page_request(0)
    query = parse_qs(urlsplit(first.url).query)
    assert query == {"q": ["object_type:Paintings"], "start": ["0"], "rows": ["2"],
                     "sort": ["id"]}
    assert first.headers[b"X-Api-Key"] == KEY.encode()
    out = list(spider.parse_page(response(first.url, search_page([si_row(1), si_row(2)], 3),
                                          first), start=0))
    assert [i.source_id for i in items(out)] == ["edanmdm-saam_1929.6.1",
                                                 "edanmdm-saam_1929.6.2"]
    (second,) = listing_requests(out)
    assert parse_qs(urlsplit(second.url).query)["start"] == ["2"]
    out = list(spider.parse_page(response(second.url, search_page([si_row(3)], 3), second),
                                 **second.cb_kwargs))
    assert [i.source_id for i in items(out)] == ["edanmdm-saam_1929.6.3"]
    assert not listing_requests(out) and spider.state.listing_failures == 0
    assert parse_qs(urlsplit(spider_for(tmp_path, {"page_size": 5000}).page_request(0).url)
                    .query)["rows"] == ["1000"]


def test_a_limit_stops_the_listing_mid_page(tmp_path):
    spider = spider_for(tmp_path, limit=1)
    request = spider.page_request(0)
    page = search_page([si_row(1), si_row(2)], 10)
    out = list(spider.parse_page(response(request.url, page, request), start=0))
    assert [i.source_id for i in items(out)] == ["edanmdm-saam_1929.6.1"]
    assert not listing_requests(out)


def test_pages_that_repeat_or_end_early_stop_the_listing_with_a_note(tmp_path):
    spider = spider_for(tmp_path, {"page_size": 1})
    request = spider.page_request(0)
    out = list(spider.parse_page(response(request.url, search_page([si_row(1)], 5), request),
                                 start=0))
    (again,) = listing_requests(out)
    out = list(spider.parse_page(response(again.url, search_page([si_row(1)], 5), again),
                                 start=1))
    assert not items(out) and not listing_requests(out)
    assert "brought no record not met before" in spider.state.listing_stops[-1]
    out = list(spider.parse_page(response(again.url, search_page([], 5), again), start=1))
    assert not out and "an empty page at start=1 although rowCount is 5" in \
        spider.state.listing_stops[-1]
    # No rowCount: pages are read while they come full.
    out = list(spider.parse_page(response(request.url, search_page([si_row(7)]), request),
                                 start=0))
    assert len(listing_requests(out)) == 1
    assert spider.state.listing_failures == 0


def test_a_query_that_matches_nothing_is_a_complete_empty_listing(tmp_path):
    spider = spider_for(tmp_path)
    request = spider.page_request(0)
    for body in (search_page([], 0), {"status": 200, "responseCode": 1,
                                      "response": {"rowCount": 0, "message": "content found"}}):
        assert list(spider.parse_page(response(request.url, body, request), start=0)) == []
    assert spider.state.listing_failures == 0 and not spider.state.listing_stops


@pytest.mark.parametrize(("status", "body", "said"), [
    (200, b"<html><title>Request Rejected</title></html>", "not JSON"),
    (200, {"error": {"code": "OVER_RATE_LIMIT", "message": "You have exceeded your rate "
                     "limit."}}, "OVER_RATE_LIMIT"),
    (200, {"status": 200, "responseCode": 1, "response": {"rowCount": 3}}, "response.rows is"),
    (200, {"status": 200, "responseCode": 1, "response": {"rows": {}, "rowCount": 3}},
     "response.rows is dict"),
    (200, {"status": 200, "responseCode": 1, "response": "content found"}, "response is str"),
    (200, {"status": 200, "responseCode": 0, "response": {"error": "search failed"}},
     "EDAN error: search failed"),
    (200, {"rows": []}, "no 'response'"),
    (403, {"error": {"code": "API_KEY_MISSING", "message": "No api_key was supplied. Get one "
                     "at https://api.data.gov:443"}}, "HTTP 403: API_KEY_MISSING: No api_key"),
    (403, {"error": {"code": "API_KEY_INVALID", "message": "An invalid api_key was "
                     "supplied."}}, "HTTP 403: API_KEY_INVALID"),
    (400, {"status": 400, "responseCode": 0, "response": {
        "error": "bad request: one of your params did not pass validation"},
        "timestamp": "Fri Jun 07 09:23:09 EDT 2019"}, "HTTP 400: bad request: one of"),
    (403, b"<html><head><title>Request Rejected</title></head></html>",
     "HTTP 403: <html><head><title>Request Rejected"),
])
def test_broken_pages_and_api_errors_are_listing_failures_never_an_empty_last_page(
        tmp_path, caplog, status, body, said):
    spider = spider_for(tmp_path)
    request = spider.page_request(0)
    assert status == 200 or status in request.meta["handle_httpstatus_list"]
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    page = TextResponse(request.url, status=status, body=data, encoding="utf-8",
                        request=request)
    with caplog.at_level(logging.ERROR):
        out = list(spider.parse_page(page, start=0))
    assert out == [] and spider.state.listing_failures == 1
    assert said in caplog.text


def test_the_key_comes_from_params_then_the_environment_then_demo_key_on_loopback_only(
        monkeypatch):
    monkeypatch.delenv("SI_API_KEY", raising=False)
    assert api_key({"api_key": KEY}, API) == KEY
    assert api_key({"api_key": None}, "http://127.0.0.1:8765/smithsonian") == DEMO_KEY
    assert api_key({"api_key": None}, "demo") == DEMO_KEY
    with pytest.raises(UserError, match=r"api.data.gov/signup/.*SI_API_KEY"):
        api_key({"api_key": None}, API)
    with pytest.raises(UserError):
        api_key({"api_key": ""}, "https://127.0.0.1.example.org/smithsonian")
    monkeypatch.setenv("SI_API_KEY", f" {KEY} ")
    assert api_key({"api_key": None}, API) == KEY
    monkeypatch.delenv("SI_API_KEY")
    # The crawl checks its section against the root it will talk to before any work.
    with pytest.raises(UserError):
        SmithsonianSpider.check_config({"api_key": None}, API)
    SmithsonianSpider.check_config({"api_key": None}, "http://127.0.0.1:8765/smithsonian")


def test_the_key_never_appears_in_a_url_a_row_or_a_log_line(tmp_path, caplog):
    spider = spider_for(tmp_path, {"page_size": 1})
    request = spider.page_request(0)
    with caplog.at_level(logging.DEBUG):
        out = list(spider.parse_page(response(request.url, search_page([si_row(1)], 2),
                                              request), start=0))
        list(spider.parse_page(response(request.url, b"{", request), start=0))
    urls = [request.url] + [r.url for r in listing_requests(out)] + [
        i.image_url for i in items(out)]
    assert all(KEY not in url and "api_key" not in url for url in urls)
    assert KEY not in caplog.text and spider.state.listing_failures == 1
    rows = rows_written(items(out), tmp_path).values()
    assert rows and all(KEY not in json.dumps(row, default=str) for row in rows)


def test_rows_without_a_usable_id_end_as_rows_too(tmp_path):
    spider = spider_for(tmp_path)
    request = spider.page_request(0)
    rows = [si_row(1, id=None), si_row(2, id="../../etc"), "not a row", si_row(4, id=42)]
    out = list(spider.parse_page(response(request.url, search_page(rows, 4), request), start=0))
    found = items(out)
    assert [i.status for i in found] == ["rejected", "rejected", "rejected", "pending"]
    assert [i.reason for i in found[:3]] == [reasons.UNSAFE_ID] * 3
    assert found[3].source_id == "42"


# --- any JSON anywhere ---------------------------------------------------------------------------

ROW = si_row()


def one_row_crawl(tmp_path, row) -> list:
    spider = spider_for(tmp_path, {"object_types": ["painting"]})
    url = f"{API}/search?q=x"
    data = json.dumps(search_page([row], 1), allow_nan=True).encode("utf-8", "surrogatepass")
    page = TextResponse(url, body=data, encoding="utf-8", request=scrapy.Request(url))
    return items(list(spider.parse_page(page, start=0)))


@FUZZ
@given(changed=overrides(ROW))
def test_any_json_in_any_field_of_a_row_ends_as_one_row_that_parquet_holds(tmp_path, changed):
    found = one_row_crawl(tmp_path, {**ROW, **changed})
    assert len(found) == 1 and len(rows_written(found, tmp_path)) == 1


@FUZZ
@given(changed=overrides(ROW["content"]["descriptiveNonRepeating"]))
def test_any_json_in_any_field_of_descriptive_non_repeating_ends_as_one_row(tmp_path, changed):
    row = copy.deepcopy(ROW)
    described(row).update(changed)
    found = one_row_crawl(tmp_path, row)
    assert len(found) == 1 and len(rows_written(found, tmp_path)) == 1


@FUZZ
@given(free=overrides(ROW["content"]["freetext"]),
       indexed=overrides(ROW["content"]["indexedStructured"]),
       media=overrides(ROW["content"]["descriptiveNonRepeating"]["online_media"]["media"][0]))
def test_any_json_in_freetext_indexed_fields_or_media_ends_as_one_row(tmp_path, free, indexed,
                                                                        media):
    row = copy.deepcopy(ROW)
    row["content"]["freetext"].update(free)
    row["content"]["indexedStructured"].update(indexed)
    described(row)["online_media"]["media"][0].update(media)
    found = one_row_crawl(tmp_path, row)
    assert len(found) == 1 and len(rows_written(found, tmp_path)) == 1
