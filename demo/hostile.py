"""Hostile mode for the demo server: records and responses built to break a crawler.

Off by default. ``DemoServer(root, hostile=True)``, ``python -m demo serve --hostile`` or
``demo.hostile: true`` in params appends the records below to EVERY source's listing, each in
that source's own format (Met object ids and records, AIC and Cleveland pages, NGA CSV rows,
Commons pages, URL-list rows, Wikidata SPARQL rows with their wbgetentities entities and Commons
image infos, Smithsonian EDAN search rows, Europeana search items), and answers their URLs with
the hostile bodies. With it off, nothing here runs and the demo's answers are byte for byte
those of a normal server.

The corpus is data (``CASES``): each case says what is served and what a correct crawl makes
of it: a row with that status and reason, or (for listing pages) a logged listing error.
``expected_rows(source, source_root)`` maps the source ids a crawl meets to their cases;
``tests/crawl/test_e2e_hostile.py`` crawls every source against this and checks each one.
See ``demo/HOSTILE.md`` for the table.

Everything is deterministic: the same bytes in every run. Endless bodies stop on their own
after ``ENDLESS_MAX_S`` so that a server thread never outlives a client by much.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import struct
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from demo.server import Response

MARKER = "hostile-"  # in every hostile image URL's path: how the server recognises them
BASE_ID = 990_000  # numeric ids of hostile records (real sources use numbers too)
OFFSITE_IP = "198.51.100.7"  # TEST-NET-2 (RFC 5737): never routed; must be refused unfetched
OFFSITE_PORT = 9  # a redirect to this port of 127.0.0.1 is another origin: refused unfetched
BOMB_INFLATED = 64 << 20  # gzip bomb: inflates to 64 MiB (> crawl.max_bytes of 50 MiB)
BOMB_SIDE = 100_000  # PNG decompression bomb: 100,000 x 100,000 px declared
ENORMOUS_BYTES = 60_000_000  # an enormous JSON page or record (> crawl.max_bytes)
ENDLESS_MAX_S = 120.0  # an endless body gives up after this long (a thread is not forever)
SLOW_EVERY_S = 0.5  # the slow body sends one byte this often
LONG_TEXT = 500_000  # characters of an absurdly long title
TEMPLATE_SOURCES = ("met", "aic", "cleveland", "nga", "commons")
ALL_SOURCES = ("met", "aic", "cleveland", "nga", "commons", "urls", "wikidata", "smithsonian",
               "europeana")
# Wikidata's hostile items: Q-numbers above every item the demo lists (its items stop at
# Q130,000,000; the listing reads Q1..Q140,000,000), so that they come after the real ones.
# The listing queries ``partition_ids`` (2,000,000) ids at a time, and wbgetentities answers 50
# items at once: each broken answer ("record" cases) gets a partition of its own, so that it
# cannot take other hostile items down with it. The page of bad ids (listing_bad_ids) is a
# partition below every item (the demo's start at Q18,000,000): a Wikidata listing goes on
# with the next partition after a broken page.
WIKIDATA_BASE = 130_990_000
WIKIDATA_STEP = 2_000_000  # crawl.sources.wikidata.partition_ids in params.yaml
WIKIDATA_BAD_IDS = 10_990_000


@dataclass(frozen=True)
class Case:
    key: str  # short name; image URLs carry MARKER + key
    kind: str  # id | image | meta | record | listing | url
    served: str  # what the server does, in words
    status: str | None  # expected records.parquet status; None: no row, a listing error
    reason: str | None  # expected reason code (crawl/reasons.py); None for stored rows
    value: str = ""  # the hostile id (kind id) or title (kind meta)
    sources: tuple[str, ...] = ALL_SOURCES
    raw: object = None  # kind id: the id as JSON sends it when it is not text


_TRAVERSAL = "../../etc/passwd"
_STORED = ("stored", None)
JSON_SOURCES = ("met", "aic", "cleveland", "commons")  # records as JSON (NGA: CSV cells)
# Sources whose listing rows are whole JSON records with an id of their own: the id cases reach
# them as sent. Not Wikidata: its ids come as entity URIs in SPARQL rows, and the spider takes
# only ``http://www.wikidata.org/entity/Q<digits>`` (any other row makes the whole page a
# listing error, before any id is used: listing_bad_ids). Not the URL list: it has no ids.
ID_SOURCES = (*TEMPLATE_SOURCES, "smithsonian", "europeana")
NEW_SOURCES = ("wikidata", "smithsonian", "europeana")
HUGE_DIGITS = 5000  # an id of this many digits (over Python's 4,300-digit int limit)
HUGE_NUMBER = "__hostile_huge_number__"  # json_bytes writes it as a bare 5000-digit number
HUGE_YEAR = 10**30
LONG_URL_CHARS = 3000  # over crawl.max_url_chars (2,083)
CASES: tuple[Case, ...] = (
    # Ids that would be paths if anybody used them as file names. The crawler refuses them
    # before any request is built from them. (A URL list has no ids: see the url cases; nor
    # has Wikidata any but Q-numbers: see listing_bad_ids.)
    Case("id_traversal", "id", f"record id {_TRAVERSAL!r}", "rejected", "unsafe_id",
         _TRAVERSAL, ID_SOURCES),
    Case("id_encoded", "id", "record id '..%2F..%2Fx'", "rejected", "unsafe_id",
         "..%2F..%2Fx", ID_SOURCES),
    # Not Europeana: its ids are "/dataset/local" paths by design, and the row's key drops the
    # slashes ("/etc/passwd" is the key "etc:passwd", safe): a stored row, no refusal.
    Case("id_absolute", "id", "record id '/etc/passwd'", "rejected", "unsafe_id",
         "/etc/passwd", (*TEMPLATE_SOURCES, "smithsonian")),
    Case("id_nul", "id", "record id 'x\\x00y' (a NUL byte)", "rejected", "unsafe_id",
         "x\x00y", ID_SOURCES),
    # Ids of the wrong JSON type or size. The row needs a key all the same: a digest.
    Case("id_huge", "id", f"record id: a JSON number of {HUGE_DIGITS:,} digits", "rejected",
         "unsafe_id", "9" * HUGE_DIGITS, ID_SOURCES, raw=HUGE_NUMBER),
    Case("id_object", "id", 'record id: a JSON object {"x": 1}', "rejected", "unsafe_id",
         '{"x": 1}', (*JSON_SOURCES, "smithsonian", "europeana"), raw={"x": 1}),
    Case("id_superscript", "id", "record id '4²' (a digit that str.isdigit() accepts and int() "
         "does not)", *_STORED, "4²", ("aic", "cleveland", "nga", "commons", "smithsonian",
                                        "europeana")),
    # Fields of the wrong JSON type: conformed to the records schema, noted in the error.
    # Wikidata: the label's value, the inception's time value (P571); Smithsonian: the row's
    # title, freetext date and medium, indexedStructured.date; Europeana: title, year,
    # dcDescription.
    Case("types_mixed", "fields", "title an object, date a list, year 10^30, medium a float",
         *_STORED, sources=(*JSON_SOURCES, *NEW_SOURCES)),
    Case("types_as_text", "fields", "title the number 1984, year the text '1650'", *_STORED,
         sources=(*JSON_SOURCES, *NEW_SOURCES)),
    # Not Wikidata: its listing asks for instances of painting, so every item is a painting
    # (no type field to spoil), and an entity whose claims are true or null names no P18 file:
    # rejected / no_image_url. Not Europeana: its listing's qf term selects paintings, so the
    # object type stays painting whatever the item says, and the record ends on its image
    # (true: bad_url; null: no_image_url).
    Case("types_all_true", "fields", "every field of the record true (the id aside)",
         "metadata_only", "object_type", sources=(*JSON_SOURCES, "smithsonian")),
    Case("types_all_null", "fields", "every field of the record null (the id aside)",
         "metadata_only", "object_type", sources=(*JSON_SOURCES, "smithsonian")),
    Case("record_huge_string", "fields", "a record holding a 2 MB string (under max_bytes, over "
         "the 1,000,000 characters a record's JSON may have)", "rejected", "too_large",
         sources=(*JSON_SOURCES, *NEW_SOURCES)),
    # Image URLs no fetch can use, as the record gives them (Wikidata: the P18 file's image
    # info, Smithsonian: the media's content, Europeana: edmIsShownBy). Not AIC (an image id,
    # not a URL) nor the URL list (its rows are the URLs: see the url cases).
    Case("src_relative", "src", "image URL '/images/relative.jpg'", "rejected", "bad_url",
         sources=("met", "cleveland", "nga", "commons", *NEW_SOURCES)),
    # Not the Smithsonian nor Europeana: their spiders strip a blank URL to nothing, so the row
    # says no_image_url ("the record has no image"), as Cleveland's and NGA's do.
    Case("src_blank", "src", "image URL '   '", "rejected", "bad_url",
         sources=("met", "commons", "wikidata")),
    Case("src_number", "src", "image URL the number 12345", "rejected", "bad_url",
         sources=("met", "cleveland", "commons", *NEW_SOURCES)),
    Case("src_javascript", "src", "image URL 'javascript:alert(1)'", "rejected", "bad_url",
         sources=("met", "cleveland", "nga", "commons", *NEW_SOURCES)),
    Case("src_data", "src", "image URL 'data:image/png;base64,...'", "rejected", "bad_url",
         sources=("met", "cleveland", "nga", "commons", *NEW_SOURCES)),
    Case("src_too_long", "src", f"image URL of {LONG_URL_CHARS:,} characters", "rejected",
         "bad_url", sources=("met", "cleveland", "nga", "commons", *NEW_SOURCES)),
    # Image URLs answered with something hostile.
    Case("redirect_offsite", "image", f"302 to http://{OFFSITE_IP}/ (TEST-NET, unroutable)",
         "failed", "offsite"),
    Case("redirect_evil_host", "image", "302 to http://localhost.evil/", "failed", "offsite"),
    Case("redirect_file", "image", "302 to file:///etc/passwd", "failed", "offsite"),
    Case("redirect_port", "image", f"302 to http://127.0.0.1:{OFFSITE_PORT}/ (another port of "
         "the allowed host)", "failed", "offsite"),
    Case("redirect_self", "image", "302 to its own URL, forever", "failed", "redirect_loop"),
    # Two records, one image URL: both rows, one blob (the duplicate filter must not eat one).
    Case("shared_image_1", "image", "the same image URL as shared_image_2", *_STORED,
         sources=(*TEMPLATE_SOURCES, *NEW_SOURCES)),
    Case("shared_image_2", "image", "the same image URL as shared_image_1", *_STORED,
         sources=(*TEMPLATE_SOURCES, *NEW_SOURCES)),
    # 503 with a Retry-After no parser should trust, then the image: it must still be fetched.
    Case("retry_after_nonascii", "image", "503 with Retry-After '²' (a non-ASCII digit), then "
         "the image", *_STORED),
    Case("retry_after_garbage", "image", "503 with Retry-After 'Fri, 99 Foo 2026 soon', then "
         "the image", *_STORED),
    Case("retry_after_past", "image", "503 with Retry-After of a date in 1970, then the image",
         *_STORED),
    Case("gzip_bomb", "image", "Content-Encoding: gzip, ~65 KB inflating to 64 MiB",
         "rejected", "too_large"),
    Case("endless_fast", "image", "chunked image/jpeg that never ends (64 KiB chunks)",
         "rejected", "too_large"),
    Case("endless_slow", "image", "chunked image/jpeg, one byte every 0.5 s, forever",
         "failed", "timeout"),
    Case("png_bomb", "image", "a 100 B PNG declaring 100,000 x 100,000 px",
         "rejected", "decompression_bomb"),
    Case("image_as_html", "image", "a valid PNG served as text/html", "rejected", "html_page"),
    Case("image_as_octet", "image", "a valid PNG served as application/octet-stream",
         *_STORED),
    Case("html_as_jpeg", "image", "an HTML page served as image/jpeg", "rejected", "html_page"),
    Case("aspect_tall", "image", "a valid 1 x 100,000 px PNG (curate rejects: aspect_ratio)",
         *_STORED),
    Case("aspect_wide", "image", "a valid 100,000 x 1 px PNG (curate rejects: aspect_ratio)",
         *_STORED),
    Case("filename_traversal", "image",
         "image URL whose file name is '..%2F..%2Fetc%2Fpasswd' (a valid PNG): stored by "
         "sha256, the name never used", *_STORED),
    # Metadata: the image is fine, the text is not. Stored, with the text made safe.
    Case("meta_invalid_utf8", "meta", "title with raw bytes FF FE (invalid UTF-8)",
         *_STORED, "Invalid \udcff\udcfe bytes"),
    Case("meta_surrogate", "meta", "title with a JSON-escaped lone surrogate \\ud800",
         *_STORED, "Lone \ud800 surrogate"),
    Case("meta_markup", "meta", "title with <script> and <img onerror> markup", *_STORED,
         '<script>alert("x")</script><img src=x onerror=alert(1)>Markup'),
    Case("meta_control", "meta", "title with ESC, BEL, NUL, backspace, DEL, C1 characters",
         *_STORED, "Control\x1b[31m\x07\x00\x08\x7f\x85 chars"),
    Case("meta_long", "meta", f"a {LONG_TEXT:,}-character title", *_STORED, "L" * LONG_TEXT),
    # Per-record metadata documents: the Met fetches one per object, Wikidata one
    # wbgetentities answer per batch of up to 50 items (each of these cases alone in its
    # batch). The other sources list whole records: there is no such document to break.
    Case("record_malformed", "record", "the object's JSON (Met) or the item's wbgetentities "
         "answer (Wikidata) cut off in the middle", "failed", "bad_record",
         sources=("met", "wikidata")),
    Case("record_enormous", "record", f"a {ENORMOUS_BYTES // 10**6} MB object JSON (Met) or "
         "wbgetentities answer (Wikidata), chunked", "rejected", "too_large",
         sources=("met", "wikidata")),
    Case("record_deep", "record", "the object's JSON (Met) or the wbgetentities answer "
         "(Wikidata) nested 10,000 levels deep", "failed", "bad_record",
         sources=("met", "wikidata")),
    Case("record_error_200", "record", 'a 200 whose body is {"message": "Not a valid object"} '
         "(for Wikidata: instead of its wbgetentities answer)", "failed", "bad_record",
         sources=("met", "wikidata")),
    # Listing pages: a page that cannot be read ends the listing there (a logged error; the
    # run reports itself incomplete); every record before it is crawled as usual. One per
    # source (the Met's and NGA's listings are one document each, the URL list a file).
    Case("listing_malformed", "listing", "the page after the last one: truncated JSON",
         None, "bad_record", sources=("commons", "europeana")),
    Case("listing_error_200", "listing", "the page after the last one: a 200 whose body is "
         'an error object ({"status": 403, "error": ...}); every page claims a total of '
         "10^12 and a page size of -5", None, "bad_record", sources=("aic",)),
    Case("listing_enormous", "listing",
         f"the page after the last one: {ENORMOUS_BYTES // 10**6} MB of JSON, chunked "
         "(Smithsonian: every page claims one row more than there are)",
         None, "too_large", sources=("cleveland", "smithsonian")),
    Case("listing_bad_ids", "listing", "a SPARQL page (a partition of its own) whose rows "
         "name items by hostile ids instead of entity URIs: ../../etc/passwd, /etc/passwd, a "
         "NUL, a 5,000-digit Q-number, a JSON object", None, "bad_record",
         sources=("wikidata",)),
    # A URL list names files rather than records.
    Case("url_file", "url", "a list row whose URL is file:///etc/passwd", "failed",
         "bad_record", sources=("urls",)),
    Case("url_dotdot", "url", "a list row .../web/../../etc/passwd (answered with a PNG)",
         *_STORED, sources=("urls",)),
    Case("url_nul", "url", "a list row .../web/x%00y.png (answered with a PNG)", *_STORED,
         sources=("urls",)),
)
BY_KEY = {c.key: c for c in CASES}


def cases_for(source: str, kinds: tuple[str, ...] | None = None) -> list[Case]:
    return [c for c in CASES if source in c.sources and (kinds is None or c.kind in kinds)]


def record_cases(source: str) -> list[Case]:
    """The cases that are records in ``source``'s listing, in listing order."""
    return cases_for(source, ("id", "image", "meta", "record", "url", "fields", "src"))


