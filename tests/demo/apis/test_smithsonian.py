"""demo.apis.smithsonian speaks the Smithsonian Open Access API behind api.data.gov: search rows in
their real shape, start/rows paging that covers every record once, the fielded terms of q, the key
(missing or invalid: a 403 in api.data.gov's shape), EDAN's own errors, /content, and the IDS
image delivery scaled to max, for CC0 media only; subject topics and the "Object number" in the
real shape, which the spider reads back as genre and accession number.

Reference formats: demo/FORMATS.md ("Smithsonian Open Access"), from the API's published
documentation and recorded real rows.
"""

import json

import pytest
from scrapy.http import TextResponse

from crawl.spiders.smithsonian import SmithsonianSpider
from demo.apis import SUBJECTS
from demo.apis.smithsonian import ids_id, record_id
from demo.apis.wikidata import GENRES, INVENTORY_OF
from tests.crawl.spiders.helpers import items, listing_requests, make_spider
from tests.demo.apis.helpers import REAL, get, image_size, of_kind

KEY = {"api_key": "DEMO_KEY"}
ROW_KEYS = ["id", "title", "unitCode", "type", "url", "content", "hash", "docSignature",
            "timestamp", "lastTimeUpdated", "version"]
DESCRIBED_KEYS = {"record_ID", "online_media", "unit_code", "title_sort", "title",
                  "metadata_usage", "data_source", "record_link", "guid"}


def search(root, **params):
    answer = get(f"{root}/search", params={**KEY, **params})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_search_rows_have_the_real_shape_and_usage_decides_what_is_downloadable(
        demo_server, demo_collection):
    root = demo_server.api_roots["smithsonian"]
    body = search(root, q="online_media_type:Images", rows="100")
    assert list(body) == ["status", "responseCode", "response"]
    assert (body["status"], body["responseCode"]) == (200, 1)
    assert list(body["response"]) == ["rows", "rowCount", "message"]
    copies = {c.source_id: c for c in demo_collection.source_copies("smithsonian")}
    assert body["response"]["rowCount"] == len(copies) == len(body["response"]["rows"])
    flags = set()
    for row in body["response"]["rows"]:
        copy = copies[row["id"]]
        assert list(row) == ROW_KEYS and row["url"] == f"edanmdm:{record_id(copy)}"
        content = row["content"]
        assert list(content) == ["descriptiveNonRepeating", "indexedStructured", "freetext"]
        described = content["descriptiveNonRepeating"]
        assert set(described) == DESCRIBED_KEYS and described["record_ID"] == record_id(copy)
        for entries in content["freetext"].values():
            assert all(list(e) == ["label", "content"] for e in entries)
        artwork, artist = demo_collection.artwork(copy), demo_collection.artist(copy)
        assert content["freetext"]["date"] == [{"label": "Date", "content": artwork.date_text}]
        line = content["freetext"]["name"][0]["content"]
        assert artist.name in line
        assert artist.birth_year is None or f"born {artist.birth_place} {artist.birth_year}-died" \
            in line
        assert f"{artwork.date_start // 10 * 10}s" in content["indexedStructured"]["date"]
        (media,) = described["online_media"]["media"]
        assert described["online_media"]["mediaCount"] == 1 and media["type"] == "Images"
        cc0 = copy.is_public_domain_flag
        flags.add(cc0)
        expected = "CC0" if cc0 else "Usage conditions apply"
        assert media["usage"] == described["metadata_usage"] == {"access": expected}
        assert media["idsId"] == ids_id(copy)
        if cc0:
            assert media["content"] == f"{root}/ids/deliveryService?id={ids_id(copy)}"
            assert media["thumbnail"].endswith("&max=150")
            original = get(media["resources"][0]["url"])
            assert original.content == demo_collection.original(copy)
        else:  # nothing downloadable, as the real API
            assert not {"content", "thumbnail", "resources"} & set(media)
    assert flags == {True, False}, "the test collection holds both kinds"


def test_start_and_rows_cover_every_record_once(demo_server, demo_collection):
    root = demo_server.api_roots["smithsonian"]
    total = search(root, q="*", rows="0")["response"]["rowCount"]
    ids = []
    for start in range(0, total, 3):
        ids += [r["id"] for r in search(root, q="*", start=str(start), rows="3",
                                        sort="id")["response"]["rows"]]
    expected = [c.source_id for c in demo_collection.source_copies("smithsonian")]
    assert ids == sorted(expected) == expected
    assert search(root, start=str(total))["response"]["rows"] == []
    assert len(search(root, rows="5000")["response"]["rows"]) == min(10, total)  # out of range


