"""Hostile mode for the demo server: records and responses built to break a crawler.

Off by default. ``DemoServer(root, hostile=True)``, ``python -m demo serve --hostile`` or
``demo.hostile: true`` in params appends the records below to EVERY source's listing, each in
that source's own format (Met object ids and records, AIC and Cleveland pages, NGA CSV rows,
Commons pages, URL-list rows), and answers their URLs with the hostile bodies. With it off,
nothing here runs and the demo's answers are byte for byte those of a normal server.

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


@dataclass(frozen=True)
class Case:
    key: str  # short name; image URLs carry MARKER + key
    kind: str  # id | image | meta | record | listing | url
    served: str  # what the server does, in words
    status: str | None  # expected records.parquet status; None: no row, a listing error
    reason: str | None  # expected reason code (crawl/reasons.py); None for stored rows
    value: str = ""  # the hostile id (kind id) or title (kind meta)
    sources: tuple[str, ...] = ("met", "aic", "cleveland", "nga", "commons", "urls")
    raw: object = None  # kind id: the id as JSON sends it when it is not text


_TRAVERSAL = "../../etc/passwd"
_STORED = ("stored", None)
JSON_SOURCES = ("met", "aic", "cleveland", "commons")  # records as JSON (NGA: CSV cells)
HUGE_DIGITS = 5000  # an id of this many digits (over Python's 4,300-digit int limit)
HUGE_NUMBER = "__hostile_huge_number__"  # json_bytes writes it as a bare 5000-digit number
HUGE_YEAR = 10**30
LONG_URL_CHARS = 3000  # over crawl.max_url_chars (2,083)
CASES: tuple[Case, ...] = (
    # Ids that would be paths if anybody used them as file names. The crawler refuses them
    # before any request is built from them. (A URL list has no ids: see the url cases.)
    Case("id_traversal", "id", f"record id {_TRAVERSAL!r}", "rejected", "unsafe_id",
         _TRAVERSAL, TEMPLATE_SOURCES),
    Case("id_encoded", "id", "record id '..%2F..%2Fx'", "rejected", "unsafe_id",
         "..%2F..%2Fx", TEMPLATE_SOURCES),
    Case("id_absolute", "id", "record id '/etc/passwd'", "rejected", "unsafe_id",
         "/etc/passwd", TEMPLATE_SOURCES),
    Case("id_nul", "id", "record id 'x\\x00y' (a NUL byte)", "rejected", "unsafe_id",
         "x\x00y", TEMPLATE_SOURCES),
    # Ids of the wrong JSON type or size. The row needs a key all the same: a digest.
    Case("id_huge", "id", f"record id: a JSON number of {HUGE_DIGITS:,} digits", "rejected",
         "unsafe_id", "9" * HUGE_DIGITS, TEMPLATE_SOURCES, raw=HUGE_NUMBER),
    Case("id_object", "id", 'record id: a JSON object {"x": 1}', "rejected", "unsafe_id",
         '{"x": 1}', JSON_SOURCES, raw={"x": 1}),
    Case("id_superscript", "id", "record id '4²' (a digit that str.isdigit() accepts and int() "
         "does not)", *_STORED, "4²", ("aic", "cleveland", "nga", "commons")),
    # Fields of the wrong JSON type: conformed to the records schema, noted in the error.
    Case("types_mixed", "fields", "title an object, date a list, year 10^30, medium a float",
         *_STORED, sources=JSON_SOURCES),
    Case("types_as_text", "fields", "title the number 1984, year the text '1650'", *_STORED,
         sources=JSON_SOURCES),
    Case("types_all_true", "fields", "every field of the record true (the id aside)",
         "metadata_only", "object_type", sources=JSON_SOURCES),
    Case("types_all_null", "fields", "every field of the record null (the id aside)",
         "metadata_only", "object_type", sources=JSON_SOURCES),
    Case("record_huge_string", "fields", "a record holding a 2 MB string (under max_bytes, over "
         "the 1,000,000 characters a record's JSON may have)", "rejected", "too_large",
         sources=JSON_SOURCES),
    # Image URLs no fetch can use, as the record gives them.
    Case("src_relative", "src", "image URL '/images/relative.jpg'", "rejected", "bad_url",
         sources=("met", "cleveland", "nga", "commons")),
    Case("src_blank", "src", "image URL '   '", "rejected", "bad_url",
         sources=("met", "commons")),
    Case("src_number", "src", "image URL the number 12345", "rejected", "bad_url",
         sources=("met", "cleveland", "commons")),
    Case("src_javascript", "src", "image URL 'javascript:alert(1)'", "rejected", "bad_url",
         sources=("met", "cleveland", "nga", "commons")),
    Case("src_data", "src", "image URL 'data:image/png;base64,...'", "rejected", "bad_url",
         sources=("met", "cleveland", "nga", "commons")),
    Case("src_too_long", "src", f"image URL of {LONG_URL_CHARS:,} characters", "rejected",
         "bad_url", sources=("met", "cleveland", "nga", "commons")),
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
         sources=TEMPLATE_SOURCES),
    Case("shared_image_2", "image", "the same image URL as shared_image_1", *_STORED,
         sources=TEMPLATE_SOURCES),
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
    # Per-record metadata documents (the Met fetches one per object).
    Case("record_malformed", "record", "the object's JSON cut off in the middle",
         "failed", "bad_record", sources=("met",)),
    Case("record_enormous", "record", f"a {ENORMOUS_BYTES // 10**6} MB object JSON, chunked",
         "rejected", "too_large", sources=("met",)),
    Case("record_deep", "record", "the object's JSON nested 10,000 levels deep", "failed",
         "bad_record", sources=("met",)),
    Case("record_error_200", "record", 'a 200 whose body is {"message": "Not a valid object"}',
         "failed", "bad_record", sources=("met",)),
    # Listing pages: a page that cannot be read ends the listing there (a logged error; the
    # run reports itself incomplete); every record before it is crawled as usual.
    Case("listing_malformed", "listing", "the page after the last one: truncated JSON",
         None, "bad_record", sources=("commons",)),
    Case("listing_error_200", "listing", "the page after the last one: a 200 whose body is "
         'an error object ({"status": 403, "error": ...}); every page claims a total of '
         "10^12 and a page size of -5", None, "bad_record", sources=("aic",)),
    Case("listing_enormous", "listing",
         f"the page after the last one: {ENORMOUS_BYTES // 10**6} MB of JSON, chunked",
         None, "too_large", sources=("cleveland",)),
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
    """The record id the listing gives the case (the hostile value itself for id cases)."""
    if case.kind == "id":
        from crawl.spiders.base import record_id

        # The key the crawler makes of the id it parses: the huge number arrives as its digits
        # (crawl.spiders.base.parse_json keeps numbers that long as text), the object as one.
        return record_id(case.raw if isinstance(case.raw, dict) else case.value)[0]
    return str(BASE_ID + CASES.index(case))


def sent_id(case: Case) -> object:
    """The id as the listing sends it (the huge number as a placeholder json_bytes expands)."""
    return case.value if case.raw is None else case.raw


def case_for_id(source_id: str) -> Case | None:
    try:
        index = int(source_id) - BASE_ID
    except ValueError:
        return None
    return CASES[index] if 0 <= index < len(CASES) else None


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
    if source == "commons":
        return f"{source_root}/upload/wikipedia/commons/h/ho/{name}.png"
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


def broken_page(case: Case, prefix: bytes = b'{"data": [') -> Response:
    """A listing page that cannot be read: truncated, enormous, or an error in a 200."""
    if case.key == "listing_error_200":
        return hostile_json({"status": 403, "error": "Forbidden",
                             "detail": "Hostile demo: this page is an error in a 200"})
    if case.key == "listing_enormous":
        return Response(200, _enormous_json(prefix + b'{"title": "', b'"}]}'),
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


