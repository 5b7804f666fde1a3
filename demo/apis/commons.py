"""Wikimedia Commons' MediaWiki action API (commons.wikimedia.org/w/api.php), as the demo serves it.

Supported: ``action=query`` with ``generator=categorymembers`` (``gcmtitle``, ``gcmtype=file``,
``gcmlimit``, ``gcmcontinue``), ``generator=allimages`` (``gailimit``, ``gaicontinue``) or
``titles=File:A|File:B``; ``prop=imageinfo`` with ``iiprop`` (url, size, mime, sha1,
extmetadata, timestamp), ``iiurlwidth`` and ``iiextmetadatafilter``; ``formatversion`` 1 and 2;
``continue`` objects exactly as MediaWiki builds them, including the secondary ``iicontinue``
when a batch's image info does not fit one response (finish it before the next generator page).
Errors come back with HTTP 200 and an ``error`` member. Files live under ``/upload/...``.

Categories: ``Category:Demo collection`` (every file, flat), ``Category:Drawings``, ... (by
object type), and a tree for paintings, as Commons has one: ``Category:Paintings`` holds only
subcategories (``Paintings by artist`` > ``Paintings by {artist}`` > ``Details of paintings by
{artist}``; ``Paintings by century`` > ``{N}th-century paintings``; an empty ``Paintings in
museums (photographs)``), with cycles (one painter's category and every century's lead back
up). ``list=categorymembers`` (``cmtitle``, ``cmtype``, ``cmlimit``, ``cmcontinue``) lists a
category's subcategories.
"""

from __future__ import annotations

import functools
import hashlib
import zlib
from urllib.parse import quote

from demo import hostile
from demo.apis import image_response
from demo.catalog import Copy
from demo.collection import DemoCollection
from demo.server import Request, Response, error_response, json_response

MAX_LIMIT = 500  # gcmlimit/gailimit for ordinary clients ("max" means this)
IMAGEINFO_PER_RESPONSE = 30  # stands in for MediaWiki's result-size limit: forces iicontinue
MAX_TITLES = 50
UTM = "utm_source=commons.wikimedia.org&utm_campaign=imageinfo&utm_content="
API_NOTE = ("See {root}/w/api.php for API usage. Subscribe to the mediawiki-api-announce mailing "
            "list for notice of API deprecations and breaking changes.")
_PLURAL = {"painting": "Paintings", "drawing": "Drawings", "print": "Prints",
           "photograph": "Photographs", "sculpture": "Sculptures"}


def file_name(collection: DemoCollection, copy: Copy) -> str:
    """The file's name without the ``File:`` prefix, as a Commons uploader would give it."""
    artwork, artist = collection.artwork(copy), collection.artist(copy)
    ext = "png" if copy.file_format == "PNG" else "jpg"
    return f"{artist.name} - {artwork.title} ({copy.source_id}).{ext}"


def _upload_path(name: str) -> tuple[str, str]:
    underscored = name.replace(" ", "_")
    digest = hashlib.md5(underscored.encode("utf-8")).hexdigest()
    return f"{digest[0]}/{digest[:2]}", quote(underscored)


def _century(year: int) -> str:
    n = year // 100 + 1
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}-century"


def categories(collection: DemoCollection, copy: Copy) -> list[str]:
    artwork, artist = collection.artwork(copy), collection.artist(copy)
    plural = _PLURAL[artwork.object_type]
    cats = ["Demo collection", f"{_century(artwork.date_start)} {plural.lower()}"]
    if artwork.object_type != "painting":
        cats.insert(1, plural)
    elif any(name == "detail" for name, _ in copy.transforms):
        cats.append(f"Details of paintings by {artist.name}")
    else:
        cats.append(f"Paintings by {artist.name}")
    return cats


