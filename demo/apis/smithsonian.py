"""The Smithsonian Open Access API (api.si.edu/openaccess/api/v1.0) and its image delivery service
(ids.si.edu), emulated.

Routes below the source root: ``/search`` and ``/category/{art_design|history_culture|
science_technology}/search`` (``q``, ``start``, ``rows`` 0..1000, ``sort``, ``type``,
``row_group``), ``/content/{row id or edanmdm:record_ID}``; each wants an api.data.gov key
(``api_key=`` or the ``X-Api-Key`` header: ``DEMO_KEY`` or 40 letters and digits), else 403 in
api.data.gov's shape. ``q`` understands the fielded terms crawls use (``object_type:Paintings``,
``online_media_type:Images``, ``unit_code:SAAM``, ``media_usage:CC0``, ``data_source:"..."``)
joined with AND, OR and NOT; free words and other fields are ignored. Rows come whole, as in
the real search: ``descriptiveNonRepeating`` (ids, title, record_link, ``metadata_usage``,
``online_media``), ``indexedStructured`` (decades, inverted names, object types, subject
``topic`` terms) and ``freetext`` (``[{"label", "content"}]`` lists: the artist line in SAAM's
"born PLACE YEAR-died PLACE YEAR" form, the date as written, the medium, the ``identifier``
labelled "Object number"). A record the Smithsonian does not release
as CC0 keeps its image media entry with ``usage.access`` "Usage conditions apply" and no
``content``, ``thumbnail`` or ``resources``: nothing to download.

Images, on ids.si.edu in real life and under this prefix here (no key): ``/ids/deliveryService?
id=IDS_ID[&max=N]`` (the long side scaled down to N; the original without ``max``) and
``/ids/download?id=IDS_ID.jpg`` (the original).

In hostile mode (``demo/hostile.py``) the search appends hostile rows after the real ones; their
images are hostile URLs.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote

from demo import hostile
from demo.apis import SUBJECTS, attributed_name, image_response, paginate
from demo.catalog import Copy
from demo.collection import DemoCollection
from demo.server import Request, Response, error_response, json_response

MAX_ROWS = 1000
DEFAULT_ROWS = 10  # also what the API answers to rows outside 0..1000
UNIT = "SAAM"
DATA_SOURCE = "Smithsonian American Art Museum"
# indexedStructured.object_type, as the Smithsonian's units index them (plural AAT terms).
OBJECT_TYPES = {"painting": "Paintings", "drawing": "Drawings", "print": "Prints",
                "photograph": "Photographs", "sculpture": "Sculpture"}
FREETEXT_TYPES = {"painting": "Painting", "drawing": "Drawing", "print": "Print",
                  "photograph": "Photograph", "sculpture": "Sculpture"}
NOT_CC0 = "Usage conditions apply"
SORTS = ("relevancy", "id", "newest", "updated", "random")
TYPES = ("edanmdm", "ead_collection", "ead_component", "all")
ROW_GROUPS = ("objects", "archives")
CATEGORIES = ("art_design", "history_culture", "science_technology")
SIGNUP = "https://api.data.gov:443"
EDAN_TIMESTAMP = "Fri Jun 07 09:23:09 EDT 2019"  # EDAN's error bodies carry one; fixed here
_API_KEY = re.compile(r"[A-Za-z0-9]{40}")
_TERM = re.compile(r'(NOT\s+)?(?:(\w+):)?("[^"]*"|[^\s()"]+)')


def record_id(copy: Copy) -> str:
    """'edanmdm-saam_1934.1' (the row id) -> 'saam_1934.1' (descriptiveNonRepeating.record_ID)."""
    return copy.source_id.removeprefix("edanmdm-")


def ids_id(copy: Copy) -> str:
    """The image's IDS id, as SAAM names them: 'SAAM-1934.1_1'."""
    return f"{UNIT}-{record_id(copy).split('_', 1)[-1]}_1"


def _downloadable(copy: Copy) -> bool:
    return copy.is_public_domain_flag and copy.has_image


def _digest(text: str, name: str = "sha1") -> str:
    return hashlib.new(name, text.encode()).hexdigest()


def artist_line(collection: DemoCollection, copy: Copy) -> str:
    """SAAM's freetext artist: 'Winslow Homer, born Boston, MA 1836-died Prouts Neck, ME 1910'."""
    artist, artwork = collection.artist(copy), collection.artwork(copy)
    line = attributed_name(artist, artwork)
    if artist.birth_year is not None:
        line += (f", born {artist.birth_place} {artist.birth_year}-died {artist.death_place} "
                 f"{artist.death_year}")
    return line


def _inverted(name: str) -> str:
    first, _, last = name.rpartition(" ")
    return f"{last}, {first}" if first else name


