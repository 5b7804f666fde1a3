"""What the spider tests share: a spider on a fresh crawl state, hand-built responses, the items
of a callback's output, and for the property tests any JSON value in any field of a record
through the callback and the final Parquet write.
"""

from __future__ import annotations

import json

import scrapy
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler

from crawl.items import ArtworkImage
from crawl.ledger import Ledger
from crawl.records import read_records, write_records
from crawl.spiders.base import CrawlState
from crawl.storage import ContentStore
from tests.projects import PARAMS

SETTINGS = {"MARCUS_MAX_BYTES": 50 * 2**20, "MARCUS_TIMEOUT_S": 60.0,
            "MARCUS_RETRY_AFTER_MAX_S": 300.0}


def make_spider(cls, tmp_path, config: dict, api_root: str | None = None, limit=None):
    """A spider of ``cls`` whose config is the committed params.yaml section of its source
    with the test's ``config`` on top (spiders read every key of their section)."""
    config = {**PARAMS["crawl"]["sources"][cls.source], **config}
    state = CrawlState(ledger=Ledger(), store=ContentStore(tmp_path / "images"), limit=limit)
    crawler = get_crawler(cls, SETTINGS)
    return cls.from_crawler(crawler, api_root=api_root, config=config, state=state)


def response(url: str, body, request: scrapy.Request | None = None, headers=None):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return TextResponse(url, body=data, encoding="utf-8", headers=headers,
                        request=request or scrapy.Request(url))


def items(output) -> list[ArtworkImage]:
    """Items, with the item of each image Request unwrapped."""
    found = []
    for x in output:
        if isinstance(x, ArtworkImage):
            found.append(x)
        elif isinstance(x, scrapy.Request) and "item" in x.cb_kwargs:
            found.append(x.cb_kwargs["item"])
    return found


def listing_requests(output) -> list[scrapy.Request]:
    return [x for x in output if isinstance(x, scrapy.Request) and "item" not in x.cb_kwargs]


# What real APIs have been seen to send where a field was expected: every JSON type, numbers
# too big for any column, digits that are not ASCII, blanks, NaN (Python's parser reads it).
ODD_VALUES = st.sampled_from([10**30, -(2**63), 2**64, 1e308, float("nan"), "4\u00b2",
                              "\u0663", "", "   ", "javascript:alert(1)", "/relative.jpg",
                              "\ud800", "x" * 5000, True, False, None, [], {}])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
    | ODD_VALUES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=8)

MET_RECORD = {
    "objectID": 7, "title": "The Feast", "artistDisplayName": "Workshop of Jan Steen",
    "artistPrefix": "", "artistDisplayBio": "Dutch, 1626-1679", "artistBeginDate": "1626",
    "artistEndDate": "1679", "objectDate": "ca. 1663", "objectBeginDate": 1660,
    "objectEndDate": 1665, "isPublicDomain": True, "classification": "Paintings",
    "objectName": "Painting", "medium": "Oil on canvas",
    "primaryImage": "https://images.metmuseum.org/x.jpg",
    "objectURL": "https://www.metmuseum.org/art/collection/search/7"}


def overrides(record: dict):
    """Any subset of the record's fields set to any JSON values."""
    return st.dictionaries(st.sampled_from(sorted(record)), JSON_VALUES, max_size=len(record))


def rows_written(found: list[ArtworkImage], tmp_path) -> dict:
    """The items' rows through the final Parquet write and back: this must never fail."""
    from crawl.records import item_row

    path = tmp_path / "records.parquet"
    write_records([item_row(i) for i in found], path)
    return read_records(path)


def one_record_crawl(cls, tmp_path, body, callback, **kwargs) -> list:
    spider = make_spider(cls, tmp_path, {"object_types": ["painting"]})
    url = "https://api.example/listing"
    data = json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")
    page = TextResponse(url, body=data, encoding="utf-8", request=scrapy.Request(url))
    output = list(getattr(spider, callback)(page, **kwargs))
    return [x for x in items(output)], spider


FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
