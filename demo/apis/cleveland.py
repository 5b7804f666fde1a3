"""The Cleveland Museum of Art Open Access API (openaccess-api.clevelandart.org), emulated.

Routes below the source root: ``/api/artworks/`` (``cc0``, ``has_image``, ``type`` (comma list),
``q``, ``created_after``, ``created_before``, ``skip``, ``limit`` <= 1000, ``fields``) and
``/api/artworks/{id or accession number}``; images at ``/cdn/{accession}/{accession}_{web|print|
full}.{jpg|tif}``. Image sizes and creators' years are strings, as in the real API; ``print`` is the
stored original (the real one is up to 3400 px), ``web`` is scaled to 1000 px, ``full`` is an
uncompressed TIFF.
"""

from __future__ import annotations

from demo import hostile
from demo.apis import TYPE_NAMES, bio_line, image_response, paginate
from demo.catalog import Copy
from demo.collection import DemoCollection
from demo.server import Request, Response, error_response, json_response

MAX_LIMIT = 1000
WEB_SIDE = 1000


def accession_number(copy: Copy) -> str:
    n = int(copy.source_id)
    return f"{1915 + n % 105}.{n // 105}"  # injective: year and number give back the id


def _image_block(collection: DemoCollection, copy: Copy, cdn: str) -> dict:
    acc = accession_number(copy)
    width, height = collection.size(copy)
    scale = min(1.0, WEB_SIDE / max(width, height))
    sizes = {"web": (round(width * scale), round(height * scale), "jpg"),
             "print": (width, height, "jpg"), "full": (width, height, "tif")}
    block = {}
    for variant, (w, h, ext) in sizes.items():
        name = f"{acc}_{variant}.{ext}"
        filesize = w * h * 3 if ext == "tif" else max(1, w * h // 8)
        block[variant] = {"url": f"{cdn}/{acc}/{name}", "width": str(w), "height": str(h),
                          "filesize": str(filesize), "filename": name}
    return block


def artwork_record(collection: DemoCollection, copy: Copy, root: str) -> dict:
    artwork, artist = collection.artwork(copy), collection.artist(copy)
    acc = accession_number(copy)
    cc0 = copy.is_public_domain_flag
    dates = f", {bio_line(artist).split(', ', 1)[1]}" if artist.birth_year else ""
    return {
        "id": int(copy.source_id),
        "accession_number": acc,
        "share_license_status": "CC0" if cc0 else "Copyrighted",
        "tombstone": f"{artwork.title}, {artwork.date_text}. {artist.name} "
                     f"({artist.nationality}{dates}). {artwork.medium}.",
        "current_location": None,
        "title": artwork.title,
        "title_in_original_language": None,
        "series": None,
        "series_in_original_language": None,
        "creation_date": artwork.date_text,
        "creation_date_earliest": artwork.date_start,
        "creation_date_latest": artwork.date_end,
        "creators": [{
            "id": 4000 + artist.artist_id,
            "description": f"{artist.name} ({artist.nationality}{dates})",
            "extent": None,
            "qualifier": artwork.attribution_qualifier.lower() or None,
            "role": "artist",
            "biography": None,
            "name_in_original_language": None,
            "birth_year": None if artist.birth_year is None else str(artist.birth_year),
            "death_year": None if artist.death_year is None else str(artist.death_year),
        }],
        "culture": [f"{artist.nationality}, {artwork.date_start // 100 + 1}th century"],
        "technique": artwork.medium.lower(),
        "support_materials": [],
        "department": "European Painting and Sculpture",
        "collection": "P - European before 1800",
        "type": TYPE_NAMES["cleveland"][artwork.object_type],
        "measurements": "",
        "state_of_the_work": None,
        "edition_of_the_work": None,
        "creditline": "Demo Collection Fund",
        "copyright": None if cc0 else f"\u00a9 {artist.name}",
        "inscriptions": [],
        "exhibitions": {"current": [], "legacy": []},
        "provenance": [],
        "find_spot": None,
        "related_works": [],
        "fun_fact": None,
        "digital_description": None,
        "wall_description": None,
        "citations": [],
        "url": f"{root}/art/{acc}",
        "images": _image_block(collection, copy, f"{root}/cdn") if cc0 and copy.has_image
        else {},
        "updated_at": "2026-01-10 23:57:59.055000",
        "athena_id": int(copy.source_id),
    }


def handle(collection: DemoCollection, request: Request) -> Response:
    path = request.path
    if path.startswith("/cdn/"):
        return _image(collection, request)
    route = path.rstrip("/")
    copies = collection.source_copies("cleveland")
    if route == "/api/artworks":
        try:
            skip = int(request.arg("skip", "0") or 0)
            limit = int(request.arg("limit", "1000") or 1000)
        except ValueError:
            return json_response({"detail": "skip and limit must be integers"}, 400)
        limit = max(0, min(limit, MAX_LIMIT))
        entries: list = collection.listing(request.listing_key("cleveland", "skip", "limit"),
                                           lambda: _filter(collection, request, copies))
        total = len(entries)
        if request.hostile:  # hostile records after the real ones, then one enormous page
            entries = entries + hostile.cleveland_records(collection, request.source_root)
            if skip >= len(entries) > 0:
                return hostile.broken_page(hostile.BY_KEY["listing_enormous"])
            total = len(entries) + 1
        fields = request.arg("fields")
        items = []
        for c in paginate(entries, skip, limit):
            record = c if isinstance(c, dict) else artwork_record(collection, c,
                                                                  request.source_root)
            items.append({k: record[k] for k in fields.split(",") if k in record}
                         if fields else record)
        parameters = {k: v[-1] for k, v in request.query.items()}
        return (hostile.hostile_json if request.hostile else json_response)(
            {"info": {"total": total, "parameters": parameters}, "data": items})
    if route.startswith("/api/artworks/"):
        ident = route.rsplit("/", 1)[1]
        copy = (collection.by_source_id("cleveland", ident)
                or collection.index("cleveland", accession_number).get(ident))
        if copy is None:
            return json_response({"detail": "Not Found"}, 404)
        return json_response({"data": artwork_record(collection, copy, request.source_root)})
    return error_response(404, "Not Found")


def _filter(collection: DemoCollection, request: Request, copies: list[Copy]) -> list[Copy]:
    if request.arg("cc0") is not None:
        copies = [c for c in copies if c.is_public_domain_flag]
    if request.arg("has_image") == "1":
        copies = [c for c in copies if c.is_public_domain_flag and c.has_image]
    types = request.arg("type")
    if types:
        wanted = {t.strip().lower() for t in types.split(",")}
        copies = [c for c in copies
                  if TYPE_NAMES["cleveland"][collection.artwork(c).object_type].lower() in wanted]
    q = (request.arg("q") or "").lower()
    if q:
        copies = [c for c in copies if q in collection.artwork(c).title.lower()
                  or q in collection.artist(c).name.lower()]
    after, before = request.arg("created_after"), request.arg("created_before")
    if after and after.lstrip("-").isdigit():
        copies = [c for c in copies if collection.artwork(c).date_end >= int(after)]
    if before and before.lstrip("-").isdigit():
        copies = [c for c in copies if collection.artwork(c).date_start <= int(before)]
    return copies


def _image(collection: DemoCollection, request: Request) -> Response:
    parts = request.path.strip("/").split("/")  # cdn, accession, file
    if len(parts) != 3:
        return error_response(404, "Not Found", as_json=False)
    acc, name = parts[1], parts[2]
    copy = collection.index("cleveland", accession_number).get(acc)
    if copy is None or not copy.is_public_domain_flag or not name.startswith(acc + "_"):
        return error_response(404, "Not Found", as_json=False)
    variant = name[len(acc) + 1:].split(".")[0]
    if variant == "print":
        return image_response(collection, copy, max_side=None)
    if variant == "web":
        return image_response(collection, copy, max_side=WEB_SIDE)
    if variant == "full":
        if copy.defect:
            return image_response(collection, copy, max_side=None)
        return Response(200, collection.derived(copy, None, None, "tif"), "image/tiff")
    return error_response(404, "Not Found", as_json=False)
