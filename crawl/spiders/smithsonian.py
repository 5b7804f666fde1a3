"""The Smithsonian Open Access API (EDAN, behind api.data.gov), with images from the IDS.

    SI_API_KEY=... python -m crawl smithsonian --out data/crawl/smithsonian \
        --api-root https://api.si.edu/openaccess/api/v1.0

Params (``crawl.sources.smithsonian``): ``api_key`` (an api.data.gov key; null reads the
environment variable ``SI_API_KEY``; get one free at https://api.data.gov/signup/ and never
commit it), ``query`` (the search's ``q``: Lucene-style terms joined with AND/OR, fielded as
``object_type:Paintings``, ``online_media_type:Images``, ``unit_code:SAAM``), ``page_size`` (the
search's ``rows``, at most 1000), ``image_max_px`` (the IDS delivery service's ``max``: the long
side of the fetched image), ``object_types``.

Listing: ``GET {api_root}/search?q=...&start=N&rows=M&sort=id``, answered with ``{"status": 200,
"responseCode": 1, "response": {"rows": [...], "rowCount": T, "message": "content found"}}``;
each row is a whole record, so no per-object request is needed. Pages are walked with ``start``
until ``rowCount``, sorted by id so that the pages of one query do not overlap. The key travels
in the ``X-Api-Key`` header (api.data.gov takes it there or as ``api_key=``), so it never appears
in a URL, a log line or a row. Against the demo (a loopback root) with no key the spider sends
api.data.gov's own ``DEMO_KEY``; a live crawl without a key stops before any work.

A record's image: the first media of type ``Images`` whose ``usage.access`` is ``CC0``, its
``content`` URL (``https://ids.si.edu/ids/deliveryService?id=...``) with ``max=image_max_px``.
The licence is that media's usage; a record with image media but none CC0 is "copyrighted"
(the Smithsonian's "Usage conditions apply": metadata only); a record without image media falls
back to the record's ``metadata_usage.access``. ``license_raw`` keeps both.

``accession_number`` is the freetext ``identifier`` the unit labels as its object's number:
``Object number`` (SAAM, NMAAHC: "1929.6.75"), else ``ID Number`` (NMAH's per-object
"MA.316371.019"), ``Catalog Number``, ``Accession Number`` (at NMAH the number of a whole
accession lot, so the last resort). ``genre`` is what ``normalize.genre_from_terms`` finds in
``indexedStructured.topic`` (SAAM's subject terms: "Portrait male\\waist length", "Landscapes")
and ``indexedStructured.object_type``; EDAN has no style field, so ``movement`` stays empty.

Politeness as api.data.gov states it: 1,000 requests an hour per key (rolling; ``DEMO_KEY``: 30 an
hour and 50 a day per IP), answered beyond that with 429 ``OVER_RATE_LIMIT``. Params ask for one
request at a time and 3.6 s between two (1,000 an hour); ids.si.edu needs no key but is paced the
same. At 100 rows a page, listing 100,000 records takes about an hour; their images, 3.6 s each.
"""

from __future__ import annotations

import json
import os
import re
from urllib.parse import urlencode, urlsplit, urlunsplit

import scrapy

from crawl import normalize
from crawl.spiders.base import SourceSpider, as_int, parse_json
from marcus.config import optional
from marcus.errors import UserError

MAX_TOPICS = 100  # topics read per record (SAAM records have a dozen at most)
MAX_ROWS = 1000  # the search's largest page (the API answers 10 rows to a larger ask)
SORT = "id"  # a stable order: relevancy may reorder records between two pages of one query
DEMO_KEY = "DEMO_KEY"  # api.data.gov's key for trying an API out (30 requests an hour)
KEY_ENV = "SI_API_KEY"
# Statuses the listing reads itself, to log what api.data.gov or EDAN said (a missing or
# invalid key is a 403 with {"error": {"code", "message"}}; EDAN's own errors a 400 or 404 with
# {"status", "responseCode": 0, "response": {"error"}}). 429 and 5xx are retried before that.
LISTING_ERRORS = [400, 401, 403, 404]
# freetext.name labels that name who made the work; a qualifier as the label ("Attributed to")
# is the attribution.
CREATOR_LABELS = ("artist", "artist/maker", "painter", "maker", "creator", "created by",
                  "photographer", "sculptor", "printmaker", "print maker", "draftsman")