def hostile_id(source: str, case: Case) -> str:
    """The record id the crawl keys the case's row by (for id cases: the key it makes of the
    hostile value itself), in the shape of the source's ids: numbers for most, ``Q...`` for
    Wikidata, ``edanmdm-...`` rows for the Smithsonian, ``dataset:local`` for Europeana (whose
    items say ``/dataset/local``)."""
    if case.kind == "id":
        from crawl.spiders.base import record_id

        # The key the crawler makes of the id it parses: the huge number arrives as its digits
        # (crawl.spiders.base.parse_json keeps numbers that long as text), the object as one.
        value = case.raw if isinstance(case.raw, dict) else case.value
        if source == "europeana" and isinstance(value, str):
            from crawl.normalize import europeana_key

            value = europeana_key(value)
        return record_id(value)[0]
    number = BASE_ID + CASES.index(case)
    if source == "wikidata":
        return f"Q{wikidata_number(case)}"
    if source == "smithsonian":
        return f"edanmdm-hostile_{number}"
    if source == "europeana":
        return f"{BASE_ID}:H{number}"
    return str(number)


def wikidata_number(case: Case) -> int:
    """The case's Q-number: the records and image cases side by side in one partition, each
    broken wbgetentities answer and the page of bad ids in a partition of their own."""
    if case.kind == "listing":
        return WIKIDATA_BAD_IDS + CASES.index(case)
    alone = [c for c in CASES if "wikidata" in c.sources and c.kind == "record"]
    step = 1 + alone.index(case) if case in alone else 0
    return WIKIDATA_BASE + step * WIKIDATA_STEP + CASES.index(case)


