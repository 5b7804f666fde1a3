"""demo.apis.met speaks the Met's API: its 57 fields in order with their types, its errors, the
department filter, search pages that cover everything once, original and small images.

Reference formats come from tests/fixtures/real_api_formats.json (published documentation and
recorded real responses).
"""

from tests.demo.apis.helpers import REAL, get, image_size


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
