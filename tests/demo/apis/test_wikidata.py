"""demo.apis.wikidata speaks Wikidata: the Query Service's SPARQL JSON for the spider's listing
query (with its timeouts and 429s), wbgetentities in the Wikibase JSON format (with maxlag),
and the items' P18 files through the Commons API, all stating what the catalogue holds.

Two servers: the shared small demo collection (stored files, ground_truth.parquet), and a
catalogue-only one of 1000 artworks (no image bytes) with enough items for timeouts, deleted
files, every attribution qualifier and every way an artist's death date is written. Its
collection is fresh, so its once-only refusals are not used up by other tests.
"""

import json
from pathlib import Path

import pandas as pd
import pytest

from crawl import wikibase
from crawl.spiders.wikidata import QUERY
from demo.apis import wikidata
from demo.build import ground_truth
from tests.demo.apis.helpers import REAL, catalogue_server, get, image_size, of_kind

ALL = (1, 140_000_000)
DENSE = (18_000_000, 18_200_000)
XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"
MUSEUM_PROPS = {"met": "P3634", "aic": "P4610", "nga": "P4683", "europeana": "P727"}
COLLECTIONS = {"Q657415": "cleveland", "Q1192305": "smithsonian", "Q160236": "met"}


@pytest.fixture(scope="module")
def big(tmp_path_factory, demo_root):
    with catalogue_server(tmp_path_factory.mktemp("wikidata") / "collection", demo_root) as server:
        yield server


def truth_of(server, demo_root: Path) -> pd.DataFrame:
    collection = server.collection
    if collection.root == demo_root:
        truth = pd.read_parquet(demo_root / "ground_truth.parquet")
    else:  # the catalogue-only collection: the same table, without stored files
        files = pd.read_parquet(demo_root / "files.parquet").iloc[:0]
        truth = ground_truth(collection.catalog, files).to_pandas()
    return truth[truth["source"] == "wikidata"].set_index("source_id")


def root_of(server) -> str:
    return server.api_roots["wikidata"]


def sparql(server, first, end, limit=2000, classes="wd:Q3305213", retry_429=True):
    query = QUERY.format(classes=classes, first=first, end=end, limit=limit)
    response = get(root_of(server) + "/sparql", params={"query": query, "format": "json"})
    if response.status_code == 429 and retry_429:  # refused once: asked again, answered
        response = get(root_of(server) + "/sparql", params={"query": query, "format": "json"})
    return response


def entities(server, ids, **params):
    return get(root_of(server) + "/w/api.php", params={
        "action": "wbgetentities", "ids": "|".join(ids), "format": "json", **params})


def all_entities(server, ids) -> dict:
    found = {}
    for i in range(0, len(ids), 50):
        found.update(entities(server, ids[i:i + 50], languages="en").json()["entities"])
    return found


def numbers(server) -> list[int]:
    return sorted(int(c.source_id[1:]) for c in server.collection.catalog.by_source("wikidata"))


def values(entity, prop) -> list:
    return [s["mainsnak"].get("datavalue", {}).get("value") for s in entity["claims"].get(prop, [])]


@pytest.mark.parametrize(("first", "end", "limit"), [(*ALL, 2000), (*DENSE, 7),
                                                      (18_050_000, 18_150_000, 2000)])
def test_the_listing_query_is_answered_in_sparql_json_by_id_inside_the_range_up_to_the_limit(
        demo_server, first, end, limit):
    response = sparql(demo_server, first, end, limit)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/sparql-results+json")
    body = response.json()
    assert body["head"]["vars"] == ["item", "id"]
    rows = body["results"]["bindings"]
    expected = [n for n in numbers(demo_server) if first <= n < end][:limit]
    assert expected and [int(r["id"]["value"]) for r in rows] == expected
    for row, n in zip(rows, expected, strict=True):
        assert row["item"] == {"type": "uri", "value": f"http://www.wikidata.org/entity/Q{n}"}
        assert row["id"] == {"datatype": XSD_INTEGER, "type": "literal", "value": str(n)}


