"""Wikidata as the demo serves it: the Query Service, ``wbgetentities``, the items' Commons files.

One root answers all three, told apart as the real services are by path and parameters:

- ``/sparql?query=...&format=json``: SPARQL 1.1 JSON results (``head.vars``,
  ``results.bindings`` of ``{"type": "uri", "value": ...}``). The demo understands one query
  shape, the listing of ``crawl/spiders/wikidata.py`` (``VALUES ?class``, a numeric id range
  in a ``FILTER``, ``ORDER BY ?id``, ``LIMIT``); any other query is a 400
  ``MalformedQueryException``, as a query the real service cannot parse.
- ``/w/api.php?action=wbgetentities&ids=Q1|Q2&props=labels|claims``: entities in the
  Wikibase JSON format: statements with ranks, snak types, qualifiers and time precisions.
- ``/w/api.php?action=query&titles=File:...&prop=imageinfo`` and ``/upload/...``: the items'
  files, through the Commons emulator (``demo/apis/commons.py``).

In hostile mode (``demo/hostile.py``) the listing also names hostile items (above every real
one), whose entities, broken wbgetentities answers and files' image infos come from there.

How the real services fail, always on (not only with ``demo.faults``):

- A listing query over more than ``TIMEOUT_ITEMS`` items "runs past 60 s": half of such
  queries answer 500 with a Java ``TimeoutException``, the other half 200 with JSON cut off
  midway and the exception's trace after it (the Query Service streams results).
- One distinct query in 16 is refused once with 429 and ``Retry-After`` (the per-client
  query-time budget), one distinct ``wbgetentities`` request in 11 once with a ``maxlag``
  error and ``Retry-After``.

What the items state is a pure function of the catalogue: ``Copy.extra`` of each Wikidata copy
(copyright status, inception precision, the museums' object ids) and each artist's dates,
written with the precisions, ranks and attribution qualifiers Wikidata uses.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import json
import re
import threading
import zlib

from demo import hostile
from demo.apis import MOVEMENTS, cleveland, commons, met, movement_of, smithsonian
from demo.catalog import PD_DEATH_MARGIN_YEARS, Artist, Copy
from demo.collection import DemoCollection
from demo.server import Request, Response, error_response, json_response

TIMEOUT_ITEMS = 50  # a listing query over more items than this times out
MAX_IDS = 50  # wbgetentities ids per request
ENTITY = "http://www.wikidata.org/entity/"
PAINTING, HUMAN = "Q3305213", "Q5"
PERSON_BASE = 900_000  # artist n is item Q(900000 + n), as the Commons emulator links them
GENRES = {"portrait": ("Q134307", "portrait"), "landscape": ("Q191163", "landscape art"),
          "seascape": ("Q158607", "marine art"), "still_life": ("Q170571", "still life"),
          "geometric": ("Q128115", "abstract art")}
# Copyright status (P6216) values and the jurisdictions (P1001) they apply to.
STATUS = {"pd": ("Q19652", "Q60332278"),  # public domain; countries with 100 years pma or less
          "pd_us": ("Q19652", "Q30"),  # public domain in the United States only
          "copyrighted": ("Q50423863", None)}
# The catalogue's qualifiers as Wikidata states them: (qualifier property of an unknown
# creator naming the artist) or None for "creator = artist" with nature of statement.
ATTRIBUTION = {"Workshop of": "P1774", "Follower of": "P1775", "Circle of": "P1776",
               "After": "P1877", "Possibly by": "P1779"}
JAVA_TRACE = ("java.util.concurrent.ExecutionException: java.util.concurrent.TimeoutException\n"
              "\tat java.util.concurrent.FutureTask.report(FutureTask.java:122)\n"
              "\tat java.util.concurrent.FutureTask.get(FutureTask.java:206)\n"
              "\tat com.bigdata.rdf.sail.webapp.BigdataServlet.submitApiTask("
              "BigdataServlet.java:292)\n")
_QUERY = re.compile(r"VALUES\s+\?class\s*\{(?P<classes>[^}]*)\}.*?FILTER\s*\(\s*\?id\s*>=\s*"
                    r"(?P<first>[0-9]+)\s*&&\s*\?id\s*<\s*(?P<end>[0-9]+)\s*\).*?LIMIT\s+"
                    r"(?P<limit>[0-9]+)", re.DOTALL)

_seen_lock = threading.Lock()


def _first_time(collection: DemoCollection, key: str) -> bool:
    """True the first time this server is asked ``key`` (a refusal happens once)."""
    with _seen_lock:
        seen = collection.__dict__.setdefault("_wikidata_seen", set())
        if key in seen:
            return False
        seen.add(key)
        return True


def handle(collection: DemoCollection, request: Request) -> Response:
    if request.path == "/sparql":
        return _sparql(collection, request)
    if request.path == "/w/api.php" and request.arg("action") == "wbgetentities":
        return _entities(collection, request)
    if request.hostile and request.path == "/w/api.php" and (
            found := hostile.wikidata_files(collection, request)) is not None:
        return found
    if request.path == "/w/api.php" or request.path.startswith("/upload/"):
        return commons.handle(collection, request, files="wikidata")
    return error_response(404, "Not Found", as_json=False)


# --- the Query Service --------------------------------------------------------------------------


def _number(copy: Copy) -> int:
    return int(copy.source_id[1:])


@functools.lru_cache(maxsize=4)
def _numbers(collection: DemoCollection) -> list[int]:
    """The item numbers of the source's records, in their (numeric) listing order: a query's
    id range is then two bisections, not a scan of every copy per query."""
    return [_number(c) for c in collection.source_copies("wikidata")]


def _sparql(collection: DemoCollection, request: Request) -> Response:
    query = request.arg("query") or ""
    match = _QUERY.search(query)
    if match is None:
        return Response(400, (f"SPARQL-QUERY: queryStr={query[:500]}\njava.util.concurrent."
                              "ExecutionException: org.openrdf.query.MalformedQueryException: "
                              "the demo understands only the listing query of crawl/spiders/"
                              "wikidata.py\n").encode(), "text/plain; charset=utf-8")
    key = zlib.crc32(query.encode())
    if key % 16 == 0 and _first_time(collection, f"429 {query}"):
        return Response(429, b"Too Many Requests - Please retry in 1 seconds.",
                        "text/plain; charset=utf-8", {"Retry-After": "1"})
    classes = set(re.findall(r"wd:(Q[0-9]+)", match["classes"]))
    first, end, limit = int(match["first"]), int(match["end"]), int(match["limit"])
    numbers = _numbers(collection)
    lo, hi = bisect.bisect_left(numbers, first), bisect.bisect_left(numbers, end)
    items = collection.source_copies("wikidata")[lo:hi] if PAINTING in classes else ()
    rows = [{"item": {"type": "uri", "value": f"{ENTITY}{c.source_id}"},
             "id": {"datatype": "http://www.w3.org/2001/XMLSchema#integer", "type": "literal",
                    "value": str(_number(c))}} for c in items[:limit]]
    if request.hostile:  # hostile items among the real ones, by id (real ones never time out)
        rows = hostile.wikidata_bindings(rows, first, end, limit)
    body = {"head": {"vars": ["item", "id"]}, "results": {"bindings": rows}}
    if len(items) > TIMEOUT_ITEMS:  # the real service would still be scanning at 60 s
        trace = f"SPARQL-QUERY: queryStr={query}\n{JAVA_TRACE}"
        if key % 2:
            return Response(500, trace.encode(), "text/plain; charset=utf-8")
        text = json.dumps(body, indent=2)
        return Response(200, (text[: len(text) // 3] + "\n" + trace).encode(),
                        "application/sparql-results+json; charset=utf-8")
    return Response(200, json.dumps(body, indent=2).encode(),
                    "application/sparql-results+json; charset=utf-8")


# --- wbgetentities ------------------------------------------------------------------------------


def _entities(collection: DemoCollection, request: Request) -> Response:
    ids = [i for i in (request.arg("ids") or "").split("|") if i]
    if not ids:
        return _error(request, "param-missing", "The parameter \"ids\" is required.")
    if len(ids) > MAX_IDS:
        return _error(request, "toomanyvalues", f"Too many values supplied for parameter "
                      f"\"ids\". The limit is {MAX_IDS}.")
    if request.arg("maxlag") and zlib.crc32("|".join(ids).encode()) % 11 == 0 \
            and _first_time(collection, "maxlag " + "|".join(ids)):
        response = json_response({"error": {"code": "maxlag", "info": "Waiting for "
                                            "10.64.48.35: 6 seconds lagged.", "host":
                                            "10.64.48.35", "lag": 6, "type": "db",
                                            "*": _docref(request)},
                                  "servedby": "mw-api-ext.demo"})
        response.headers.update({"Retry-After": "1", "X-Database-Lag": "6"})
        return response
    if request.hostile and (broken := hostile.wikidata_broken(collection, ids)) is not None:
        return broken
    languages = (request.arg("languages") or "en").split("|")
    entities = {}
    for qid in ids:
        if request.hostile and (found := hostile.wikidata_entity(collection, qid)) is not None:
            entities[qid] = found
            continue
        entity = _entity(collection, qid, request)
        if entity is None:
            entities[qid] = {"id": qid, "missing": ""}
        else:
            entity["labels"] = {k: v for k, v in entity["labels"].items() if k in languages}
            entities[qid] = entity
    return (hostile.hostile_json if request.hostile else json_response)(
        {"entities": entities, "success": 1})


def _error(request: Request, code: str, info: str) -> Response:
    return json_response({"error": {"code": code, "info": info, "*": _docref(request)},
                          "servedby": "mw-api-ext.demo"})


def _docref(request: Request) -> str:
    """The ``*`` of an error (errorformat=bc): where the API's help is."""
    return commons.API_NOTE.format(root=request.source_root)


