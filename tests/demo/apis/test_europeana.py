"""demo.apis.europeana speaks the Europeana Search API: api2's envelope and items (lists, language
maps, alphabetical keys) per profile, cursor paging that lists every record once and ends with
an empty page without nextCursor, rights groups, qf terms, rows capped at 100, the 1,000-result
window of start paging, keys (header or wskey) and errors in the live API's shape, the
providers' files and the thumbnail service, the concept and subject fields that carry a
painting's genre; and the spider reads what it serves, genre included.

Two servers: the shared small demo collection (stored files), and a catalogue-only one of 1000
artworks (no image bytes) with over 100 Europeana records and "in copyright" statements.
"""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from scrapy.http import TextResponse

from crawl.normalize import genre_from_terms
from crawl.spiders.europeana import EuropeanaSpider
from demo.apis.europeana import DATASETS, decode_cursor, encode_cursor, europeana_id
from demo.apis.wikidata import GENRES
from demo.catalog import EUROPEANA_RIGHTS
from tests.crawl.spiders.helpers import items, listing_requests, make_spider
from tests.demo.apis.helpers import REAL, catalogue_server, get, image_size, of_kind

ENVELOPE = ["apikey", "success", "requestNumber", "itemsCount", "totalResults", "nextCursor",
            "items"]
ERROR_KEYS = ["apikey", "success", "error", "message", "code"]
OPEN = {EUROPEANA_RIGHTS[k] for k in ("PDM", "CC0", "CC BY-SA")}


@pytest.fixture(scope="module")
def big(tmp_path_factory, demo_root):
    with catalogue_server(tmp_path_factory.mktemp("europeana") / "collection", demo_root) as server:
        yield server


def search_url(server) -> str:
    return server.api_roots["europeana"] + "/record/v2/search.json"


def search(server, wskey="api2demo", **params):
    return get(search_url(server), params={"wskey": wskey, "query": "*", **params})


def walk(server, **params) -> tuple[list[dict], list[dict]]:
    """Every page of a cursor walk: (items, pages)."""
    found, pages, cursor = [], [], "*"
    while True:
        body = search(server, cursor=cursor, **params).json()
        pages.append(body)
        found += body["items"]
        if "nextCursor" not in body:
            return found, pages
        cursor = body["nextCursor"]


def test_cursor_paging_lists_every_record_once_and_ends_with_an_empty_page_without_a_cursor(
        big):
    copies = big.collection.source_copies("europeana")
    found, pages = walk(big, rows="30")
    assert [i["id"] for i in found] == [europeana_id(c) for c in copies]
    assert [p["itemsCount"] for p in pages[:-1]] == [len(p["items"]) for p in pages[:-1]]
    assert all(p["totalResults"] == len(copies) for p in pages)
    assert pages[-1]["items"] == [] and pages[-1]["itemsCount"] == 0  # Solr's last page
    assert all("nextCursor" in p for p in pages[:-1])
    assert len(copies) > 100


def test_the_envelope_and_items_have_api2s_shape_in_each_profile(demo_server, demo_collection):
    body = search(demo_server, rows="3", cursor="*", profile="rich").json()
    assert list(body) == ENVELOPE
    assert (body["apikey"], body["success"], body["requestNumber"]) == ("api2demo", True, 999)
    item = body["items"][0]
    assert list(item) == sorted(item)
    copy = demo_collection.by_source_id("europeana", item["id"].strip("/").replace("/", ":"))
    artwork = demo_collection.artwork(copy)
    assert item["title"] == [artwork.title] and item["type"] == "IMAGE"
    assert item["rights"] == [copy.license]
    assert item["year"][0] == str(artwork.date_start)
    assert item["dcTypeLangAware"]["en"] == ["painting"]
    assert all(isinstance(item[k], list) for k in (
        "dataProvider", "provider", "edmIsShownBy", "edmIsShownAt", "edmPreview", "language",
        "country", "ugc"))
    guid = urlsplit(item["guid"])
    assert guid.path.endswith("/item" + item["id"])
    assert parse_qs(guid.query) == {"utm_source": ["api"], "utm_medium": ["api"],
                                     "utm_campaign": ["api2demo"]}
    assert parse_qs(urlsplit(item["link"]).query) == {"wskey": ["api2demo"]}
    standard = search(demo_server, rows="1").json()["items"][0]
    minimal = search(demo_server, rows="1", profile="minimal").json()["items"][0]
    assert "dcTypeLangAware" not in standard and "country" in standard
    assert "country" not in minimal and "timestamp_created" not in minimal
    assert set(minimal) < set(standard) < set(item)
    assert "nextCursor" not in search(demo_server, rows="1").json()  # start paging: none


