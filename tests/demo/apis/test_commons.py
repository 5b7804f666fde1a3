"""demo.apis.commons speaks the Wikimedia Commons API: continuation that yields every file once (in
both format versions), imageinfo and extmetadata in their real shape, errors with status 200.

Reference formats come from tests/fixtures/real_api_formats.json (published documentation and
recorded real responses).
"""

import pytest

from tests.demo.apis.helpers import REAL, get, image_size

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


def test_the_paintings_category_is_a_tree_with_cycles_that_reaches_every_painting(
        demo_server, demo_collection):
    api = demo_server.api_roots["commons"] + "/w/api.php"
    seen, queue, files, cycles = {"Category:Paintings"}, ["Category:Paintings"], set(), 0
    while queue:
        title = queue.pop(0)
        infos, _ = walk_commons(api, {**COMMONS_QUERY, "gcmtitle": title, "formatversion": "2"})
        files |= set(infos)
        if title == "Category:Paintings":
            assert not infos, "the root holds subcategories only, as on Commons"
        cont = {}
        while True:  # list=categorymembers, continued with cmcontinue
            body = get(api, params={"action": "query", "list": "categorymembers",
                                    "cmtitle": title, "cmtype": "subcat", "cmlimit": "2",
                                    "format": "json", "formatversion": "2", **cont}).json()
            for member in body["query"]["categorymembers"]:
                assert member["ns"] == 14 and member["title"].startswith("Category:")
                cycles += member["title"] in seen
                if member["title"] not in seen:
                    seen.add(member["title"])
                    queue.append(member["title"])
            if "continue" not in body:
                break
            cont = {"cmcontinue": body["continue"]["cmcontinue"]}
    paintings = {int(c.source_id) for c in demo_collection.catalog.by_source("commons")
                 if demo_collection.artwork(c).object_type == "painting"}
    assert files == paintings and cycles >= 2
    assert any(t.startswith("Category:Details of paintings by") for t in seen) or not any(
        name == "detail" for c in demo_collection.catalog.by_source("commons")
        for name, _ in c.transforms)
