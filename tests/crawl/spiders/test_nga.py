"""crawl.spiders.nga on small real-format CSV files: the four files joined by column name with old
and new headers, a bad file, the limit; and any text in any cell ends as one row.

No network and no reactor: callbacks are called with hand-built responses (formats as in
demo/FORMATS.md) and their output is inspected.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawl import reasons
from crawl.spiders.nga import FILES, NgaSpider
from demo.apis.nga import csv_bytes
from tests.crawl.spiders.helpers import FUZZ, items, make_spider, response, rows_written

NGA = "https://github.com/NationalGalleryOfArt/opendata/raw/main"


def nga_tables(old: bool) -> dict[str, bytes]:
    """Four small files; ``old`` drops uuid and openaccess, as older releases did."""
    objects = [
        {"objectid": "1138", "uuid": "x", "title": "Saint Martin and the Beggar",
         "displaydate": "c. 1597/1599", "beginyear": "1597", "endyear": "1599",
         "medium": "oil on canvas", "attribution": "El Greco",
         "classification": "Painting", "provenancetext": "long " * 50_000},
        {"objectid": "2000", "uuid": "y", "title": "A Sketch", "displaydate": "1600",
         "beginyear": "1600", "endyear": "1600", "medium": "pen and ink",
         "attribution": "El Greco", "classification": "Drawing", "provenancetext": ""},
        {"objectid": "3000", "uuid": "z", "title": "Portrait", "displaydate": "1950",
         "beginyear": "1950", "endyear": "1950", "medium": "oil on canvas",
         "attribution": "Circle of Someone Modern", "classification": "Painting",
         "provenancetext": ""},
    ]
    images = [
        {"uuid": "a1", "iiifurl": "https://api.nga.gov/iiif/a1", "viewtype": "alternate",
         "sequence": "1", "width": "5000", "height": "9000", "maxpixels": "",
         "openaccess": "1", "depictstmsobjectid": "1138"},
        {"uuid": "p1", "iiifurl": "https://api.nga.gov/iiif/p1", "viewtype": "primary",
         "sequence": "0", "width": "1200", "height": "2000", "maxpixels": "",
         "openaccess": "1", "depictstmsobjectid": "1138"},
        {"uuid": "p3", "iiifurl": "https://api.nga.gov/iiif/p3", "viewtype": "primary",
         "sequence": "0", "width": "3000", "height": "4000", "maxpixels": "640",
         "openaccess": "0", "depictstmsobjectid": "3000"},
    ]
    links = [
        {"objectid": "1138", "constituentid": "77", "displayorder": "3", "roletype": "artist",
         "prefix": ""},
        {"objectid": "1138", "constituentid": "1", "displayorder": "1", "roletype": "artist",
         "prefix": "workshop of"},
        {"objectid": "1138", "constituentid": "77", "displayorder": "2", "roletype": "artist",
         "prefix": ""},
        {"objectid": "1138", "constituentid": "99", "displayorder": "0", "roletype": "owner",
         "prefix": ""},
        {"objectid": "3000", "constituentid": "5", "displayorder": "1", "roletype": "artist",
         "prefix": "circle of"},
    ]
    people = [
        {"constituentid": "1", "uuid": "c", "forwarddisplayname": "El Greco",
         "displaydate": "Greek, 1541 - 1614", "beginyear": "1541", "endyear": "1614"},
        {"constituentid": "5", "uuid": "d", "forwarddisplayname": "Someone Modern",
         "displaydate": "American, 1900 - 1980", "beginyear": "1900", "endyear": "1980"},
        {"constituentid": "77", "uuid": "e", "forwarddisplayname": "Wrong Person",
         "displaydate": "", "beginyear": "", "endyear": ""},
    ]
    drop = {"uuid", "openaccess"} if old else set()

    def table(rows):
        header = [k for k in rows[0] if k not in drop]
        return csv_bytes(header, [{k: v for k, v in r.items() if k in header} for r in rows])

    return {"objects.csv": table(objects), "published_images.csv": table(images),
            "objects_constituents.csv": table(links), "constituents.csv": table(people)}


def crawl_nga(spider, tables: dict[str, bytes]) -> list:
    """Feed the four files through the request chain; returns the last callback's output."""
    request = spider.csv_request(0, {})
    for index, name in enumerate(FILES):
        assert request.url == f"{NGA}/data/{name}"
        out = list(spider.parse_csv(response(request.url, tables[name], request),
                                    **request.cb_kwargs))
        if index + 1 < len(FILES):
            assert len(out) == 1 and not items(out)  # nothing before all four files are in
            request = out[0]
    return out


