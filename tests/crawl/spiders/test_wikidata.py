"""crawl.spiders.wikidata on small real-format answers of the Query Service, wbgetentities and the
Commons API: keyset listing pages, timed-out queries split in two, a painting's chain from its
id to its item (creators, dates, copyright status, the file's licence), missing and redirected
entities, missing files, maxlag and API errors; and any JSON in any field of a painting ends as
one row.

No network and no reactor: callbacks are called with hand-built responses, and the requests
they yield are answered the same way, by a small fake Wikimedia (``crawl``).
"""

from __future__ import annotations

import copy
import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import scrapy
from hypothesis import given
from hypothesis import strategies as st
from scrapy.http import TextResponse

from crawl import reasons
from crawl.spiders.wikidata import WikidataSpider
from crawl.wikibase import time_span
from curate.licence import LicenceRules, decide
from tests.crawl.spiders.helpers import (
    FUZZ,
    JSON_VALUES,
    items,
    listing_requests,
    make_spider,
    overrides,
    response,
    rows_written,
)

QUERY_SERVICE = "https://query.wikidata.org"
WIKIDATA = "https://www.wikidata.org"
UPLOAD = "https://upload.wikimedia.org/wikipedia/commons"
# Item ids Q1..Q1999 in two partitions, Q1..Q1000 and Q1001..Q1999.
CONFIG = {"max_item_id": 1999, "partition_ids": 1000, "min_partition_ids": 250,
          "languages": ["en"], "maxlag_retries": 2}
TRACE = ("SPARQL-QUERY: queryStr=SELECT DISTINCT ?item ?id WHERE {\n"
         "java.util.concurrent.TimeoutException\n"
         "\tat java.util.concurrent.FutureTask.get(FutureTask.java:205)\n"
         "\tat com.bigdata.rdf.sail.webapp.BigdataServlet.submitApiTask(BigdataServlet.java:292)\n")
LAGGED = {"error": {"code": "maxlag", "info": "Waiting for 10.64.48.35: 6 seconds lagged.",
                    "host": "10.64.48.35", "lag": 6, "type": "db",
                    "*": "See https://www.wikidata.org/w/api.php for API usage."},
          "servedby": "mw2291"}


def sparql(*numbers, rows=None) -> dict:
    bindings = rows if rows is not None else [
        {"item": {"type": "uri", "value": f"http://www.wikidata.org/entity/Q{n}"},
         "id": {"datatype": "http://www.w3.org/2001/XMLSchema#integer", "type": "literal",
                "value": str(n)}} for n in numbers]
    return {"head": {"vars": ["item", "id"]}, "results": {"bindings": bindings}}


# The Query Service streams results: past its deadline a 200 stops midway, the trace after it.
CUT_SHORT = json.dumps(sparql(5, 6), indent=2).split('"http://www.wikidata.org/entity/Q6"')[0] \
    + '"' + TRACE


def query_of(request) -> str:
    return parse_qs(urlsplit(request.url).query)["query"][0]


def bounds(request) -> tuple[int, int]:
    found = re.search(r"FILTER\(\?id >= (\d+) && \?id < (\d+)\)", query_of(request))
    assert (int(found[1]), int(found[2])) == (request.cb_kwargs["first"], request.cb_kwargs["end"])
    return int(found[1]), int(found[2])


def queries(output) -> list:
    return [r for r in listing_requests(output) if "/sparql?" in r.url]


def asked_ids(request) -> str:
    return parse_qs(urlsplit(request.url).query)["ids"][0]


# --- entities as wbgetentities returns them -----------------------------------------------------


def snak(prop: str, value=None, kind: str = "value") -> dict:
    if kind != "value":
        return {"snaktype": kind, "property": prop, "datatype": "wikibase-item"}
    if isinstance(value, dict):
        return {"snaktype": "value", "property": prop, "datatype": "time",
                "datavalue": {"value": value, "type": "time"}}
    if re.fullmatch(r"Q[0-9]+", value):
        return {"snaktype": "value", "property": prop, "datatype": "wikibase-item",
                "datavalue": {"value": {"entity-type": "item", "numeric-id": int(value[1:]),
                                        "id": value}, "type": "wikibase-entityid"}}
    return {"snaktype": "value", "property": prop, "datavalue": {"value": value, "type": "string"},
            "datatype": "commonsMedia" if prop == "P18" else "external-id"}