_DELIVERY = "/deliveryService"
_MAX = re.compile(r"(^|&)max=[^&]*")
# freetext.identifier labels of an object's own number, most specific first (compared lower-case).
IDENTIFIER_LABELS = ("object number", "id number", "catalog number", "accession number")
QUALIFIER_LABELS = ("attributed to", "workshop of", "studio of", "follower of", "circle of",
                    "school of", "manner of", "style of", "after", "copy after", "possibly by",
                    "probably by", "formerly attributed to")


class SmithsonianSpider(SourceSpider):
    source = "smithsonian"
    default_api_root = "https://api.si.edu/openaccess/api/v1.0"
    KEYS = {"api_key": optional(str), "query": str, "page_size": int, "image_max_px": int}

    @classmethod
    def check_config(cls, config: dict, api_root: str) -> None:
        """A live crawl without a key stops here, before any work, as a user error."""
        api_key(config, api_root)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._api_key = api_key(self.config, self.api_root)  # never logged, never in a URL

    async def start(self):
        yield self.page_request(0)

    def page_request(self, start: int) -> scrapy.Request:
        rows = max(1, min(self.config["page_size"], MAX_ROWS))
        query = {"q": self.config["query"], "start": start, "rows": rows, "sort": SORT}
        return scrapy.Request(f"{self.api_root}/search?{urlencode(query)}",
                              callback=self.parse_page, errback=self.listing_failed,
                              headers={"X-Api-Key": self._api_key}, cb_kwargs={"start": start},
                              meta={"handle_httpstatus_list": LISTING_ERRORS})

    def parse_page(self, response, start: int):
        if response.status >= 400:
            self.listing_broken(response.url, f"HTTP {response.status}: "
                                f"{error_message(response)}")
            return
        body = self.listing_json(response, "response")
        if body is None:
            return
        result = body["response"]
        if not isinstance(result, dict):
            self.listing_broken(response.url, f"response is {type(result).__name__}, not an "
                                "object")
            return
        if result.get("error"):  # EDAN's own error inside a 200
            self.listing_broken(response.url, f"EDAN error: {str(result['error'])[:300]}")
            return
        total = as_int(result.get("rowCount"))
        records = result.get("rows")
        if records is None and total == 0:  # the query matched nothing: a complete listing
            return
        if not isinstance(records, list):
            self.listing_broken(response.url, f"response.rows is {type(records).__name__}, "
                                "not a list")
            return
        met_before = self.state.met
        for record in records:
            if self.state.full:
                return
            source_id = record.get("id") if isinstance(record, dict) else None
            yield from self.listed(source_id, record, lambda r=record: self.item_from_row(r))
        if not self.page_read("smithsonian", response, self.state.met - met_before,
                              len(records)):
            return
        if self.state.full:
            return
        following, rows = start + len(records), max(1, min(self.config["page_size"], MAX_ROWS))
        if not records:
            if total is not None and start < total:
                self.listing_stopped(f"smithsonian: an empty page at start={start} although "
                                     f"rowCount is {total}")
            return
        if total is None:  # no count: read on while pages come full
            if len(records) >= rows:
                yield self.page_request(following)
            return
        if following < total:
            yield self.page_request(following)

    # --- one record ----------------------------------------------------------------------------

    def item_from_row(self, row: dict):
        content = _dict(row.get("content"))
        described = _dict(content.get("descriptiveNonRepeating"))
        indexed = _dict(content.get("indexedStructured"))
        freetext = _dict(content.get("freetext"))

        media = _list(_dict(described.get("online_media")).get("media"))
        images = [m for m in media if isinstance(m, dict) and m.get("type") == "Images"]
        open_images = [m for m in images if (usage_of(m.get("usage")) or "").upper() == "CC0"]
        metadata_usage = usage_of(described.get("metadata_usage"))
        if open_images:
            licence, flag = "CC0", True
        elif images:  # image media, none CC0: what the Smithsonian says of the images
            stated = [usage_of(m.get("usage")) for m in images if usage_of(m.get("usage"))]
            licence, flag = ("copyrighted", False) if stated else ("unknown", None)
        else:
            licence, flag = licence_of(metadata_usage)
        chosen = open_images[0] if open_images else (images[0] if images else {})
        image_url = chosen.get("content")
        if isinstance(image_url, str):
            image_url = sized(image_url.strip(), self.config["image_max_px"]) or None
        licence_raw = json.dumps({"metadata_usage": described.get("metadata_usage"),
                                  "media_usage": [m.get("usage") for m in images]},
                                 ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                                 default=str)

        credit, label = creator(freetext, indexed)
        name_text, bio = split_artist_line(credit)
        name, qualifier = normalize.split_attribution(name_text)
        label_qualifier = normalize.normalise_qualifier(label) if label and \
            label.strip().lower() not in CREATOR_LABELS else None
        birth, death = life_years(bio)

        date_text = labelled(freetext.get("date"), ("date",))
        indexed_dates = [d for d in _list(indexed.get("date")) if isinstance(d, str)]
        start, end = normalize.parse_year_range(date_text) if date_text else (None, None)
        if start is None and end is None and indexed_dates:
            spans = [normalize.parse_year_range(d) for d in indexed_dates]
            starts = [s for s, _ in spans if s is not None]
            ends = [e for _, e in spans if e is not None]
            start, end = min(starts, default=None), max(ends, default=None)
        if date_text is None and indexed_dates:
            date_text = ", ".join(indexed_dates)

        types = [t for t in _list(indexed.get("object_type")) if isinstance(t, str)]
        if not types:
            types = [t for t in _contents(freetext.get("objectType")) if isinstance(t, str)]
        type_raw = "|".join(types) or None

        title = row.get("title")
        if not isinstance(title, str) or not title.strip():
            title = _dict(described.get("title")).get("content", title)
        page_url = described.get("record_link") or described.get("guid")
        topics = [t.get("content") if isinstance(t, dict) else t
                  for t in _list(indexed.get("topic"))[:MAX_TOPICS]]
        return self.new_item(
            row["id"], row,
            accession_number=object_number(freetext.get("identifier")),
            page_url=page_url.strip() if isinstance(page_url, str) else page_url,
            image_url=image_url,
            license=licence, license_raw=licence_raw, is_public_domain_flag=flag,
            title=normalize.strip_html(title) if isinstance(title, str) else title,
            artist=name, artist_birth_year=birth, artist_death_year=death,
            attribution_qualifier=label_qualifier or qualifier,
            date_text=date_text, date_start=start, date_end=end,
            object_type=normalize.normalise_object_type(type_raw), object_type_raw=type_raw,
            medium=labelled(freetext.get("physicalDescription"),
                            ("medium", "media/materials", "materials", "technique"),
                            first_else=False),
            genre=normalize.genre_from_terms(
                [t for t in topics + types[:MAX_TOPICS] if isinstance(t, str)]))


