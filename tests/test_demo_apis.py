"""The demo server speaks the real APIs: field names, types, pagination and continuation.

Reference formats come from tests/fixtures/real_api_formats.json (published documentation and
recorded real responses). Every pagination test walks the whole listing and checks that each
record comes exactly once.
"""

import csv
import io
import json
from pathlib import Path

import pytest
import requests
from PIL import Image

REAL = json.loads((Path(__file__).parent / "fixtures" / "real_api_formats.json").read_text())


def get(url, **kw):
    response = requests.get(url, timeout=10, **kw)
    return response


def image_size(response) -> tuple[int, int]:
    with Image.open(io.BytesIO(response.content)) as im:
        return im.size


# --- The Met -------------------------------------------------------------------------------------


def test_met_object_has_the_57_real_fields_in_order_with_real_types(demo_server,
                                                                     demo_collection):
    root = demo_server.api_roots["met"] + "/public/collection/v1"
    listing = get(f"{root}/objects").json()
    assert list(listing) == REAL["met"]["objects_keys"]
    assert listing["total"] == len(listing["objectIDs"]) == len(
        demo_collection.source_copies("met"))
    obj = get(f"{root}/objects/{listing['objectIDs'][0]}").json()
    assert list(obj) == REAL["met"]["object_keys_in_order"]
    types = {"int": int, "bool": bool, "str": str, "list": list, "null": type(None)}
    for key, kinds in REAL["met"]["object_types"].items():
        assert isinstance(obj[key], tuple(types[k] for k in kinds.split("|"))), key
    assert list(obj["constituents"][0]) == REAL["met"]["constituent_keys"]


def test_met_errors_and_non_pd_objects_match_the_real_api(demo_server, demo_collection):
    root = demo_server.api_roots["met"] + "/public/collection/v1"
    for case, path in (("not_found", "/objects/1"), ("bad_id", "/objects/abc")):
        response = get(root + path)
        assert response.status_code == REAL["met"][case]["status"]
        assert response.json() == REAL["met"][case]["body"]
    non_pd = [c for c in demo_collection.source_copies("met") if not c.is_public_domain_flag]
    assert non_pd
    obj = get(f"{root}/objects/{non_pd[0].source_id}").json()
    assert obj["isPublicDomain"] is False
    assert (obj["primaryImage"], obj["primaryImageSmall"], obj["additionalImages"]) == ("", "", [])


def test_met_department_filter_search_and_images(demo_server, demo_collection):
    root = demo_server.api_roots["met"]
    paintings = get(f"{root}/public/collection/v1/objects?departmentIds=11|1").json()
    drawings = get(f"{root}/public/collection/v1/objects?departmentIds=9").json()
    assert not set(paintings["objectIDs"]) & set(drawings["objectIDs"])
    assert get(f"{root}/public/collection/v1/search?q=a").status_code == 410
    search = f"{root}/public/collection/v1.1/search?q=*&hasImages=true"
    total = get(search).json()["total"]
    pages = [get(f"{search}&offset={o}&limit=7").json()["objectIDs"] or []
             for o in range(0, total + 7, 7)]
    ids = [i for page in pages for i in page]
    assert len(ids) == len(set(ids)) == total
    assert get(f"{root}/public/collection/v1.1/search?q=zzzzzz").json() == {
        "total": 0, "objectIDs": None}
    good = next(c for c in demo_collection.source_copies("met") if c.has_image and not c.defect)
    obj = get(f"{root}/public/collection/v1/objects/{good.source_id}").json()
    original = get(obj["primaryImage"])
    assert original.content == demo_collection.original(good)  # the original bytes, no re-encode
    small = get(obj["primaryImageSmall"])
    assert max(image_size(small)) <= 1000


# --- Art Institute of Chicago --------------------------------------------------------------------


def test_aic_listing_envelope_and_fields(demo_server):
    root = demo_server.api_roots["aic"]
    page = get(f"{root}/api/v1/artworks?limit=3").json()
    assert list(page) == REAL["aic"]["listing_keys"]
    assert list(page["pagination"])[:5] == REAL["aic"]["pagination_keys"]
    assert list(page["info"]) == REAL["aic"]["info_keys"]
    assert list(page["config"]) == REAL["aic"]["config_keys"]
    record = page["data"][0]
    assert set(REAL["aic"]["artwork_keys_subset"]) <= set(record)
    assert list(record["thumbnail"]) == REAL["aic"]["thumbnail_keys"]
    assert "" not in record.values()  # AIC writes null, never empty strings
    assert record["artist_display"].count("\n") == 1


