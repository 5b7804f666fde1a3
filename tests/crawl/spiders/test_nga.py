"""crawl.spiders.nga on small real-format CSV files: the five files joined by column name with old
and new headers, a bad file, the limit; genre and movement from objects_terms.csv (and records
without them when that file is missing or broken), the accession number as printed; and any text
in any cell ends as one row.

No network and no reactor: callbacks are called with hand-built responses (formats as in
demo/FORMATS.md) and their output is inspected.
"""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawl import reasons
from crawl.spiders.nga import FILES, TERMS_FILE, NgaSpider, genre_and_movement
from demo.apis.nga import csv_bytes
from tests.crawl.spiders.helpers import FUZZ, items, make_spider, response, rows_written

NGA = "https://github.com/NationalGalleryOfArt/opendata/raw/main"
TERMS_HEADER = "termid,objectid,termtype,term,visualbrowsertheme,visualbrowserstyle"
# objects_terms.csv rows as the real file has them (NationalGalleryOfArt/opendata, data/
# objects_terms.csv at commit 09171d8; sql_tables/objects_terms.sql and the Data Dictionary name
# the columns), moved onto this test's objects: a Theme's term with the broad theme NGA's site
# browses by, a Style normalised ("Renaissance,,Renaissance") or not ("American Impressionist"),
# and the term types that are not read (Keyword, School, Place Executed, Technique).
TERMS_ROWS = """\
2027440,1138,Place Executed,Illinois,,
2034511,1138,School,Spanish,,
2034714,1138,Technique,lithograph,,
2034902,1138,Theme,fables and legends,religious,
2034950,1138,Style,Renaissance,,Renaissance
2034957,1138,Keyword,Marine,,
2034901,2000,Theme,fantasy,animal,
2034950,2000,Style,Renaissance,,Renaissance
2068836,3000,Theme,Dog,animal,
2068918,3000,Style,American Impressionist,,
"""