def _entity(collection: DemoCollection, qid: str, request: Request) -> dict | None:
    painting = collection.by_source_id("wikidata", qid)
    if painting is not None:
        return painting_entity(collection, painting)
    number = int(qid[1:]) if qid[1:].isdigit() else -1
    if 0 <= number - PERSON_BASE < len(collection.catalog.artists):
        return person_entity(collection.catalog.artist(number - PERSON_BASE),
                             collection.catalog.reference_year)
    for item, name in [*GENRES.values(), *((q, n) for _, q, n in MOVEMENTS)]:
        if item == qid:
            return {"type": "item", "id": qid, "labels": _labels(name), "claims": {}}
    return None


def _labels(text: str, **others: str) -> dict:
    return {lang: {"language": lang, "value": value}
            for lang, value in {"en": text, **others}.items()}


# The datatypes of the properties the demo states with text or without a value (the API writes
# the property's datatype on every snak, somevalue and novalue ones too): P18 is a Commons file,
# the museums' object ids are external identifiers.
DATATYPES = {"P18": "commonsMedia", "P3634": "external-id", "P4610": "external-id",
             "P4683": "external-id", "P727": "external-id", "P170": "wikibase-item",
             "P569": "time", "P570": "time", "P571": "time"}


def _snak(prop: str, value=None, kind: str = "value") -> dict:
    """A snak as Wikibase writes it (snaktype, property, hash, datavalue, datatype); ``value``: a
    Q-id, a string or a time dict."""
    digest = hashlib.sha1(json.dumps([prop, kind, value], sort_keys=True).encode()).hexdigest()
    snak = {"snaktype": kind, "property": prop, "hash": digest}
    if kind != "value":
        snak["datatype"] = DATATYPES.get(prop, "wikibase-item")
        return snak
    if isinstance(value, dict):
        snak["datavalue"], snak["datatype"] = {"value": value, "type": "time"}, "time"
    elif isinstance(value, str) and re.fullmatch(r"Q[0-9]+", value):
        snak["datavalue"] = {"value": {"entity-type": "item", "numeric-id": int(value[1:]),
                                       "id": value}, "type": "wikibase-entityid"}
        snak["datatype"] = "wikibase-item"
    else:
        snak["datavalue"] = {"value": value, "type": "string"}
        snak["datatype"] = DATATYPES.get(prop, "string")
    return snak