def test_aic_pages_cover_everything_once_following_next_url(demo_server, demo_collection):
    url = demo_server.api_roots["aic"] + "/api/v1/artworks?limit=7&fields=id,title"
    ids = []
    while url:
        page = get(url).json()
        assert all(list(d) == ["id", "title"] for d in page["data"])
        ids += [d["id"] for d in page["data"]]
        url = page["pagination"].get("next_url")
    assert sorted(ids) == sorted(int(c.source_id) for c in demo_collection.source_copies("aic"))


def test_aic_search_detail_agent_and_errors(demo_server, demo_collection):
    root = demo_server.api_roots["aic"]
    search = get(f"{root}/api/v1/artworks/search?query[term][is_public_domain]=true"
                 "&fields=id,is_public_domain&limit=100").json()
    assert list(search) == REAL["aic"]["search_keys"]
    assert "next_url" not in search["pagination"]
    assert all(d["is_public_domain"] is True and "_score" in d for d in search["data"])
    expected = sum(c.is_public_domain_flag for c in demo_collection.source_copies("aic"))
    assert search["pagination"]["total"] == expected
    some_id = search["data"][0]["id"]
    detail = get(f"{root}/api/v1/artworks/{some_id}").json()
    assert list(detail) == REAL["aic"]["detail_keys"]
    agent = get(f"{root}/api/v1/agents/{detail['data']['artist_id']}").json()["data"]
    assert set(REAL["aic"]["agent_keys_subset"]) <= set(agent)
    missing = get(f"{root}/api/v1/artworks/1")
    assert missing.status_code == 404 and missing.json() == REAL["aic"]["not_found"]["body"]
    assert get(f"{root}/api/v1/artworks?limit=101").status_code == 403
    assert get(f"{root}/api/v1/artworks?limit=100&page=101").status_code == 403


def test_aic_iiif_sizes_and_cap(demo_server, demo_collection):
    root = demo_server.api_roots["aic"]
    config = get(f"{root}/api/v1/artworks?limit=1").json()["config"]
    copies = [c for c in demo_collection.source_copies("aic") if c.has_image and not c.defect]
    wide = next(c for c in copies if demo_collection.size(c)[0] > 843)
    base = f"{config['iiif_url']}/{wide.image_id}"
    info = get(f"{base}/info.json").json()
    assert set(REAL["aic"]["iiif_info_keys"]) <= set(info)
    assert (info["width"], info["height"]) == demo_collection.size(wide)
    assert image_size(get(f"{base}/full/843,/0/default.jpg"))[0] == 843
    redirect = get(f"{base}/full/1686,/0/default.jpg", allow_redirects=False)
    assert redirect.status_code == 307 and redirect.headers["Location"].endswith(
        "/full/843,/0/default.jpg")
    assert image_size(get(f"{base}/full/!200,200/0/default.jpg")) <= (200, 200)
    assert image_size(get(f"{base}/square/100,100/0/default.jpg")) == (100, 100)
    assert image_size(get(f"{base}/pct:0,0,50,50/,300/0/default.png")) [1] == 300
    assert get(f"{base}/full/843,/90/default.jpg").status_code == 400
    assert get(f"{base}/full/banana/0/default.jpg").status_code == 400
    assert get(f"{config['iiif_url']}/no-such-id/info.json").status_code == 404


# --- Cleveland -----------------------------------------------------------------------------------


def test_cleveland_listing_detail_and_string_sizes(demo_server, demo_collection):
    root = demo_server.api_roots["cleveland"]
    page = get(f"{root}/api/artworks/?cc0=1&has_image=1&type=Painting&limit=5&skip=0").json()
    assert list(page) == REAL["cleveland"]["listing_keys"]
    assert list(page["info"]) == REAL["cleveland"]["info_keys"]
    assert page["info"]["parameters"] == {"cc0": "1", "has_image": "1", "type": "Painting",
                                          "limit": "5", "skip": "0"}
    record = page["data"][0]
    assert set(REAL["cleveland"]["artwork_keys_subset"]) <= set(record)
    assert list(record["creators"][0]) == REAL["cleveland"]["creator_keys"]
    assert record["share_license_status"] == "CC0" and record["type"] == "Painting"
    assert list(record["images"]) == REAL["cleveland"]["image_variants"]
    for variant in record["images"].values():
        assert list(variant) == REAL["cleveland"]["image_keys"]
        assert all(isinstance(variant[k], str) for k in ("width", "height", "filesize"))
    detail = get(f"{root}/api/artworks/{record['id']}").json()
    assert list(detail) == REAL["cleveland"]["detail_keys"]
    by_accession = get(f"{root}/api/artworks/{record['accession_number']}").json()
    assert by_accession == detail
    web = get(record["images"]["web"]["url"])
    assert max(image_size(web)) <= 1000
    full = get(record["images"]["full"]["url"])
    assert full.headers["Content-Type"] == "image/tiff"


