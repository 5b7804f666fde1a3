"""The Art Institute of Chicago API (api.artic.edu) and its IIIF image server, emulated.

Routes below the source root: ``/api/v1/artworks`` (``page``, ``limit`` <= 100, ``fields``,
``ids``), ``/api/v1/artworks/{id}``, ``/api/v1/artworks/search`` (``q``,
``query[term][field]=value``, ``from``/``size`` or ``page``/``limit``, a 10,000-result window),
``/api/v1/agents/{id}``, and IIIF Image API 2 at ``/iiif/2/{image_id}/...``. Like the real image
server, IIIF output is capped at 843 px wide: larger requests are redirected to ``843,``.
AIC never sends empty strings: unknown values are ``null``.
"""

from __future__ import annotations

import math
import re
import zlib
from urllib.parse import urlencode

from demo import hostile, iiif
from demo.apis import SUBJECTS, TYPE_NAMES, bio_line, movement_of, paginate
from demo.catalog import Copy
from demo.collection import DemoCollection
from demo.server import Request, Response, json_response

MAX_LIMIT = 100
RESULT_WINDOW = 10_000
IIIF_MAX_WIDTH = 843
INFO = {
    "license_text": "The `description` field in this response is licensed under a Creative "
                    "Commons Attribution 4.0 Generic License (CC-By) and the Terms and Conditions "
                    "of artic.edu. All other data in this response is licensed under a Creative "
                    "Commons Zero (CC0) 1.0 designation and the Terms and Conditions of artic.edu.",
    "license_links": ["https://creativecommons.org/publicdomain/zero/1.0/",
                      "https://www.artic.edu/terms"],
    "version": "1.16",
}
_TERM = re.compile(r"^query\[term\]\[(\w+)\]$")


def _config(request: Request) -> dict:
    return {"iiif_url": f"{request.source_root}/iiif/2", "website_url": request.source_root}


def artwork_record(collection: DemoCollection, copy: Copy, root: str) -> dict:
    artwork, artist = collection.artwork(copy), collection.artist(copy)
    width, height = collection.size(copy)
    qualifier = artwork.attribution_qualifier
    name = f"{qualifier} {artist.name}" if qualifier else artist.name
    return {
        "id": int(copy.source_id),
        "api_model": "artworks",
        "api_link": f"{root}/api/v1/artworks/{copy.source_id}",
        "is_boosted": False,
        "title": artwork.title,
        "alt_titles": None,
        "thumbnail": {"lqip": "data:image/gif;base64,R0lGODlhBQAFAPQAAAAAAA==",
                      "width": width, "height": height,
                      "alt_text": f"A work made of {artwork.medium.lower()}."},
        "main_reference_number": f"{1890 + int(copy.source_id) % 130}.{int(copy.source_id) % 500}",
        "date_start": artwork.date_start,
        "date_end": artwork.date_end,
        "date_display": artwork.date_text,
        "artist_display": f"{name}\n{bio_line(artist)}",
        "place_of_origin": artist.birth_place,
        "description": None,
        "dimensions": f"{height / 40:.1f} \u00d7 {width / 40:.1f} cm",
        "medium_display": artwork.medium,
        "credit_line": "Demo Collection, gift of a fictional donor",
        "is_public_domain": copy.is_public_domain_flag,
        "is_zoomable": copy.is_public_domain_flag,
        "max_zoom_window_size": -1 if copy.is_public_domain_flag else 843,
        "copyright_notice": None if copy.is_public_domain_flag
        else f"\u00a9 {artwork.date_end} {artist.name}",
        "artwork_type_title": TYPE_NAMES["aic"][artwork.object_type],
        "artwork_type_id": 1 + ("painting", "drawing", "print", "photograph",
                                "sculpture").index(artwork.object_type),
        "department_title": "Painting and Sculpture of Europe",
        "artist_id": 30000 + artist.artist_id,
        "artist_title": artist.name,
        "artist_ids": [30000 + artist.artist_id],
        "artist_titles": [artist.name],
        "classification_title": artwork.medium.lower(),
        "classification_titles": [artwork.medium.lower(), artwork.object_type],
        "style_title": None,
        "term_titles": [artwork.object_type, artwork.kind.replace("_", " ")],
        "subject_titles": [s.lower() for s in SUBJECTS.get(artwork.kind, ())],
        "style_titles": [m[1] for m in [movement_of(artwork)] if m and zlib.crc32(
            copy.source_id.encode()) % 2],
        "image_id": copy.image_id if copy.has_image else None,
        "alt_image_ids": [],
        "source_updated_at": "2026-03-02T18:07:55-06:00",
        "updated_at": "2026-03-03T23:26:20-06:00",
        "timestamp": "2026-11-01T13:32:28-05:00",
    }


def agent_record(collection: DemoCollection, artist_id: int, root: str) -> dict | None:
    index = artist_id - 30000
    if not 0 <= index < len(collection.catalog.artists):
        return None
    artist = collection.catalog.artist(index)
    works = [int(c.source_id) for c in collection.source_copies("aic")
             if collection.artwork(c).artist_id == index]
    return {"id": artist_id, "api_model": "agents", "api_link": f"{root}/api/v1/agents/{artist_id}",
            "title": artist.name, "sort_title": artist.name, "alt_titles": None,
            "birth_date": artist.birth_year, "death_date": artist.death_year,
            "description": None, "ulan_id": None, "is_artist": True,
            "agent_type_title": "Individual", "agent_type_id": 7, "artwork_ids": works,
            "site_ids": [], "updated_at": "2026-03-03T23:26:20-06:00",
            "timestamp": "2026-11-01T13:32:28-05:00"}


def _select(record: dict, fields: str | None) -> dict:
    if not fields:
        return record
    return {f: record.get(f) for f in fields.split(",") if f in record}