def _statement(subject: str, prop: str, value=None, kind: str = "value", rank: str = "normal",
               qualifiers: list[tuple[str, object]] = ()) -> dict:
    statement = {"mainsnak": _snak(prop, value, kind), "type": "statement",
                 "id": f"{subject}${zlib.crc32(f'{prop}{value}{rank}'.encode()):08X}",
                 "rank": rank}
    if qualifiers:
        statement["qualifiers"] = {}
        for qprop, qvalue in qualifiers:
            statement["qualifiers"].setdefault(qprop, []).append(_snak(qprop, qvalue))
        statement["qualifiers-order"] = list(statement["qualifiers"])
    return statement


def _time(year: int, precision: int, month: int = 0, day: int = 0) -> dict:
    return {"time": f"+{year:04d}-{month:02d}-{day:02d}T00:00:00Z", "timezone": 0, "before": 0,
            "after": 0, "precision": precision,
            "calendarmodel": "http://www.wikidata.org/entity/Q1985727"}


OBJECT_ID_PROPS = {"met": "P3634", "aic": "P4610", "nga": "P4683", "europeana": "P727"}
# Museums without an id property on Wikidata: (inventory number P217, collection P195).
INVENTORY_OF = {
    "cleveland": lambda copy: (cleveland.accession_number(copy), "Q657415"),
    "smithsonian": lambda copy: (smithsonian.record_id(copy).split("_", 1)[-1], "Q1192305"),
}