def nga_tables(old: bool) -> dict[str, bytes]:
    """Four small files; ``old`` drops uuid and openaccess, as older releases did."""
    objects = [
        {"objectid": "1138", "uuid": "x", "accessionnum": " 1942.9.25 ",
         "title": "Saint Martin and the Beggar",
         "displaydate": "c. 1597/1599", "beginyear": "1597", "endyear": "1599",
         "medium": "oil on canvas", "attribution": "El Greco",
         "classification": "Painting", "provenancetext": "long " * 50_000},
        {"objectid": "2000", "uuid": "y", "accessionnum": "1991.217.1",
         "title": "A Sketch", "displaydate": "1600",
         "beginyear": "1600", "endyear": "1600", "medium": "pen and ink",
         "attribution": "El Greco", "classification": "Drawing", "provenancetext": ""},
        {"objectid": "3000", "uuid": "z", "accessionnum": "", "title": "Portrait",
         "displaydate": "1950",
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
            "objects_constituents.csv": table(links), "constituents.csv": table(people),
            TERMS_FILE: f"{TERMS_HEADER}\r\n{TERMS_ROWS}".encode()}


def crawl_nga(spider, tables: dict[str, bytes]) -> list:
    """Feed the five files through the request chain; returns the last callback's output."""
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
    assert not spider.state.ledger.was_met(("nga", "2000"))
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


def nga_spider(tmp_path, **config):
    return make_spider(NgaSpider, tmp_path, {"classifications": ["Painting"], **config},
                       api_root=NGA)


def test_nga_theme_terms_become_the_genre_and_style_terms_the_movement(tmp_path):
    by_id = {i.source_id: i for i in items(crawl_nga(nga_spider(tmp_path), nga_tables(False)))}
    greco, modern = by_id["1138"], by_id["3000"]
    # "fables and legends" under the theme "religious"; the Keyword "Marine" (what is
    # depicted) does not make it a marine painting.
    assert (greco.genre, greco.movement) == ("religious art", "Renaissance")
    # A theme that names no genre ("Dog" under "animal") leaves it empty; a style NGA did not
    # normalise is kept as NGA words it.
    assert (modern.genre, modern.movement) == (None, "American Impressionist")
    assert "fables and legends" in greco.raw_record and "Illinois" not in greco.raw_record


def test_nga_accession_number_is_the_accessionnum_column_as_printed(tmp_path):
    by_id = {i.source_id: i for i in items(crawl_nga(nga_spider(tmp_path), nga_tables(False)))}
    assert by_id["1138"].accession_number == "1942.9.25"  # stripped, not reformatted
    assert by_id["3000"].accession_number is None  # an empty cell is no number


def terms_tables(terms: bytes) -> dict[str, bytes]:
    return {**nga_tables(old=False), TERMS_FILE: terms}


@pytest.mark.parametrize("terms", [
    b"<!DOCTYPE html><html>rate limited</html>",  # no CSV at all
    b"termid,objectid,termtype\r\n1,1138,Theme\r\n",  # no term column
    b"version https://git-lfs.github.com/spec/v1\noid sha256:4d77c002f7f7b762\nsize 20332543\n",
], ids=["html", "no_term_column", "lfs_pointer"])
def test_an_unreadable_objects_terms_file_is_logged_and_the_records_go_out_without_genre(
        tmp_path, caplog, terms):
    spider = nga_spider(tmp_path)
    with caplog.at_level(logging.ERROR):
        found = {i.source_id: i for i in items(crawl_nga(spider, terms_tables(terms)))}
    assert set(found) == {"1138", "3000"} and spider.state.listing_failures == 0
    assert all(i.genre is None and i.movement is None for i in found.values())
    assert found["1138"].accession_number == "1942.9.25"  # the rest of the record is intact
    assert any("objects_terms.csv unreadable" in r.getMessage() for r in caplog.records)


def test_a_failed_objects_terms_download_is_logged_and_the_records_go_out_without_genre(
        tmp_path, caplog):
    spider = nga_spider(tmp_path)
    tables, request = nga_tables(old=False), spider.csv_request(0, {})
    for name in FILES[:-1]:
        (request,) = spider.parse_csv(response(request.url, tables[name], request),
                                      **request.cb_kwargs)
    assert request.url.endswith("/data/objects_terms.csv")
    missing = response(request.url, b"404: Not Found", request)
    missing.status = 404
    failure = Failure(HttpError(missing, "Ignoring non-200 response"))
    failure.request = request  # as Scrapy hands it to an errback
    with caplog.at_level(logging.ERROR):
        found = items(request.errback(failure))
    assert sorted(i.source_id for i in found) == ["1138", "3000"]
    assert all(i.genre is None for i in found) and spider.state.listing_failures == 0
    assert any("objects_terms.csv unreadable" in r.getMessage() and "HTTP 404" in r.getMessage()
               for r in caplog.records)


@pytest.mark.parametrize("rows, expected", [
    ([], (None, None)),
    ([{"termtype": "Theme", "term": "", "visualbrowsertheme": ""}], (None, None)),
    ([{"termtype": "Theme", "term": "Porträt", "visualbrowsertheme": "Bildnis"}], (None, None)),
    ([{"termtype": ["Theme"], "term": "portrait"}, None, "Theme,portrait", 7], (None, None)),
    ([{"termtype": " theme ", "term": None, "visualbrowsertheme": "religious"},
      {"termtype": "Style", "term": None, "visualbrowserstyle": None},
      {"termtype": "Style", "term": "Baroque", "visualbrowserstyle": ["x"]}],
     ("religious art", "Baroque")),
], ids=["none", "empty", "not_english", "odd_types", "missing_cells"])
def test_odd_or_empty_term_cells_give_no_genre_and_never_raise(rows, expected):
    assert genre_and_movement(rows) == expected


def test_nga_limit_counts_wanted_objects_only(tmp_path):
    spider = make_spider(NgaSpider, tmp_path, {"classifications": ["painting"]}, api_root=NGA,
                         limit=1)
    assert [i.source_id for i in items(crawl_nga(spider, nga_tables(old=False)))] == ["1138"]


@FUZZ
@given(cells=st.dictionaries(st.sampled_from(["termtype", "term", "visualbrowsertheme",
                                              "visualbrowserstyle"]),
                             st.none() | st.text(max_size=40) | st.sampled_from(
                                 ["Theme", "Style", "portrait", "\ud800", "x" * 5000])))
def test_any_text_in_any_term_cell_ends_as_one_row_that_parquet_holds(tmp_path, cells):
    spider = make_spider(NgaSpider, tmp_path, {"object_types": ["painting"]})
    obj = {"objectid": "7", "accessionnum": "1937.1.7", "title": "T", "beginyear": "1650",
           "endyear": "1650", "attribution": "Jan Steen", "classification": "Painting"}
    terms = [{"termtype": "Theme", "term": "man", "visualbrowsertheme": "portrait"}, cells]
    found = items(spider.emit({"objects": {"7": obj}, "terms": {"7": terms}}))
    assert len(found) == 1 and len(rows_written(found, tmp_path)) == 1


@FUZZ
@given(cells=st.dictionaries(st.sampled_from(["accessionnum", "title", "displaydate",
                                              "beginyear", "endyear", "medium", "attribution",
                                              "classification"]),
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