def _int_arg(request: Request, name: str, default: int) -> int | None:
    value = request.arg(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        return None


def _too_many(detail: str, error: str) -> Response:
    return json_response({"status": 403, "error": error, "detail": detail}, 403)


def handle(collection: DemoCollection, request: Request) -> Response:
    path = request.path.rstrip("/")
    if path.startswith("/iiif/2/"):
        return _iiif(collection, request)
    copies = collection.source_copies("aic")
    root = request.source_root
    if path in ("/api/v1/artworks", "/api/v1/artworks/search"):
        search = path.endswith("/search")
        limit = _int_arg(request, "size" if request.arg("size") else "limit", 10 if search else 12)
        page = _int_arg(request, "page", 1)
        offset = _int_arg(request, "from", None) if request.arg("from") else None
        if limit is None or page is None or page < 1 or limit < 0:
            return json_response({"status": 400, "error": "Invalid parameters",
                                  "detail": "page and limit must be positive integers"}, 400)
        if limit > MAX_LIMIT:
            return _too_many("You have requested too many resources per page. Please set a "
                             "smaller limit.", "Invalid limit")
        offset = (page - 1) * limit if offset is None else offset
        if offset + limit > RESULT_WINDOW:
            return _too_many("You have requested too many results. Please refine your "
                             "parameters.", "Invalid number of results")
        if search:
            copies = collection.listing(request.listing_key("aic", "page", "limit", "size",
                                                            "from"),
                                        lambda: _search(collection, request, copies))
        elif request.arg("ids"):
            wanted = request.arg("ids").split(",")
            copies = [c for c in copies if c.source_id in wanted]
        entries: list = copies
        if request.hostile:  # hostile records after the real ones, then one broken page
            entries = [*copies, *hostile.aic_records(collection, root)]
        total = len(entries)
        items = [_select(e if isinstance(e, dict) else artwork_record(collection, e, root),
                         request.arg("fields")) for e in paginate(entries, offset, limit)]
        total_pages = math.ceil(total / limit) if limit else 0
        current = offset // limit + 1 if limit else 1
        if request.hostile and limit:
            if current == total_pages + 1:
                return hostile.broken_page(hostile.BY_KEY["listing_error_200"])
            total_pages += 1
        pagination = {"total": total, "limit": limit, "offset": offset,
                      "total_pages": total_pages, "current_page": current}
        if request.hostile:  # absurd counts: the pages still end (at the broken one)
            pagination.update(total=10**12, limit=-5)
        if search:
            items = [{"_score": round(100.0 / (1 + i), 5), **item} for i, item in enumerate(items)]
            return (hostile.hostile_json if request.hostile else json_response)(
                {"preference": None, "pagination": pagination, "data": items, "info": INFO,
                 "config": _config(request)})
        keep = {k: v[-1] for k, v in request.query.items() if k not in ("page",)}
        if current > 1:
            pagination["prev_url"] = f"{root}/api/v1/artworks?" + urlencode(
                {**keep, "page": current - 1})
        if current < total_pages:
            pagination["next_url"] = f"{root}/api/v1/artworks?" + urlencode(
                {**keep, "page": current + 1})
        return (hostile.hostile_json if request.hostile else json_response)(
            {"pagination": pagination, "data": items, "info": INFO, "config": _config(request)})
    match = re.fullmatch(r"/api/v1/(artworks|agents)/(\d+)", path)
    if match:
        kind, ident = match.groups()
        record = None
        if kind == "artworks":
            copy = collection.by_source_id("aic", ident)
            record = artwork_record(collection, copy, root) if copy else None
        else:
            record = agent_record(collection, int(ident), root)
        if record is None:
            return json_response({"status": 404, "error": "Not found",
                                  "detail": "The item you requested cannot be found."}, 404)
        return json_response({"data": _select(record, request.arg("fields")), "info": INFO,
                              "config": _config(request)})
    return json_response({"status": 404, "error": "Not found",
                          "detail": "The route you requested cannot be found."}, 404)


def _search(collection: DemoCollection, request: Request, copies: list[Copy]) -> list[Copy]:
    q = (request.arg("q") or "").lower()
    if q:  # the real search ranks rather than filters; matching first keeps it deterministic
        copies = sorted(copies, key=lambda c: q not in collection.artwork(c).title.lower())
    for key, values in request.query.items():
        term = _TERM.match(key)
        if not term:
            continue
        field, value = term.group(1), values[-1]
        def matches(c: Copy, field=field, value=value) -> bool:
            got = artwork_record(collection, c, request.source_root).get(field)
            if isinstance(got, bool):
                return str(got).lower() == value.lower()
            return str(got) == value
        copies = [c for c in copies if matches(c)]
    return copies


def _iiif(collection: DemoCollection, request: Request) -> Response:
    path = request.path[len("/iiif/2"):]
    image_base = f"{request.source_root}/iiif/2"
    parts = path.strip("/").split("/")
    # The public image server serves nothing wider than 843 px: bigger asks are redirected.
    if len(parts) == 5 and parts[1] == "full" and parts[2] not in ("843,",):
        size = parts[2]
        if size in ("full", "max") or (size.endswith(",") and size[:-1].isdigit()
                                      and int(size[:-1]) > IIIF_MAX_WIDTH):
            copy = collection.by_image_id(parts[0])
            if copy is not None and collection.size(copy)[0] > IIIF_MAX_WIDTH:
                location = f"{image_base}/{parts[0]}/full/{IIIF_MAX_WIDTH},/{parts[3]}/{parts[4]}"
                return Response(307, b"", "text/plain", {"Location": location})
    return iiif.serve(collection, request, path, image_base, lambda copy: IIIF_MAX_WIDTH)
