"""The National Gallery of Art open data: four CSV files joined here, images from its IIIF server.

    python -m crawl nga --out data/crawl/nga \
        --api-root https://github.com/NationalGalleryOfArt/opendata/raw/main

Params (``crawl.sources.nga``): ``classifications`` (NGA ``classification`` values, e.g.
``[Painting]``; objects of other classifications are skipped while reading, as an API filter
would, and never become rows; empty means every object), ``iiif_width`` (a bounded width,
never the full master), ``object_types``, and ``csv_max_bytes`` and ``csv_timeout_s`` for the
big CSV downloads (the real ``objects.csv`` holds about 150,000 rows). Licence: NGA's open data
is CC0; an image with ``openaccess=0`` or a ``maxpixels`` cap is fair use only (not public
domain).

``objects.csv``, ``published_images.csv``, ``objects_constituents.csv``, ``constituents.csv``
and ``objects_terms.csv`` are fetched one after another; each is read as a stream, by column name
(older files lack ``uuid`` and ``openaccess``), keeping only the columns and the rows that the
wanted objects need. Records are emitted only once all five have been tried; a failure of any of
the first four is a listing failure and the run ends incomplete, to be rerun.
``objects_terms.csv`` only adds genre and movement: when it is missing or unreadable the error
is logged and the records are emitted without them. The files live on GitHub
(raw.githubusercontent.com): two requests in flight, half a second apart, is gentle; images come
from api.nga.gov/iiif.

Fields: ``accession_number`` is objects.csv ``accessionnum`` ("1942.2.1"), as printed.
``genre`` comes from the object's ``Theme`` terms in objects_terms.csv: the term itself ("fables
and legends") and its ``visualbrowsertheme``, the theme NGA's site files it under ("religious"),
mapped onto Wikidata's labels by ``normalize.genre_from_terms``. ``Keyword`` terms ("Lion",
"Boats", "Head") name what is depicted, not the kind of picture, and are not read.
``movement`` is the object's ``Style`` terms: ``visualbrowserstyle`` ("Renaissance") where NGA
normalised it, else the term ("American Impressionist"), as NGA words it.
"""

from __future__ import annotations

import csv
import io

import scrapy

from crawl import normalize, reasons
from crawl.spiders.base import SourceSpider, failure_reason
from marcus.config import list_of

TERMS_FILE = "objects_terms.csv"
FILES = ("objects.csv", "published_images.csv", "objects_constituents.csv", "constituents.csv",
         TERMS_FILE)
OPTIONAL = {TERMS_FILE}  # without it records lose only genre and movement
OBJECT_COLUMNS = ("objectid", "accessionnum", "title", "displaydate", "beginyear", "endyear",
                  "medium", "attribution", "classification")
IMAGE_COLUMNS = ("uuid", "iiifurl", "width", "height", "maxpixels", "openaccess")
LINK_COLUMNS = ("constituentid", "displayorder", "prefix", "beginyear", "endyear")
CONSTITUENT_COLUMNS = ("forwarddisplayname", "preferreddisplayname", "displaydate", "beginyear",
                       "endyear")
TERM_COLUMNS = ("termtype", "term", "visualbrowsertheme", "visualbrowserstyle")
TERM_TYPES = ("theme", "style")  # termtype values read: genre and movement
MAX_TERMS = 50  # terms kept per object (real objects have a handful of themes and styles)
# Required columns per file: without them a file cannot be joined at all.
REQUIRED = {"objects.csv": ("objectid", "classification"),
            "published_images.csv": ("depictstmsobjectid", "viewtype"),
            "objects_constituents.csv": ("objectid", "constituentid", "roletype"),
            "constituents.csv": ("constituentid",),
            TERMS_FILE: ("objectid", "termtype", "term")}
PAGE_URL = "https://www.nga.gov/collection/art-object-page.{objectid}.html"
IIIF_ROOT = "https://api.nga.gov/iiif"
CSV_FIELD_LIMIT = 16 * 2**20  # provenance texts can be long; the csv default is 128 KiB