def test_the_fielded_terms_of_q_select_object_types_usage_and_media(demo_server,
                                                                    demo_collection):
    root = demo_server.api_roots["smithsonian"]
    copies = demo_collection.source_copies("smithsonian")

    def found(q):
        return {r["id"] for r in search(root, q=q, rows="1000")["response"]["rows"]}

    paintings = {c.source_id for c in copies
                 if demo_collection.artwork(c).object_type == "painting"}
    assert paintings and found("object_type:Paintings AND online_media_type:Images") == paintings
    assert found('object_type:"paintings"') == paintings
    assert found("NOT object_type:Paintings") == {c.source_id for c in copies} - paintings
    cc0 = {c.source_id for c in copies if c.is_public_domain_flag}
    assert found("media_usage:CC0") == cc0
    assert found("media_usage:CC0 OR object_type:Paintings") == cc0 | paintings
    assert found("mountains AND topic:Landscapes") == {c.source_id for c in copies}  # ignored
    assert found("online_media_type:Sound recordings") == set()
    assert search(root, type="ead_collection")["response"] == {
        "rows": [], "rowCount": 0, "message": "content found"}


def test_a_missing_or_invalid_key_is_a_403_in_api_data_gov_shape(demo_server):
    root = demo_server.api_roots["smithsonian"]
    missing = get(f"{root}/search", params={"q": "*"})
    assert missing.status_code == 403
    assert missing.json() == {"error": {"code": "API_KEY_MISSING", "message": "No api_key was "
                                        "supplied. Get one at https://api.data.gov:443"}}
    invalid = get(f"{root}/search", params={"q": "*", "api_key": "not-a-key"})
    assert invalid.status_code == 403 and invalid.json()["error"]["code"] == "API_KEY_INVALID"
    header = get(f"{root}/search", headers={"X-Api-Key": "a" * 40})
    assert header.status_code == 200 and header.json()["responseCode"] == 1
    assert get(f"{root}/content/x").status_code == 403  # every API route wants the key


@pytest.mark.parametrize("params", [{"start": "-1"}, {"rows": "ten"}, {"sort": "title"},
                                    {"row_group": "people"}])
def test_bad_parameters_are_edan_400s(demo_server, params):
    root = demo_server.api_roots["smithsonian"]
    answer = get(f"{root}/search", params={**KEY, **params})
    assert answer.status_code == 400
    body = answer.json()
    assert (body["status"], body["responseCode"]) == (400, 0)
    assert body["response"] == {"error": "bad request: one of your params did not pass "
                                         "validation"}


def test_content_answers_by_row_id_or_url_and_category_search_works(demo_server,
                                                                    demo_collection):
    root = demo_server.api_roots["smithsonian"]
    copy = demo_collection.source_copies("smithsonian")[0]
    by_id = get(f"{root}/content/{copy.source_id}", params=KEY).json()
    by_url = get(f"{root}/content/edanmdm%3A{record_id(copy)}", params=KEY).json()
    assert by_id == by_url and by_id["response"]["id"] == copy.source_id
    assert list(by_id) == ["status", "responseCode", "response", "message"]
    missing = get(f"{root}/content/edanmdm-nope", params=KEY)
    assert missing.status_code == 404 and missing.json()["responseCode"] == 0
    category = get(f"{root}/category/art_design/search", params={**KEY, "rows": "100"}).json()
    assert category["response"]["rowCount"] == len(demo_collection.source_copies("smithsonian"))
    assert get(f"{root}/category/cooking/search", params=KEY).status_code == 400


def test_ids_delivery_scales_to_max_and_serves_cc0_images_only(demo_server, demo_collection):
    root = demo_server.api_roots["smithsonian"]
    copies = demo_collection.source_copies("smithsonian")
    open_copy = next(c for c in copies if c.is_public_domain_flag)
    closed = next(c for c in copies if not c.is_public_domain_flag)
    delivery = f"{root}/ids/deliveryService"
    width, height = demo_collection.size(open_copy)
    full = get(delivery, params={"id": ids_id(open_copy)})
    assert full.status_code == 200 and full.content == demo_collection.original(open_copy)
    small = get(delivery, params={"id": ids_id(open_copy), "max": "150"})
    assert max(image_size(small)) == 150 and small.headers["Content-Type"] == "image/jpeg"
    big = get(delivery, params={"id": ids_id(open_copy), "max": str(max(width, height) + 10)})
    assert big.content == demo_collection.original(open_copy)  # never scaled up
    assert get(delivery, params={"id": ids_id(closed)}).status_code == 404
    assert get(delivery, params={"id": "SAAM-nothing_1"}).status_code == 404