def test_the_listing_holds_items_only_when_the_class_list_names_painting(demo_server):
    assert sparql(demo_server, *ALL, classes="wd:Q5").json()["results"]["bindings"] == []
    both = sparql(demo_server, *ALL, classes="wd:Q5 wd:Q3305213").json()
    assert len(both["results"]["bindings"]) == len(numbers(demo_server))


def test_a_query_of_another_shape_is_a_400_malformed_query(demo_server):
    response = get(root_of(demo_server) + "/sparql", params={
        "query": "SELECT ?item WHERE { ?item wdt:P31 wd:Q5 } LIMIT 10", "format": "json"})
    assert response.status_code == 400 and "MalformedQueryException" in response.text


def test_a_query_over_too_many_items_times_out_as_a_500_or_as_json_cut_off_by_the_trace(big):
    assert len(numbers(big)) > wikidata.TIMEOUT_ITEMS
    forms = set()
    for limit in range(1, 25):  # the same range, each query text distinct
        response = sparql(big, *ALL, limit=limit)
        assert "TimeoutException" in response.text
        if response.status_code == 500:
            forms.add("500")
        else:
            assert response.status_code == 200
            with pytest.raises(json.JSONDecodeError):
                json.loads(response.text)
            assert "java.util.concurrent.ExecutionException" in response.text
            forms.add("cut off")
    assert forms == {"500", "cut off"}


def test_a_query_over_few_enough_items_does_not_time_out(big):
    ids = numbers(big)
    first, end = ids[0], ids[wikidata.TIMEOUT_ITEMS] + 1  # TIMEOUT_ITEMS + 1 items: too many
    assert "TimeoutException" in sparql(big, first, end).text
    body = sparql(big, first, end - 1).json()  # exactly TIMEOUT_ITEMS items
    assert len(body["results"]["bindings"]) == wikidata.TIMEOUT_ITEMS


def test_some_queries_are_refused_once_with_429_and_retry_after_then_answered(big):
    refused = 0
    for n in range(96):
        first = 18_000_000 + 1000 * n  # narrow ranges: never a timeout
        response = sparql(big, first, first + 1000, retry_429=False)
        if response.status_code == 429:
            refused += 1
            assert response.headers["Retry-After"] == "1"
            again = sparql(big, first, first + 1000, retry_429=False)
            assert again.status_code == 200 and "bindings" in again.json()["results"]
        else:
            assert response.status_code == 200
    assert 0 < refused < 96


def test_wbgetentities_answers_in_the_wikibase_json_shape(demo_server):
    items = [f"Q{n}" for n in numbers(demo_server)[:3]]
    ids = [*items, "Q900001", "Q1"]
    body = entities(demo_server, ids, languages="nl|fr").json()
    assert body["success"] == 1 and list(body["entities"]) == ids
    assert body["entities"]["Q1"] == {"id": "Q1", "missing": ""}
    for qid in items:
        entity = body["entities"][qid]
        assert entity["type"] == "item" and entity["id"] == qid
        assert list(entity["labels"]) == ["nl"]  # the painting has en and nl; nl|fr was asked
        assert entity["labels"]["nl"]["language"] == "nl"
        for prop, statements in entity["claims"].items():
            for st in statements:
                assert st["type"] == "statement" and st["id"].startswith(f"{qid}$")
                assert st["rank"] in ("preferred", "normal", "deprecated")
                assert st["mainsnak"]["property"] == prop
                assert st["mainsnak"]["snaktype"] in ("value", "somevalue", "novalue")
                if "qualifiers" in st:
                    assert st["qualifiers-order"] == list(st["qualifiers"])
        time = entity["claims"]["P571"][0]["mainsnak"]["datavalue"]
        assert time["type"] == "time" and time["value"]["precision"] in (8, 9)
    assert body["entities"]["Q900001"]["labels"] == {}  # a person's label is in English only
    assert list(entities(demo_server, ["Q900001"]).json()["entities"]["Q900001"]["labels"]) \
        == ["en"]


