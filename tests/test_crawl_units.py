"""Crawl building blocks: content store, journal, image inspection, retry timing, host rules."""

import hashlib
import io
import json

import pyarrow.parquet as pq
import pytest
from PIL import Image

from crawl import reasons
from crawl.inspect_image import inspect_image
from crawl.items import ArtworkImage
from crawl.middlewares import retry_after_seconds
from crawl.records import RECORDS_SCHEMA, Journal, read_records, write_records
from crawl.run import is_loopback
from crawl.storage import ContentStore


def jpeg(size=(64, 48), quality=90) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (120, 80, 40)).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def test_store_names_blobs_by_content_and_writes_once(tmp_path):
    store = ContentStore(tmp_path / "images")
    data = jpeg()
    sha, new = store.put(data)
    assert new and sha == hashlib.sha256(data).hexdigest()
    assert store.path(sha) == tmp_path / "images" / sha[:2] / sha
    assert store.put(data) == (sha, False)
    assert store.verify(sha) and store.get(sha) == data
    assert not [p for p in store.path(sha).parent.iterdir() if p.name != sha]  # no temp files
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")


def test_journal_survives_a_torn_last_line(tmp_path):
    journal = Journal(tmp_path / "j.jsonl")
    journal.append({"source": "met", "source_id": "1", "status": "stored"})
    journal.append({"source": "met", "source_id": "2", "status": "failed"})
    journal.append({"source": "met", "source_id": "2", "status": "stored"})
    journal.close()
    with open(tmp_path / "j.jsonl", "ab") as f:
        f.write(b'{"source": "met", "source_id": "3", "sta')  # killed mid-write
    rows = Journal(tmp_path / "j.jsonl").load()
    assert {k: v["status"] for k, v in rows.items()} == {("met", "1"): "stored",
                                                         ("met", "2"): "stored"}
    again = Journal(tmp_path / "j.jsonl")
    again.append({"source": "met", "source_id": "4", "status": "stored"})
    again.close()
    assert set(Journal(tmp_path / "j.jsonl").load()) == {("met", "1"), ("met", "2"), ("met", "4")}


def test_records_parquet_has_the_fixed_schema_and_a_stable_order(tmp_path):
    from crawl.items import ArtworkImage
    from crawl.records import item_row

    rows = [item_row(ArtworkImage(source="met", source_id=i, status="stored"))
            for i in ("10", "9", "100")]
    write_records(rows, tmp_path / "r.parquet")
    table = pq.read_table(tmp_path / "r.parquet")
    assert table.schema.equals(RECORDS_SCHEMA)
    assert table.column("source_id").to_pylist() == ["9", "10", "100"]
    assert set(table.column("schema_version").to_pylist()) == {1}
    assert list(read_records(tmp_path / "r.parquet")) == [("met", "9"), ("met", "10"),
                                                           ("met", "100")]
    first = (tmp_path / "r.parquet").read_bytes()
    write_records(list(reversed(rows)), tmp_path / "r.parquet")
    assert (tmp_path / "r.parquet").read_bytes() == first


