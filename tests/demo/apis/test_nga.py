"""demo.apis.nga serves the National Gallery of Art's open data: the real CSV headers, files that
join, and IIIF that enforces the fair-use cap.

Reference formats come from tests/fixtures/real_api_formats.json (published documentation and
recorded real responses).
"""

import csv
import io

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
