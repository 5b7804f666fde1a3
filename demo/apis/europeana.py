"""The Europeana Search API (api.europeana.eu/record/v2/search.json), its thumbnails and the
providers' image hosts, emulated.

Routes below the source root:

- ``/record/v2/search.json`` (also ``/record/search.json`` and ``/api/v2/search.json``, as the
  real controller maps them): ``query`` (required; ``*`` or ``*:*`` for all, other words match
  titles and creators), ``qf`` (repeatable: ``TYPE:IMAGE`` and ``proxy_dc_type.en:painting``
  are understood, other terms are ignored), ``reusability`` (``open``, ``restricted``,
  ``permission``, comma-separated or repeated), ``profile`` (``minimal``, ``standard`` by
  default, ``rich`` adds ``dcTypeLangAware``), ``rows`` (default 12, capped at 100 without an
  error, as api.search.rowLimit does), ``start`` (from 1; ``start - 1 + rows`` over 1,000 is the
  400 ``400-SL``) or ``cursor`` (``*``, then each answer's ``nextCursor``, opaque base64; not
  with ``start`` > 1: ``400-SD``; one that does not decode: ``400-SC``). The key comes in the
  ``X-Api-Key`` header or as ``wskey``; only ``api2demo`` is registered here: none or another
  is a 401 in the shape the live API answers.
- ``/thumbnail/v2/url.json?uri=...&type=IMAGE[&size=w200|w400]``: the thumbnail API (no key),
  a small JPEG of a provider image named by ``uri``; unknown: 404.
- ``/providers/{dataset}/{copy_id}.{jpg|png}``: the providers' own files (``edmIsShownBy``), as
  the provider holds them (the original bytes); in real life each on its provider's host.
- ``/item/{dataset}/{local_id}``: a plain landing page (what ``guid`` names).

Answers follow api2's JSON: the envelope ``apikey, success, requestNumber (999), itemsCount,
totalResults, nextCursor, items``, items with alphabetically ordered keys (``@JsonPropertyOrder
(alphabetic=true)``), list-valued fields, language maps ``{"def"|"en"|"nl": [...]}``; errors as
``{"apikey", "success": false, "error", "message", "code"}``. Cursor paging is Solr's: a page
holding records always names a ``nextCursor``; the page after the last record is empty and has
none (in hostile mode, ``demo/hostile.py``: hostile items after the real ones, then a truncated
page instead of the empty one). Records of dataset 2048128 name their creator as a linked-data
URI (``dcCreator``) with the name only in ``edmAgentLabel``, as some aggregators deliver them.

A painting's genre comes as Europeana's semantic enrichment gives it (``profile=standard`` and
``rich``, api2's ApiBean): ``edmConcept`` (concept URIs), ``edmConceptLabel`` (``[{"def":
label}]``) and ``edmConceptPrefLabelLangAware`` (``{"en": ["Portrait", "Painting"], "nl":
["portret", "schilderij"]}``); ``profile=rich`` adds the provider's own ``dcSubjectLangAware`` in
the provider's language (``{"nl": ["portret"]}``). There is no identifier in a search item.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import html
import re
from urllib.parse import quote, urlsplit

from demo import hostile
from demo.apis import attributed_name, image_response, paginate
from demo.catalog import EUROPEANA_RIGHTS, Copy
from demo.collection import DemoCollection
from demo.server import Request, Response, error_response, json_response

SEARCH_PATHS = ("/record/v2/search.json", "/record/search.json", "/api/v2/search.json")
KEYS = ("api2demo",)  # the registered keys: Europeana's public demo key
DEFAULT_ROWS = 12
MAX_ROWS = 100  # api.search.rowLimit: more is capped, not refused
SEARCH_LIMIT = 1000  # solr.searchLimit: start paging ends here
REQUEST_NUMBER = 999  # api2 writes a fixed, deprecated requestNumber
PROFILES = ("minimal", "standard", "rich")
THUMBNAIL_SIZES = {"w200": 200, "w400": 400}
# edm:rights URI -> reusability group (corelib's RightReusabilityCategorizer).
REUSABILITY = {EUROPEANA_RIGHTS["PDM"]: "open", EUROPEANA_RIGHTS["CC0"]: "open",
               EUROPEANA_RIGHTS["CC BY-SA"]: "open", EUROPEANA_RIGHTS["InC"]: "permission"}
# Each provider dataset: (data provider, aggregator, country, language, "painting" in it).
DATASETS = {
    "2021608": ("Demo Museum of Fine Arts, Amsterdam", "Demo Digital Heritage NL",
                "Netherlands", "nl", "schilderij"),
    "2048128": ("Demo National Museum of Art, Bucharest", "Demo Culturalia Aggregator",
                "Romania", "ro", "pictur\u0103"),
    "90402": ("Demo State Museum", "Demo Museum Network", "Netherlands", "nl", "schilderij"),
    "15508": ("Demo Royal Museums of Fine Arts", "Demo Aggregator BE", "Belgium", "fr",
              "peinture"),
}
LINKED_DATA_CREATORS = "2048128"  # this aggregator's records name creators by URI
# A painting's genre by its kind: (concept number, English concept label, the word a provider
# writing in nl, ro, fr or en puts in dc:subject). The English labels name the genre the
# painting has everywhere else (Wikidata's P136, AIC's subjects); the concept numbers are the
# demo's own.
GENRE_CONCEPTS = {
    "portrait": (190, "Portrait", {"nl": "portret", "ro": "portret", "fr": "portrait",
                                   "en": "portrait"}),
    "landscape": (191, "Landscape painting", {"nl": "landschap", "ro": "peisaj",
                                              "fr": "paysage", "en": "landscape"}),
    "seascape": (192, "Marine art", {"nl": "zeegezicht", "ro": "marin\u0103", "fr": "marine",
                                     "en": "seascape"}),
    "still_life": (193, "Still life", {"nl": "stilleven", "ro": "natur\u0103 static\u0103",
                                       "fr": "nature morte", "en": "still life"}),
    "geometric": (194, "Abstract art", {"nl": "abstracte kunst",
                                        "ro": "art\u0103 abstract\u0103", "fr": "art abstrait",
                                        "en": "abstract art"}),
}
PAINTING_CONCEPT = (47, "Painting")
CONCEPT_ROOT = "http://data.europeana.eu/concept/"
CURSOR_MAGIC = b"AoE\x01"
EPOCH_MS = 1_516_099_965_548  # the first record's creation time, fixed (no clock)
PAGE_LIMIT = ("It is not possible to paginate beyond the first 1000 search results. Please use "
              "cursor-based pagination instead")
CURSOR_INVALID = ("Invalid cursor value. Please make sure you encode the cursor value before "
                  "sending it to the API.")
CURSOR_ENCODE = "Please make sure you encode the cursor value before sending it to the API."
START_AND_CURSOR = "Parameters 'start' and 'cursorMark' cannot be used together"


# --- keys and errors ---------------------------------------------------------------------------


def key_of(request: Request) -> str | None:
    header = next((v for k, v in request.headers.items() if k.lower() == "x-api-key"), None)
    return (header or request.arg("wskey") or "").strip() or None


def api_error(status: int, error: str, message: str | None = None, code: str | None = None,
              apikey: str | None = None) -> Response:
    """api2's ApiError: apikey, success, error, message, code (absent ones left out)."""
    body = {"apikey": apikey, "success": False, "error": error, "message": message,
            "code": code}
    return json_response({k: v for k, v in body.items() if v is not None}, status)