def test_concepts_and_subjects_carry_the_genre_in_api2s_shape_per_profile(demo_server,
                                                                           demo_collection):
    """ApiBean (standard, rich): edmConcept URIs, edmConceptLabel [{"def": label}] and
    edmConceptPrefLabelLangAware {lang: [labels]}; RichBean adds dcSubjectLangAware in the
    provider's language. Their English labels name the genre Wikidata gives the painting."""
    by_profile = {p: {i["id"]: i for i in walk(demo_server, rows="50", profile=p)[0]}
                  for p in ("minimal", "standard", "rich")}
    seen = 0
    for record_id, item in by_profile["rich"].items():
        copy = demo_collection.by_source_id("europeana", record_id[1:].replace("/", ":"))
        kind = demo_collection.artwork(copy).kind
        language = DATASETS.get(record_id.split("/")[1], ("", "", "", "en"))[3]
        concept_keys = {"edmConcept", "edmConceptLabel", "edmConceptPrefLabelLangAware"}
        assert not (concept_keys | {"dcSubjectLangAware"}) & set(by_profile["minimal"][record_id])
        standard = by_profile["standard"][record_id]
        assert "dcSubjectLangAware" not in standard
        if kind not in GENRES:
            assert not concept_keys & set(item)
            continue
        seen += 1
        assert {k: standard[k] for k in concept_keys} == {k: item[k] for k in concept_keys}
        labels = item["edmConceptPrefLabelLangAware"]
        assert list(labels) == list(dict.fromkeys(["en", language])) and all(
            isinstance(v, list) and all(isinstance(w, str) for w in v) for v in labels.values())
        assert all(u.startswith("http://data.europeana.eu/concept/") for u in item["edmConcept"])
        assert item["edmConceptLabel"] == [{"def": w} for v in labels.values() for w in v]
        assert genre_from_terms(labels["en"]) == GENRES[kind][1]
        (subject,) = item["dcSubjectLangAware"][language]
        assert genre_from_terms([subject]) in (None, GENRES[kind][1])  # never another genre
    assert seen > 0


def test_the_providers_file_is_the_original_and_the_preview_a_small_thumbnail(demo_server,
                                                                              demo_collection):
    for item in search(demo_server, rows="5").json()["items"]:
        copy = demo_collection.by_source_id("europeana", item["id"][1:].replace("/", ":"))
        original = get(item["edmIsShownBy"][0])
        assert original.status_code == 200
        assert original.content == demo_collection.original(copy)
        thumb = get(item["edmPreview"][0])
        assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/jpeg"
        assert max(image_size(thumb)) <= min(400, max(image_size(original)))
        assert max(image_size(get(item["edmPreview"][0] + "&size=w200"))) <= 200
        landing = get(item["guid"])
        assert landing.status_code == 200 and "text/html" in landing.headers["Content-Type"]
    root = demo_server.api_roots["europeana"]
    assert get(root + "/providers/2021608/europeana-999999.jpg").status_code == 404
    assert get(root + "/thumbnail/v2/url.json?uri=https%3A%2F%2Fexample.org%2Fx.jpg"
                      "&type=IMAGE").status_code == 404