def test_cleveland_skip_limit_cover_everything_once(demo_server, demo_collection):
    root = demo_server.api_roots["cleveland"]
    total = get(f"{root}/api/artworks/?limit=1").json()["info"]["total"]
    ids = []
    for skip in range(0, total, 6):
        ids += [d["id"] for d in get(f"{root}/api/artworks/?skip={skip}&limit=6").json()["data"]]
    assert sorted(ids) == sorted(int(c.source_id) for c in
                                 demo_collection.source_copies("cleveland"))


# --- National Gallery of Art ---------------------------------------------------------------------


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


# --- Wikimedia Commons ---------------------------------------------------------------------------

COMMONS_QUERY = {"action": "query", "generator": "categorymembers",
                 "gcmtitle": "Category:Demo collection", "gcmtype": "file", "gcmlimit": "50",
                 "prop": "imageinfo", "iiprop": "url|size|mime|sha1|extmetadata",
                 "iiurlwidth": "400", "format": "json"}


def walk_commons(api, query):
    """Follow `continue` the documented way: merge it into the next request."""
    infos, requests_made, cont = {}, 0, {}
    while True:
        body = get(api, params={**query, **cont}).json()
        requests_made += 1
        pages = body.get("query", {}).get("pages", {})
        for page in pages if isinstance(pages, list) else pages.values():
            if "imageinfo" in page:
                assert page["pageid"] not in infos, "image info served twice"
                infos[page["pageid"]] = (page, page["imageinfo"][0])
        if "continue" not in body:
            return infos, requests_made
        cont = body["continue"]


@pytest.mark.parametrize("formatversion", ["1", "2"])
def test_commons_continuation_yields_every_file_once(demo_server, demo_collection,
                                                      formatversion):
    api = demo_server.api_roots["commons"] + "/w/api.php"
    infos, made = walk_commons(api, {**COMMONS_QUERY, "formatversion": formatversion})
    expected = {int(c.source_id) for c in demo_collection.catalog.by_source("commons")}
    assert set(infos) == expected
    assert made >= 2  # the demo has more files than one batch's image info holds


def test_commons_imageinfo_and_extmetadata_shape(demo_server, demo_collection):
    api = demo_server.api_roots["commons"] + "/w/api.php"
    body = get(api, params={**COMMONS_QUERY, "gcmlimit": "5"}).json()
    assert list(body["continue"]) == REAL["commons"]["generator_continue_keys"]
    page = next(iter(body["query"]["pages"].values()))
    assert list(page) == REAL["commons"]["page_keys"] + ["imageinfo"]
    info = page["imageinfo"][0]
    assert list(info) == REAL["commons"]["imageinfo_keys"]
    meta = info["extmetadata"]
    assert set(REAL["commons"]["extmetadata_keys_subset"]) <= set(meta)
    for entry in meta.values():
        assert list(entry)[:2] == REAL["commons"]["extmetadata_entry_keys"]
    assert meta["License"]["value"] in ("pd", "cc-by-sa-4.0")
    assert "date QS:P571" in meta["DateTimeOriginal"]["value"]
    original = get(info["url"])
    import hashlib
    assert hashlib.sha1(original.content).hexdigest() == info["sha1"]
    assert len(original.content) == info["size"]
    if info["width"] > 400:
        assert image_size(get(info["thumburl"]))[0] == 400


def test_commons_errors_arrive_with_status_200(demo_server):
    api = demo_server.api_roots["commons"] + "/w/api.php"
    bad = get(api, params={**COMMONS_QUERY, "gcmcontinue": "file|00|999"})
    assert bad.status_code == 200 and list(bad.json()["error"])[:2] == REAL["commons"]["error_keys"]
    empty = get(api, params={**COMMONS_QUERY, "gcmtitle": "Category:No such thing"}).json()
    assert "query" not in empty and "continue" not in empty


# --- URL list, robots, HEAD ----------------------------------------------------------------------


def test_url_list_points_at_fetchable_images(demo_server, demo_collection):
    text = get(demo_server.api_roots["urls"] + "/list.csv").text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["url", "title", "artist", "date", "license"]
    assert len(rows) == len(demo_collection.catalog.by_source("urls"))
    assert get(rows[0]["url"]).status_code == 200


def test_robots_txt_and_unknown_paths(demo_server):
    robots = get(demo_server.url + "/robots.txt")
    assert robots.status_code == 200 and "Disallow: /private/" in robots.text
    assert get(demo_server.url + "/nowhere/x").status_code == 404
    assert get(demo_server.api_roots["met"] + "/nothing").status_code == 404