def sent_id(case: Case) -> object:
    """The id as the listing sends it (the huge number as a placeholder json_bytes expands)."""
    return case.value if case.raw is None else case.raw


def case_for_id(source_id: str) -> Case | None:
    try:
        index = int(source_id) - BASE_ID
    except ValueError:
        return None
    return CASES[index] if 0 <= index < len(CASES) else None


@functools.lru_cache(maxsize=16)
def _by_id(source: str) -> dict[str, Case]:
    return {hostile_id(source, c): c for c in record_cases(source) if c.kind != "id"}


def case_of(source: str, source_id: str) -> Case | None:
    """The hostile case whose (non-id) record ``source`` lists under ``source_id``, or None."""
    return _by_id(source).get(source_id)


def image_url(source: str, source_root: str, case: Case) -> str:
    """Where the case's image is, in the shape of the source's real image URLs."""
    if case.kind == "src":
        return src_value(case, source_root)
    name = MARKER + case.key
    if case.key.startswith("shared_image"):
        name = MARKER + "shared_image_1"
    if case.key == "filename_traversal":
        name = f"{MARKER}{case.key}..%2F..%2Fetc%2Fpasswd"
    if source == "met":
        return f"{source_root}/CRDImages/ep/original/{name}.jpg"
    if source == "aic":  # the spider builds {iiif_url}/{image_id}/full/W,/0/default.jpg
        return name
    if source == "cleveland":
        return f"{source_root}/cdn/{name}/{name}_print.jpg"
    if source == "nga":  # the iiifurl column; the spider appends /full/W,/0/default.jpg
        return f"{source_root}/iiif/{name}"
    if source in ("commons", "wikidata"):  # Wikidata: its P18 files are on Commons
        return f"{source_root}/upload/wikipedia/commons/h/ho/{name}.png"
    if source == "smithsonian":  # IDS with an ARK-style id; the spider appends /{max}
        return f"{source_root}/ids/deliveryService/id/{name}"
    if source == "europeana":  # edmIsShownBy: the provider's own file
        return f"{source_root}/providers/{BASE_ID}/{name}.png"
    if case.kind == "url":
        return {"url_file": "file:///etc/passwd",
                "url_dotdot": f"{source_root}/web/../../etc/passwd",
                "url_nul": f"{source_root}/web/x%00y.png"}[case.key]
    return f"{source_root}/web/{name}.png"


