"""The Met Collection API (collectionapi.metmuseum.org), as the demo serves it.

Routes below the source root: ``/public/collection/v1/objects`` (``departmentIds``),
``/objects/{id}``, ``/departments``, the paged ``/public/collection/v1.1/search`` (``q``,
``hasImages``, ``medium``, ``departmentId``, ``dateBegin`` + ``dateEnd``, ``offset``, ``limit``;
the v1 search answers 410 Gone as it has since October 2026); images at
``/CRDImages/{dept}/original|web-large/{file}``. As at the real Met, only public-domain objects
carry image URLs.
"""

from __future__ import annotations

from demo import hostile
from demo.apis import SUBJECTS, TYPE_NAMES, image_response
from demo.catalog import Copy
from demo.collection import DemoCollection
from demo.server import Request, Response, error_response, json_response

API = "/public/collection/v1"
API_V11 = "/public/collection/v1.1"
SEARCH_MAX_LIMIT = 500
SEARCH_WINDOW = 10_000
DEPARTMENTS = [
    {"departmentId": 1, "displayName": "American Decorative Arts"},
    {"departmentId": 9, "displayName": "Drawings and Prints"},
    {"departmentId": 11, "displayName": "European Paintings"},
    {"departmentId": 12, "displayName": "European Sculpture and Decorative Arts"},
    {"departmentId": 19, "displayName": "Photographs"},
    {"departmentId": 21, "displayName": "Modern Art"},
]
_DEPT_NAMES = {d["departmentId"]: d["displayName"] for d in DEPARTMENTS}
_DEPT_PATH = {1: "ad", 9: "dp", 11: "ep", 12: "es", 19: "ph", 21: "ma"}
_OBJECT_NAMES = {"painting": "Painting", "drawing": "Drawing", "print": "Print",
                 "photograph": "Photograph", "sculpture": "Bust"}



def accession_number(copy: Copy) -> str:
    n = int(copy.source_id)
    return f"{1880 + n % 140}.{n // 140}"  # one number per object, as the Met's are

def department_id(collection: DemoCollection, copy: Copy) -> int:
    artwork, artist = collection.artwork(copy), collection.artist(copy)
    if artwork.object_type in ("drawing", "print"):
        return 9
    if artwork.object_type == "photograph":
        return 19
    if artwork.object_type == "sculpture":
        return 12
    if artwork.date_start >= 1900:
        return 21
    return 1 if artist.nationality == "American" else 11


def _image_name(copy: Copy) -> str:
    return f"DT{int(copy.source_id)}.{copy.extension}"


def object_record(collection: DemoCollection, copy: Copy, root: str) -> dict:
    artwork, artist = collection.artwork(copy), collection.artist(copy)
    dept = department_id(collection, copy)
    image_base = f"{root}/CRDImages/{_DEPT_PATH[dept]}"
    name = _image_name(copy)
    has_image = copy.has_image
    birth = "" if artist.birth_year is None else str(artist.birth_year)
    death = "" if artist.death_year is None else str(artist.death_year)
    bio_dates = f" {birth}\u2013{death}" if birth else ""
    width, height = collection.size(copy)
    return {
        "objectID": int(copy.source_id),
        "isHighlight": False,
        "accessionNumber": accession_number(copy),
        "accessionYear": str(1880 + int(copy.source_id) % 140),
        "isPublicDomain": copy.is_public_domain_flag,
        "primaryImage": f"{image_base}/original/{name}" if has_image else "",
        "primaryImageSmall": f"{image_base}/web-large/{name}" if has_image else "",
        "additionalImages": [],
        "constituents": [{
            "constituentID": 100000 + artist.artist_id,
            "role": "Artist",
            "name": artist.name,
            "constituentULAN_URL": "",
            "constituentWikidata_URL": "",
            "gender": "",
        }],
        "department": _DEPT_NAMES[dept],
        "objectName": _OBJECT_NAMES[artwork.object_type],
        "title": artwork.title,
        "culture": "",
        "period": "",
        "dynasty": "",
        "reign": "",
        "portfolio": "",
        "artistRole": "Artist",
        "artistPrefix": artwork.attribution_qualifier,
        "artistDisplayName": artist.name,
        "artistDisplayBio": f"{artist.nationality}, {artist.birth_place}{bio_dates} "
                            f"{artist.death_place}".strip() if birth else artist.nationality,
        "artistSuffix": "",
        "artistAlphaSort": ", ".join(reversed(artist.name.split(" ", 1))),
        "artistNationality": artist.nationality,
        "artistBeginDate": birth,
        "artistEndDate": death,
        "artistGender": "",
        "artistWikidata_URL": "",
        "artistULAN_URL": "",
        "objectDate": artwork.date_text,
        "objectBeginDate": artwork.date_start,
        "objectEndDate": artwork.date_end,
        "medium": artwork.medium,
        "dimensions": f"{height / 40:.1f} x {width / 40:.1f} cm",
        "measurements": [{"elementName": "Overall", "elementDescription": None,
                          "elementMeasurements": {"Height": round(height / 40, 1),
                                                  "Width": round(width / 40, 1)}}],
        "creditLine": "Demo Collection, Bequest of a Fictional Donor",
        "geographyType": "",
        "city": "",
        "state": "",
        "county": "",
        "country": "",
        "region": "",
        "subregion": "",
        "locale": "",
        "locus": "",
        "excavation": "",
        "river": "",
        "classification": TYPE_NAMES["met"][artwork.object_type],
        "rightsAndReproduction": "",
        "linkResource": "",
        "metadataDate": "2026-01-15T04:52:12.32Z",
        "repository": "Metropolitan Museum of Art, New York, NY",
        "objectURL": f"{root}/art/collection/search/{copy.source_id}",
        "tags": [{"term": term, "AAT_URL": f"http://vocab.getty.edu/page/aat/{300000000 + n}",
                  "Wikidata_URL": f"https://www.wikidata.org/wiki/Q{1000 + n}"}
                 for n, term in enumerate(SUBJECTS.get(artwork.kind, ()))] or None,
        "objectWikidata_URL": "",
        "isTimelineWork": False,
        "GalleryNumber": "",
    }