def _png_bomb() -> bytes:
    buf = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("body, content_type, reason", [
    (jpeg(), "image/jpeg", None),
    (jpeg()[: len(jpeg()) // 2], "image/jpeg", reasons.TRUNCATED),
    (b"\xff\xd8" + bytes(range(256)) * 20, "image/jpeg", reasons.CORRUPT),
    (b"Just some text, not a picture.\n" * 10, "image/jpeg", reasons.NOT_IMAGE),
    (json.dumps({"error": "nope"}).encode(), "application/json", reasons.NOT_IMAGE),
    (b"<!DOCTYPE html><html><body>Service unavailable</body></html>", "text/html",
     reasons.HTML_PAGE),
    (b"<html><body>oops</body></html>", "image/jpeg", reasons.HTML_PAGE),
    (_png_bomb(), "image/png", reasons.DECOMPRESSION_BOMB),
    (b"", "image/jpeg", reasons.NOT_IMAGE),
])
def test_inspect_image_names_the_problem(body, content_type, reason):
    found = inspect_image(body, content_type, max_pixels=150_000_000)
    assert found.reason == reason, found.error
    if reason is None:
        assert (found.format, found.width, found.height) == ("JPEG", 64, 48)


def test_retry_after_header_forms():
    assert retry_after_seconds(b"5") == 5.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60.0
    assert retry_after_seconds(b"soon") is None and retry_after_seconds(None) is None


@pytest.mark.parametrize("value, seconds", [
    ("120", 120.0), (" 7 ", 7.0), ("0", 0.0),
    ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),  # a date in the past: now
    ("Sunday, 06-Nov-94 08:49:37 GMT", 0.0),  # RFC 850 form, also past
    ("Sun Nov  6 08:49:37 1994", 0.0),  # asctime form, no zone: GMT
    ("\u00b2", None), ("\u0663", None), ("-5", None), ("1.5", None), ("", None),
    ("Fri, 99 Foo 2026 soon", None), ("9" * 40, None), ("Mon, 01 Jan 99999 00:00:00 GMT", None),
    ("\xff\xfe", None)])
def test_retry_after_is_read_as_rfc_9110_says_or_treated_as_absent(value, seconds):
    assert retry_after_seconds(value) == seconds
    if value.isascii():
        assert retry_after_seconds(value.encode()) == seconds


def test_a_retry_after_no_parser_trusts_still_leaves_every_retry():
    from scrapy.http import Request, Response
    from scrapy.utils.test import get_crawler

    from crawl.middlewares import PoliteRetryMiddleware

    crawler = get_crawler(settings_dict={"MARCUS_RETRIES": 3, "MARCUS_BACKOFF_BASE_S": 0.0})
    crawler.spider = crawler._create_spider("probe")
    middleware = PoliteRetryMiddleware(crawler)
    request = Request("https://a.example/x.jpg")
    for attempt in range(1, 4):  # each bad header: a retry, never an exception
        answer = Response(request.url, status=503, headers={"Retry-After": b"\xb2"})
        request = middleware.process_response(request, answer)
        assert isinstance(request, Request) and request.meta["retry_times"] == attempt
    final = Response(request.url, status=503, headers={"Retry-After": b"\xb2"})
    assert middleware.process_response(request, final) is final  # retries used up: the 503


def test_records_with_odd_ids_sort_and_write(tmp_path):
    from crawl.records import item_row

    ids = ["10", "9", "4\u00b2", "\u0663", "0010", "1" * 300, "a"]
    rows = [item_row(ArtworkImage(source="met", source_id=i, status="stored")) for i in ids]
    write_records(rows, tmp_path / "r.parquet")
    assert list(read_records(tmp_path / "r.parquet")) == [
        ("met", "9"), ("met", "0010"), ("met", "10"), ("met", "1" * 300), ("met", "4\u00b2"),
        ("met", "a"), ("met", "\u0663")]


def test_loopback_detection():
    assert is_loopback("http://127.0.0.1:8765/met") and is_loopback("http://localhost/x")
    assert is_loopback("http://[::1]:80/") and not is_loopback("https://api.artic.edu")
    assert not is_loopback("http://10.0.0.1/")


def test_records_written_before_a_column_was_added_still_load(tmp_path):
    import pyarrow as pa

    old = pa.table({"schema_version": [1], "source": ["met"], "source_id": ["7"],
                    "status": ["stored"]})
    pq.write_table(old, tmp_path / "r.parquet")
    row = read_records(tmp_path / "r.parquet")[("met", "7")]
    assert row["status"] == "stored" and row["etag"] is None
    newer = old.set_column(0, "schema_version", pa.array([99]))
    pq.write_table(newer, tmp_path / "r.parquet")
    with pytest.raises(ValueError, match="newer than this code"):
        read_records(tmp_path / "r.parquet")
