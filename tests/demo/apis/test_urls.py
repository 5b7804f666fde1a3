"""demo.apis.urls: the URL list names fetchable images."""

import csv
import io

from tests.demo.apis.helpers import get


def test_url_list_points_at_fetchable_images(demo_server, demo_collection):
    text = get(demo_server.api_roots["urls"] + "/list.csv").text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["url", "title", "artist", "date", "license"]
    assert len(rows) == len(demo_collection.catalog.by_source("urls"))
    assert get(rows[0]["url"]).status_code == 200