def src_value(case: Case, source_root: str) -> object:
    """The image URL a ``src`` case's record gives, as sent (a number stays a number)."""
    return {"src_relative": "/images/relative.jpg", "src_blank": "   ", "src_number": 12345,
            "src_javascript": "javascript:alert(1)",
            "src_data": "data:image/png;base64,iVBORw0KGgo=",
            "src_too_long": f"{source_root}/images/{'a' * LONG_URL_CHARS}.jpg"}[case.key]


# Each source's keys for the fields of the ``fields`` cases (Commons: extmetadata names).
FIELD_KEYS = {
    "met": {"title": "title", "date": "objectDate", "year": "objectBeginDate",
            "medium": "medium"},
    "aic": {"title": "title", "date": "date_display", "year": "date_start",
            "medium": "medium_display"},
    "cleveland": {"title": "title", "date": "creation_date", "year": "creation_date_earliest",
                  "medium": "technique"},
    "commons": {"title": "ObjectName", "date": "DateTimeOriginal"},
    "europeana": {"title": "title", "year": "year", "medium": "dcDescription"},
}
FIELD_VALUES = {
    "types_mixed": {"title": {"text": "A title in an object"}, "date": ["1650"],
                    "year": HUGE_YEAR, "medium": 3.5},
    "types_as_text": {"title": 1984, "year": "1650"},
    "record_huge_string": {"title": "H" * 2_000_000},
}


def with_fields(case: Case, source: str, record: dict, keep: tuple[str, ...]) -> dict:
    """``record`` with the ``fields`` case applied: named fields replaced, or every field but
    ``keep`` made true or null. Commons records are image infos: their extmetadata values
    are replaced."""
    if case.kind != "fields":
        return record
    if case.key in ("types_all_true", "types_all_null"):
        value = case.key == "types_all_true"
        return {k: (v if k in keep else (value or None)) for k, v in record.items()}
    keys = FIELD_KEYS[source]
    changed = {keys[f]: v for f, v in FIELD_VALUES[case.key].items() if f in keys}
    if source == "commons":
        meta = dict(record.get("extmetadata") or {})
        for key, value in changed.items():
            meta[key] = {**meta.get(key, {}), "value": value}
        return {**record, "extmetadata": meta}
    return {**record, **changed}


def expected_rows(source: str, source_root: str, list_rows: int = 0) -> dict[str, Case]:
    """Source id (as the crawl records it) -> case, for every hostile record of ``source``.

    The URL list's ids are hashes of the URLs, or ``row-N`` for a row without an http(s)
    URL; ``list_rows`` is how many real rows precede the hostile ones.
    """
    if source != "urls":
        return {hostile_id(source, c): c for c in record_cases(source)}
    from crawl.spiders.urls import url_id, valid_url

    found = {}
    for number, case in enumerate(record_cases(source), start=list_rows + 1):
        url = valid_url(image_url(source, source_root, case))
        found[url_id(url) if url else f"row-{number}"] = case
    return found


def listing_case(source: str) -> Case | None:
    found = cases_for(source, ("listing",))
    return found[0] if found else None


# --- bodies --------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def png(width: int, height: int, seed: int = 0) -> bytes:
    """A valid, deterministic RGB PNG with a little structure (distinct per seed)."""
    from PIL import Image

    side_x, side_y = min(width, 256), min(height, 256)
    tile = bytes((x * 7 + y * 3 + seed * 41) % 256 for y in range(side_y) for x in range(side_x))
    gray = Image.frombytes("L", (side_x, side_y), tile)
    im = Image.merge("RGB", (gray, gray.rotate(90) if side_x == side_y else gray,
                             Image.new("L", (side_x, side_y), (seed * 53) % 256)))
    if (side_x, side_y) != (width, height):
        im = im.resize((width, height), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    im.save(buf, "PNG", optimize=False, compress_level=9)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@functools.lru_cache(maxsize=1)
def png_bomb() -> bytes:
    """A tiny, well-formed PNG whose header claims BOMB_SIDE x BOMB_SIDE RGB pixels."""
    header = struct.pack(">IIBBBBB", BOMB_SIDE, BOMB_SIDE, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(b"\x00" * 1024, 9)) + _chunk(b"IEND", b""))


@functools.lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """A PNG signature then zeros, BOMB_INFLATED bytes in all, gzipped (about 65 KB)."""
    raw = b"\x89PNG\r\n\x1a\n" + bytes(BOMB_INFLATED - 8)
    return gzip.compress(raw, compresslevel=9, mtime=0)


def _endless(first: bytes, chunk: bytes, pause_s: float) -> Iterator[bytes]:
    started = time.monotonic()
    yield first
    while time.monotonic() - started < ENDLESS_MAX_S:
        if pause_s:
            time.sleep(pause_s)
        yield chunk


