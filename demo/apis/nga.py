"""The National Gallery of Art open data (CSV files, CC0) and its IIIF server, emulated.

Routes below the source root: ``/data/objects.csv``, ``/data/published_images.csv``,
``/data/constituents.csv``, ``/data/objects_constituents.csv``, ``/data/objects_terms.csv`` (the
real repository's current headers, column for column) and IIIF Image API 2 at
``/iiif/{uuid}/...``. Images that are not open access carry ``openaccess=0`` and a ``maxpixels``
cap, which the IIIF server enforces.

``objects_terms.csv`` files each painting as NGA does: a ``Theme`` row (a specific theme as the
term, the broad theme NGA's site browses by in ``visualbrowsertheme``), ``Keyword`` rows for what
is depicted (the same words AIC and the Met give the artwork), a ``Style`` row with the movement
of its time (term and ``visualbrowserstyle``, as NGA writes "Renaissance,,Renaissance") and a
``School`` row with the painter's nationality. Rows are ordered by termid, then objectid, as in
the real file.
"""

from __future__ import annotations

import csv
import functools
import io
import zlib

from demo import hostile, iiif
from demo.apis import SUBJECTS, TYPE_NAMES, attributed_name, life_dates, movement_of
from demo.catalog import Copy
from demo.collection import DemoCollection
from demo.server import Request, Response, error_response

FAIR_USE_MAX_PIXELS = 640  # the demo's cap for restricted images (long side)

OBJECTS_HEADER = (
    "objectid,uuid,accessioned,accessionnum,locationid,title,displaydate,beginyear,endyear,"
    "visualbrowsertimespan,medium,dimensions,inscription,markings,attributioninverted,"
    "attribution,provenancetext,creditline,classification,subclassification,"
    "visualbrowserclassification,parentid,isvirtual,departmentabbr,portfolio,series,volume,"
    "watermarks,lastdetectedmodification,wikidataid,customprinturl").split(",")
IMAGES_HEADER = ("uuid,iiifurl,iiifthumburl,viewtype,sequence,width,height,maxpixels,openaccess,"
                 "created,modified,depictstmsobjectid,assistivetext").split(",")
CONSTITUENTS_HEADER = (
    "constituentid,uuid,ulanid,preferreddisplayname,forwarddisplayname,lastname,displaydate,"
    "artistofngaobject,beginyear,endyear,visualbrowsertimespan,nationality,"
    "visualbrowsernationality,constituenttype,wikidataid").split(",")
OBJECTS_CONSTITUENTS_HEADER = ("objectid,constituentid,displayorder,roletype,role,prefix,suffix,"
                               "displaydate,beginyear,endyear,country,zipcode").split(",")
OBJECTS_TERMS_HEADER = "termid,objectid,termtype,term,visualbrowsertheme,visualbrowserstyle".split(
    ",")
# A painting's Theme row by its kind: (the specific theme, the broad visualbrowsertheme). The
# real file pairs them the same way ("fantasy" under "animal", "fables and legends" under
# "religious"); both words name the genre AIC's subject_titles and the Met's tags give it.
THEMES = {"portrait": ("men", "portrait"), "landscape": ("trees", "landscape"),
          "seascape": ("boats", "marine"), "still_life": ("fruit", "still life"),
          "geometric": ("abstraction", "abstraction")}


def csv_bytes(header: list[str], rows: list[dict], hostile_text: bool = False) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    # Hostile mode writes its invalid-UTF-8 placeholders as the raw bytes they stand for.
    return hostile.encode_text(buf.getvalue()) if hostile_text else buf.getvalue().encode("utf-8")


def _term_id(termtype: str, term: str) -> int:
    """A stable termid per distinct term (the real ids are TMS term ids around 2,030,000)."""
    return 2_030_000 + zlib.crc32(f"{termtype}:{term}".encode()) % 1_000_000


def term_rows(collection: DemoCollection, copy: Copy) -> list[dict]:
    """The objects_terms.csv rows of one object, as NGA files a work of its kind."""
    artwork, artist = collection.artwork(copy), collection.artist(copy)
    rows = []

    def add(termtype: str, term: str, theme: str = "", style: str = "") -> None:
        rows.append({"termid": _term_id(termtype, term), "objectid": copy.source_id,
                     "termtype": termtype, "term": term, "visualbrowsertheme": theme,
                     "visualbrowserstyle": style})

    if artwork.kind in THEMES:
        add("Theme", *THEMES[artwork.kind])
    for keyword in SUBJECTS.get(artwork.kind, ()):
        add("Keyword", keyword)
    if (movement := movement_of(artwork)) is not None:
        add("Style", movement[1], style=movement[1])
    add("School", artist.nationality)
    return rows


def _span(year: int) -> str:
    start = year - year % 25 + 1
    return f"{start} to {start + 24}"


