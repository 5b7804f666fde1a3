"""crawl.spiders.europeana on small real-format Search API answers: the request (filters, rights
group, rich profile, the key in a header only), cursor paging to the page without a nextCursor,
a cursor met twice, broken pages and refused keys as listing failures, edm:rights URIs as
licences, creators, years and object types, the genre from the English subject, type and concept
labels (never an accession number: a search item has none), the provider's image (never the
thumbnail), the records' own image hosts, and any JSON in any field of a record ending as one row.

No network and no reactor: callbacks are called with hand-built responses (the format as in
demo/FORMATS.md, items as api2 writes them with profile=rich) and their output is inspected.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import scrapy
from hypothesis import given
from scrapy.http import TextResponse

from crawl import reasons
from crawl.spiders.europeana import (
    DEMO_KEY,
    EuropeanaSpider,
    checked_reusability,
    english,
    rights_licence,
)
from marcus.errors import UserError
from tests.crawl.spiders.helpers import (
    FUZZ,
    items,
    listing_requests,
    make_spider,
    overrides,
    rows_written,
)

API = "https://api.europeana.eu"
KEY = "sEcReTkEy42"
PDM = "http://creativecommons.org/publicdomain/mark/1.0/"
CC0 = "http://creativecommons.org/publicdomain/zero/1.0/"
IN_COPYRIGHT = "http://rightsstatements.org/vocab/InC/1.0/"
IMAGE = "https://lh3.ggpht.com/rijks/SK_A_1234=s0"


def record(local: str = "SK_A_1234", **changed) -> dict:
    """An item as the Search API writes it (profile rich), with our key in guid and link."""
    shown = IMAGE if local == "SK_A_1234" else f"https://images.provider.example/{local}.jpg"
    item = {
        "completeness": 10, "country": ["Netherlands"], "dataProvider": ["Rijksmuseum"],
        "dcCreator": ["Workshop of Rembrandt van Rijn"],
        "dcCreatorLangAware": {"def": ["Workshop of Rembrandt van Rijn"]},
        "dcDescription": ["Oil on canvas."],
        "dcSubjectLangAware": {"nl": ["schutterstuk"], "en": ["militia piece", "portrait"]},
        "dcTitleLangAware": {"nl": ["De Nachtwacht"]},
        "dcTypeLangAware": {"en": ["painting"], "nl": ["schilderij"]},
        "edmConcept": ["http://data.europeana.eu/concept/190", "http://vocab.getty.edu/aat/"
                       "300033618"],
        "edmConceptLabel": [{"def": "Portrait"}, {"def": "Porträt"}, {"def": "portret"}],
        "edmConceptPrefLabelLangAware": {"en": ["Portrait"], "de": ["Porträt"],
                                         "nl": ["portret"]},
        "edmIsShownAt": [f"https://www.rijksmuseum.nl/nl/collectie/{local}"],
        "edmIsShownBy": [shown],
        "edmPreview": ["https://api.europeana.eu/thumbnail/v2/url.json?uri=https%3A%2F%2F"
                       "lh3.ggpht.com%2Frijks%2FSK_A_1234%3Ds0&type=IMAGE"],
        "europeanaCompleteness": 10,
        "guid": f"https://www.europeana.eu/item/90402/{local}?utm_source=api&utm_medium=api"
                f"&utm_campaign={KEY}",
        "id": f"/90402/{local}", "index": 0, "language": ["nl"],
        "link": f"https://api.europeana.eu/record/90402/{local}.json?wskey={KEY}",
        "previewNoDistribute": False, "provider": ["Rijksmuseum"], "rights": [PDM],
        "score": 1.0, "title": ["De Nachtwacht", "The Night Watch"], "type": "IMAGE",
        "ugc": [False], "year": ["1640", "1642"],
    }
    item.update(changed)
    return item


def page(*records, cursor: str | None = None, total: int | None = None) -> dict:
    body = {"apikey": KEY, "success": True, "requestNumber": 999, "itemsCount": len(records),
            "totalResults": len(records) if total is None else total}
    if cursor is not None:
        body["nextCursor"] = cursor
    body["items"] = list(records)
    return body


def spider_for(tmp_path, api_root: str = API, **config) -> EuropeanaSpider:
    return make_spider(EuropeanaSpider, tmp_path, {"api_key": KEY, **config}, api_root=api_root)


def first_request(spider) -> scrapy.Request:
    return spider.page_request("*")


def answer(request: scrapy.Request, body, status: int = 200) -> list:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    reply = TextResponse(request.url, status=status, body=data, encoding="utf-8",
                         request=request)
    return list(request.callback(reply, **request.cb_kwargs))


def test_the_search_asks_for_the_filters_rights_group_and_first_cursor_with_the_key_in_a_header(
        tmp_path):
    spider = spider_for(tmp_path, page_size=500)
    request = first_request(spider)
    parts = urlsplit(request.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{API}/record/v2/search.json"
    assert parse_qs(parts.query) == {
        "query": ["*"], "qf": ["TYPE:IMAGE", "proxy_dc_type.en:painting"],
        "reusability": ["open"], "profile": ["rich"], "rows": ["100"], "cursor": ["*"]}
    assert request.headers[b"X-Api-Key"] == KEY.encode()
    assert KEY not in request.url
    assert request.meta["dont_redirect"], "a redirect would carry the key to another host"


def test_cursor_paging_follows_each_next_cursor_and_ends_on_the_page_without_one(tmp_path):
    spider = spider_for(tmp_path)
    first = first_request(spider)
    cursor = "AoE/Lzkw+NDAyL1NLX0FfMTIzNA=="  # base64 as Solr writes it: "+", "/" and "="
    out = answer(first, page(record("SK_A_1"), record("SK_A_2"), cursor=cursor, total=3))
    assert [i.source_id for i in items(out)] == ["90402:SK_A_1", "90402:SK_A_2"]
    (second,) = listing_requests(out)
    assert f"cursor={cursor.replace('+', '%2B').replace('/', '%2F').replace('=', '%3D')}" \
        in second.url
    assert parse_qs(urlsplit(second.url).query)["cursor"] == [cursor]
    out = answer(second, page(record("SK_A_3"), cursor="AoE2"))
    (third,) = listing_requests(out)
    assert [i.source_id for i in items(out)] == ["90402:SK_A_3"]
    assert listing_requests(answer(third, page())) == []  # empty, no nextCursor: the end
    assert spider.state.listing_failures == 0 and spider.state.listing_stops == []
    assert spider.state.met == 3


def test_a_cursor_followed_before_stops_the_listing_instead_of_looping(tmp_path):
    spider = spider_for(tmp_path)
    first = first_request(spider)
    (second,) = listing_requests(answer(first, page(record("SK_A_1"), cursor="AoE1")))
    out = answer(second, page(record("SK_A_2"), cursor="AoE1"))
    assert listing_requests(out) == [] and [i.source_id for i in items(out)] == ["90402:SK_A_2"]
    assert "followed before" in spider.state.listing_stops[0]
    assert spider.state.listing_failures == 0


@pytest.mark.parametrize("body", [
    b"<html><body>Bad gateway</body></html>",
    {"apikey": KEY, "success": False, "error": "Invalid search query", "code": "400-SA"},
    {"apikey": KEY, "success": False, "items": []},
    {"apikey": KEY, "success": True, "itemsCount": 0, "totalResults": 12},
    {"apikey": KEY, "success": True, "items": {"id": "/1/a"}},
    [record()],
], ids=["html", "error", "success-false", "no-items", "items-object", "list"])
def test_a_broken_page_is_a_listing_failure_never_an_empty_last_page(tmp_path, body):
    spider = spider_for(tmp_path)
    out = answer(first_request(spider), body)
    assert out == [] and spider.state.listing_failures == 1


@pytest.mark.parametrize("status, body, said", [
    (401, {"success": False, "error": "API key is invalid", "message": "Please register for an "
           "API key", "code": "401_key_invalid"}, "401_key_invalid"),
    (401, {"success": False, "error": "Unauthorized", "message": "Invalid API key provided!",
           "code": "invalid_apikey"}, "invalid_apikey"),
    (400, {"apikey": KEY, "success": False, "error": "Invalid cursor value.", "code": "400-SC"},
     "Invalid cursor value"),
])
def test_a_refusal_is_a_listing_failure_in_the_apis_words_and_a_bad_key_says_where_to_get_one(
        tmp_path, caplog, status, body, said):
    spider = spider_for(tmp_path)
    with caplog.at_level(logging.ERROR):
        assert answer(first_request(spider), body, status) == []
    assert spider.state.listing_failures == 1 and said in caplog.text
    assert ("pro.europeana.eu/page/get-api" in caplog.text) == (status == 401)
    assert KEY not in caplog.text


def test_a_record_becomes_an_item_with_licence_creator_years_type_and_the_providers_image(
        tmp_path):
    spider = spider_for(tmp_path)
    (request,) = [x for x in answer(first_request(spider), page(record()))
                  if isinstance(x, scrapy.Request)]
    item = request.cb_kwargs["item"]
    assert request.url == IMAGE  # edmIsShownBy, never the edmPreview thumbnail
    assert item.source_id == "90402:SK_A_1234"
    assert (item.license, item.is_public_domain_flag) == ("PD", True)
    assert json.loads(item.license_raw) == {"rights": [PDM]}
    assert item.title == "De Nachtwacht"
    assert (item.artist, item.attribution_qualifier) == ("Rembrandt van Rijn", "workshop of")
    assert (item.date_text, item.date_start, item.date_end) == ("1640, 1642", 1640, 1642)
    assert (item.object_type, item.object_type_raw) == ("painting", "painting; schilderij")
    assert item.page_url == "https://www.europeana.eu/item/90402/SK_A_1234"
    raw = json.loads(item.raw_record)
    assert raw["link"] == "https://api.europeana.eu/record/90402/SK_A_1234.json"
    assert KEY not in item.raw_record


def test_a_records_english_subjects_and_concepts_give_the_genre_and_no_accession_number(
        tmp_path):
    (item,) = items(answer(first_request(spider_for(tmp_path)), page(record(
        dcIdentifier=["SK-C-5"]))))  # not a search item field; ignored if it ever came
    assert (item.genre, item.movement, item.accession_number) == ("portrait", None, None)


# The fields as api2 writes them (europeana/corelib ApiBeanImpl, RichBeanImpl: language maps
# from proxy_dc_subject.*, proxy_dc_type.* and cc_skos_prefLabel.*, keyed en/def/nl/...).
@pytest.mark.parametrize("fields, genre", [
    ({"edmConceptPrefLabelLangAware": {"en": ["Landscape painting", "Painting"],
                                       "fr": ["Peinture de paysage"]}}, "landscape art"),
    ({"dcSubjectLangAware": {"def": ["Still life"]}}, "still life"),
    ({"dcTypeLangAware": {"en": ["painting", "portrait"], "nl": ["schilderij"]}}, "portrait"),
    ({"dcSubjectLangAware": {"en": ["seascape"]},
      "edmConceptPrefLabelLangAware": {"en": ["Portrait"]}}, "portrait|marine art"),
    ({"dcSubjectLangAware": {"nl": ["portret", "landschap"], "fr": ["portrait"]},
      "edmConceptPrefLabelLangAware": {"de": ["Porträt"]}}, None),  # not English: no genre
    ({"dcSubjectLangAware": {"en": "Portrait"}}, "portrait"),  # a string in place of a list
    ({"dcSubjectLangAware": {"en": [["Portrait"], 7, None, ""]}}, None),
    ({"edmConceptPrefLabelLangAware": ["Portrait"]}, "portrait"),  # a list: untagged values
    ({"edmConceptPrefLabelLangAware": 42, "dcSubjectLangAware": None}, None),
], ids=["concepts", "def_subject", "type", "two_fields", "not_english", "string", "odd_values",
        "list", "not_text"])
def test_the_genre_comes_from_english_or_untagged_subjects_types_and_concept_labels(
        tmp_path, fields, genre):
    plain = {k: v for k, v in record().items() if k not in (
        "dcSubjectLangAware", "edmConceptPrefLabelLangAware", "edmConceptLabel")}
    plain["dcTypeLangAware"] = {"en": ["painting"]}
    (item,) = items(answer(first_request(spider_for(tmp_path)), page({**plain, **fields})))
    assert item.genre == genre and item.status == "pending"
    assert english({"nl": ["portret"], "def": ["x"], "en": ["y"]}) == ["y", "x"]


@pytest.mark.parametrize("rights, licence, flag", [
    ([PDM], "PD", True),
    (["https://creativecommons.org/publicdomain/zero/1.0/"], "CC0", True),
    (["http://creativecommons.org/licenses/by/4.0/"], "CC-BY", False),
    (["http://creativecommons.org/licenses/by-sa/3.0/nl/"], "CC-BY-SA", False),
    (["http://creativecommons.org/licenses/by-nc-sa/4.0/"], "copyrighted", False),
    (["http://creativecommons.org/licenses/by-nd/4.0/"], "copyrighted", False),
    ([IN_COPYRIGHT], "copyrighted", False),
    (["http://rightsstatements.org/vocab/NoC-NC/1.0/"], "copyrighted", False),
    (["http://rightsstatements.org/vocab/CNE/1.0/"], "copyrighted", False),
    (["http://www.europeana.eu/rights/rr-f/"], "copyrighted", False),
    ([PDM, CC0], "PD", True),
    ([PDM, IN_COPYRIGHT], "unknown", None),  # statements that disagree: a person decides
    ([], "unknown", None),
    (None, "unknown", None),
    ([7, {"uri": PDM}], "unknown", None),
])
def test_edm_rights_uris_become_the_licence_and_the_sources_public_domain_flag(rights, licence,
                                                                               flag):
    found, found_flag, raw = rights_licence(rights)
    assert (found, found_flag) == (licence, flag)
    assert json.loads(raw) == {"rights": rights}


def test_rows_follow_the_rights_painting_type_and_image_of_each_record(tmp_path):
    spider = spider_for(tmp_path)
    body = page(record("a", rights=[IN_COPYRIGHT]),
                record("b", rights=["http://creativecommons.org/licenses/by-sa/4.0/"]),
                record("c", edmIsShownBy=[]),
                record("d", dcTypeLangAware={"en": ["photograph"]}),
                record("e", rights=[]))
    found = {i.source_id: i for i in items(answer(first_request(spider), body))}
    assert [(k, i.status, i.reason) for k, i in found.items() if i.status != "pending"] == [
        ("90402:a", "metadata_only", reasons.NOT_PUBLIC_DOMAIN),
        ("90402:b", "metadata_only", reasons.NOT_PUBLIC_DOMAIN),
        ("90402:c", "rejected", reasons.NO_IMAGE_URL),
        ("90402:d", "metadata_only", reasons.OBJECT_TYPE)]
    assert found["90402:e"].license == "unknown"  # no statement: fetched, curation decides


def test_without_dc_type_the_listings_own_painting_filter_says_what_the_records_are(tmp_path):
    untyped = {k: v for k, v in record().items() if k != "dcTypeLangAware"}
    spider = spider_for(tmp_path)
    (item,) = items(answer(first_request(spider), page(untyped)))
    assert (item.object_type, item.object_type_raw) == ("painting",
                                                        "qf=proxy_dc_type.en:painting")
    images_only = spider_for(tmp_path, filters=["TYPE:IMAGE", "-proxy_dc_type.en:painting"])
    (item,) = items(answer(first_request(images_only), page(untyped)))
    assert (item.object_type, item.object_type_raw, item.reason) == (
        "other", "IMAGE", reasons.OBJECT_TYPE)


def test_a_creator_given_only_as_linked_data_is_named_by_its_agent_label(tmp_path):
    uri = "http://hispana.mcu.es/lod/oai:bibliotecadigital.jcyl.es:26229#ent2"
    linked = record(dcCreator=[uri], dcCreatorLangAware={"def": [uri]},
                    edmAgentLabel=[{"def": "Pérez Villaamil, Genaro, 1807-1854"}])
    (item,) = items(answer(first_request(spider_for(tmp_path)), page(linked)))
    assert item.artist == "Pérez Villaamil, Genaro, 1807-1854"
    assert (item.artist_birth_year, item.artist_death_year) == (1807, 1854)


def test_each_image_host_is_allowed_just_before_its_request_and_no_other(tmp_path):
    spider = spider_for(tmp_path)
    assert spider.allowed_origins == [("https", "api.europeana.eu", 443)]
    body = page(record("a"), record("b", edmIsShownBy=["http://img.example.org:8080/b.jpg"]),
                record("c", rights=[IN_COPYRIGHT],
                       edmIsShownBy=["https://not-fetched.example/c.jpg"]))
    answer(first_request(spider), body)
    assert spider.allowed_origins == sorted([
        ("https", "api.europeana.eu", 443), ("http", "images.provider.example", 80),
        ("https", "images.provider.example", 443), ("http", "img.example.org", 8080)])
    configured = spider_for(tmp_path, allowed_origins=["https://images.provider.example"])
    answer(first_request(configured), body)
    assert configured.allowed_origins == [("https", "api.europeana.eu", 443),
                                          ("https", "images.provider.example", 443)]


@pytest.mark.parametrize("raw_id, key, reason", [
    ("/2021608/SK_A_1", "2021608:SK_A_1", None),
    ("/90402/../../etc", "90402:..:..:etc", reasons.UNSAFE_ID),
    ("/90402/a%2Fb", "90402:a%2Fb", reasons.UNSAFE_ID),
    ("", None, reasons.UNSAFE_ID),
    (None, None, reasons.UNSAFE_ID),
    ({"id": 1}, None, reasons.UNSAFE_ID),
])
def test_every_id_ends_as_one_row_and_odd_ones_as_unsafe_id_rows(tmp_path, raw_id, key, reason):
    spider = spider_for(tmp_path)
    (item,) = items(answer(first_request(spider), page(record(id=raw_id))))
    assert item.reason == reason
    if key is not None:
        assert item.source_id == key


def test_limit_stops_the_listing_mid_page(tmp_path):
    spider = make_spider(EuropeanaSpider, tmp_path, {"api_key": KEY}, api_root=API, limit=2)
    out = answer(first_request(spider), page(record("a"), record("b"), record("c"),
                                              cursor="AoE3"))
    assert len(items(out)) == 2 and listing_requests(out) == []


def test_a_live_crawl_needs_a_key_from_params_or_the_environment_and_the_demo_has_its_own(
        tmp_path, monkeypatch):
    monkeypatch.delenv("EUROPEANA_API_KEY", raising=False)
    with pytest.raises(UserError, match="pro.europeana.eu/page/get-api"):
        make_spider(EuropeanaSpider, tmp_path, {"api_key": None}, api_root=API)
    with pytest.raises(UserError, match="EUROPEANA_API_KEY"):  # before any work, too
        EuropeanaSpider.check_config({**spider_for(tmp_path).config, "api_key": None}, API)
    monkeypatch.setenv("EUROPEANA_API_KEY", "fromtheenvironment")
    spider = make_spider(EuropeanaSpider, tmp_path, {"api_key": None}, api_root=API)
    assert first_request(spider).headers[b"X-Api-Key"] == b"fromtheenvironment"
    assert first_request(spider_for(tmp_path)).headers[b"X-Api-Key"] == KEY.encode()
    for root in ("http://127.0.0.1:8765/europeana", "http://localhost:9/europeana"):
        demo = spider_for(tmp_path, api_root=root)  # a key of yours never goes to the demo
        assert first_request(demo).headers[b"X-Api-Key"] == DEMO_KEY.encode()


def test_reusability_takes_the_three_rights_groups_or_nothing_and_a_blank_query_is_refused(
        tmp_path):
    assert checked_reusability("open, restricted") == ["open", "restricted"]
    assert checked_reusability("") == []
    with pytest.raises(UserError, match="'opne' is not one of open, restricted, permission"):
        checked_reusability("opne")
    spider = spider_for(tmp_path, reusability="")
    assert "reusability" not in parse_qs(urlsplit(first_request(spider).url).query)
    with pytest.raises(UserError, match="query is blank"):
        spider_for(tmp_path, query="  ")


ROBUST = record()


@FUZZ
@given(changed=overrides(ROBUST), envelope=overrides({"nextCursor": 1, "totalResults": 1,
                                                       "itemsCount": 1, "success": 1}))
def test_any_json_in_any_field_of_a_record_ends_as_one_row_that_parquet_holds(
        tmp_path, changed, envelope):
    spider = spider_for(tmp_path)
    body = {**page(record("first"), {**ROBUST, **changed}), **envelope}
    body["success"] = True
    out = answer(first_request(spider), body)
    found = items(out)
    ids = {i.source_id for i in found}
    assert len(found) == len(ids) == spider.state.met <= 2
    assert "90402:first" in ids
    assert len(rows_written(found, tmp_path)) == len(found)
    assert spider.state.listing_failures <= 1  # only a nextCursor that is no text
    assert all(KEY not in (i.raw_record or "") for i in found)