@pytest.mark.parametrize("old", [False, True])
def test_nga_join_by_column_name_with_old_and_new_headers(tmp_path, old):
    spider = make_spider(NgaSpider, tmp_path, {"classifications": ["Painting"],
                                               "iiif_width": 1686}, api_root=NGA)
    by_id = {i.source_id: i for i in items(crawl_nga(spider, nga_tables(old)))}
    assert set(by_id) == {"1138", "3000"}  # the drawing is not even visited
    assert ("nga", "2000") not in spider.state.visited
    greco = by_id["1138"]
    assert (greco.artist, greco.attribution_qualifier) == ("El Greco", "workshop of")
    assert (greco.artist_birth_year, greco.artist_death_year) == (1541, 1614)
    assert (greco.date_start, greco.date_end) == (1597, 1599)
    assert (greco.license, greco.is_public_domain_flag) == ("CC0", True)
    assert greco.image_url == "https://api.nga.gov/iiif/p1/full/1200,/0/default.jpg"
    assert greco.object_type == "painting"
    assert "long" not in greco.raw_record  # unneeded columns are not kept
    modern = by_id["3000"]
    assert modern.attribution_qualifier == "circle of"
    assert (modern.license, modern.is_public_domain_flag) == ("copyrighted", False)
    assert modern.status == "metadata_only" and modern.reason == reasons.NOT_PUBLIC_DOMAIN


def test_nga_bad_file_is_a_listing_failure_and_emits_nothing(tmp_path):
    spider = make_spider(NgaSpider, tmp_path, {"classifications": ["Painting"]}, api_root=NGA)
    tables = nga_tables(old=False)
    tables["published_images.csv"] = b"<!DOCTYPE html><html>rate limited</html>"
    request = spider.csv_request(0, {})
    out = list(spider.parse_csv(response(request.url, tables["objects.csv"], request),
                                **request.cb_kwargs))
    request = out[0]
    out = list(spider.parse_csv(response(request.url, tables["published_images.csv"], request),
                                **request.cb_kwargs))
    assert out == [] and spider.state.listing_failures == 1


def test_nga_limit_counts_wanted_objects_only(tmp_path):
    spider = make_spider(NgaSpider, tmp_path, {"classifications": ["painting"]}, api_root=NGA,
                         limit=1)
    assert [i.source_id for i in items(crawl_nga(spider, nga_tables(old=False)))] == ["1138"]


@FUZZ
@given(cells=st.dictionaries(st.sampled_from(["title", "displaydate", "beginyear", "endyear",
                                              "medium", "attribution", "classification"]),
                             st.none() | st.text(max_size=40) | st.sampled_from(
                                 ["4\u00b2", "1" * 60, "-99999999999", "\ud800"])))
def test_any_text_in_any_nga_cell_ends_as_one_row_that_parquet_holds(tmp_path, cells):
    spider = make_spider(NgaSpider, tmp_path, {"object_types": ["painting"]})
    obj = {"objectid": "7", "title": "T", "displaydate": "1650", "beginyear": "1650",
           "endyear": "1650", "medium": "oil", "attribution": "Jan Steen",
           "classification": "Painting", **cells}
    image = {"iiifurl": "https://api.nga.gov/iiif/abc", "width": "100", "height": "80",
             "maxpixels": "", "openaccess": "1"}
    found = items(spider.emit({"objects": {"7": obj}, "images": {"7": image}}))
    assert len(found) == 1 and len(rows_written(found, tmp_path)) == 1