def painting_entity(collection: DemoCollection, copy: Copy) -> dict:
    artwork, artist = collection.artwork(copy), collection.artist(copy)
    qid, extra = copy.source_id, copy.extra
    person = f"Q{PERSON_BASE + artist.artist_id}"
    claims: dict[str, list] = {}

    def add(prop: str, *args, **kwargs) -> None:
        claims.setdefault(prop, []).append(_statement(qid, prop, *args, **kwargs))

    add("P31", PAINTING)
    file = commons.file_name(collection, copy)
    add("P18", file if copy.has_image else f"Deleted upload ({qid}).jpg")
    qualifier = artwork.attribution_qualifier
    if qualifier in ATTRIBUTION:  # an unknown hand, related to the named artist
        add("P170", kind="somevalue", qualifiers=[("P3831", "Q4233718"),
                                                  (ATTRIBUTION[qualifier], person)])
    elif qualifier == "Attributed to":
        add("P170", person, qualifiers=[("P5102", "Q230768")])
    else:
        add("P170", person)
    if extra["inception_precision"] == 8:
        add("P571", _time(artwork.date_start - artwork.date_start % 10, 8))
    elif artwork.date_start == artwork.date_end:
        add("P571", _time(artwork.date_start, 9))
    else:
        add("P571", _time((artwork.date_start + artwork.date_end) // 2, 9),
            qualifiers=[("P1319", _time(artwork.date_start, 9)),
                        ("P1326", _time(artwork.date_end, 9))])
    if extra["status"]:
        status, where = STATUS[extra["status"]]
        add("P6216", status, qualifiers=[("P1001", where)] if where else [])
    if artwork.kind in GENRES:
        add("P136", GENRES[artwork.kind][0])
    if zlib.crc32(qid.encode()) % 2:
        if (movement := movement_of(artwork)) is not None:
            add("P135", movement[0])
    for link in extra["same_as"]:
        source, _, object_id = link.partition(":")
        if source in INVENTORY_OF:  # no object-id property: the number the collection gives
            museum = collection.by_source_id(source, object_id)
            number, held_by = INVENTORY_OF[source](museum)
            add("P217", number, qualifiers=[("P195", held_by)])
            continue
        if source == "europeana":  # P727 holds "dataset/local" (our id writes ":")
            object_id = object_id.replace(":", "/")
        add(OBJECT_ID_PROPS[source], object_id)
        if source == "met":  # real Met items state the accession number as well
            add("P217", met.accession_number(collection.by_source_id("met", object_id)),
                qualifiers=[("P195", "Q160236")])
    return {"type": "item", "id": qid, "labels": _labels(artwork.title, nl=artwork.title),
            "claims": claims}


def person_entity(artist: Artist, reference_year: int) -> dict:
    """An artist's item: dates at the precisions and ranks Wikidata has them."""
    qid = f"Q{PERSON_BASE + artist.artist_id}"
    claims: dict[str, list] = {"P31": [_statement(qid, "P31", HUMAN)]}
    pick = zlib.crc32(qid.encode()) % 20
    if artist.birth_year is not None:
        claims["P569"] = [_statement(qid, "P569", _time(artist.birth_year, 9))]
    death = artist.death_year
    if death is None:
        if pick % 2:  # known to have died, nobody knows when
            claims["P570"] = [_statement(qid, "P570", kind="somevalue")]
    else:
        cutoff = reference_year - PD_DEATH_MARGIN_YEARS
        decade = death - death % 10
        if pick < 3 and (decade + 9 <= cutoff or decade > cutoff):  # a decade, same verdict
            deaths = [_statement(qid, "P570", _time(decade, 8))]
        elif pick < 6:
            deaths = [_statement(qid, "P570", _time(death, 11, 1 + pick, 10 + pick))]
        else:
            deaths = [_statement(qid, "P570", _time(death, 9))]
        if pick in (7, 8):  # a wrong date, known to be wrong: deprecated
            deaths.append(_statement(qid, "P570", _time(death + 150, 9), rank="deprecated"))
        if pick == 9:  # two sources disagree; the better one is preferred
            deaths = [_statement(qid, "P570", _time(death, 9), rank="preferred"),
                      _statement(qid, "P570", _time(death + 120, 9))]
        claims["P570"] = deaths
    return {"type": "item", "id": qid, "labels": _labels(artist.name), "claims": claims}