def key_refused(request: Request) -> Response | None:
    """401 as the live API answered in 2026: no key, or one it does not know."""
    key = key_of(request)
    if key is None:
        return api_error(401, "Unauthorized", "Invalid API key provided!", "invalid_apikey")
    if key not in KEYS:
        return api_error(401, "API key is invalid", "Please register for an API key",
                         "401_key_invalid")
    return None


# --- records -----------------------------------------------------------------------------------


def dataset_and_local(copy: Copy) -> tuple[str, str]:
    dataset, _, local = copy.source_id.partition(":")
    return dataset, local


def europeana_id(copy: Copy) -> str:
    """Europeana's record id: ``/dataset/local`` (the catalogue writes ``dataset:local``)."""
    dataset, local = dataset_and_local(copy)
    return f"/{dataset}/{local}"


def image_path(copy: Copy) -> str:
    dataset, _ = dataset_and_local(copy)
    return f"/providers/{dataset}/{copy.copy_id}.{copy.extension}"


def reusability_of(copy: Copy) -> str:
    return REUSABILITY.get(copy.license, "permission")


def _timestamps(n: int) -> dict:
    created = EPOCH_MS + n * 86_400_000
    updated = created + 7 * 86_400_000
    iso = {ms: datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
           .strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z" for ms in (created, updated)}
    return {"timestamp": updated + 12_345, "timestamp_created": iso[created],
            "timestamp_created_epoch": created, "timestamp_update": iso[updated],
            "timestamp_update_epoch": updated}


def search_item(collection: DemoCollection, copy: Copy, root: str, key: str, profile: str,
                index: int) -> dict:
    """One item of a search answer, in the profile's shape, keys in alphabetical order."""
    artwork, artist = collection.artwork(copy), collection.artist(copy)
    dataset, local = dataset_and_local(copy)
    provider, aggregator, country, language, painting_word = DATASETS.get(
        dataset, ("Demo Provider", "Demo Aggregator", "Europe", "en", "painting"))
    record_id = europeana_id(copy)
    shown_by = f"{root}{image_path(copy)}"
    creator = attributed_name(artist, artwork)
    years = [str(artwork.date_start)] + ([str(artwork.date_end)]
                                         if artwork.date_end != artwork.date_start else [])
    n = int(re.sub(r"\D", "", copy.copy_id) or 0)
    item = {
        "dataProvider": [provider],
        "dcCreator": [creator],
        "dcCreatorLangAware": {"def": [creator]},
        "dcDescription": [f"{artwork.medium}. {artwork.date_text}."],
        "dcDescriptionLangAware": {"en": [f"{artwork.medium}. {artwork.date_text}."]},
        "dcLanguage": [language],
        "dcLanguageLangAware": {"def": [language]},
        "dcTitleLangAware": {"en": [artwork.title]},
        "edmIsShownAt": [f"{root}/providers/{dataset}/{copy.copy_id}.html"],
        "edmIsShownBy": [shown_by],
        "edmPreview": [f"{root}/thumbnail/v2/url.json?uri={quote(shown_by, safe='')}"
                       "&type=IMAGE"],
        "europeanaCompleteness": 5 + n % 6,
        "guid": f"{root}/item/{dataset}/{local}?utm_source=api&utm_medium=api&utm_campaign="
                f"{key}",
        "id": record_id,
        "index": 0,
        "language": [language],
        "link": f"{root}/record/{dataset}/{local}.json?wskey={key}",
        "provider": [aggregator],
        "rights": [copy.license],
        "score": round(1.0 / (1 + index % 7), 4),
        "title": [artwork.title],
        "type": "IMAGE",
        "year": years,
    }
    if dataset == LINKED_DATA_CREATORS:  # the name only in the agent's label
        uri = f"http://data.demo-culturalia.ro/agent/{artist.artist_id}"
        item.update(dcCreator=[uri], dcCreatorLangAware={"def": [uri]}, edmAgent=[uri],
                    edmAgentLabel=[{"def": artist.name}],
                    edmAgentLabelLangAware={language: [artist.name]})
    genre = GENRE_CONCEPTS.get(artwork.kind)
    if profile != "minimal" and genre is not None:  # Europeana's enrichment (ApiBean)
        number, english, words = genre
        labels = {"en": [english, PAINTING_CONCEPT[1]]}
        if language != "en":
            labels[language] = [words.get(language, english.lower()), painting_word]
        item.update(edmConcept=[f"{CONCEPT_ROOT}{number}", f"{CONCEPT_ROOT}{PAINTING_CONCEPT[0]}"],
                    edmConceptLabel=[{"def": v} for values in labels.values() for v in values],
                    edmConceptPrefLabelLangAware=labels)
    if profile != "minimal":
        item.update(completeness=item["europeanaCompleteness"], country=[country],
                    edmDatasetName=[f"{dataset}_Ag_Demo"],
                    europeanaCollectionName=[f"{dataset}_Ag_Demo"], previewNoDistribute=False,
                    ugc=[False], **_timestamps(n))
    if profile == "rich":
        types = {"en": [artwork.object_type]}
        if artwork.object_type == "painting":
            types[language] = [painting_word]
        item.update(dcTypeLangAware=types,
                    edmLandingPage=[f"{root}/item/{dataset}/{local}"],
                    organizations=[provider])
        if genre is not None:  # the provider's own subject, in its own language
            item["dcSubjectLangAware"] = {language: [genre[2].get(language, genre[1].lower())]}
    return dict(sorted(item.items()))


# --- searching ---------------------------------------------------------------------------------


def _qf_matches(collection: DemoCollection, copy: Copy, term: str) -> bool:
    """One qf term; terms this emulator does not know select everything."""
    field, _, value = term.partition(":")
    field, value = field.strip().lower(), value.strip().strip('"').lower()
    if field == "type":
        return value == "image"
    if field in ("proxy_dc_type.en", "proxy_dc_type"):
        return collection.artwork(copy).object_type == value
    return True


def _query_matches(collection: DemoCollection, copy: Copy, query: str) -> bool:
    words = query.strip().strip('"').lower()
    if words in ("*", "*:*"):
        return True
    artwork, artist = collection.artwork(copy), collection.artist(copy)
    return words in artwork.title.lower() or words in artist.name.lower()


def _reusability(request: Request) -> set[str]:
    wanted = {v.strip().lower() for values in request.query.get("reusability", [])
              for v in values.split(",") if v.strip()}
    return wanted & {"open", "restricted", "permission"}


def encode_cursor(offset: int) -> str:
    """An opaque cursor mark (base64, with ``+``, ``/`` and ``=`` as Solr's have)."""
    check = hashlib.sha1(offset.to_bytes(8, "big")).digest()[:7]
    return base64.b64encode(CURSOR_MAGIC + offset.to_bytes(4, "big") + check + b"\xfb\xff")\
        .decode()


def decode_cursor(cursor: str) -> int | None:
    try:
        raw = base64.b64decode(cursor, validate=True)
    except ValueError:
        return None
    if len(raw) != 17 or not raw.startswith(CURSOR_MAGIC):
        return None
    offset = int.from_bytes(raw[4:8], "big")
    return offset if raw == base64.b64decode(encode_cursor(offset)) else None


def _int_arg(request: Request, name: str, default: int) -> int | str:
    """The argument as Spring binds an int, or the text that failed to convert."""
    value = request.arg(name)
    if value is None or value == "":
        return default
    try:
        return int(value.strip())
    except ValueError:
        return value


def _not_an_int(text: str) -> Response:
    return api_error(400, "Failed to convert value of type 'java.lang.String' to required type "
                          f"'int'; nested exception is java.lang.NumberFormatException: For "
                          f"input string: \"{text}\"")


def search(collection: DemoCollection, request: Request) -> Response:
    refused = key_refused(request)
    if refused is not None:
        return refused
    key = key_of(request)
    query = request.arg("query")
    if query is None:
        return api_error(400, "Required parameter 'query' missing", apikey=key)
    if not query.strip():
        return api_error(400, "Empty search query parameter", code="400-SE", apikey=key)
    rows, start = _int_arg(request, "rows", DEFAULT_ROWS), _int_arg(request, "start", 1)
    for value in (rows, start):
        if isinstance(value, str):
            return _not_an_int(value)
    rows = max(0, min(rows, MAX_ROWS))
    cursor = request.arg("cursor")
    if cursor is not None:
        if start > 1:
            return api_error(400, START_AND_CURSOR, START_AND_CURSOR, "400-SD", key)
        offset = 0 if cursor == "*" else decode_cursor(cursor)
        if offset is None:
            return api_error(400, CURSOR_INVALID, CURSOR_ENCODE, "400-SC", key)
    else:
        if start < 1:
            return api_error(400, "Invalid search query", code="400-SA", apikey=key)
        if start - 1 + rows > SEARCH_LIMIT:
            return api_error(400, PAGE_LIMIT, PAGE_LIMIT, "400-SL", key)
        offset = start - 1
    profile = next((p for p in reversed(PROFILES)
                    if p in (request.arg("profile") or "standard").lower().split(",")),
                   "standard")
    reusability = _reusability(request)
    found = collection.listing(
        request.listing_key("europeana", "start", "rows", "cursor", "wskey", "profile"),
        lambda: [c for c in collection.source_copies("europeana")
                 if _query_matches(collection, c, query)
                 and all(_qf_matches(collection, c, t) for t in request.query.get("qf", []))
                 and (not reusability or reusability_of(c) in reusability)])
    if request.hostile:  # hostile items after the real ones, then one truncated page
        return _hostile_search(collection, request, found, offset, rows, key, profile)
    page = found[offset: offset + rows]
    body = {"apikey": key, "success": True, "requestNumber": REQUEST_NUMBER,
            "itemsCount": len(page), "totalResults": len(found)}
    if cursor is not None and page:  # Solr: a page with records names the next mark
        body["nextCursor"] = encode_cursor(offset + len(page))
    body["items"] = [search_item(collection, c, request.source_root, key, profile, offset + i)
                     for i, c in enumerate(page)]
    return json_response(body)


def _hostile_search(collection: DemoCollection, request: Request, found: list[Copy],
                    offset: int, rows: int, key: str, profile: str) -> Response:
    """The search in hostile mode (demo/hostile.py): whatever the filters say, the hostile
    items follow the real ones, and the cursor walk's page after the last item (an empty page
    without ``nextCursor``) is cut off instead."""
    extra = hostile.europeana_items(collection, request.source_root, key, profile)
    total = len(found) + len(extra)
    cursor = request.arg("cursor")
    if cursor is not None and rows and offset >= total:
        return hostile.europeana_broken_page(key)
    page = found[offset: offset + rows]
    items = [search_item(collection, c, request.source_root, key, profile, offset + i)
             for i, c in enumerate(page)]
    items += paginate(extra, offset - len(found), rows - len(items))
    body = {"apikey": key, "success": True, "requestNumber": REQUEST_NUMBER,
            "itemsCount": len(items), "totalResults": total}
    if cursor is not None and items:
        body["nextCursor"] = encode_cursor(offset + len(items))
    body["items"] = items
    return hostile.hostile_json(body)


# --- files -------------------------------------------------------------------------------------


def _copy_at(collection: DemoCollection, path: str) -> Copy | None:
    match = re.fullmatch(r"/providers/(\w+)/(europeana-\d+)\.(jpg|png)", path)
    if match is None:
        return None
    copy = collection.copies.get(match[2])
    if copy is None or copy.source != "europeana" or image_path(copy) != path:
        return None
    return copy


def thumbnail(collection: DemoCollection, request: Request) -> Response:
    uri = request.arg("uri") or ""
    parts = urlsplit(uri)
    root_path = urlsplit(request.source_root).path
    path = parts.path[len(root_path):] if parts.path.startswith(root_path + "/") else ""
    copy = _copy_at(collection, path)
    if copy is None:
        return error_response(404, "thumbnail not found", as_json=False)
    size = THUMBNAIL_SIZES.get(request.arg("size") or "w400", 400)
    return image_response(collection, copy, max_side=size)


def landing_page(collection: DemoCollection, dataset: str, local: str) -> Response:
    copy = collection.by_source_id("europeana", f"{dataset}:{local}")
    if copy is None:
        return error_response(404, "Item not found", as_json=False)
    artwork = collection.artwork(copy)
    title = html.escape(artwork.title)
    creator = html.escape(attributed_name(collection.artist(copy), artwork))
    page = (f"<!DOCTYPE html><html><head><title>{title} | Europeana</title></head><body>"
            f"<h1>{title}</h1><p>{creator}</p></body></html>")
    return Response(200, page.encode(), "text/html; charset=utf-8")


def handle(collection: DemoCollection, request: Request) -> Response:
    path = request.path.rstrip("/") or "/"
    if path in SEARCH_PATHS:
        return search(collection, request)
    if path == "/thumbnail/v2/url.json":
        return thumbnail(collection, request)
    if path.startswith("/providers/"):
        copy = _copy_at(collection, path)
        if copy is None:
            return error_response(404, "Not Found", as_json=False)
        return image_response(collection, copy, max_side=None)
    item = re.fullmatch(r"/item/(\w+)/([\w.-]+)", path)
    if item:
        return landing_page(collection, item[1], item[2])
    return api_error(404, "Not Found", apikey=key_of(request))