@functools.lru_cache(maxsize=4)
def _subcategories(collection: DemoCollection) -> dict[str, list[str]]:
    """Category title -> its subcategories' titles, sorted as categorymembers lists them."""
    members = _members(collection)
    by_artist = sorted(c for c in members if c.startswith("Category:Paintings by "))
    by_century = sorted(c for c in members if c.endswith("-century paintings"))
    tree = {"Category:Paintings": ["Category:Paintings by artist", "Category:Paintings by century",
                                   "Category:Paintings in museums (photographs)"],
            "Category:Paintings by artist": by_artist,
            "Category:Paintings by century": by_century,
            "Category:Paintings in museums (photographs)": []}
    for title in by_artist:
        details = title.replace("Category:Paintings by", "Category:Details of paintings by")
        tree[title] = [details] if details in members else []
    if by_artist:  # a cycle, as Commons has them: back up to the root
        tree[by_artist[0]].append("Category:Paintings")
    for title in by_century:
        tree[title] = ["Category:Paintings by century"]
    return {title: sorted(subs) for title, subs in tree.items()}


def _category_list(collection: DemoCollection, request: Request) -> Response:
    """``list=categorymembers&cmtype=subcat``: a category's subcategories, continued."""
    title = request.arg("cmtitle") or ""
    if not title.startswith("Category:"):
        return _error(request, "invalidcategory", "The category name you entered is not valid.")
    limit = _limit(request.arg("cmlimit"))
    if limit is None:
        return _error(request, "badinteger", "Invalid value for the limit parameter.")
    subcats = _subcategories(collection).get(title, []) \
        if "subcat" in (request.arg("cmtype") or "page|subcat|file").split("|") else []
    start = 0
    if request.arg("cmcontinue"):
        token = request.arg("cmcontinue").split("|")
        if len(token) != 3 or not token[2].isdigit():
            return _error(request, "badcontinue", "Invalid continue param. You should pass the "
                          "original value returned by the previous query.")
        start = int(token[2])
    batch = subcats[start: start + limit]
    body: dict = {"batchcomplete": True, "query": {"categorymembers": [
        {"pageid": 500_000_000 + zlib.crc32(t.encode()) % 10**8, "ns": 14, "title": t}
        for t in batch]}}
    if start + limit < len(subcats):
        following = subcats[start + limit]
        body["continue"] = {"cmcontinue": f"subcat|{following.encode().hex()}|"
                                          f"{start + limit}", "continue": "-||"}
    return json_response(body)


@functools.lru_cache(maxsize=4)
def _members(collection: DemoCollection) -> dict[str, list[Copy]]:
    """Category title -> member files sorted by title, as categorymembers lists them."""
    members: dict[str, list[Copy]] = {}
    for c in collection.catalog.by_source("commons"):
        for cat in categories(collection, c):
            members.setdefault(f"Category:{cat}", []).append(c)
    for cat in members:
        members[cat].sort(key=lambda c: file_name(collection, c))
    return members


@functools.lru_cache(maxsize=8)
def _files_by_quoted_name(collection: DemoCollection, source: str) -> dict[str, Copy]:
    return {_upload_path(file_name(collection, c))[1]: c
            for c in collection.catalog.by_source(source) if c.has_image}


@functools.lru_cache(maxsize=8)
def _files_by_title(collection: DemoCollection, source: str) -> dict[str, Copy]:
    return {f"File:{file_name(collection, c)}": c for c in collection.catalog.by_source(source)
            if c.has_image}  # a Wikidata item may name a file deleted from Commons


@functools.lru_cache(maxsize=4096)
def _sha1(collection: DemoCollection, copy_id: str) -> str:
    copy = collection.copies[copy_id]
    h = hashlib.sha1()
    if copy.defect == "oversized":
        for chunk in collection.oversized_chunks():
            h.update(chunk)
    else:
        h.update(collection.original(copy))
    return h.hexdigest()


def _meta(value, source: str = "commons-desc-page", hidden: bool = False) -> dict:
    entry = {"value": value, "source": source}
    if hidden:
        entry["hidden"] = ""
    return entry


