"""demo.apis.aic speaks the Art Institute of Chicago's API: the listing envelope, pages that cover
everything once following next_url, search, detail, agents and errors, IIIF sizes and the cap.

Reference formats come from tests/fixtures/real_api_formats.json (published documentation and
recorded real responses).
"""

from tests.demo.apis.helpers import REAL, get, image_size


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