def _enormous_json(prefix: bytes, suffix: bytes) -> Iterator[bytes]:
    """Valid-looking JSON of about ENORMOUS_BYTES: one huge string between prefix and suffix."""
    filler = b"A" * (1 << 16)
    sent = len(prefix)
    yield prefix
    while sent < ENORMOUS_BYTES:
        yield filler
        sent += len(filler)
    yield suffix


HTML_PAGE = (b"<!DOCTYPE html>\n<html><head><title>Access denied</title></head>"
             b"<body><h1>Please enable JavaScript</h1></body></html>\n")


def image_response(case: Case, path: str = "", hits: int = 1) -> Response:
    """What the server answers at the case's image URL (``hits``: how often it was asked)."""
    seed = CASES.index(case)
    key = case.key
    if key == "redirect_self":
        return Response(302, b"", "text/html; charset=utf-8", {"Location": path})
    if key == "redirect_port":
        return Response(302, b"", "text/html; charset=utf-8",
                        {"Location": f"http://127.0.0.1:{OFFSITE_PORT}/images/{key}.jpg"})
    if key.startswith("retry_after_") and hits <= 1:
        value = {"retry_after_nonascii": "\u00b2",  # sent as the single byte B2
                 "retry_after_garbage": "Fri, 99 Foo 2026 soon",
                 "retry_after_past": "Thu, 01 Jan 1970 00:00:00 GMT"}[key]
        return Response(503, b"busy", "text/plain", {"Retry-After": value})
    if key.startswith("redirect_"):
        location = {"redirect_offsite": f"http://{OFFSITE_IP}/images/{key}.jpg",
                    "redirect_evil_host": f"http://localhost.evil/images/{key}.jpg",
                    "redirect_file": "file:///etc/passwd"}[key]
        return Response(302, b"", "text/html; charset=utf-8", {"Location": location})
    if key == "gzip_bomb":
        return Response(200, gzip_bomb(), "image/png", {"Content-Encoding": "gzip"})
    if key == "endless_fast":
        return Response(200, _endless(b"\xff\xd8\xff\xe0" + bytes((1 << 16) - 4), bytes(1 << 16),
                                      0.0), "image/jpeg", chunked=True)
    if key == "endless_slow":
        return Response(200, _endless(b"\xff\xd8", b"\x00", SLOW_EVERY_S), "image/jpeg",
                        chunked=True)
    if key == "png_bomb":
        return Response(200, png_bomb(), "image/png")
    if key == "image_as_html":
        return Response(200, png(120, 90, seed), "text/html; charset=utf-8")
    if key == "image_as_octet":
        return Response(200, png(120, 90, seed), "application/octet-stream")
    if key == "html_as_jpeg":
        return Response(200, HTML_PAGE, "image/jpeg")
    if key == "aspect_tall":
        return Response(200, png(1, 100_000, seed), "image/png")
    if key == "aspect_wide":
        return Response(200, png(100_000, 1, seed), "image/png")
    return Response(200, png(120, 90, seed), "image/png")  # meta and file-name cases


def size_of(case: Case) -> tuple[int, int]:
    """(width, height) the record claims for its image."""
    return {"aspect_tall": (1, 100_000), "aspect_wide": (100_000, 1),
            "png_bomb": (BOMB_SIDE, BOMB_SIDE)}.get(case.key, (120, 90))


def serve(path: str, hits: Counter | None = None) -> Response | None:
    """The server's hook: a hostile image URL's answer, or None for every other path.

    Also answers the URL list's traversal URLs, whether or not the client resolved the dot
    segments (``/urls/web/../../etc/passwd`` or ``/etc/passwd``), with a valid PNG, as a
    hostile site would to get it saved under that name.
    """
    segments = path.split("/")
    for segment in segments:
        if segment.startswith(MARKER):
            key = segment[len(MARKER):].split(".")[0]
            if key.startswith("filename_traversal"):
                key = "filename_traversal"
            case = BY_KEY.get(key)
            if case is not None:
                if hits is not None:
                    hits[path] += 1
                return image_response(case, path, hits[path] if hits is not None else 1)
    if path.endswith("/etc/passwd") or "x%00y.png" in path:
        key = "url_nul" if path.endswith(".png") else "url_dotdot"
        return Response(200, png(120, 90, CASES.index(BY_KEY[key])), "image/png")
    return None


# --- per-source records: each in that source's real format ----------------------------------------

def _raw_title(case: Case) -> str:
    return case.value if case.kind == "meta" else f"Hostile case {case.key}"


def encode_text(text: str) -> bytes:
    """UTF-8, except that the placeholders of hostile titles become invalid byte sequences.

    Python strings cannot hold invalid UTF-8, so the meta cases carry placeholders: the
    surrogate escapes \\udcff\\udcfe stand for the raw bytes FF FE, and a lone \\ud800 is
    written as the three bytes ED A0 80 (a surrogate encoded as if it were a character).
    """
    body = text.encode("utf-8", "surrogatepass")
    return body.replace("\udcff\udcfe".encode("utf-8", "surrogatepass"), b"\xff\xfe")


def json_bytes(obj) -> bytes:
    """JSON as the emulators write it; a lone surrogate becomes the JSON escape \\ud800, as a
    broken encoder would write it."""
    body = encode_text(json.dumps(obj, ensure_ascii=False))
    body = body.replace(b'"' + HUGE_NUMBER.encode() + b'"', b"9" * HUGE_DIGITS)
    return body.replace("\ud800".encode("utf-8", "surrogatepass"), b"\\ud800")


def hostile_json(obj, status: int = 200) -> Response:
    return Response(status, json_bytes(obj), "application/json; charset=utf-8")


def _template(collection, source: str):
    """A plain public-domain painting of ``source`` whose record the hostile ones copy."""
    for copy in collection.source_copies(source):
        artwork = collection.artwork(copy)
        if (copy.is_public_domain_flag and copy.has_image and not copy.defect
                and artwork.object_type == "painting"):
            return copy
    raise LookupError(f"no plain painting at {source} to model hostile records on")


def met_ids() -> list:
    """Hostile ids for the Met's objectIDs list (numbers, and strings for the id cases)."""
    return [sent_id(c) if c.kind == "id" else int(hostile_id("met", c))
            for c in record_cases("met")]