def test_wbgetentities_refuses_more_than_50_ids_with_an_error(demo_server):
    response = entities(demo_server, [f"Q{n}" for n in range(1, 52)])
    assert response.status_code == 200
    body = response.json()
    assert body["error"]["code"] == "toomanyvalues" and "entities" not in body


def test_some_id_sets_are_lagged_once_with_retry_after_then_answered(big):
    lagged = 0
    ids = [f"Q{n}" for n in numbers(big)][:60]
    for qid in ids:
        response = entities(big, [qid], maxlag="5")
        assert response.status_code == 200
        if "error" in response.json():
            lagged += 1
            assert response.json()["error"]["code"] == "maxlag"
            assert float(response.headers["Retry-After"]) > 0
            again = entities(big, [qid], maxlag="5").json()
            assert again["success"] == 1 and again["entities"][qid]["id"] == qid
    assert 0 < lagged < len(ids)


@pytest.mark.parametrize("which", ["demo_server", "big"])
def test_what_the_items_state_matches_the_catalogue(request, demo_root, which):
    server = request.getfixturevalue(which)
    truth = truth_of(server, demo_root)
    found = all_entities(server, list(truth.index))
    qualifiers_seen = set()
    numbered = {source: {number(c)[0]: c.source_id
                         for c in server.collection.source_copies(source)}
                for source, number in wikidata.INVENTORY_OF.items()}
    for qid, row in truth.iterrows():
        entity, extra = found[qid], server.collection.by_source_id("wikidata", qid).extra
        person = f"Q{wikidata.PERSON_BASE + row['artist_id']}"
        assert [v["id"] for v in values(entity, "P31")] == [wikidata.PAINTING]
        (creator,) = entity["claims"]["P170"]
        named = {q["datavalue"]["value"]["id"] for prop in wikidata.ATTRIBUTION.values()
                 for q in creator.get("qualifiers", {}).get(prop, [])}
        qualifier = row["attribution_qualifier"]
        qualifiers_seen.add(qualifier)
        if qualifier in wikidata.ATTRIBUTION:  # "Workshop of" and the like: an unknown hand
            assert creator["mainsnak"]["snaktype"] == "somevalue" and named == {person}
            assert wikidata.ATTRIBUTION[qualifier] in creator["qualifiers-order"]
        else:
            assert creator["mainsnak"]["datavalue"]["value"]["id"] == person
        status = [(v["id"], [q["datavalue"]["value"]["id"] for q in st.get("qualifiers", {})
                             .get("P1001", [])])
                  for v, st in zip(values(entity, "P6216"), entity["claims"].get("P6216", []),
                                   strict=True)]
        assert status == {"pd": [("Q19652", ["Q60332278"])], "pd_us": [("Q19652", ["Q30"])],
                          "copyrighted": [("Q50423863", [])], "": []}[extra["status"]]
        museums = [f"{source}:{object_id.replace('/', ':')}"  # P727: "dataset/local"
                   for source, prop in MUSEUM_PROPS.items()
                   for object_id in values(entity, prop)]
        # Cleveland and the Smithsonian: the inventory number (P217) with its collection (P195)
        for number_statement in entity["claims"].get("P217", []):
            number = number_statement["mainsnak"]["datavalue"]["value"]
            held_by = number_statement["qualifiers"]["P195"][0]["datavalue"]["value"]["id"]
            source = COLLECTIONS[held_by]
            if source != "met":  # the Met's numbers back up its P3634 ids
                museums.append(f"{source}:{numbered[source][number]}")
        assert sorted(museums) == extra["same_as"]
    if which == "big":
        assert set(wikidata.ATTRIBUTION) | {"", "Attributed to"} == qualifiers_seen


def commons_pages(server, titles) -> dict:
    """Title -> page, 50 titles a request, following `continue` (iicontinue) for image info."""
    pages = {}
    for i in range(0, len(titles), 50):
        cont = {}
        while True:
            body = get(root_of(server) + "/w/api.php", params={
                "action": "query", "titles": "|".join(titles[i:i + 50]), "prop": "imageinfo",
                "iiprop": "url", "format": "json", **cont}).json()
            for page in body["query"]["pages"].values():
                pages.setdefault(page["title"], {}).update(page)
            if "continue" not in body:
                break
            cont = body["continue"]
    return pages


