"""demo.apis.cleveland speaks the Cleveland Museum of Art's API: listing, detail, sizes as strings,
skip and limit that cover everything once.

Reference formats come from tests/fixtures/real_api_formats.json (published documentation and
recorded real responses).
"""

from tests.demo.apis.helpers import REAL, get, image_size


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