def met_object(collection, object_id: str, source_root: str) -> Response | None:
    """The Met's /objects/{id} answer for a hostile id, or None."""
    from demo.apis.met import object_record

    case = case_for_id(object_id)
    if case is None or "met" not in case.sources:
        return None
    if case.key == "record_malformed":
        body = json.dumps(object_record(collection, _template(collection, "met"),
                                        source_root)).encode()
        return Response(200, body[: len(body) // 2], "application/json; charset=utf-8")
    if case.key == "record_deep":
        return Response(200, b'{"objectID": %d, "title": ' % int(object_id) + b"[" * 10_000
                        + b"]" * 10_000 + b"}", "application/json; charset=utf-8")
    if case.key == "record_error_200":
        return hostile_json({"message": "Not a valid object"})
    if case.key == "record_enormous":
        return Response(200, _enormous_json(b'{"objectID": %d, "title": "' % int(object_id),
                                            b'"}'), "application/json; charset=utf-8",
                        chunked=True)
    record = object_record(collection, _template(collection, "met"), source_root)
    url = image_url("met", source_root, case)
    width, height = size_of(case)
    record.update(objectID=int(object_id), title=_raw_title(case), primaryImage=url,
                  primaryImageSmall=url, objectURL=f"{source_root}/art/collection/search/"
                  f"{object_id}", dimensions=f"{height} x {width} px")
    return hostile_json(with_fields(case, "met", record, ("objectID",)))


def aic_records(collection, source_root: str) -> list[dict]:
    from demo.apis.aic import artwork_record

    template = artwork_record(collection, _template(collection, "aic"), source_root)
    records = []
    for case in record_cases("aic"):
        ident = hostile_id("aic", case)
        width, height = size_of(case)
        record = {**template, "id": sent_id(case) if case.kind == "id" else int(ident),
                  "api_link": f"{source_root}/api/v1/artworks/{ident}",
                  "title": _raw_title(case), "image_id": image_url("aic", source_root, case),
                  "thumbnail": {**template["thumbnail"], "width": width, "height": height}}
        records.append(with_fields(case, "aic", record, ("id",)))
    return records


def cleveland_records(collection, source_root: str) -> list[dict]:
    from demo.apis.cleveland import artwork_record

    template = artwork_record(collection, _template(collection, "cleveland"), source_root)
    records = []
    for case in record_cases("cleveland"):
        ident = hostile_id("cleveland", case)
        width, height = size_of(case)
        url = image_url("cleveland", source_root, case)
        block = {"url": url, "width": str(width), "height": str(height), "filesize": "1000",
                 "filename": str(url).rsplit("/", 1)[-1]}
        record = {**template, "id": sent_id(case) if case.kind == "id" else int(ident),
                  "accession_number": f"H.{CASES.index(case)}", "title": _raw_title(case),
                  "url": f"{source_root}/art/H.{CASES.index(case)}",
                  "images": {"web": block, "print": block}}
        records.append(with_fields(case, "cleveland", record, ("id",)))
    return records


def broken_page(case: Case, prefix: bytes = b'{"data": [', suffix: bytes = b"]}") -> Response:
    """A listing page that cannot be read: truncated, enormous, or an error in a 200.
    ``prefix`` opens the source's page up to its list of records, ``suffix`` closes it."""
    if case.key == "listing_error_200":
        return hostile_json({"status": 403, "error": "Forbidden",
                             "detail": "Hostile demo: this page is an error in a 200"})
    if case.key == "listing_enormous":
        return Response(200, _enormous_json(prefix + b'{"title": "', b'"}' + suffix),
                        "application/json; charset=utf-8", chunked=True)
    return Response(200, prefix + b'{"id": 1, "title": "cut off he',
                    "application/json; charset=utf-8")


def nga_rows(collection, source_root: str) -> tuple[list[dict], list[dict]]:
    """(objects.csv rows, published_images.csv rows) for the hostile records."""
    objects, images = [], []
    for case in record_cases("nga"):
        ident = case.value if case.kind == "id" else hostile_id("nga", case)
        width, height = size_of(case)
        objects.append({"objectid": ident, "accessioned": 1, "accessionnum": f"H.{ident}",
                        "title": _raw_title(case), "displaydate": "1650", "beginyear": 1650,
                        "endyear": 1650, "medium": "oil on canvas",
                        "attribution": "Hostile Painter", "creditline": "Demo Collection",
                        "classification": "Painting", "visualbrowserclassification": "painting",
                        "isvirtual": 0, "departmentabbr": "DCRS"})
        url = str(image_url("nga", source_root, case))
        images.append({"uuid": "" if case.kind == "src" else url.rsplit("/", 1)[1],
                       "iiifurl": url,
                       "iiifthumburl": f"{url}/full/!200,200/0/default.jpg",
                       "viewtype": "primary", "sequence": "0", "width": width,
                       "height": height, "maxpixels": "", "openaccess": 1,
                       "depictstmsobjectid": ident})
    return objects, images


def commons_pages(collection, request, v2: bool) -> Response:
    """The hostile batch that follows a category's last real one, then a broken page."""
    from demo.apis.commons import extmetadata, imageinfo

    if request.arg("gcmcontinue") != f"{MARKER}files|1":
        return broken_page(BY_KEY["listing_malformed"], b'{"batchcomplete": true, "query": ')
    template = _template(collection, "commons")
    iiprop = set((request.arg("iiprop") or "url").split("|"))
    base = imageinfo(collection, template, request, iiprop, None, None, v2)
    pages = []
    for case in record_cases("commons"):
        ident = hostile_id("commons", case)
        url = image_url("commons", request.source_root, case)
        width, height = size_of(case)
        meta = extmetadata(collection, template)
        meta["ObjectName"] = {**meta["ObjectName"], "value": _raw_title(case)}
        info = {**base, "url": url, "descriptionurl": f"{request.source_root}/wiki/File:H{ident}",
                "width": width, "height": height, "extmetadata": meta}
        info.pop("thumburl", None)
        info = with_fields(case, "commons", info, ())
        pages.append({"pageid": sent_id(case) if case.kind == "id" else int(ident), "ns": 6,
                      "title": f"File:{_TRAVERSAL}.png" if case.key == "filename_traversal"
                      else f"File:Hostile {case.key}.png", "imagerepository": "local",
                      "imageinfo": [info]})
    body = {"batchcomplete": True if v2 else "",
            "continue": {"gcmcontinue": f"{MARKER}files|2", "continue": "gcmcontinue||"},
            "query": {"pages": pages if v2 else {str(p["pageid"]): p for p in pages}}}
    return hostile_json(body)


def commons_continuation() -> dict:
    """The ``continue`` object a category's last real batch gets in hostile mode."""
    return {"gcmcontinue": f"{MARKER}files|1", "continue": "gcmcontinue||"}


def url_rows(source_root: str) -> list[list[str]]:
    """Rows (url, title, artist, date, license) appended to the URL list."""
    return [[image_url("urls", source_root, c), _raw_title(c), "Hostile Painter", "1650",
             "Public Domain"] for c in record_cases("urls")]




# --- Wikidata: SPARQL rows, wbgetentities entities, the P18 files' image infos --------------------

XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"
_SAME_AS_PROPS = ("P3634", "P4610", "P4683", "P727", "P217")  # museum ids: none linked


def _wikidata_items() -> dict[int, Case]:
    return {wikidata_number(c): c for c in record_cases("wikidata")}


def _binding(item: object, number: object) -> dict:
    return {"item": {"type": "uri", "value": item},
            "id": {"datatype": XSD_INTEGER, "type": "literal", "value": number}}


def wikidata_bindings(rows: list[dict], first: int, end: int, limit: int) -> list[dict]:
    """The listing query's rows with the hostile items of ids ``first``..``end - 1`` among
    them, by id, at most ``limit``; the partition of listing_bad_ids gets its bad rows too."""
    from demo.apis.wikidata import ENTITY

    if first <= wikidata_number(BY_KEY["listing_bad_ids"]) < end:
        bad = [f"{ENTITY}{_TRAVERSAL}", f"{ENTITY}/etc/passwd", f"{ENTITY}Qx\x00y",
               f"{ENTITY}Q{'9' * HUGE_DIGITS}", {"x": 1}]
        return rows + [_binding(value, value if isinstance(value, str) else "1")
                       for value in bad]
    found = [(int(r["id"]["value"]), r) for r in rows]
    found += [(number, _binding(f"{ENTITY}Q{number}", str(number)))
              for number in _wikidata_items() if first <= number < end]
    return [row for _, row in sorted(found, key=lambda f: f[0])][:limit]


def wikidata_file(case: Case) -> str:
    """The file name (P18) of the case's item; no underscores (the spider asks with spaces)."""
    if case.key == "filename_traversal":
        return f"{_TRAVERSAL}.png"
    return f"Hostile {case.key.replace('_', ' ')}.png"


def _wikidata_entity(collection, case: Case) -> dict:
    """The case's item: the template painting's statements (museum ids aside), its own label
    and P18 file, and the ``fields`` case's values where Wikidata keeps those fields."""
    from demo.apis.wikidata import _statement, _time, painting_entity

    template = _template(collection, "wikidata")
    qid = hostile_id("wikidata", case)
    claims = {prop: [{**st, "id": qid + st["id"][len(template.source_id):]} for st in sts]
              for prop, sts in painting_entity(collection, template)["claims"].items()
              if prop not in _SAME_AS_PROPS}
    claims["P18"] = [_statement(qid, "P18", wikidata_file(case))]
    title: object = _raw_title(case)
    if case.kind == "fields":  # the label's value, the inception (P571), the material (P186)
        values = FIELD_VALUES.get(case.key, {})
        title = values.get("title", title)

        def statement(prop: str, value: object, kind: str, n: int) -> dict:
            return {"mainsnak": {"snaktype": "value", "property": prop,
                                 "datavalue": {"value": value, "type": kind},
                                 "datatype": "time" if kind == "time" else "wikibase-item"},
                    "type": "statement", "id": f"{qid}$HOSTILE-{prop}-{n}", "rank": "normal"}

        # A date a list, a year of 10^30 as a time value, or the year as text where a time
        # value belongs.
        times = [v if isinstance(v, (list, str)) else _time(v, 9)
                 for v in (values.get("date"), values.get("year")) if v is not None]
        if times:
            claims["P571"] = [statement("P571", v, "time", n) for n, v in enumerate(times)]
        if "medium" in values:
            claims["P186"] = [statement("P186", values["medium"], "wikibase-entityid", 0)]
    entity = {"type": "item", "id": qid, "labels": {"en": {"language": "en", "value": title}},
              "claims": claims}
    return with_fields(case, "wikidata", entity, ("id",)) \
        if case.key in ("types_all_true", "types_all_null") else entity


def wikidata_entity(collection, qid: str) -> dict | None:
    """The wbgetentities entity of a hostile item (not those whose answer is broken), or None."""
    case = case_of("wikidata", qid)
    if case is None or case.kind == "record":
        return None
    return _wikidata_entity(collection, case)


def wikidata_broken(collection, ids: list[str]) -> Response | None:
    """The broken wbgetentities answer when ``ids`` hold a ``record`` case's item, else None."""
    cases = [case_of("wikidata", qid) for qid in ids]
    case = next((c for c in cases if c is not None and c.kind == "record"), None)
    if case is None:
        return None
    qid = hostile_id("wikidata", case)
    opening = b'{"entities": {"%s": {"type": "item", "id": "%s", "labels": ' % (
        qid.encode(), qid.encode())
    if case.key == "record_malformed":
        body = json.dumps({"entities": {qid: _wikidata_entity(collection, case)},
                           "success": 1}).encode()
        return Response(200, body[: len(body) // 2], "application/json; charset=utf-8")
    if case.key == "record_deep":
        return Response(200, opening + b"[" * 10_000 + b"]" * 10_000 + b'}}, "success": 1}',
                        "application/json; charset=utf-8")
    if case.key == "record_enormous":
        return Response(200, _enormous_json(opening + b'{"en": {"language": "en", "value": "',
                                            b'"}}}}, "success": 1}'),
                        "application/json; charset=utf-8", chunked=True)
    return hostile_json({"message": "Not a valid object"})  # record_error_200


def wikidata_files(collection, request) -> Response | None:
    """The Commons API's ``titles=`` answer when it names hostile items' files (the others'
    pages as the Commons emulator gives them), else None."""
    from dataclasses import replace
    from urllib.parse import quote

    from demo.apis import commons

    titles = (request.arg("titles") or "").split("|")
    by_title = {f"File:{wikidata_file(c)}": c for c in record_cases("wikidata")
                if c.kind != "record"}
    wanted = [t for t in titles if t.replace("_", " ") in by_title]
    if request.arg("action") != "query" or request.arg("generator") or not wanted:
        return None
    v2 = request.arg("formatversion") == "2"
    rest = [t for t in titles if t not in wanted]
    if rest:  # the other files, as Commons answers them, with the hostile pages added
        answer = commons.handle(collection, replace(request, query={
            **request.query, "titles": ["|".join(rest)]}), files="wikidata")
        body = json.loads(answer.body)
    else:
        body = {"batchcomplete": True if v2 else ""}
    query = body.setdefault("query", {})
    normalized = [{"from": t, "to": t.replace("_", " ")} for t in wanted if "_" in t]
    if normalized:
        query["normalized"] = [*query.get("normalized", []), *normalized]
    template = _template(collection, "wikidata")
    iiprop = set((request.arg("iiprop") or "timestamp|user").split("|"))
    base = commons.imageinfo(collection, template, request, iiprop, None, None, v2)
    pages = query.setdefault("pages", [] if v2 else {})
    for title in (t.replace("_", " ") for t in wanted):
        case = by_title[title]
        page_id = 200_000_000 + wikidata_number(case)
        width, height = size_of(case)
        info = {**base, "width": width, "height": height}
        if "url" in iiprop:
            info.update(url=image_url("wikidata", request.source_root, case),
                        descriptionurl=f"{request.source_root}/wiki/"
                                       f"{quote(title.replace(' ', '_'))}",
                        descriptionshorturl=f"{request.source_root}/w/index.php?curid={page_id}")
        page = {"pageid": page_id, "ns": 6, "title": title, "imagerepository": "local",
                "imageinfo": [info]}
        if v2:
            pages.append(page)
        else:
            pages[str(page_id)] = page
    return hostile_json(body)


# --- Smithsonian: EDAN search rows ---------------------------------------------------------------

def _smithsonian_fields(case: Case, record: dict) -> dict:
    """The ``fields`` case in EDAN's places: the row's title, freetext date and medium, the
    indexed decades; or every field but the id true or null."""
    if case.kind != "fields":
        return record
    if case.key in ("types_all_true", "types_all_null"):
        return with_fields(case, "smithsonian", record, ("id",))
    values = FIELD_VALUES[case.key]
    content = record["content"]
    if "title" in values:
        record["title"] = values["title"]
    if "date" in values or "year" in values:
        content["freetext"]["date"] = [{"label": "Date",
                                        "content": values.get("date", values.get("year"))}]
    if "year" in values:
        content["indexedStructured"]["date"] = [values["year"]]
    if "medium" in values:
        content["freetext"]["physicalDescription"] = [
            {"label": "Medium", "content": values["medium"]}]
    return record


def smithsonian_rows(collection, source_root: str) -> list[dict]:
    """Search rows of the hostile records, in the template painting's shape."""
    import copy as copying

    from demo.apis.smithsonian import row

    template = row(collection, _template(collection, "smithsonian"), source_root)
    rows = []
    for case in record_cases("smithsonian"):
        number = BASE_ID + CASES.index(case)
        rid = f"hostile_{number}"
        content = copying.deepcopy(template["content"])
        described = content["descriptiveNonRepeating"]
        url = image_url("smithsonian", source_root, case)
        width, height = size_of(case)
        media = {"guid": f"http://n2t.net/ark:/65665/m3hostile{number}", "type": "Images",
                 "idsId": f"{MARKER}{case.key}", "usage": {"access": "CC0"}, "content": url}
        if case.kind != "src":
            media["thumbnail"] = f"{url}/150"
        media["resources"] = [{"label": "High-resolution JPEG", "url": url, "width": width,
                               "height": height, "dimensions": f"{width}x{height}"}]
        described.update(record_ID=rid, online_media={"mediaCount": 1, "media": [media]},
                         title_sort=f"HOSTILE CASE {case.key.upper()}",
                         title={"label": "Title", "content": f"Hostile case {case.key}"},
                         record_link=f"{source_root}/object/{rid}",
                         guid=f"http://n2t.net/ark:/65665/vk7hostile{number}")
        record = {**template, "id": sent_id(case) if case.kind == "id"
                  else hostile_id("smithsonian", case), "title": _raw_title(case),
                  "url": f"edanmdm:{rid}", "content": content,
                  "hash": f"hostile{number}", "docSignature": f"hostile{number}_{rid}"}
        rows.append(_smithsonian_fields(case, record))
    return rows


# --- Europeana: search items ---------------------------------------------------------------------

def europeana_items(collection, source_root: str, key: str, profile: str) -> list[dict]:
    """Search items of the hostile records (the profile's shape, keys in alphabetical order)."""
    from urllib.parse import quote

    from demo.apis.europeana import search_item

    template = search_item(collection, _template(collection, "europeana"), source_root, key,
                           profile, 0)
    items = []
    for case in record_cases("europeana"):
        local = f"H{BASE_ID + CASES.index(case)}"
        shown_by = image_url("europeana", source_root, case)
        item = {**template,
                "id": sent_id(case) if case.kind == "id" else f"/{BASE_ID}/{local}",
                "guid": f"{source_root}/item/{BASE_ID}/{local}?utm_source=api&utm_medium=api"
                        f"&utm_campaign={key}",
                "link": f"{source_root}/record/{BASE_ID}/{local}.json?wskey={key}",
                "title": [_raw_title(case)],
                "dcTitleLangAware": {"en": [f"Hostile case {case.key}"]},
                "edmIsShownBy": [shown_by],
                "edmIsShownAt": [f"{source_root}/providers/{BASE_ID}/{local}.html"],
                "edmPreview": [f"{source_root}/thumbnail/v2/url.json?uri="
                               f"{quote(str(shown_by), safe='')}&type=IMAGE"]}
        if "edmLandingPage" in item:
            item["edmLandingPage"] = [f"{source_root}/item/{BASE_ID}/{local}"]
        items.append(dict(sorted(with_fields(case, "europeana", item, ("id",)).items())))
    return items


def europeana_broken_page(request_key: str) -> Response:
    """The page after the last one (the cursor walk's): truncated JSON."""
    return broken_page(BY_KEY["listing_malformed"], json_bytes(
        {"apikey": request_key, "success": True, "requestNumber": 999})[:-1]
        + b', "items": [')