def test_reusability_selects_europeanas_rights_groups(big):
    copies = big.collection.source_copies("europeana")
    in_copyright = {europeana_id(c) for c in copies if c.license == EUROPEANA_RIGHTS["InC"]}
    assert in_copyright, "the 1000-artwork catalogue plants 'in copyright' statements"
    ids = {name: {i["id"] for i in walk(big, rows="100", reusability=name)[0]}
           for name in ("open", "permission", "open,permission", "restricted")}
    assert ids["open"] == {europeana_id(c) for c in copies if c.license in OPEN}
    assert ids["permission"] == in_copyright
    assert ids["open,permission"] == {europeana_id(c) for c in copies}
    assert ids["restricted"] == set()
    both = {i["id"] for i in walk(big, rows="100", reusability=["open", "permission"])[0]}
    assert both == ids["open,permission"]


def test_qf_terms_select_by_type_and_painting_and_unknown_terms_are_ignored(demo_server,
                                                                         demo_collection):
    every = len(demo_collection.source_copies("europeana"))
    assert search(demo_server, qf=["TYPE:IMAGE", "proxy_dc_type.en:painting"]).json()[
        "totalResults"] == every
    assert search(demo_server, qf=['proxy_dc_type.en:"painting"', "COUNTRY:belgium"]).json()[
        "totalResults"] == every
    assert search(demo_server, qf="TYPE:SOUND").json()["totalResults"] == 0
    assert search(demo_server, qf="proxy_dc_type.en:photograph").json()["totalResults"] == 0
    title = demo_collection.artwork(demo_collection.source_copies("europeana")[0]).title
    named = search(demo_server, query=title).json()
    assert named["totalResults"] >= 1
    assert all(title.lower() in i["title"][0].lower() for i in named["items"])


def test_rows_are_capped_at_100_and_start_paging_stops_at_the_first_1000_results(big):
    assert search(big, rows="500").json()["itemsCount"] == 100
    assert search(big, start="901", rows="100").status_code == 200
    refused = search(big, start="902", rows="100")
    assert refused.status_code == 400 and list(refused.json()) == ERROR_KEYS
    assert refused.json()["code"] == "400-SL"
    assert "cursor-based pagination" in refused.json()["error"]
    assert search(big, start="5000", cursor="*").json()["code"] == "400-SD"


def test_a_cursor_that_does_not_decode_or_was_sent_unencoded_is_refused(demo_server):
    assert decode_cursor(encode_cursor(42)) == 42
    plus = next(encode_cursor(n) for n in range(1, 2000) if "+" in encode_cursor(n))
    raw = f"{search_url(demo_server)}?wskey=api2demo&query=*&cursor={plus}"  # "+" unencoded
    for answer in (requests.get(raw, timeout=10), search(demo_server, cursor="not-a-cursor"),
                   search(demo_server, cursor="QW9FAQ==")):
        assert answer.status_code == 400 and answer.json()["code"] == "400-SC"
    assert search(demo_server, cursor=plus).status_code == 200  # encoded: fine


def test_keys_come_in_the_header_or_as_wskey_and_others_are_refused_as_the_live_api_does(
        demo_server):
    url = search_url(demo_server)
    assert get(url, params={"query": "*"}, headers={"X-Api-Key": "api2demo"}).status_code == 200
    missing = get(url, params={"query": "*"})
    assert missing.status_code == 401
    assert missing.json() == {"success": False, "error": "Unauthorized",
                              "message": "Invalid API key provided!", "code": "invalid_apikey"}
    wrong = search(demo_server, wskey="not-registered")
    assert wrong.status_code == 401 and wrong.json()["code"] == "401_key_invalid"
    assert "not-registered" not in wrong.text


@pytest.mark.parametrize("params, status, error", [
    ({"query": None}, 400, "Required parameter 'query' missing"),
    ({"query": "  "}, 400, "Empty search query parameter"),
    ({"rows": "ten"}, 400, "For input string: \"ten\""),
])
def test_bad_parameters_are_400s_in_api2s_error_shape(demo_server, params, status, error):
    query = {"wskey": "api2demo", "query": "*", **params}
    answer = get(search_url(demo_server), params={k: v for k, v in query.items()
                                                   if v is not None})
    assert answer.status_code == status and error in answer.json()["error"]
    assert answer.json()["success"] is False