def test_topics_and_the_object_number_come_in_the_real_shape(demo_server, demo_collection):
    """indexedStructured.topic is a list of subject terms, left out when there are none (EDAN
    omits empty fields); freetext.identifier is [{"label": "Object number", "content": N}] as
    in EDAN's documented example row, N being the number Wikidata's P217 gives the work."""
    root = demo_server.api_roots["smithsonian"]
    rows = search(root, q="online_media_type:Images", rows="1000")["response"]["rows"]
    copies = {c.source_id: c for c in demo_collection.source_copies("smithsonian")}
    with_topic = 0
    for row in rows:
        copy = copies[row["id"]]
        artwork = demo_collection.artwork(copy)
        indexed, freetext = row["content"]["indexedStructured"], row["content"]["freetext"]
        subjects = list(SUBJECTS.get(artwork.kind, ()))
        assert indexed.get("topic") == (subjects or None)
        assert all(isinstance(t, str) for t in indexed.get("topic", []))
        with_topic += bool(subjects)
        number = record_id(copy).split("_", 1)[-1]
        assert freetext["identifier"] == [{"label": "Object number", "content": number}]
        assert INVENTORY_OF["smithsonian"](copy)[0] == number
    assert with_topic > 0


def test_the_spider_reads_genre_and_accession_number_from_the_demo_rows(
        demo_server, demo_collection, tmp_path):
    """The spider's callbacks on the emulator's search pages (no reactor): each row ends as one
    item with the painting's genre and the object number the demo prints."""
    root = demo_server.api_roots["smithsonian"]
    spider = make_spider(SmithsonianSpider, tmp_path, {"api_key": None, "page_size": 7,
                                                       "query": "online_media_type:Images"},
                         api_root=root)
    found, request = [], spider.page_request(0)
    while request is not None:
        answer = get(request.url, headers={  # the spider's own key header (DEMO_KEY here)
            k.decode(): v[0].decode() for k, v in request.headers.items()})
        page = TextResponse(request.url, status=answer.status_code, body=answer.content,
                            encoding="utf-8", request=request)
        out = list(request.callback(page, **request.cb_kwargs))
        found += items(out)
        (request,) = listing_requests(out) or [None]
    assert spider.state.listing_failures == 0
    copies = {c.source_id: c for c in demo_collection.source_copies("smithsonian")}
    assert sorted(i.source_id for i in found) == sorted(copies)
    for item in found:
        copy = copies[item.source_id]
        artwork = demo_collection.artwork(copy)
        assert item.accession_number == record_id(copy).split("_", 1)[-1]
        assert item.genre == (GENRES[artwork.kind][1] if artwork.kind in GENRES else None)
        assert item.movement is None
        assert json.loads(item.raw_record)["content"]["freetext"]["identifier"]
    assert {i.genre for i in found} - {None}


# --- the real format (tests/fixtures/real_api_formats.json, "smithsonian") ----------------------


def check_row(row: dict, real: dict, seen: set) -> None:
    assert list(row) == real["row_keys"]
    assert all(of_kind(row[k], kinds) for k, kinds in real["row_types"].items()), row["id"]
    content = row["content"]
    assert list(content) == real["content_sections"]
    described = content["descriptiveNonRepeating"]
    assert set(described) <= set(real["descriptive_non_repeating_keys"])
    assert list(described["title"]) == real["descriptive_title_keys"]
    assert list(described["metadata_usage"]) == real["usage_keys"]
    if "online_media" in described:
        online = described["online_media"]
        assert list(online) == real["online_media_keys"]
        assert online["mediaCount"] == len(online["media"])
        for media in online["media"]:
            assert set(real["media_keys_required"]) <= set(media) <= set(
                real["media_keys_downloadable"])
            assert list(media["usage"]) == real["usage_keys"]
            for resource in media.get("resources", []):
                seen.add("resources")
                assert set(real["resource_keys_required"]) <= set(resource) <= {
                    *real["resource_keys_required"], *real["resource_keys_optional"]}
    indexed = content["indexedStructured"]
    assert set(indexed) <= set(real["indexed_structured_keys"])
    assert all(isinstance(values, list) for values in indexed.values())
    freetext = content["freetext"]
    assert set(freetext) <= set(real["freetext_keys"])
    for entries in freetext.values():
        assert all(list(entry) == real["freetext_entry_keys"] for entry in entries)


def test_search_rows_content_and_errors_have_the_real_edan_format(demo_server):
    real = REAL["smithsonian"]
    root = demo_server.api_roots["smithsonian"]
    body = search(root, q="*", rows="100")
    assert list(body) == real["search_keys"]
    assert of_kind(body["status"], "int") and of_kind(body["responseCode"], "int")
    response = body["response"]
    assert list(response) == real["search_response_keys"]
    assert of_kind(response["rowCount"], "int") and isinstance(response["message"], str)
    seen: set = set()
    for row in response["rows"]:
        check_row(row, real, seen)
    assert seen == {"resources"}
    content = get(f"{root}/content/{response['rows'][0]['id']}", params=KEY).json()
    assert list(content) == real["content_keys"]
    check_row(content["response"], real, seen)
    missing = get(f"{root}/content/edanmdm-nope", params=KEY).json()
    assert list(missing) == real["error_keys"] and list(missing["response"]) == ["error"]