def api_key(config: dict, api_root: str) -> str:
    """The key to send: params, else $SI_API_KEY, else DEMO_KEY against the demo (a loopback
    root); a live crawl without one is a UserError saying how to get one."""
    from crawl.run import is_loopback

    key = (config.get("api_key") or os.environ.get(KEY_ENV) or "").strip()
    if key:
        return key
    if api_root == "demo" or is_loopback(api_root):
        return DEMO_KEY
    raise UserError(
        "crawl.sources.smithsonian: the Smithsonian Open Access API needs an api.data.gov key "
        f"and none is set: get one free at https://api.data.gov/signup/, then set the "
        f"environment variable {KEY_ENV} (or crawl.sources.smithsonian.api_key in a params "
        "file you never commit)")


def error_message(response) -> str:
    """What api.data.gov (``{"error": {"code", "message"}}``) or EDAN (``{"response":
    {"error"}}``) said in an error response; else the start of its text."""
    try:
        body = parse_json(response)
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return ": ".join(str(error[k]) for k in ("code", "message") if k in error)[:300]
        inner = body.get("response")
        if isinstance(inner, dict) and inner.get("error"):
            return str(inner["error"])[:300]
    text = response.text if hasattr(response, "text") else ""
    return " ".join(text[:300].split()) or "no message"


def usage_of(block: object) -> str | None:
    """``{"access": "CC0"}`` -> "CC0"; None when not stated."""
    access = block.get("access") if isinstance(block, dict) else None
    return (access.strip() or None) if isinstance(access, str) else None


def licence_of(access: str | None) -> tuple[str, bool | None]:
    if access is None:
        return "unknown", None
    return ("CC0", True) if access.upper() == "CC0" else ("copyrighted", False)