def test_the_spider_reads_every_record_the_emulator_lists_as_one_item(demo_server,
                                                                      demo_collection,
                                                                      tmp_path):
    """The spider's callbacks on the emulator's own pages (no reactor): each listed copy ends
    as one item with the copy's licence flag, and the listing ends without a failure."""
    spider = make_spider(EuropeanaSpider, tmp_path, {"page_size": 4, "reusability": ""},
                         api_root=demo_server.api_roots["europeana"])
    found, request = [], spider.page_request("*")
    while request is not None:
        answer = requests.get(request.url, timeout=10, headers={
            k.decode(): v[0].decode() for k, v in request.headers.items()})
        out = list(request.callback(TextResponse(
            request.url, status=answer.status_code, body=answer.content, encoding="utf-8",
            request=request), **request.cb_kwargs))
        found += items(out)
        (request,) = listing_requests(out) or [None]
    assert spider.state.listing_failures == 0
    copies = {c.source_id: c for c in demo_collection.source_copies("europeana")}
    assert sorted(i.source_id for i in found) == sorted(copies)
    assert {i.genre for i in found} - {None}, "the demo holds paintings of a genre"
    for item in found:
        copy = copies[item.source_id]
        assert item.is_public_domain_flag == copy.is_public_domain_flag, item.source_id
        assert item.object_type == "painting" and item.artist and item.title
        kind = demo_collection.artwork(copy).kind
        assert item.genre == (GENRES[kind][1] if kind in GENRES else None), item.source_id
        assert item.accession_number is None and item.movement is None
        assert item.image_url.endswith(f"/providers/{item.source_id.split(':')[0]}/"
                                       f"{copy.copy_id}.{copy.extension}")
        assert "api2demo" not in (item.raw_record or "") and "utm_" not in item.page_url


# --- the real format (tests/fixtures/real_api_formats.json, "europeana") ------------------------


def check_item(item: dict, real: dict) -> None:
    known = {*real["item_keys_recorded"], *real["item_keys_documented"],
             *real["item_keys_unverified"]}
    assert set(item) <= known, set(item) - known
    for key, kinds in real["item_types"].items():
        assert key not in item or of_kind(item[key], kinds), (key, item[key])
    assert item["type"] in real["types"]
    for key, value in item.items():
        if key.endswith("LangAware"):  # {"def"|"en"|...: [text, ...]}
            assert all(isinstance(k, str) and isinstance(v, list)
                       and all(isinstance(t, str) for t in v) for k, v in value.items()), key
        elif key in real["label_list_keys"]:  # [{"def": text}, ...]
            assert all(isinstance(label, dict) and all(isinstance(t, str)
                                                       for t in label.values())
                       for label in value), key
        elif key == "ugc":
            assert all(isinstance(v, bool) for v in value)
        elif isinstance(value, list):
            assert all(isinstance(v, str) for v in value), key
    for plain, twin in real["lang_aware_twins"].items():
        assert plain not in item or twin in item, twin


@pytest.mark.parametrize("profile", ["minimal", "standard", "rich"])
def test_search_answers_and_items_have_the_real_format(demo_server, profile):
    real = REAL["europeana"]
    body = search(demo_server, rows="20", cursor="*", profile=profile).json()
    assert list(body) == real["envelope_keys"]
    assert all(of_kind(body[k], kinds) for k, kinds in real["envelope_types"].items())
    assert body["itemsCount"] == len(body["items"]) > 0
    for item in body["items"]:
        check_item(item, real)
        if profile != "minimal":  # the recorded answers are of these profiles
            assert set(real["item_keys_obligatory"]) <= set(item)


def test_error_answers_have_the_real_api_error_format(demo_server):
    real = REAL["europeana"]
    for answer in (get(search_url(demo_server), params={"query": "*"}),  # no key: 401
                   search(demo_server, rows="ten"), search(demo_server, cursor="not-a-cursor")):
        assert answer.status_code in (400, 401)
        body = answer.json()
        assert body["success"] is False and set(real["error_keys_required"]) <= set(body)
        assert list(body) == [k for k in real["error_keys"] if k in body]  # api2's order
