"""crawl.spiders.met: any JSON in any field of an object record ends as one row that Parquet holds.

No network and no reactor: callbacks are called with hand-built responses (formats as in
demo/FORMATS.md) and their output is inspected.
"""

from __future__ import annotations

from hypothesis import given

from crawl.spiders.met import MetSpider
from tests.crawl.spiders.helpers import FUZZ, MET_RECORD, one_record_crawl, overrides, rows_written


@FUZZ
@given(changed=overrides(MET_RECORD))
def test_any_json_in_any_met_field_ends_as_one_row_that_parquet_holds(tmp_path, changed):
    found, _ = one_record_crawl(MetSpider, tmp_path, {**MET_RECORD, **changed}, "parse_object",
                                source_id="7")
    assert len(found) == 1 and len(rows_written(found, tmp_path)) == 1