def handle(collection: DemoCollection, request: Request) -> Response:
    path = request.path
    if path.startswith("/CRDImages/"):
        return _image(collection, request)
    copies = collection.source_copies("met")
    if path.rstrip("/") == API_V11 + "/search":
        return json_response(_search(collection, request, copies, paged=True))
    if not path.startswith(API):
        return error_response(404, "Not Found", as_json=False)
    route = path[len(API):].rstrip("/")
    if route == "/objects":
        dept_ids = request.arg("departmentIds")
        if dept_ids:
            wanted = {int(d) for d in dept_ids.split("|") if d.strip().isdigit()}
            copies = [c for c in copies if department_id(collection, c) in wanted]
        ids = [int(c.source_id) for c in copies]
        if request.hostile:  # whatever the department: a hostile server does not care
            return hostile.hostile_json({"total": len(ids) + len(hostile.met_ids()),
                                         "objectIDs": ids + hostile.met_ids()})
        return json_response({"total": len(ids), "objectIDs": ids})
    if route.startswith("/objects/"):
        object_id = route.rsplit("/", 1)[1]
        if request.hostile and (found := hostile.met_object(collection, object_id,
                                                            request.source_root)):
            return found
        if not object_id.lstrip("-").isdigit():
            return json_response({"message": "could not parse objectID"}, 400)
        copy = collection.by_source_id("met", object_id)
        if copy is None:
            return json_response({"message": "ObjectID not found"}, 404)
        return json_response(object_record(collection, copy, request.source_root))
    if route == "/departments":
        return json_response({"departments": DEPARTMENTS})
    if route == "/search":  # retired in 2026 in favour of the paged v1.1 search
        return json_response({"message": "/public/collection/v1/search was retired on "
                              "2026-10-01. Use /public/collection/v1.1/search.",
                              "replacement": API_V11 + "/search"}, 410)
    return error_response(404, "Not Found", as_json=False)


def _search(collection: DemoCollection, request: Request, copies: list[Copy],
            paged: bool) -> dict:
    ids = collection.listing(request.listing_key("met", "offset", "limit"),
                             lambda: _search_ids(collection, request, copies))
    total = len(ids)
    if paged:  # v1.1: offset/limit, default 100, at most 500, window of 10,000 results
        offset = max(0, int(request.arg("offset", "0") or 0))
        limit = int(request.arg("limit", "100") or 100)
        limit = 100 if limit <= 0 else min(limit, SEARCH_MAX_LIMIT)
        ids = ids[:SEARCH_WINDOW][offset: offset + limit]
    return {"total": total, "objectIDs": ids or None}


def _search_ids(collection: DemoCollection, request: Request, copies: list[Copy]) -> list[int]:
    q = (request.arg("q") or "").lower()
    if q and q != "*":
        copies = [c for c in copies if q in collection.artwork(c).title.lower()
                  or q in collection.artist(c).name.lower()]
    if request.arg("hasImages") == "true":
        copies = [c for c in copies if c.has_image]
    medium = request.arg("medium")
    if medium:
        wanted = {m.strip().lower() for m in medium.split("|")}
        copies = [c for c in copies
                  if TYPE_NAMES["met"][collection.artwork(c).object_type].lower() in wanted]
    dept = request.arg("departmentId")
    if dept and dept.isdigit():
        copies = [c for c in copies if department_id(collection, c) == int(dept)]
    begin, end = request.arg("dateBegin"), request.arg("dateEnd")
    if begin is not None and end is not None:
        lo, hi = int(begin), int(end)
        copies = [c for c in copies if collection.artwork(c).date_end >= lo
                  and collection.artwork(c).date_start <= hi]
    return [int(c.source_id) for c in copies]


def _image(collection: DemoCollection, request: Request) -> Response:
    parts = request.path.split("/")  # "", "CRDImages", dept, variant, file
    if len(parts) != 5 or parts[3] not in ("original", "web-large"):
        return error_response(404, "Not Found", as_json=False)
    copy = collection.index("met", _image_name).get(parts[4])
    if copy is None or not copy.has_image:
        return error_response(404, "Not Found", as_json=False)
    return image_response(collection, copy, max_side=None if parts[3] == "original" else 1000)