def claim(prop: str, value=None, kind: str = "value", **qualifiers) -> dict:
    statement = {"mainsnak": snak(prop, value, kind), "type": "statement", "rank": "normal",
                 "id": f"Q1$0000-{prop}"}
    if qualifiers:
        statement["qualifiers"] = {p: [snak(p, v)] for p, v in qualifiers.items()}
        statement["qualifiers-order"] = list(qualifiers)
    return statement


def year(number: int, precision: int = 9) -> dict:
    return {"time": f"+{number:04d}-00-00T00:00:00Z", "timezone": 0, "before": 0, "after": 0,
            "precision": precision, "calendarmodel": "http://www.wikidata.org/entity/Q1985727"}


def entity(qid: str, label: str, *statements) -> dict:
    claims = {}
    for statement in statements:
        claims.setdefault(statement["mainsnak"]["property"], []).append(statement)
    return {"type": "item", "id": qid, "labels": {"en": {"language": "en", "value": label}},
            "claims": claims}


STEEN = entity("Q205863", "Jan Steen", claim("P31", "Q5"), claim("P569", year(1626)),
               claim("P570", year(1679, precision=8)))  # died in the 1670s: 1679 at the latest
GENRE_ART, BAROQUE = entity("Q1047337", "genre art"), entity("Q37853", "Baroque")
PD_100 = claim("P6216", "Q19652", P1001="Q60332278")  # PD in "100 years pma or shorter"
FEAST = entity("Q100", "The Feast of Saint Nicholas", claim("P31", "Q3305213"),
               claim("P18", "Jan Steen - The Feast of Saint Nicholas.jpg"),
               claim("P170", "Q205863"),
               claim("P571", year(1665), P1319=year(1663), P1326=year(1668)), PD_100,
               claim("P136", "Q1047337"), claim("P135", "Q37853"), claim("P3634", "437749"),
               claim("P4610", "27992"), claim("P4683", "46345"))


def painting(qid: str, **claims) -> dict:
    """The Feast as item ``qid`` with a file of its own and ``claims`` instead of its own."""
    record = copy.deepcopy(FEAST)
    record["id"], record["labels"]["en"]["value"] = qid, f"Painting {qid}"
    record["claims"].update({"P18": [claim("P18", f"Painting {qid}.jpg")], **claims})
    return {**record, "claims": {p: s for p, s in record["claims"].items() if s}}


def file_page(title: str, pd: bool = True) -> dict:
    name = title.removeprefix("File:").replace(" ", "_")
    meta = {"LicenseShortName": "Public domain" if pd else "CC BY-SA 4.0",
            "License": "pd" if pd else "cc-by-sa-4.0", "Copyrighted": "False" if pd else "True",
            "Artist": '<bdi><a href="https://www.wikidata.org/wiki/Q205863">Jan Steen</a></bdi>'}
    return {"pageid": 4242, "ns": 6, "title": title, "imagerepository": "local", "imageinfo": [{
        "size": 5_000_000, "width": 4000, "height": 3000,
        "thumburl": f"{UPLOAD}/thumb/a/ab/{name}/1920px-{name}", "thumbwidth": 1920,
        "thumbheight": 1440, "url": f"{UPLOAD}/a/ab/{name}", "sha1": "0" * 40,
        "descriptionurl": f"https://commons.wikimedia.org/wiki/File:{name}", "mime": "image/jpeg",
        "extmetadata": {k: {"value": v, "source": "commons-desc-page", "hidden": ""}
                        for k, v in meta.items()}}]}


def world(*paintings, pd: bool = True) -> dict:
    """Entity id or file title -> what the APIs hold: the paintings, their people and files."""
    held = {e["id"]: e for e in (STEEN, GENRE_ART, BAROQUE, *paintings)}
    for record in paintings:
        for statement in record["claims"].get("P18", []):
            title = "File:" + statement["mainsnak"]["datavalue"]["value"]
            held[title] = file_page(title, pd)
    return held


def truth(request, held: dict) -> dict:
    asked = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
    if asked["action"] == "wbgetentities":
        return {"entities": {q: held.get(q, {"id": q, "missing": ""})
                             for q in asked["ids"].split("|")}, "success": 1}
    pages = [held.get(t, {"ns": 6, "title": t, "missing": True})
             for t in asked["titles"].split("|")]
    return {"batchcomplete": True, "query": {"pages": pages}}