@pytest.mark.parametrize("which", ["demo_server", "big"])
def test_each_p18_file_is_on_the_commons_api_unless_the_copy_has_no_image(request, demo_root,
                                                                         which):
    server = request.getfixturevalue(which)
    truth = truth_of(server, demo_root)
    found = all_entities(server, list(truth.index))
    files = {qid: f"File:{values(found[qid], 'P18')[0]}" for qid in truth.index}
    pages = commons_pages(server, list(files.values()))
    for qid, title in files.items():
        if truth.loc[qid, "has_image"]:
            assert "missing" not in pages[title] and pages[title]["imageinfo"][0]["url"]
        else:
            assert "missing" in pages[title] and "imageinfo" not in pages[title]
    if which == "big":
        assert not truth["has_image"].all()
        return
    for qid in list(files)[:4]:  # the demo collection stores the bytes
        info = get(root_of(server) + "/w/api.php", params={
            "action": "query", "titles": files[qid], "prop": "imageinfo",
            "iiprop": "url|size", "format": "json"}).json()["query"]["pages"]
        info = next(iter(info.values()))["imageinfo"][0]
        image = get(info["url"])
        assert image.status_code == 200 and image.headers["Content-Type"].startswith("image/")
        assert image_size(image) == (info["width"], info["height"])


def test_a_persons_best_rank_death_date_is_the_death_year_or_its_decade_never_a_wrong_one(big):
    artists = big.collection.catalog.artists
    people = all_entities(big, [f"Q{wikidata.PERSON_BASE + a.artist_id}" for a in artists])
    seen = set()
    for artist in artists:
        entity = people[f"Q{wikidata.PERSON_BASE + artist.artist_id}"]
        assert [v["id"] for v in values(entity, "P31")] == [wikidata.HUMAN]
        deaths = entity["claims"].get("P570", [])
        span = wikibase.date_span(entity, "P570")
        if artist.death_year is None:
            assert span is None and "P569" not in entity["claims"]
            assert all(st["mainsnak"]["snaktype"] != "value" for st in deaths)
            seen.add("unknown")
            continue
        death, decade = artist.death_year, artist.death_year - artist.death_year % 10
        assert span is not None and span.first <= death <= span.last
        assert span.last in (death, decade + 9)
        assert wikibase.date_span(entity, "P569").first == artist.birth_year
        seen |= {st["rank"] for st in deaths}
        seen |= {st["mainsnak"]["datavalue"]["value"]["precision"] for st in deaths}
    assert {"unknown", "deprecated", "preferred", 8, 9, 11} <= seen


# --- the real formats (tests/fixtures/real_api_formats.json, "wikidata") ------------------------


def check_snak(snak: dict, real: dict, seen: set) -> None:
    kind = snak["snaktype"]
    assert kind in real["snaktypes"]
    seen.add(kind)
    if kind != "value":  # somevalue, novalue: no datavalue, the datatype all the same
        assert list(snak) == real["no_value_snak_keys"], snak
    else:
        assert list(snak) == real["value_snak_keys"], snak
        datavalue = snak["datavalue"]
        assert list(datavalue) == real["datavalue_keys"]
        value = datavalue["value"]
        if datavalue["type"] == "time":
            assert list(value) == real["time_value_keys"]
            assert all(of_kind(value[k], t) for k, t in real["time_value_types"].items())
            assert value["precision"] in real["time_precisions"]
            seen.add("time")
        elif datavalue["type"] == "wikibase-entityid":
            assert list(value) == real["entityid_value_keys"]
            assert all(of_kind(value[k], t) for k, t in real["entityid_value_types"].items())
            seen.add("wikibase-entityid")
        else:
            assert datavalue["type"] == "string" and isinstance(value, str)
    assert isinstance(snak["hash"], str) and snak["hash"]
    expected = real["property_datatypes"].get(snak["property"])
    assert expected is None or snak["datatype"] == expected, snak