@functools.lru_cache(maxsize=8)
def tables(collection: DemoCollection, root: str, with_hostile: bool = False) -> dict[str, bytes]:
    copies = collection.source_copies("nga")
    objects, images, links, terms = [], [], [], []
    artist_ids = set()
    for c in copies:
        artwork, artist = collection.artwork(c), collection.artist(c)
        artist_ids.add(artist.artist_id)
        object_type = TYPE_NAMES["nga"][artwork.object_type]
        objects.append({
            "objectid": c.source_id, "uuid": "", "accessioned": 1,
            "accessionnum": f"{1937 + int(c.source_id) % 85}.{int(c.source_id)}",
            "locationid": "", "title": artwork.title, "displaydate": artwork.date_text,
            "beginyear": artwork.date_start, "endyear": artwork.date_end,
            "visualbrowsertimespan": _span(artwork.date_start), "medium": artwork.medium,
            "dimensions": "", "inscription": "", "markings": "",
            "attributioninverted": ", ".join(reversed(artist.name.split(" ", 1))),
            "attribution": attributed_name(artist, artwork), "provenancetext": "",
            "creditline": "Demo Collection", "classification": object_type,
            "subclassification": "", "visualbrowserclassification": object_type.lower(),
            "parentid": "", "isvirtual": 0, "departmentabbr": "DCRS", "portfolio": "",
            "series": "", "volume": "", "watermarks": "",
            "lastdetectedmodification": "2026-05-01 10:00:00-04", "wikidataid": "",
            "customprinturl": ""})
        links.append({"objectid": c.source_id, "constituentid": 5000 + artist.artist_id,
                      "displayorder": 1, "roletype": "artist", "role": "artist",
                      "prefix": artwork.attribution_qualifier.lower(), "suffix": "",
                      "displaydate": life_dates(artist), "beginyear": artist.birth_year or "",
                      "endyear": artist.death_year or "", "country": "", "zipcode": ""})
        terms += term_rows(collection, c)
        if not c.has_image:
            continue
        open_access = c.is_public_domain_flag
        width, height = collection.size(c)
        base = f"{root}/iiif/{c.image_id}"
        images.append({
            "uuid": c.image_id, "iiifurl": base,
            "iiifthumburl": f"{base}/full/!200,200/0/default.jpg", "viewtype": "primary",
            "sequence": "0", "width": width, "height": height,
            "maxpixels": "" if open_access else FAIR_USE_MAX_PIXELS,
            "openaccess": int(open_access), "created": "2019-03-01 12:00:00-05",
            "modified": "2026-05-01 10:00:00-04", "depictstmsobjectid": c.source_id,
            "assistivetext": ""})
    if with_hostile:  # rows of hostile records after the real ones, in the same columns
        hostile_objects, hostile_images = hostile.nga_rows(collection, root)
        objects += hostile_objects
        images += hostile_images
    constituents = []
    for artist_id in sorted(artist_ids):
        a = collection.catalog.artist(artist_id)
        constituents.append({
            "constituentid": 5000 + a.artist_id, "uuid": "", "ulanid": "",
            "preferreddisplayname": ", ".join(reversed(a.name.split(" ", 1))),
            "forwarddisplayname": a.name, "lastname": a.name.split(" ", 1)[-1],
            "displaydate": f"{a.nationality}, {a.birth_year} - {a.death_year}"
            if a.birth_year else a.nationality,
            "artistofngaobject": 1, "beginyear": a.birth_year or "", "endyear": a.death_year or "",
            "visualbrowsertimespan": _span(a.birth_year) if a.birth_year else "",
            "nationality": a.nationality, "visualbrowsernationality": a.nationality,
            "constituenttype": "individual", "wikidataid": ""})
    return {"objects.csv": csv_bytes(OBJECTS_HEADER, objects, with_hostile),
            "published_images.csv": csv_bytes(IMAGES_HEADER, images, with_hostile),
            "constituents.csv": csv_bytes(CONSTITUENTS_HEADER, constituents),
            "objects_constituents.csv": csv_bytes(OBJECTS_CONSTITUENTS_HEADER, links),
            "objects_terms.csv": csv_bytes(OBJECTS_TERMS_HEADER, sorted(
                terms, key=lambda r: (r["termid"], int(r["objectid"]))))}


def _max_width(collection: DemoCollection, copy: Copy) -> int | None:
    if copy.is_public_domain_flag:
        return None
    width, height = collection.size(copy)
    return max(1, round(width * min(1.0, FAIR_USE_MAX_PIXELS / max(width, height))))


def handle(collection: DemoCollection, request: Request) -> Response:
    path = request.path
    if path.startswith("/data/"):
        body = tables(collection, request.source_root, request.hostile).get(
            path[len("/data/"):])
        if body is None:
            return error_response(404, "Not Found", as_json=False)
        return Response(200, body, "text/csv; charset=utf-8")
    if path.startswith("/iiif/"):
        return iiif.serve(collection, request, path[len("/iiif"):],
                          f"{request.source_root}/iiif",
                          lambda copy: _max_width(collection, copy))
    return error_response(404, "Not Found", as_json=False)
