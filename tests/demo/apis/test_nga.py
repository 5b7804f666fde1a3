"""demo.apis.nga serves the National Gallery of Art's open data: the real CSV headers, files that
join, objects_terms.csv filing each painting by its genre and movement (which the spider reads
back with the accession number), and IIIF that enforces the fair-use cap.

Reference formats come from tests/fixtures/real_api_formats.json (published documentation and
recorded real responses).
"""

import csv
import io

import requests

from crawl.normalize import genre_from_terms
from crawl.spiders.nga import NgaSpider
from demo.apis import movement_of
from demo.apis.wikidata import GENRES
from tests.crawl.spiders.helpers import items, make_spider, response
from tests.demo.apis.helpers import REAL, get, image_size


def test_nga_csv_headers_are_the_real_ones_and_join(demo_server, demo_collection):
    root = demo_server.api_roots["nga"]
    tables = {}
    for name in ("objects.csv", "published_images.csv", "objects_constituents.csv",
                 "constituents.csv"):
        text = get(f"{root}/data/{name}").text
        assert text.splitlines()[0] == REAL["nga"][name]
        tables[name] = list(csv.DictReader(io.StringIO(text)))
    object_ids = {r["objectid"] for r in tables["objects.csv"]}
    assert object_ids == {c.source_id for c in demo_collection.source_copies("nga")}
    assert {r["depictstmsobjectid"] for r in tables["published_images.csv"]} <= object_ids
    for image in tables["published_images.csv"]:
        assert image["iiifthumburl"] == image["iiifurl"] + REAL["nga"]["thumb_suffix"]
        assert (image["openaccess"] == "1") == (image["maxpixels"] == "")


def test_nga_iiif_enforces_the_fair_use_cap(demo_server):
    text = get(demo_server.api_roots["nga"] + "/data/published_images.csv").text
    rows = list(csv.DictReader(io.StringIO(text)))
    restricted = [r for r in rows if r["openaccess"] == "0"]
    assert restricted, "the demo should plant restricted NGA images"
    for row in restricted:
        width, height = int(row["width"]), int(row["height"])
        capped = image_size(get(row["iiifurl"] + "/full/max/0/default.jpg"))
        assert max(capped) <= int(row["maxpixels"]) + 1
        if max(width, height) > int(row["maxpixels"]) + 1:
            assert get(row["iiifurl"] + f"/full/{width},/0/default.jpg").status_code == 400
    open_rows = [r for r in rows if r["openaccess"] == "1" and int(r["width"]) > 700]
    assert image_size(get(open_rows[0]["iiifurl"] + "/full/700,/0/default.jpg"))[0] == 700


# The real header (NationalGalleryOfArt/opendata data/objects_terms.csv; sql_tables/
# objects_terms.sql). Not in tests/fixtures/real_api_formats.json, which predates the file's use.
TERMS_HEADER = "termid,objectid,termtype,term,visualbrowsertheme,visualbrowserstyle"


def _csv(root: str, name: str) -> list[dict]:
    answer = get(f"{root}/data/{name}")
    assert answer.status_code == 200
    return list(csv.DictReader(io.StringIO(answer.text)))


def test_nga_objects_terms_csv_has_the_real_header_and_files_each_painting_by_its_kind(
        demo_server, demo_collection):
    root = demo_server.api_roots["nga"]
    text = get(f"{root}/data/objects_terms.csv").text
    assert text.splitlines()[0] == TERMS_HEADER
    rows = list(csv.DictReader(io.StringIO(text)))
    keys = [(int(r["termid"]), int(r["objectid"])) for r in rows]
    assert keys == sorted(keys)  # ordered by termid, then objectid, as the real file
    assert {r["termtype"] for r in rows} == {"Theme", "Keyword", "Style", "School"}
    by_object: dict[str, list[dict]] = {}
    for r in rows:
        by_object.setdefault(r["objectid"], []).append(r)
    assert set(by_object) <= {c.source_id for c in demo_collection.source_copies("nga")}
    for copy in demo_collection.source_copies("nga"):
        artwork = demo_collection.artwork(copy)
        terms = by_object.get(copy.source_id, [])
        themes = [r for r in terms if r["termtype"] == "Theme"]
        named = genre_from_terms([w for r in themes for w in (r["term"],
                                                               r["visualbrowsertheme"])])
        assert named == (GENRES[artwork.kind][1] if artwork.kind in GENRES else None)
        assert all(r["visualbrowserstyle"] == "" for r in terms if r["termtype"] != "Style")
        styles = [(r["term"], r["visualbrowserstyle"]) for r in terms if r["termtype"] == "Style"]
        movement = movement_of(artwork)
        assert styles == ([(movement[1], movement[1])] if movement else [])


def test_the_spider_reads_genre_movement_and_accession_number_from_the_demo_files(
        demo_server, demo_collection, tmp_path):
    """The spider's callbacks on the emulator's five files (no reactor): every painting with a
    published image is one item with the genre, movement and accession number the demo gave."""
    root = demo_server.api_roots["nga"]
    spider = make_spider(NgaSpider, tmp_path, {"classifications": []}, api_root=root)
    request, out = spider.csv_request(0, {}), []
    while request is not None:
        out = list(request.callback(response(request.url, requests.get(
            request.url, timeout=10).content, request), **request.cb_kwargs))
        request = out[0] if len(out) == 1 and not items(out) else None
    assert spider.state.listing_failures == 0
    found = {i.source_id: i for i in items(out)}
    printed = {r["objectid"]: r["accessionnum"] for r in _csv(root, "objects.csv")}
    assert found and set(found) <= set(printed)
    for source_id, item in found.items():
        artwork = demo_collection.artwork(demo_collection.by_source_id("nga", source_id))
        assert item.accession_number == printed[source_id] != ""
        assert item.genre == (GENRES[artwork.kind][1] if artwork.kind in GENRES else None)
        assert item.movement == (movement_of(artwork) or (None, None))[1]
    assert {i.genre for i in found.values()} - {None}, "the demo holds paintings of a genre"