def test_the_listing_query_has_the_real_sparql_json_results_format(demo_server):
    real = REAL["wikidata"]
    response = sparql(demo_server, *ALL)
    assert response.headers["Content-Type"].split(";")[0] == real["sparql_content_type"]
    body = response.json()
    assert list(body) == real["sparql_keys"]
    head = body["head"]
    assert set(real["sparql_head_keys_required"]) <= set(head) <= {
        *real["sparql_head_keys_required"], *real["sparql_head_keys_optional"]}
    assert all(isinstance(v, str) for v in head["vars"])
    assert list(body["results"]) == real["sparql_results_keys"]
    terms = real["sparql_term_keys"]
    assert body["results"]["bindings"]
    for row in body["results"]["bindings"]:
        assert set(row) <= set(head["vars"])  # an unbound variable is left out
        for term in row.values():
            assert term["type"] in real["sparql_term_types"] and isinstance(term["value"], str)
            shape = "typed_literal" if "datatype" in term else "lang_literal" \
                if "xml:lang" in term else term["type"]
            assert list(term) == terms[shape], term


def test_wbgetentities_has_the_real_wikibase_json_format(big):
    real = REAL["wikidata"]
    paintings = [f"Q{n}" for n in numbers(big)][:100]
    people = [f"Q{wikidata.PERSON_BASE + a.artist_id}" for a in big.collection.catalog.artists][:50]
    seen: set = set()
    for ids in (paintings[:50], paintings[50:], people, ["Q1"]):
        response = entities(big, ids, props="labels|claims", languages="en|nl")
        body = response.json()
        assert list(body) == real["wbgetentities_keys"]
        assert body["success"] == real["wbgetentities_success"]
        assert list(body["entities"]) == ids  # keyed as asked
        for qid, entity in body["entities"].items():
            if "missing" in entity:
                assert list(entity) == real["missing_entity_keys"] and entity["id"] == qid
                seen.add("missing")
                continue
            assert list(entity) == real["entity_keys_for_props_labels_claims"]
            assert set(entity) <= set(real["entity_keys_all"])
            assert all(list(label) == real["label_keys"] for label in entity["labels"].values())
            for prop, statements in entity["claims"].items():
                for statement in statements:
                    keys = set(statement)
                    assert set(real["statement_keys_required"]) <= keys <= {
                        *real["statement_keys_required"], *real["statement_keys_optional"]}
                    assert statement["type"] == real["statement_type"]
                    assert statement["rank"] in real["ranks"]
                    assert statement["mainsnak"]["property"] == prop
                    check_snak(statement["mainsnak"], real, seen)
                    for qualifier, snaks in statement.get("qualifiers", {}).items():
                        seen.add("qualifiers")
                        assert all(s["property"] == qualifier for s in snaks)
                        for snak in snaks:
                            check_snak(snak, real, seen)
                    if "qualifiers" in statement:
                        assert statement["qualifiers-order"] == list(statement["qualifiers"])
    assert {"value", "somevalue", "time", "wikibase-entityid", "qualifiers", "missing"} <= seen


def test_maxlag_and_other_api_errors_have_the_real_error_format(big):
    real = REAL["wikidata"]
    ids = [f"Q{n}" for n in numbers(big)]
    for pair in zip(ids[::2], ids[1::2], strict=False):  # pairs: apart from the lag test's ids
        response = entities(big, list(pair), maxlag="5")
        body = response.json()
        if "error" in body:
            break
    else:
        raise AssertionError("no id pair was lagged")
    assert response.status_code == 200  # a maxlag error is an answer, not an HTTP error
    assert list(body) == real["maxlag_keys"] and body["error"]["code"] == "maxlag"
    assert list(body["error"]) == real["maxlag_error_keys"]
    assert of_kind(body["error"]["lag"], "int|float") and body["error"]["info"].startswith(
        "Waiting for ")
    assert all(header in response.headers for header in real["maxlag_headers"])
    refused = entities(big, [f"Q{n}" for n in range(1, 52)]).json()
    assert set(real["api_error_keys_required"]) <= set(refused["error"])
    assert "servedby" in refused