def crawl(tmp_path, held: dict, numbers, lies: dict | None = None) -> tuple[dict, list]:
    """A listing page naming ``numbers``, then every API request answered from ``held`` (the
    n-th of a callback with ``lies[its name][n]`` where given) to the end of the chain:
    ({painting id: its one row}, the API requests asked)."""
    spider = make_spider(WikidataSpider, tmp_path, CONFIG, api_root=QUERY_SERVICE)
    (query,) = list(spider.next_partition())
    output = list(query.callback(response(query.url, sparql(*numbers), query), **query.cb_kwargs))
    found, asked, lies = items(output), [], {k: list(v) for k, v in (lies or {}).items()}
    todo = [r for r in listing_requests(output) if "/sparql?" not in r.url]
    while todo:
        request = todo.pop(0)
        asked.append(request)
        assert len(asked) < 50, "the chain does not end"
        name = request.callback.__name__
        body = lies[name].pop(0) if lies.get(name) else truth(request, held)
        headers = {"Retry-After": "6"} if isinstance(body, dict) and "error" in body else None
        out = list(request.callback(response(request.url, body, request, headers),
                                    **request.cb_kwargs))
        found += items(out)
        todo += listing_requests(out)
    rows = {i.source_id: i for i in found}
    assert len(rows) == len(found) == len(numbers), "one row per painting"
    return rows, asked


# --- the listing --------------------------------------------------------------------------------


def test_the_listing_reads_each_partition_in_keyset_pages_and_a_short_page_moves_on(tmp_path):
    spider = make_spider(WikidataSpider, tmp_path, {**CONFIG, "page_size": 2},
                         api_root=QUERY_SERVICE)
    (first,) = list(spider.next_partition())
    assert bounds(first) == (1, 1001) and first.headers["Accept"] == \
        b"application/sparql-results+json"
    first.meta["download_latency"] = 31.0  # past query_seconds_per_minute (30): pause
    out = list(first.callback(response(first.url, sparql(7, 3), first), **first.cb_kwargs))
    (details,) = [r for r in listing_requests(out) if r.url.startswith(WIKIDATA)]
    assert asked_ids(details) == "Q3|Q7"
    (second,) = queries(out)
    assert bounds(second) == (8, 1001)  # after the last id, not OFFSET 2
    assert second.meta["marcus_not_before"] > time.monotonic() + 55
    out = list(second.callback(response(second.url, sparql(12), second), **second.cb_kwargs))
    assert [asked_ids(r) for r in listing_requests(out) if r.url.startswith(WIKIDATA)] == ["Q12"]
    (third,) = queries(out)  # a short page: the partition is done
    assert bounds(third) == (1001, 2000)
    out = list(third.callback(response(third.url, sparql(), third), **third.cb_kwargs))
    assert out == [] and spider.state.listing_failures == 0
    for request in (first, second, third):
        assert "OFFSET" not in query_of(request) and "ORDER BY ?id\nLIMIT 2" in query_of(request)
        assert "VALUES ?class { wd:Q3305213 }" in query_of(request)


@pytest.mark.parametrize("status, body", [(500, TRACE), (200, CUT_SHORT)],
                         ids=["500 TimeoutException", "200 cut short with the trace"])
def test_a_timed_out_query_is_asked_as_two_halves_down_to_min_partition_ids(tmp_path, status,
                                                                            body):
    spider = make_spider(WikidataSpider, tmp_path, CONFIG, api_root=QUERY_SERVICE)

    def answer(request, answer_body, answer_status=200):
        data = answer_body.encode() if isinstance(answer_body, str) else json.dumps(answer_body)
        page = TextResponse(request.url, status=answer_status, body=data, encoding="utf-8",
                            request=request)
        out = list(request.callback(page, **request.cb_kwargs))
        assert items(out) == [] and not any("/w/api.php" in r.url for r in out)
        (following,) = out
        return following

    (query,) = list(spider.next_partition())
    query = answer(query, body, status)
    assert bounds(query) == (1, 501)  # the first half; the second comes after it
    assert bounds(query := answer(query, sparql())) == (501, 1001)
    assert bounds(query := answer(query, body, status)) == (501, 751)
    assert spider.state.listing_failures == 0
    assert bounds(query := answer(query, body, status)) == (751, 1001)  # 250 ids: no split
    assert spider.state.listing_failures == 1
    assert bounds(answer(query, sparql())) == (1001, 2000)