def extmetadata(collection: DemoCollection, copy: Copy) -> dict:
    artwork, artist = collection.artwork(copy), collection.artist(copy)
    pd = copy.license == "pd"  # the file's own licence template
    artist_html = (f'<bdi><a href="https://www.wikidata.org/wiki/Q{900000 + artist.artist_id}" '
                   f'class="extiw" title="d:Q{900000 + artist.artist_id}">{artist.name}</a></bdi>')
    if artwork.attribution_qualifier:
        artist_html = f"{artwork.attribution_qualifier.lower()} {artist_html}"
    qs = f"+{artwork.date_start:04d}-00-00T00:00:00Z/9"
    if artwork.date_end != artwork.date_start:  # a range: earliest (P1319) and latest (P1326)
        qs += (f",P1319,+{artwork.date_start:04d}-00-00T00:00:00Z/9,"
               f"P1326,+{artwork.date_end:04d}-00-00T00:00:00Z/9")
    date_html = (f'{artwork.date_text}<div style="display: none;">date QS:P571,{qs}</div>')
    cats = categories(collection, copy) + (["PD-Art (PD-old-100)"] if pd else ["CC-BY-SA-4.0"])
    meta = {
        "DateTime": _meta("2021-06-01 10:00:00", "mediawiki-metadata", hidden=True),
        "ObjectName": _meta(artwork.title, "mediawiki-metadata", hidden=True),
        "CommonsMetadataExtension": _meta(1.2, "extension", hidden=True),
        "Categories": _meta("|".join(cats), "commons-categories", hidden=True),
        "Assessments": _meta("", "commons-categories", hidden=True),
        "ImageDescription": _meta(f"<i>{artwork.title}</i>, {artwork.medium.lower()}."),
        "DateTimeOriginal": _meta(date_html),
        "Credit": _meta('<span class="int-own-work">Own work</span>' if not pd
                        else "Demo museum collection database"),
        "Artist": _meta(artist_html),
    }
    if pd:
        meta.update({
            "LicenseShortName": _meta("Public domain", hidden=True),
            "UsageTerms": _meta("Public domain", hidden=True),
            "AttributionRequired": _meta("false", hidden=True),
            "Copyrighted": _meta("False", hidden=True),
            "Restrictions": _meta("", hidden=True),
            "License": _meta("pd", "commons-templates", hidden=True),
        })
    else:
        meta.update({
            "LicenseShortName": _meta("CC BY-SA 4.0", hidden=True),
            "UsageTerms": _meta("Creative Commons Attribution-Share Alike 4.0", hidden=True),
            "AttributionRequired": _meta("true", hidden=True),
            "LicenseUrl": _meta("https://creativecommons.org/licenses/by-sa/4.0", hidden=True),
            "Copyrighted": _meta("True", hidden=True),
            "Restrictions": _meta("", hidden=True),
            "License": _meta("cc-by-sa-4.0", "commons-templates", hidden=True),
        })
    return meta


def imageinfo(collection: DemoCollection, copy: Copy, request: Request, props: set[str],
              thumb_width: int | None, meta_filter: set[str] | None, v2: bool) -> dict:
    name = file_name(collection, copy)
    folder, quoted = _upload_path(name)
    width, height = collection.size(copy)
    upload = f"{request.source_root}/upload/wikipedia/commons"
    info: dict = {}
    if "timestamp" in props:
        info["timestamp"] = "2021-06-01T10:00:00Z"
    if "size" in props:
        size = collection.oversized_length() if copy.defect == "oversized" \
            else len(collection.original(copy))
        info.update({"size": size, "width": width, "height": height})
    if thumb_width and "url" in props:
        if thumb_width < width:
            th = max(1, round(height * thumb_width / width))
            info.update({"thumburl": f"{upload}/thumb/{folder}/{quoted}/{thumb_width}px-{quoted}"
                                     f"?{UTM}thumbnail",
                         "thumbwidth": thumb_width, "thumbheight": th})
        else:
            info.update({"thumburl": f"{upload}/{folder}/{quoted}?{UTM}thumbnail_unscaled",
                         "thumbwidth": width, "thumbheight": height})
    if "url" in props:
        info.update({
            "url": f"{upload}/{folder}/{quoted}?{UTM}original",
            "descriptionurl": f"{request.source_root}/wiki/File:{quoted}",
            "descriptionshorturl": f"{request.source_root}/w/index.php?curid={file_page_id(copy)}"})
    if "sha1" in props:
        info["sha1"] = _sha1(collection, copy.copy_id)
    if "mime" in props:
        info["mime"] = "image/png" if copy.file_format == "PNG" else "image/jpeg"
    if "extmetadata" in props:
        meta = extmetadata(collection, copy)
        if meta_filter:
            meta = {k: v for k, v in meta.items() if k in meta_filter}
        if v2:  # formatversion=2 uses real booleans
            meta = {k: {**v, "hidden": True} if "hidden" in v else v for k, v in meta.items()}
        info["extmetadata"] = meta
    return info