def sized(url: str, max_px: int) -> str:
    """An IDS delivery URL asking for at most ``max_px`` on the long side: ``?id=X&max=N`` or
    ``/deliveryService/id/X/N``; any other URL as it is."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    path, query = parts.path, parts.query
    if path.endswith(_DELIVERY) and re.search(r"(?:^|&)id=", query):
        if _MAX.search(query):
            query = _MAX.sub(lambda m: f"{m[1]}max={max_px}", query)
        else:
            query = f"{query}&max={max_px}"
        return urlunsplit(parts._replace(query=query))
    if f"{_DELIVERY}/id/" in path and not path.rstrip("/").rsplit("/", 1)[-1].isdigit():
        return urlunsplit(parts._replace(path=f"{path.rstrip('/')}/{max_px}"))
    return url


def creator(freetext: dict, indexed: dict) -> tuple[str | None, str | None]:
    """(who made it, as written, and the label it came under): the first freetext name whose
    label names a maker or a qualifier; else the first indexed name ("Homer, Winslow")."""
    for entry in _list(freetext.get("name")):
        if not isinstance(entry, dict) or not isinstance(entry.get("content"), str):
            continue
        label = entry.get("label") if isinstance(entry.get("label"), str) else ""
        if label.strip().lower() in (*CREATOR_LABELS, *QUALIFIER_LABELS):
            return entry["content"], label
    for entry in _list(indexed.get("name")):
        name = entry.get("content") if isinstance(entry, dict) else entry
        if isinstance(name, str) and name.strip():
            return uninvert(name), None
    return None, None


def uninvert(name: str) -> str:
    """'Homer, Winslow' -> 'Winslow Homer' (one comma only: 'Smith, Jones & Co., Inc.' stays)."""
    parts = [p.strip() for p in name.split(",")]
    return f"{parts[1]} {parts[0]}" if len(parts) == 2 and all(parts) else name.strip()


_ARTIST_LINE = re.compile(r"^(.*?)(?:,\s*|\s+\()(.*)$", re.DOTALL)


def split_artist_line(line: str | None) -> tuple[str | None, str]:
    """('Winslow Homer', 'born Boston, MA 1836-died Prouts Neck, ME 1910') from SAAM's
    'Winslow Homer, born Boston, MA 1836-died Prouts Neck, ME 1910'; the Freer's
    'Lü Ji (ca. 1420-ca. 1505)' splits at the bracket."""
    if not line:
        return None, ""
    match = _ARTIST_LINE.match(line.strip())
    if match is None or not match[1].strip():
        return line.strip(), ""
    return match[1].strip(), match[2].strip().rstrip(")")


_PLACE_BEFORE_YEAR = re.compile(r"\b(born|died)\b[^0-9;()]{0,80}?(?=\b[0-9]{3,4}\b)",
                                re.IGNORECASE)
_DAY_MONTH = re.compile(r"\b[0-9]{1,2}\s+[A-Za-z]{3,9}\.?\s+(?=[0-9]{3,4}\b)")


def life_years(bio: str) -> tuple[int | None, int | None]:
    """Life years from the Smithsonian's bio forms: 'born Boston, MA 1836-died Prouts Neck, ME
    1910' (SAAM), '3 Dec 1755 - 9 Jul 1828' (NPG), 'ca. 1420-ca. 1505' (Freer)."""
    text = _PLACE_BEFORE_YEAR.sub(lambda m: f"{m[1]} ", bio[:1000])
    return normalize.parse_life_years(_DAY_MONTH.sub("", text))


def object_number(entries: object) -> str | None:
    """The object's own number from freetext ``identifier`` entries (``[{"label": "Object
    number", "content": "1929.6.75"}]``), by IDENTIFIER_LABELS; None when none is labelled so."""
    found = {}
    for entry in _list(entries)[:MAX_TOPICS]:
        if not isinstance(entry, dict) or not isinstance(entry.get("label"), str):
            continue
        label = entry["label"].strip().rstrip(":").strip().lower()
        number = normalize.accession_text(entry.get("content"))
        if label in IDENTIFIER_LABELS and number is not None:
            found.setdefault(label, number)
    return next((found[label] for label in IDENTIFIER_LABELS if label in found), None)


def labelled(entries: object, labels: tuple[str, ...], first_else: bool = True) -> str | None:
    """The content of the first ``[{"label", "content"}]`` entry under one of ``labels``; else,
    with ``first_else``, of the first entry at all (NMNH dates its specimens "Collection Date")."""
    entries = [e for e in _list(entries) if isinstance(e, dict)]
    for entry in entries:
        label = entry.get("label")
        if isinstance(label, str) and label.strip().lower() in labels:
            return _text(entry.get("content"))
    return _text(entries[0].get("content")) if entries and first_else else None


def _contents(entries: object) -> list:
    return [e.get("content") for e in _list(entries) if isinstance(e, dict)]


def _text(value: object) -> str | None:
    return (normalize.strip_html(value) or None) if isinstance(value, str) else None


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list:
    return value if isinstance(value, list) else []
