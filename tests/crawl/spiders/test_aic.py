"""crawl.spiders.aic: any JSON in any field of a listing's record ends as one row that Parquet
holds.

No network and no reactor: callbacks are called with hand-built responses (formats as in
demo/FORMATS.md) and their output is inspected.
"""

from __future__ import annotations

from hypothesis import given

from crawl.spiders.aic import AicSpider
from tests.crawl.spiders.helpers import FUZZ, one_record_crawl, overrides, rows_written

AIC_RECORD = {
    "id": 7, "title": "The Feast", "is_public_domain": True, "copyright_notice": None,
    "date_start": 1650, "date_end": 1650, "date_display": "1650",
    "artist_display": "Jan Steen\nDutch, 1626-1679", "artist_title": "Jan Steen",
    "artwork_type_title": "Painting", "classification_titles": ["painting"],
    "medium_display": "Oil on canvas", "image_id": "abc-1",
    "thumbnail": {"width": 1000, "height": 800}, "api_link": "https://api.artic.edu/7"}


@FUZZ
@given(changed=overrides(AIC_RECORD))
def test_any_json_in_any_aic_field_ends_as_one_row_that_parquet_holds(tmp_path, changed):
    body = {"pagination": {"total": 1, "limit": 10, "total_pages": 1},
            "config": {"iiif_url": "https://www.artic.edu/iiif/2"},
            "data": [{**AIC_RECORD, **changed}]}
    found, spider = one_record_crawl(AicSpider, tmp_path, body, "parse_page", page=1)
    assert len(found) == 1 and len(rows_written(found, tmp_path)) == 1
    assert spider.state.listing_failures == 0