def _error(request: Request, code: str, info: str) -> Response:
    return json_response({"error": {"code": code, "info": info,
                                    "*": API_NOTE.format(root=request.source_root)},
                          "servedby": "mw-api-demo"})


def _limit(value: str | None, default: int = 10) -> int | None:
    if value in (None, ""):
        return default
    if value == "max":
        return MAX_LIMIT
    return min(int(value), MAX_LIMIT) if value.isdigit() and int(value) > 0 else None


def _token(collection: DemoCollection, copy: Copy, prefix: str) -> str:
    return f"{prefix}|{file_name(collection, copy).encode().hex()}|{copy.source_id}"


def _resume(collection: DemoCollection, items: list[Copy], token: str | None) -> int | None:
    """Index of the first item at or after a continuation token; None for a bad token."""
    if not token:
        return 0
    page_id = token.rsplit("|", 1)[-1]
    for i, c in enumerate(items):
        if c.source_id == page_id:
            return i
    return None


def handle(collection: DemoCollection, request: Request, files: str = "commons") -> Response:
    """``files``: whose copies are the files (Commons itself, or the files of Wikidata items,
    which the wikidata emulator serves through this same API)."""
    path = request.path
    if path.startswith("/upload/wikipedia/commons/"):
        return _file(collection, request, files)
    if path != "/w/api.php":
        return error_response(404, "Not Found", as_json=False)
    if request.arg("action") != "query":
        return _error(request, "badvalue",
                      f'Unrecognized value for parameter "action": {request.arg("action")}.')
    if request.arg("list") == "categorymembers":
        return _category_list(collection, request)
    v2 = request.arg("formatversion") == "2"
    generator = request.arg("generator")
    cont_key = None
    normalized: list[dict] = []
    missing: list[str] = []
    if generator == "categorymembers":
        title = request.arg("gcmtitle") or ""
        if not title.startswith("Category:"):
            return _error(request, "invalidcategory", "The category name you entered is not valid.")
        items = _members(collection).get(title, [])
        cont_key, limit = "gcmcontinue", _limit(request.arg("gcmlimit"))
        gtype = request.arg("gcmtype", "page|subcat|file")
        if "file" not in gtype.split("|"):
            items = []
    elif generator == "allimages":
        items = sorted(collection.catalog.by_source("commons"),
                       key=lambda c: file_name(collection, c))
        cont_key, limit = "gaicontinue", _limit(request.arg("gailimit"))
    elif generator is None and request.arg("titles"):
        titles = request.arg("titles").split("|")
        if len(titles) > MAX_TITLES:
            return _error(request, "toomanyvalues", 'Too many values supplied for parameter '
                          f'"titles". The limit is {MAX_TITLES}.')
        by_title = _files_by_title(collection, files)
        normalized = [{"from": t, "to": t.replace("_", " ")} for t in titles if "_" in t]
        titles = [t.replace("_", " ") for t in titles]
        items = [by_title[t] for t in titles if t in by_title]
        missing = [t for t in titles if t not in by_title]
        limit = len(items) or 1
    else:
        return _error(request, "badvalue", f'Unrecognized value for parameter "generator": '
                      f"{generator}.")
    if limit is None:
        return _error(request, "badinteger", "Invalid value for the limit parameter.")
    if request.hostile and (request.arg("gcmcontinue") or "").startswith(hostile.MARKER):
        return hostile.commons_pages(collection, request, v2)
    start = _resume(collection, items, request.arg(cont_key) if cont_key else None)
    if start is None:
        return _error(request, "badcontinue", "Invalid continue param. You should pass the "
                      "original value returned by the previous query.")
    batch = items[start: start + limit]
    following = items[start + limit] if start + limit < len(items) else None

    props = set((request.arg("prop") or "").split("|"))
    want_info = "imageinfo" in props
    iiprop = set((request.arg("iiprop") or "timestamp|user").split("|"))
    thumb = request.arg("iiurlwidth")
    thumb_width = int(thumb) if thumb and thumb.isdigit() and int(thumb) > 0 else None
    meta_filter = set(request.arg("iiextmetadatafilter").split("|")) \
        if request.arg("iiextmetadatafilter") else None
    # Secondary continuation: image info for this batch resumes at the page named in iicontinue.
    ii_from = 0
    if want_info and request.arg("iicontinue"):
        name = request.arg("iicontinue").split("|")[0]
        ii_from = next((i for i, c in enumerate(batch)
                        if quote(file_name(collection, c).replace(" ", "_")) == name
                        or file_name(collection, c).replace(" ", "_") == name), len(batch))
    ii_to = min(len(batch), ii_from + IMAGEINFO_PER_RESPONSE)

    pages = []
    for i, c in enumerate(batch):
        page = {"pageid": file_page_id(c), "ns": 6, "title": f"File:{file_name(collection, c)}",
                "imagerepository": "local"}
        if want_info and ii_from <= i < ii_to:
            page["imageinfo"] = [imageinfo(collection, c, request, iiprop, thumb_width,
                                           meta_filter, v2)]
        pages.append(page)

    body: dict = {}
    continuation: dict = {}
    if want_info and ii_to < len(batch):  # this batch's props are not complete yet
        nxt = batch[ii_to]
        next_name = file_name(collection, nxt).replace(" ", "_")
        continuation["iicontinue"] = f"{next_name}|20210601100000"
        if cont_key and request.arg(cont_key):
            continuation[cont_key] = request.arg(cont_key)
        continuation["continue"] = f"{cont_key}||" if cont_key else "||"
    elif following is not None and cont_key:
        continuation = {cont_key: _token(collection, following,
                                         "file" if cont_key == "gcmcontinue" else "x"),
                        "continue": f"{cont_key}||"}
    if request.hostile and not continuation and cont_key == "gcmcontinue" and items:
        continuation = hostile.commons_continuation()  # hostile batches after the last one
    if not (want_info and ii_to < len(batch)):
        body["batchcomplete"] = True if v2 else ""
    if continuation:
        body["continue"] = continuation
    for n, title in enumerate(missing):  # MediaWiki keys missing pages -1, -2, ... (v1)
        pages.append({"ns": 6, "title": title, "missing": True if v2 else "",
                      "imagerepository": "", "_key": -1 - n})
    if pages:
        body["query"] = {"pages": [{k: v for k, v in p.items() if k != "_key"} for p in pages]
                         if v2 else {str(p.get("_key", p.get("pageid"))):
                                     {k: v for k, v in p.items() if k != "_key"}
                                     for p in pages}}
        if normalized:
            body["query"] = {"normalized": normalized, **body["query"]}
    return json_response(body)


def file_page_id(copy: Copy) -> int:
    """The file page's id: a Commons record's own id; for a Wikidata item's file, one derived
    from the item's (above any Commons id of the demo)."""
    if copy.source == "commons":
        return int(copy.source_id)
    return 200_000_000 + int(copy.source_id.lstrip("Q"))


def _file(collection: DemoCollection, request: Request, files: str) -> Response:
    rest = request.path[len("/upload/wikipedia/commons/"):]
    thumb = rest.startswith("thumb/")
    parts = rest.split("/")
    quoted = parts[3] if thumb else parts[2] if len(parts) == 3 else None
    copy = _files_by_quoted_name(collection, files).get(quoted) if quoted else None
    if copy is None:
        return error_response(404, "File not found", as_json=False)
    if not thumb:
        return image_response(collection, copy, max_side=None)
    try:
        width = int(parts[4].split("px-", 1)[0])
    except (IndexError, ValueError):
        return error_response(400, "Bad thumbnail request", as_json=False)
    w, h = collection.size(copy)
    if copy.defect or width >= w:
        return image_response(collection, copy, max_side=None)
    size = (width, max(1, round(h * width / w)))
    return Response(200, collection.derived(copy, None, size, "jpg"), "image/jpeg")
