"""crawl.spiders.base, what every spider shares: a field of the wrong type becomes null with a
note, an unusable image URL a rejected row with its reason, an id of any type a key and a
verdict.

No network and no reactor: callbacks are called with hand-built responses (formats as in
demo/FORMATS.md) and their output is inspected.
"""

from __future__ import annotations

import pytest

from crawl import reasons
from crawl.spiders.met import MetSpider
from tests.crawl.spiders.helpers import MET_RECORD, one_record_crawl, rows_written


def test_a_field_of_the_wrong_type_becomes_null_with_a_note(tmp_path):
    record = {**MET_RECORD, "title": {"en": "Feast"}, "objectDate": ["1650"],
              "objectBeginDate": 10**30, "medium": 3.5}
    found, _ = one_record_crawl(MetSpider, tmp_path, record, "parse_object", source_id="7")
    row = rows_written(found, tmp_path)[("met", "7")]
    assert row["title"] is None and row["date_text"] is None and row["medium"] == "3.5"
    assert "title: a JSON object" in row["error"] and "date_text: a JSON list" in row["error"]


@pytest.mark.parametrize("url, problem", [
    ("/images/x.jpg", "relative"), ("   ", "blank"), (12345, "relative"),
    ("javascript:alert(1)", "javascript"), ("data:image/png;base64,AA==", "data"),
    ("https://images.example/" + "a" * 3000, "characters")])
def test_an_unusable_image_url_is_a_rejected_row_with_its_reason(tmp_path, url, problem):
    found, _ = one_record_crawl(MetSpider, tmp_path, {**MET_RECORD, "primaryImage": url},
                                "parse_object", source_id="7")
    assert [(i.status, i.reason) for i in found] == [("rejected", reasons.BAD_URL)]
    assert problem in found[0].error


@pytest.mark.parametrize("ident, key, problem", [
    (10**250, None, "over 200 digits"), ({"x": 1}, None, "a JSON object"),
    (True, None, "true or false"), (None, None, "has no id"), (7.5, None, "a fraction"),
    ("4\u00b2", "4\u00b2", None), (7.0, "7", None)])
def test_an_id_of_any_type_gets_a_key_and_a_verdict(ident, key, problem):
    from crawl.spiders.base import record_id

    found_key, found_problem = record_id(ident, {"title": "x"})
    assert (found_key == key) if key else found_key.split("-")[0] in ("number", "bad", "no")
    assert (problem in found_problem) if problem else found_problem is None