@pytest.mark.parametrize("body", [
    sparql(5, 1500),  # Q1500 is not in Q1..Q1000
    sparql(rows=[{"item": {"type": "uri",
                           "value": "http://www.wikidata.org/.well-known/genid/8f2c"}}]),
    sparql(rows=[{"item": {"type": "bnode", "value": "t1"}}]),
    sparql(rows=[{"id": {"type": "literal", "value": "5"}}]), sparql(rows=["Q5"]),
    {"head": {"vars": []}, "boolean": True},
    *[{"head": {"vars": ["item", "id"]}, "results": results}
      for results in (None, [], "bindings")]],
    ids=["outside", "genid", "bnode", "no item", "a string", "no results", "results null",
         "results a list", "results a string"])
def test_rows_outside_the_range_or_naming_no_item_are_a_broken_listing_not_records(tmp_path,
                                                                                   body):
    spider = make_spider(WikidataSpider, tmp_path, CONFIG, api_root=QUERY_SERVICE)
    (query,) = list(spider.next_partition())
    out = list(query.callback(response(query.url, body, query), **query.cb_kwargs))
    (following,) = out  # no records, no wbgetentities: the next partition
    assert bounds(following) == (1001, 2000) and spider.state.listing_failures == 1


# --- paintings, people, files -------------------------------------------------------------------


def test_a_painting_becomes_an_item_with_its_creator_dates_status_genre_and_museum_ids(tmp_path):
    rows, asked = crawl(tmp_path, world(FEAST), [100])
    paintings, people, files = asked
    assert asked_ids(paintings) == "Q100" and asked_ids(people) == "Q205863|Q1047337|Q37853"
    params = parse_qs(urlsplit(paintings.url).query)
    assert params["props"] == ["labels|claims"] and params["maxlag"] == ["5"]
    assert parse_qs(urlsplit(files.url).query)["titles"] == [
        "File:Jan Steen - The Feast of Saint Nicholas.jpg"]
    item = rows["Q100"]
    assert (item.status, item.page_url) == ("pending", f"{WIKIDATA}/wiki/Q100")  # image next
    assert item.image_url == (f"{UPLOAD}/thumb/a/ab/Jan_Steen_-_The_Feast_of_Saint_Nicholas.jpg"
                              "/1920px-Jan_Steen_-_The_Feast_of_Saint_Nicholas.jpg")
    assert (item.title, item.artist, item.attribution_qualifier) == (
        "The Feast of Saint Nicholas", "Jan Steen", None)
    assert (item.artist_birth_year, item.artist_death_year) == (1626, 1679)  # died 1670s
    assert (item.date_start, item.date_end, item.date_text) == (
        1663, 1668, "1665 (between 1663 and 1668)")
    assert (item.license, item.is_public_domain_flag) == ("PD", True)
    assert json.loads(item.license_raw)["P6216"] == [{"status": "Q19652",
                                                      "jurisdictions": ["Q60332278"]}]
    assert (item.genre, item.movement) == ("genre art", "Baroque")
    assert item.same_as == "met:437749|aic:27992|nga:46345"
    assert (item.object_type, item.object_type_raw) == ("painting", "Q3305213")


def test_inventory_numbers_in_crawled_collections_become_accession_links(tmp_path):
    # Cleveland (Q657415) has no object-id property: P217 qualified by the collection is the
    # link; a number at a museum we do not crawl (the Louvre, Q19675) is none.
    record = painting("Q101", P217=[claim("P217", "1958.31", P195="Q657415"),
                                   claim("P217", "INV 1234", P195="Q19675"),
                                   claim("P217", "1929.6.75", P195="Q1192305")])
    rows, _ = crawl(tmp_path, world(record), [101])
    assert rows["Q101"].same_as == ("met:437749|aic:27992|nga:46345|cleveland:accession:1958.31"
                                    "|smithsonian:accession:1929.6.75")


def test_workshop_of_a_master_names_him_and_an_anonymous_hand_names_nobody(tmp_path):
    workshop = painting("Q200", P170=[claim("P170", kind="somevalue", P3831="Q4233718",
                                            P1774="Q205863")])
    anonymous = painting("Q201", P170=[claim("P170", kind="somevalue", P3831="Q4233718")])
    rows, _ = crawl(tmp_path, world(workshop, anonymous), [200, 201])
    master, nobody = rows["Q200"], rows["Q201"]
    assert (master.artist, master.attribution_qualifier, master.artist_death_year) == (
        "Jan Steen", "workshop of", 1679)
    assert (nobody.artist, nobody.attribution_qualifier, nobody.artist_death_year) == (
        None, None, None)