def _media(collection: DemoCollection, copy: Copy, root: str) -> dict:
    ident = ids_id(copy)
    entry: dict = {"guid": f"http://n2t.net/ark:/65665/m3{_digest(ident)[:32]}",
                   "type": "Images", "idsId": ident, "usage": {"access": copy.license}}
    if _downloadable(copy):
        width, height = collection.size(copy)
        delivery = f"{root}/ids/deliveryService?id={ident}"
        screen = max(1, round(min(1.0, 800 / max(width, height)) * width)), \
            max(1, round(min(1.0, 800 / max(width, height)) * height))
        entry.update({
            "content": delivery, "thumbnail": f"{delivery}&max=150",
            "resources": [
                {"label": "High-resolution JPEG", "url": f"{root}/ids/download?id={ident}.jpg",
                 "width": width, "height": height, "dimensions": f"{width}x{height}"},
                {"label": "Screen Image", "url": f"{delivery}&max=800",
                 "width": screen[0], "height": screen[1],
                 "dimensions": f"{screen[0]}x{screen[1]}"}]})
    return {"mediaCount": 1, "media": [entry]}


def row(collection: DemoCollection, copy: Copy, root: str) -> dict:
    """One search row (and /content answer) in the real shape."""
    artwork, artist = collection.artwork(copy), collection.artist(copy)
    rid = record_id(copy)
    width, height = collection.size(copy)
    decades = range(artwork.date_start // 10 * 10, artwork.date_end // 10 * 10 + 1, 10)
    signature = _digest(copy.source_id + artwork.title)
    stamp = str(1_650_000_000 + int(_digest(copy.source_id)[:6], 16))
    return {
        "id": copy.source_id,
        "title": artwork.title,
        "unitCode": UNIT,
        "type": "edanmdm",
        "url": f"edanmdm:{rid}",
        "content": {
            "descriptiveNonRepeating": {
                "record_ID": rid,
                "online_media": _media(collection, copy, root),
                "unit_code": UNIT,
                "title_sort": artwork.title.upper(),
                "title": {"label": "Title", "content": artwork.title},
                "metadata_usage": {"access": copy.license},
                "data_source": DATA_SOURCE,
                "record_link": f"{root}/object/{rid}",
                "guid": f"http://n2t.net/ark:/65665/vk7{_digest(rid)[:8]}",
            },
            "indexedStructured": _indexed(artwork, artist, decades),
            "freetext": {
                "date": [{"label": "Date", "content": artwork.date_text}],
                "name": [{"label": "Artist", "content": artist_line(collection, copy)}],
                "physicalDescription": [
                    {"label": "Medium", "content": artwork.medium.lower()},
                    {"label": "Dimensions",
                     "content": f"{height / 40:.1f} x {width / 40:.1f} cm."}],
                "objectType": [{"label": "Type", "content": FREETEXT_TYPES[artwork.object_type]}],
                "setName": [{"label": "See more items in",
                             "content": f"{DATA_SOURCE} Collection"}],
                "creditLine": [{"label": "Credit Line", "content": "Gift of a fictional donor"}],
                "dataSource": [{"label": "Data Source", "content": DATA_SOURCE}],
                "identifier": [{"label": "Object number",
                                "content": rid.split("_", 1)[-1]}],
                "objectRights": [{"label": "Restrictions & Rights", "content": copy.license}],
            },
        },
        "hash": signature,
        "docSignature": f"{signature}_{_digest(rid, 'md5')}",
        "timestamp": stamp,
        "lastTimeUpdated": stamp,
        "version": "",
    }


def _indexed(artwork, artist, decades: range) -> dict:
    """indexedStructured: decades, the inverted name, types; ``topic`` holds the subject terms
    (AIC's and the Met's words for the same painting: "Portraits", "Men") and, as EDAN leaves
    empty fields out, is absent where there are none."""
    indexed = {"date": [f"{d}s" for d in decades], "name": [_inverted(artist.name)],
               "object_type": [OBJECT_TYPES[artwork.object_type]],
               "online_media_type": ["Images"]}
    if topics := list(SUBJECTS.get(artwork.kind, ())):
        indexed["topic"] = topics
    return indexed


def _facets(collection: DemoCollection, copy: Copy) -> dict[str, list[str]]:
    """What the fielded terms of ``q`` match, per field (lower case)."""
    kind = collection.artwork(copy).object_type
    return {"object_type": [OBJECT_TYPES[kind].lower()], "online_media_type": ["images"],
            "unit_code": [UNIT.lower()], "media_usage": [copy.license.lower()],
            "data_source": [DATA_SOURCE.lower()]}


def _parse_q(q: str) -> list[list[tuple[bool, str, str]]]:
    """``q`` as OR-groups of AND-ed (negated, field, value) terms; only the fields of _facets."""
    groups = []
    for part in re.split(r"\s+OR\s+", q.strip()):
        terms = []
        for negated, field, value in _TERM.findall(part):
            if not field and value in ("AND", "NOT"):
                continue
            if field.lower() in ("object_type", "online_media_type", "unit_code", "media_usage",
                                 "data_source"):
                terms.append((bool(negated), field.lower(), value.strip('"').lower()))
        groups.append(terms)
    return groups


def _matches(facets: dict[str, list[str]], groups: list) -> bool:
    return any(all((value in facets[field]) != negated for negated, field, value in terms)
               for terms in groups)


def _edan_error(status: int) -> Response:
    message = {400: "bad request: one of your params did not pass validation",
               404: "not found: the resource you were acting on could not be found"}[status]
    return json_response({"status": status, "responseCode": 0, "response": {"error": message},
                          "timestamp": EDAN_TIMESTAMP}, status)


def _key_refused(request: Request) -> Response | None:
    """api.data.gov in front of the API: a missing or unknown key is a 403 JSON error."""
    header = next((v for k, v in request.headers.items() if k.lower() == "x-api-key"), None)
    key = header or request.arg("api_key")
    if not key:
        code, message = "API_KEY_MISSING", f"No api_key was supplied. Get one at {SIGNUP}"
    elif key != "DEMO_KEY" and not _API_KEY.fullmatch(key):
        code, message = "API_KEY_INVALID", f"An invalid api_key was supplied. Get one at {SIGNUP}"
    else:
        return None
    return json_response({"error": {"code": code, "message": message}}, 403)


def _source_id(copy: Copy) -> str:
    return copy.source_id


def _edan_id(copy: Copy) -> str:
    return f"edanmdm:{record_id(copy)}"


def handle(collection: DemoCollection, request: Request) -> Response:
    path = request.path.rstrip("/")
    if path.startswith("/ids/"):
        return _image(collection, request, path)
    search = path == "/search" or (path.startswith("/category/") and path.endswith("/search"))
    if not (search or path.startswith("/content/")):
        return error_response(404, "Not Found", as_json=False)
    refused = _key_refused(request)
    if refused is not None:
        return refused
    root = request.source_root
    if path.startswith("/content/"):
        ident = unquote(path.removeprefix("/content/"))
        copy = (collection.index("smithsonian", _source_id).get(ident)
                or collection.index("smithsonian", _edan_id).get(ident))
        if copy is None:
            return _edan_error(404)
        return json_response({"status": 200, "responseCode": 1,
                              "response": row(collection, copy, root),
                              "message": "content found"})
    if path.startswith("/category/") and path.split("/")[2] not in CATEGORIES:
        return _edan_error(400)
    try:
        start = int(request.arg("start", "0") or 0)
        rows = int(request.arg("rows", str(DEFAULT_ROWS)) or DEFAULT_ROWS)
    except ValueError:
        return _edan_error(400)
    sort = request.arg("sort") or "relevancy"
    kind = request.arg("type") or "edanmdm"
    group = request.arg("row_group") or "objects"
    if start < 0 or sort not in SORTS or kind not in TYPES or group not in ROW_GROUPS:
        return _edan_error(400)
    if not 0 <= rows <= MAX_ROWS:
        rows = DEFAULT_ROWS
    copies = collection.source_copies("smithsonian")  # by row id: what sort=id gives
    if kind in ("ead_collection", "ead_component") or group == "archives":
        copies = []  # no archival records in the demo
    groups = _parse_q(request.arg("q") or "")
    found = collection.listing(
        request.listing_key("smithsonian", "start", "rows", "api_key"),
        lambda: [c for c in copies if _matches(_facets(collection, c), groups)])
    if request.hostile:  # hostile rows after the real ones, then one enormous page
        return _hostile_search(collection, root, found, start, rows)
    return json_response({"status": 200, "responseCode": 1, "response": {
        "rows": [row(collection, c, root) for c in paginate(found, start, rows)],
        "rowCount": len(found), "message": "content found"}})


def _hostile_search(collection: DemoCollection, root: str, found: list[Copy], start: int,
                    rows: int) -> Response:
    """The search in hostile mode (demo/hostile.py): whatever ``q`` says, the hostile rows
    follow the real ones; ``rowCount`` claims one row more, and the page after the last row
    is an enormous one."""
    extra = hostile.smithsonian_rows(collection, root)
    total = len(found) + len(extra)
    if rows and start >= total:
        return hostile.broken_page(hostile.BY_KEY["listing_enormous"],
                                   b'{"status": 200, "responseCode": 1, "response": {"rows": [',
                                   b"]}}")
    page = [row(collection, c, root) for c in paginate(found, start, rows)]
    page += paginate(extra, start - len(found), rows - len(page))
    return hostile.hostile_json({"status": 200, "responseCode": 1, "response": {
        "rows": page, "rowCount": total + 1, "message": "content found"}})


def _image(collection: DemoCollection, request: Request, path: str) -> Response:
    ident = request.arg("id") or ""
    if path == "/ids/download":
        ident = ident.removesuffix(".jpg")
    elif path != "/ids/deliveryService":
        return error_response(404, "Not Found", as_json=False)
    copy = collection.index("smithsonian", ids_id).get(ident)
    if copy is None or not _downloadable(copy):
        return error_response(404, "Not Found", as_json=False)
    most = request.arg("max") if path == "/ids/deliveryService" else None
    side = int(most) if most and most.isdigit() and int(most) > 0 else None
    return image_response(collection, copy, max_side=side)