class NgaSpider(SourceSpider):
    source = "nga"
    default_api_root = "https://github.com/NationalGalleryOfArt/opendata/raw/main"
    KEYS = {"classifications": list_of(str), "iiif_width": int, "csv_max_bytes": int,
            "csv_timeout_s": float}

    async def start(self):
        yield self.csv_request(0, {})

    def csv_request(self, index: int, tables: dict) -> scrapy.Request:
        timeout = max(float(self.config["csv_timeout_s"]),
                      self.settings.getfloat("MARCUS_TIMEOUT_S"))
        return scrapy.Request(
            f"{self.api_root}/data/{FILES[index]}", callback=self.parse_csv,
            errback=self.optional_file_failed if FILES[index] in OPTIONAL
            else self.listing_failed, cb_kwargs={"index": index, "tables": tables},
            meta={"download_maxsize": self.config["csv_max_bytes"],
                  "download_timeout": timeout})

    def parse_csv(self, response, index: int, tables: dict):
        name = FILES[index]
        try:
            reader = csv_rows(response.body)
            missing = [c for c in REQUIRED[name] if c not in (reader.fieldnames or ())]
            if missing:
                raise ValueError(f"no column {', '.join(missing)} (header: "
                                 f"{','.join(reader.fieldnames or ())[:200]})")
            self.read_table(name, reader, tables)
        except (csv.Error, UnicodeDecodeError, ValueError) as exc:
            if name not in OPTIONAL:
                self.listing_broken(response.url, reasons.describe(exc))
                return
            tables.pop("terms", None)  # a partial file is not read at all
            self.optional_file_lost(name, response.url, reasons.describe(exc))
        if index + 1 < len(FILES):
            yield self.csv_request(index + 1, tables)
            return
        yield from self.emit(tables)

    def read_table(self, name: str, reader: csv.DictReader, tables: dict) -> None:
        """Keep only what the wanted objects need from one file."""
        if name == "objects.csv":
            wanted = {c.strip().lower() for c in self.config["classifications"]}
            objects = tables["objects"] = {}  # objectid -> row (insertion = file order)
            for row in reader:
                if wanted and (row.get("classification") or "").strip().lower() not in wanted:
                    continue
                object_id = (row.get("objectid") or "").strip()
                if object_id:
                    objects.setdefault(object_id, {c: row.get(c) for c in OBJECT_COLUMNS})
        elif name == "published_images.csv":
            objects, images = tables["objects"], tables.setdefault("images", {})
            for row in reader:
                object_id = (row.get("depictstmsobjectid") or "").strip()
                if object_id not in objects or (row.get("viewtype") or "").strip() != "primary":
                    continue
                kept = {c: row[c] for c in IMAGE_COLUMNS if c in row}  # absent != empty
                earlier = images.get(object_id)
                if earlier is None or _int(row.get("sequence")) < earlier["_sequence"]:
                    images[object_id] = {**kept, "_sequence": _int(row.get("sequence"))}
        elif name == "objects_constituents.csv":
            objects, links = tables["objects"], tables.setdefault("links", {})
            for row in reader:
                object_id = (row.get("objectid") or "").strip()
                if object_id not in objects or (row.get("roletype") or "").strip() != "artist":
                    continue
                order = _int(row.get("displayorder"))
                earlier = links.get(object_id)
                if earlier is None or order < earlier["_order"]:
                    links[object_id] = {**{c: row.get(c) for c in LINK_COLUMNS},
                                        "_order": order}
        elif name == TERMS_FILE:
            objects, terms = tables["objects"], tables.setdefault("terms", {})
            for row in reader:
                object_id = (row.get("objectid") or "").strip()
                if object_id not in objects or \
                        (row.get("termtype") or "").strip().lower() not in TERM_TYPES:
                    continue
                kept = terms.setdefault(object_id, [])
                if len(kept) < MAX_TERMS:
                    kept.append({c: row[c] for c in TERM_COLUMNS if c in row})
        else:
            needed = {(link.get("constituentid") or "").strip()
                      for link in tables.get("links", {}).values()}
            people = tables.setdefault("constituents", {})
            for row in reader:
                constituent_id = (row.get("constituentid") or "").strip()
                if constituent_id in needed:
                    people[constituent_id] = {c: row.get(c) for c in CONSTITUENT_COLUMNS}

    def optional_file_failed(self, failure):
        """Errback for objects_terms.csv: logged, and the records go out without its terms."""
        reason, error = failure_reason(failure)
        self.optional_file_lost(FILES[failure.request.cb_kwargs["index"]], failure.request.url,
                                f"{reason}: {error}")
        yield from self.emit(failure.request.cb_kwargs["tables"])

    def optional_file_lost(self, name: str, url: str, error: str) -> None:
        self.logger.error("%s unreadable, records carry no genre or movement: %s %s", name,
                          url[:300], error[:500])

    def emit(self, tables: dict):
        images, links = tables.get("images", {}), tables.get("links", {})
        people, terms = tables.get("constituents", {}), tables.get("terms", {})
        for object_id, obj in tables["objects"].items():
            if self.state.full:
                return
            if not self.want(object_id):
                continue
            if (unsafe := self.unsafe_id(object_id)) is not None:
                yield unsafe
                continue
            link = links.get(object_id) or {}
            person = people.get((link.get("constituentid") or "").strip()) or {}
            try:
                item = self.item_from_rows(obj, images.get(object_id), link, person,
                                           terms.get(object_id, []))
            except (ValueError, TypeError, AttributeError, KeyError) as exc:
                yield self.failed_record(object_id, reasons.BAD_RECORD,
                                         reasons.describe(exc))
                continue
            yield self.fetch_image(item)

    def image_url(self, image: dict) -> str | None:
        base = (image.get("iiifurl") or "").strip().rstrip("/")
        if not base and (image.get("uuid") or "").strip():
            base = f"{IIIF_ROOT}/{image['uuid'].strip()}"
        if not base:
            return None
        width = self.config["iiif_width"]
        full_width, full_height = _int(image.get("width"), 0), _int(image.get("height"), 0)
        if full_width > 0:  # IIIF servers refuse upscaling: never ask for more than the master
            width = min(width, full_width)
            cap = _int(image.get("maxpixels"), 0)
            if cap > 0:  # a fair-use cap on the long side
                width = min(width, max(1, full_width * cap // max(full_width, full_height)))
        return f"{base}/full/{width},/0/default.jpg"

    def item_from_rows(self, obj: dict, image: dict | None, link: dict, person: dict,
                       terms: list | tuple = ()):
        object_id = obj["objectid"].strip()
        name, qualifier = normalize.split_attribution(obj.get("attribution") or None)
        qualifier = normalize.normalise_qualifier(link.get("prefix")) or qualifier
        artist = _text(person.get("forwarddisplayname")) or name
        bio_birth, bio_death = normalize.parse_life_years(person.get("displaydate"))
        birth = normalize.parse_int_year(person.get("beginyear")) or bio_birth
        death = normalize.parse_int_year(person.get("endyear")) or bio_death
        date_start = normalize.parse_int_year(obj.get("beginyear"))
        date_end = normalize.parse_int_year(obj.get("endyear"))
        if date_start is None and date_end is None:
            date_start, date_end = normalize.parse_year_range(obj.get("displaydate"))
        licence_fields = {k: image[k] for k in ("openaccess", "maxpixels") if k in image} \
            if image else {}
        licence, flag, licence_raw = normalize.normalise_license("nga", **licence_fields)
        type_raw = _text(obj.get("classification"))
        raw = {"object": obj, "image": {k: v for k, v in (image or {}).items()
                                        if not k.startswith("_")} or None,
               "artist_link": {k: v for k, v in link.items() if not k.startswith("_")} or None,
               "constituent": person or None, "terms": list(terms) or None}
        genre, movement = genre_and_movement(terms)
        item = self.new_item(
            object_id, raw,
            accession_number=normalize.accession_text(obj.get("accessionnum")),
            page_url=PAGE_URL.format(objectid=object_id),
            image_url=self.image_url(image) if image else None,
            license=licence, license_raw=licence_raw, is_public_domain_flag=flag,
            title=_text(obj.get("title")), artist=artist,
            artist_birth_year=birth, artist_death_year=death, attribution_qualifier=qualifier,
            date_text=_text(obj.get("displaydate")), date_start=date_start, date_end=date_end,
            object_type=normalize.normalise_object_type(type_raw), object_type_raw=type_raw,
            medium=_text(obj.get("medium")), genre=genre, movement=movement)
        if image is None:
            item.error = "no primary image in published_images.csv"
        return item


def genre_and_movement(terms: list | tuple) -> tuple[str | None, str | None]:
    """(genre, movement) from an object's objects_terms.csv rows.

    >>> genre_and_movement([{"termtype": "Theme", "term": "fables and legends",
    ...                      "visualbrowsertheme": "religious"},
    ...                     {"termtype": "Style", "term": "Renaissance",
    ...                      "visualbrowserstyle": "Renaissance"}])
    ('religious art', 'Renaissance')
    """
    themes, styles = [], []
    for row in terms:
        if not isinstance(row, dict):
            continue
        kind = row.get("termtype")
        kind = kind.strip().lower() if isinstance(kind, str) else ""
        if kind == "theme":
            themes += [row.get("term"), row.get("visualbrowsertheme")]
        elif kind == "style":
            normalised = _text(row.get("visualbrowserstyle"))
            styles.append(normalised or row.get("term"))
    return normalize.genre_from_terms(themes), normalize.terms_text(styles)


def csv_rows(body: bytes) -> csv.DictReader:
    """A streaming DictReader over a CSV body (UTF-8, with or without a BOM)."""
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    # errors="replace": one bad byte in a 100 MB file must cost one field, not the listing.
    text = io.TextIOWrapper(io.BytesIO(body), encoding="utf-8-sig", errors="replace",
                            newline="")
    return csv.DictReader(text)


def _int(value: object, default: int = 2**31) -> int:
    """An integer column; ``default`` (sorting last) when empty or not a number."""
    try:
        return int(float(str(value).strip()))
    except (TypeError, ValueError, OverflowError):
        return default


def _text(value: object) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None