@pytest.mark.parametrize("status, pd_file, licence, fetched", [
    ([claim("P6216", "Q50423863")], True, "copyrighted", False),
    ([claim("P6216", "Q19652", P1001="Q30")], True, "copyrighted", False),  # PD in the US only
    ([], False, "CC-BY-SA", False), ([], True, "PD", True),  # no P6216: the file's licence
], ids=["copyrighted", "pd only in the US", "no status, cc-by-sa file", "no status, pd file"])
def test_the_copyright_status_overrules_a_pd_file_and_without_one_the_file_decides(
        tmp_path, status, pd_file, licence, fetched):
    rows, _ = crawl(tmp_path, world(painting("Q300", P6216=status), pd=pd_file), [300])
    item = rows["Q300"]
    assert (item.license, item.is_public_domain_flag) == (licence, fetched)
    if fetched:
        assert item.status == "pending" and item.image_url.startswith(UPLOAD)
    else:
        assert (item.status, item.reason) == ("metadata_only", reasons.NOT_PUBLIC_DOMAIN)


def test_a_missing_entity_is_a_rejected_row_and_a_redirected_id_is_found_by_the_asked_id(
        tmp_path):
    held = world(painting("Q302"), painting("Q999"))
    held["Q301"] = {**held["Q999"], "redirects": {"from": "Q301", "to": "Q999"}}
    rows, _ = crawl(tmp_path, held, [300, 301, 302])
    assert (rows["Q300"].status, rows["Q300"].reason, rows["Q300"].page_url) == (
        "rejected", reasons.BAD_RECORD, f"{WIKIDATA}/wiki/Q300")
    assert (rows["Q301"].status, rows["Q301"].title) == ("pending", "Painting Q999")
    assert rows["Q302"].status == "pending"


def test_a_missing_commons_file_is_a_no_image_url_row_with_the_items_evidence(tmp_path):
    held = world(painting("Q400"), painting("Q401"))
    del held["File:Painting Q400.jpg"]  # deleted on Commons: {"title": ..., "missing": true}
    rows, _ = crawl(tmp_path, held, [400, 401])
    gone = rows["Q400"]
    assert (gone.status, gone.reason) == ("rejected", reasons.NO_IMAGE_URL)
    assert (gone.title, gone.artist, gone.artist_death_year) == ("Painting Q400", "Jan Steen",
                                                                 1679)
    assert "File:Painting Q400.jpg" in gone.error and gone.raw_record
    assert rows["Q401"].status == "pending"


# --- failures -----------------------------------------------------------------------------------


def test_maxlag_asks_the_same_again_and_a_batch_still_lagged_ends_as_failed_rows(tmp_path):
    held = world(painting("Q501"), painting("Q502"))  # Q500 is missing: rejected before
    rows, asked = crawl(tmp_path, held, [500, 501, 502], lies={"parse_people": [LAGGED] * 3})
    paintings, people, again, last = asked
    assert again.url == people.url and again.callback == people.callback
    assert again.cb_kwargs["batch"] is people.cb_kwargs["batch"] and again.dont_filter
    assert again.meta["marcus_lagged"] == 1 and last.meta["marcus_lagged"] == 2
    assert again.meta["marcus_not_before"] > time.monotonic() + 5  # Retry-After: 6
    assert rows["Q500"].status == "rejected"
    for qid in ("Q501", "Q502"):  # the third "lagged" (maxlag_retries 2): failed, none lost
        assert (rows[qid].status, rows[qid].reason) == ("failed", reasons.HTTP_ERROR)
        assert "maxlag" in rows[qid].error


@pytest.mark.parametrize("stage", ["parse_paintings", "parse_people", "parse_files"])
@pytest.mark.parametrize("body", [
    {"error": {"code": "internal_api_error_DBQueryError", "info": "[a1b2] Database error"}},
    b"<!DOCTYPE html><html><head><title>Wikimedia Error</title></head></html>",
    b'{"entities": {"Q601": {"type": "item", "id"', [], "success"],
    ids=["API error", "HTML", "cut short", "a list", "a string"])
def test_an_api_error_or_no_json_object_ends_every_painting_of_the_batch_as_a_failed_row(
        tmp_path, stage, body):
    held = world(painting("Q601"), painting("Q602"))
    rows, _ = crawl(tmp_path, held, [601, 602], lies={stage: [body]})
    for qid in ("Q601", "Q602"):
        assert (rows[qid].status, rows[qid].reason) == ("failed", reasons.BAD_RECORD)


@pytest.mark.parametrize("stage, body", [("parse_paintings", {"success": 1}),
                                         ("parse_people", {"success": 1}),
                                         ("parse_files", {"batchcomplete": True})])
def test_an_answer_holding_no_entities_or_pages_fails_the_batch(tmp_path, stage, body):
    rows, _ = crawl(tmp_path, world(painting("Q1"), painting("Q2")), [1, 2], lies={stage: [body]})
    assert {(r.status, r.reason) for r in rows.values()} == {("failed", reasons.BAD_RECORD)}


@pytest.mark.parametrize("image, pages, normalized", [
    ("\ud800.jpg", [], []), ("Painting Q1.jpg", [{"ns": 6, "title": ["x"], "missing": True}], []),
    ("Painting Q1.jpg", [], [{"from": "File:Painting Q1.jpg", "to": ["x"]}])],
    ids=["surrogate in P18", "title a list", "normalized to a list"])
def test_odd_file_titles_lose_no_row(tmp_path, image, pages, normalized):
    held = world(painting("Q1", P18=[claim("P18", image)]), painting("Q2"))
    files = {"batchcomplete": True, "query": {"normalized": normalized, "pages": pages}}
    rows, _ = crawl(tmp_path, held, [1, 2], lies={"parse_files": [files]})
    assert set(rows) == {"Q1", "Q2"}


SNAK = FEAST["claims"]["P170"][0]["mainsnak"]
KEEP = object()


@FUZZ
@given(fields=overrides(FEAST), prop=st.sampled_from(sorted(FEAST["claims"])),
       statement=overrides({"mainsnak": 1, "rank": 1, "qualifiers": 1, "type": 1}),
       mainsnak=overrides(SNAK), value=st.just(KEEP) | JSON_VALUES, person=overrides(STEEN),
       when=overrides(year(1665)))
def test_any_json_in_any_field_of_a_painting_ends_as_one_row_per_painting_that_parquet_holds(
        tmp_path, fields, prop, statement, mainsnak, value, person, when):
    fuzzed = painting("Q1", P571=[claim("P571", {**year(1665), **when}, P1326={**year(1668),
                                                                                **when})])
    fuzzed.update(copy.deepcopy(fields))
    held = world(painting("Q1"), painting("Q2"))
    claims = fuzzed.get("claims")
    if isinstance(claims, dict) and isinstance(claims.get(prop), list) and claims[prop]:
        first = claims[prop][0] = {**claims[prop][0], **statement}
        if isinstance(first.get("mainsnak"), dict):
            first["mainsnak"] = {**first["mainsnak"], **mainsnak}
            if value is not KEEP:
                first["mainsnak"]["datavalue"] = {"value": value, "type": "string"}
    held["Q1"], held["Q205863"] = fuzzed, {**STEEN, **person}
    rows, _ = crawl(tmp_path, held, [1, 2])
    assert set(rows) == {"Q1", "Q2"} and len(rows_written(list(rows.values()), tmp_path)) == 2


def test_a_500_that_is_no_timeout_is_retried_by_the_middleware_and_a_timeout_is_not(tmp_path):
    from crawl.middlewares import PoliteRetryMiddleware

    spider = make_spider(WikidataSpider, tmp_path, CONFIG, api_root=QUERY_SERVICE)
    spider.crawler.spider = spider
    middleware = PoliteRetryMiddleware(spider.crawler)
    (query,) = list(spider.next_partition())
    page = b"<html><body>Down for maintenance</body></html>"
    again = middleware.process_response(
        query, TextResponse(query.url, status=500, body=page, request=query))
    assert isinstance(again, scrapy.Request) and again.url == query.url
    assert again.meta["retry_times"] == 1 and again.meta["marcus_not_before"] > 0
    timed_out = TextResponse(query.url, status=500, body=TRACE.encode(), request=query)
    assert middleware.process_response(query, timed_out) is timed_out  # the spider splits it


def test_a_500_left_after_every_retry_fails_the_partition_and_the_next_one_is_asked(tmp_path):
    spider = make_spider(WikidataSpider, tmp_path, CONFIG, api_root=QUERY_SERVICE)
    (query,) = list(spider.next_partition())
    page = b"<html><body>Down for maintenance</body></html>"
    out = list(query.callback(TextResponse(query.url, status=500, body=page, request=query),
                              **query.cb_kwargs))
    (next_partition,) = out  # a listing failure, and the next partition
    assert "FILTER(?id >= 1001 && ?id < 2000)" in parse_qs(urlsplit(next_partition.url).query)[
        "query"][0]
    assert spider.state.listing_failures == 1


def test_an_answer_over_max_bytes_is_asked_in_halves_down_to_the_one_item_it_rejects(tmp_path):
    from scrapy.exceptions import DownloadCancelledError
    from twisted.python.failure import Failure

    from crawl.spiders.wikidata import Batch

    spider = make_spider(WikidataSpider, tmp_path, CONFIG, api_root=QUERY_SERVICE)

    def too_large(request):
        failure = Failure(DownloadCancelledError())
        failure.request = request
        return list(request.errback(failure))

    three = spider.entities_request(["Q1", "Q2", "Q3"], spider.parse_paintings,
                                    Batch(["Q1", "Q2", "Q3"]))
    one, two = too_large(three)
    assert (one.cb_kwargs["ids"], two.cb_kwargs["ids"]) == (["Q1"], ["Q2", "Q3"])
    (row,) = too_large(one)  # one item is that large by itself: it stays that large
    assert (row.source_id, row.status, row.reason) == ("Q1", "rejected", "too_large")
    assert "max_bytes" in row.error


def test_classes_that_are_no_item_ids_are_refused_before_any_work(tmp_path):
    from crawl.run import crawl
    from marcus.errors import UserError
    from tests.projects import PARAMS

    config = {**PARAMS["crawl"]["sources"]["wikidata"], "classes": ["painting"]}
    with pytest.raises(UserError, match="Q3305213"):
        crawl("wikidata", tmp_path / "out", QUERY_SERVICE, PARAMS["crawl"], config)
    assert not (tmp_path / "out").exists()


RULES = LicenceRules(current_year=2026, min_years_since_death=71, undated_min_age_years=170)


@FUZZ
@given(death=st.integers(1800, 2000), precision=st.sampled_from([7, 8, 9, 10, 11]),
       wrong=st.integers(1800, 2000), how=st.sampled_from(["deprecated", "preferred", "none"]),
       created=st.integers(1600, 1990), status=st.sampled_from([None, "pd", "pd_us", "c"]))
def test_the_licence_gate_on_wikidata_evidence_never_passes_a_possibly_recent_death(
        tmp_path, death, precision, wrong, how, created, status):
    """Whatever the precision and ranks of the painter's death date, a painting passes the gate
    only when every year that date allows is at least 71 years ago, and the item's own copyright
    statement can only take the flag away."""
    deaths = [claim("P570", {**year(death, precision)},)]
    if how == "deprecated":  # a wrong date known to be wrong: never counts
        deaths.append({**claim("P570", year(wrong)), "rank": "deprecated"})
    elif how == "preferred":  # the better-sourced date wins over the other
        deaths = [{**deaths[0], "rank": "preferred"}, claim("P570", year(wrong))]
    painter = entity("Q205863", "Jan Steen", claim("P31", "Q5"), *deaths)
    statuses = {None: [], "pd": [PD_100], "pd_us": [claim("P6216", "Q19652", P1001="Q30")],
                "c": [claim("P6216", "Q50423863")]}[status]
    held = world(painting("Q1", P571=[claim("P571", year(created))], P6216=statuses))
    held["Q205863"] = painter
    rows, _ = crawl(tmp_path, held, [1])
    row = rows["Q1"]
    verdict = decide(row.license, row.is_public_domain_flag, row.artist_death_year,
                     row.date_end, row.attribution_qualifier, RULES)
    span = time_span(year(death, precision))
    latest_death = span.last if span else None
    if verdict.passes:
        assert latest_death is not None and latest_death <= 2026 - 71
        assert status in (None, "pd")
    elif latest_death is not None and latest_death <= 2026 - 71 and status in (None, "pd"):
        raise AssertionError(f"a painter dead by {latest_death} at the latest was refused: "
                             f"{verdict.rule}")
