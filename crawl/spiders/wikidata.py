"""Wikidata: every painting item with an image, its creators' dates and its Commons file.

    python -m crawl wikidata --out data/crawl/wikidata --api-root https://query.wikidata.org

``--api-root URL`` sets all three roots to URL (one server answering ``/sparql`` and
``/w/api.php``, as the demo does); otherwise they come from params (``crawl.sources.wikidata``):
``api_root`` (the Query Service), ``wikibase_root`` (www.wikidata.org) and ``commons_root``.

1. **Listing**: SPARQL on ``{api_root}/sparql``: the items that are an instance of one of
   ``classes`` (painting and a short explicit list of subclasses: a transitive ``wdt:P279*``
   path times out) and have an image (P18). The id space ``Q1 .. Q{max_item_id}`` is cut
   into partitions of ``partition_ids`` ids, and each partition is read in pages ordered by the
   numeric id, each page starting after the last id of the one before (keyset paging, never
   OFFSET, which rescans everything before it). A query that times out is split in two and
   each half asked instead, down to ``min_partition_ids``. The Query Service reports a timeout
   as a 500 with a Java ``TimeoutException``, or as a 200 whose JSON stops midway and is
   followed by the exception's trace: both are failed queries, never a short, true result.
2. **Details**: ``wbgetentities`` (50 ids a request) for the paintings, then for the people,
   genres and movements they name (labels in ``languages``).
3. **Files**: the Commons API ``imageinfo`` of the paintings' P18 files (50 titles a request,
   ``extmetadata`` for the file's licence, ``iiurlwidth=max_width``), then the image itself.

Licence evidence kept in ``license_raw``: the item's copyright status statements (P6216) with
their jurisdictions (P1001) and the Commons file's licence fields. The flag is True only when
the file's licence is public domain or CC0 and the item does not state otherwise; see
``crawl/wikibase.py`` for ranks, precisions and attribution qualifiers.

Politeness as the services state it: a User-Agent with contact details (crawl.user_agent);
the Query Service allows a client five parallel queries and 60 s of query time a minute and
answers 429 with Retry-After beyond that: queries run here one at a time, and pause once the
last minute's query time reaches ``query_seconds_per_minute``. The APIs get ``maxlag`` and a
request in series (``concurrency`` 1 per host), and a "lagged" answer is asked again after its
Retry-After.
"""

from __future__ import annotations

import json
import re
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import scrapy

from crawl import normalize, reasons, wikibase
from crawl.middlewares import origins_of
from crawl.records import accession_link
from crawl.spiders.base import SourceSpider, failure_reason, parse_json
from crawl.spiders.commons import (
    IIPROP,
    LICENCE_KEYS,
    api_answer,
    asked_again_after_lag,
    title_from_file,
    without_tracking,
)
from marcus.config import list_of
from marcus.errors import UserError

IDS_PER_REQUEST = 50  # wbgetentities ids and Commons titles per request, for ordinary clients
QUERY_WINDOW_S = 60.0  # the Query Service counts each client's query time per minute
_ENTITY_URI = re.compile(r"^https?://www\.wikidata\.org/entity/(Q[1-9][0-9]{0,11})$")
TIMEOUT_MARKER = b"TimeoutException"  # java.util.concurrent's, in a 500 or after cut-off JSON
TIMEOUT_TAIL_BYTES = 20_000  # the trace follows the cut-off JSON: look for it in the tail only
# A Commons imageinfo request names its files in the URL: at most this many characters of
# them, well inside the URL length Wikimedia's servers accept, whatever the names' length.
MAX_TITLES_URL_CHARS = 6000

QUERY = """SELECT DISTINCT ?item ?id WHERE {{
  VALUES ?class {{ {classes} }}
  ?item wdt:P31 ?class ; wdt:P18 ?image .
  BIND(xsd:integer(STRAFTER(STR(?item), "/entity/Q")) AS ?id)
  FILTER(?id >= {first} && ?id < {end})
}}
ORDER BY ?id
LIMIT {limit}"""


@dataclass
class Batch:
    """Up to 50 paintings on their way from ids to items: entities, then people, then files
    (in requests of at most 50 titles)."""

    ids: list[str]
    entities: dict[str, dict] = field(default_factory=dict)  # painting id -> its entity
    done: set[str] = field(default_factory=set)  # painting ids that became a row


class WikidataSpider(SourceSpider):
    source = "wikidata"
    default_api_root = "https://query.wikidata.org"
    KEYS = {
        "wikibase_root": str, "commons_root": str, "classes": list_of(str),
        "languages": list_of(str), "max_item_id": int, "partition_ids": int,
        "min_partition_ids": int, "page_size": int, "query_seconds_per_minute": float,
        "max_width": int, "maxlag": int, "maxlag_retries": int,
    }

    @classmethod
    def with_api_root(cls, config: dict, api_root: str) -> dict:
        """One root for all three services (the CLI's --api-root, the demo)."""
        return {**config, "wikibase_root": api_root, "commons_root": api_root}

    @classmethod
    def check_config(cls, config: dict, api_root: str) -> None:
        wrong = [c for c in config["classes"] if not wikibase.is_qid(c)]
        if wrong or not config["classes"]:
            raise UserError(f"crawl.sources.wikidata.classes: item ids like Q3305213 (painting) "
                            f"are needed; got {wrong or 'none'}")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.wikibase_root = self.config["wikibase_root"].rstrip("/")
        self.commons_root = self.config["commons_root"].rstrip("/")
        self.allowed_origins = sorted({*self.allowed_origins, *origins_of(
            [self.wikibase_root, self.commons_root], [])})
        step = max(1, self.config["partition_ids"])
        self.partitions = deque((first, min(first + step, self.config["max_item_id"] + 1))
                                for first in range(1, self.config["max_item_id"] + 1, step))
        self.query_seconds: deque[tuple[float, float]] = deque()  # (finished at, seconds)
        self.people: dict[str, dict | None] = {}  # referenced entity id -> facts (None: missing)

    async def start(self):
        for request in self.next_partition():
            yield request

    # --- listing: SPARQL -----------------------------------------------------------------------

    def query_request(self, first: int, end: int) -> scrapy.Request:
        classes = " ".join(f"wd:{c}" for c in self.config["classes"])
        query = QUERY.format(classes=classes, first=first, end=end,
                             limit=max(1, self.config["page_size"]))
        request = scrapy.Request(
            f"{self.api_root}/sparql?{urlencode({'query': query, 'format': 'json'})}",
            callback=self.parse_query, errback=self.query_failed,
            headers={"Accept": "application/sparql-results+json"},
            cb_kwargs={"first": first, "end": end},
            meta={"handle_httpstatus_list": [500]})  # a timeout, or retries spent
        request.meta["marcus_not_before"] = self.query_budget_wait()
        return request

    def query_budget_wait(self) -> float:
        """When the next query may start: after the oldest queries of the last minute leave the
        window, once their time reaches the budget."""
        now = time.monotonic()
        while self.query_seconds and self.query_seconds[0][0] < now - QUERY_WINDOW_S:
            self.query_seconds.popleft()
        spent = sum(s for _, s in self.query_seconds)
        budget = self.config["query_seconds_per_minute"]
        if spent < budget:
            return 0.0
        for finished, seconds in self.query_seconds:
            spent -= seconds
            if spent < budget:
                return finished + QUERY_WINDOW_S
        return now + QUERY_WINDOW_S

    def next_partition(self):
        if self.partitions and not self.state.full:
            first, end = self.partitions.popleft()
            yield self.query_request(first, end)

    def query_failed(self, failure):
        self.listing_failed(failure)
        yield from self.next_partition()

    def parse_query(self, response, first: int, end: int):
        self.query_seconds.append((time.monotonic(), response.meta.get("download_latency", 0.0)))
        if TIMEOUT_MARKER in response.body[-TIMEOUT_TAIL_BYTES:]:  # a 500, or a 200 cut short
            yield from self.timed_out(response, first, end)
            return
        try:
            body = parse_json(response) if response.status == 200 else None
        except ValueError:
            body = None
        if body is None:  # a 500 after every retry (crawl/middlewares.py), or no JSON
            self.listing_broken(response.url, f"HTTP {response.status} from the Query Service"
                                " with no readable results (after every retry for a 500)")
            yield from self.next_partition()
            return
        results = body.get("results") if isinstance(body, dict) else None
        rows = results.get("bindings") if isinstance(results, dict) else None
        if not isinstance(rows, list):
            self.listing_broken(response.url, "no results.bindings in the SPARQL answer")
            yield from self.next_partition()
            return
        ids = [binding_id(row) for row in rows]
        strays = [q for q, n in ids if q is None or not first <= n < end]
        if strays:  # a service that ignores the filter would page forever
            self.listing_broken(response.url, f"{len(strays)} of {len(rows)} rows name no "
                                f"item or one outside Q{first}..Q{end - 1}")
            yield from self.next_partition()
            return
        found = sorted(set((n, q) for q, n in ids))  # an item twice: two classes or images
        met_before = self.state.met
        yield from self.detail_batches([q for _, q in found if self.want(q)])
        if self.state.full:  # --limit reached: no more listing
            return
        listing = f"wikidata Q{first}..Q{end - 1}"
        if len(rows) >= self.config["page_size"] and self.page_read(
                listing, response, self.state.met - met_before, len(found)):
            yield self.query_request(found[-1][0] + 1, end)  # the page after the last id
        else:
            yield from self.next_partition()

    def response_is_final(self, request, response) -> bool:
        """A query that timed out is split here, not repeated by the retry middleware."""
        return (request.callback == self.parse_query
                and TIMEOUT_MARKER in response.body[-TIMEOUT_TAIL_BYTES:])

    def timed_out(self, response, first: int, end: int):
        """A failed query: ask its two halves instead; a partition too small to split fails."""
        self.crawler.stats.inc_value("marcus/wikidata/query_timeouts")
        if end - first <= max(1, self.config["min_partition_ids"]):
            self.listing_broken(response.url, f"the query for Q{first}..Q{end - 1} timed out, "
                                "and the partition is at crawl.sources.wikidata."
                                "min_partition_ids")
        else:
            middle = (first + end) // 2
            self.logger.info("query timed out; splitting Q%d..Q%d", first, end - 1)
            self.partitions.extendleft([(middle, end), (first, middle)])
        yield from self.next_partition()

    # --- details: wbgetentities ----------------------------------------------------------------

    def detail_batches(self, ids: list[str]):
        for start in range(0, len(ids), IDS_PER_REQUEST):
            batch = Batch(ids[start: start + IDS_PER_REQUEST])
            yield self.entities_request(batch.ids, self.parse_paintings, batch)

    def entities_request(self, ids: list[str], callback, batch: Batch,
                         lagged: int = 0) -> scrapy.Request:
        params = {"action": "wbgetentities", "ids": "|".join(ids), "props": "labels|claims",
                  "languages": "|".join(self.config["languages"]), "languagefallback": "1",
                  "format": "json", "maxlag": str(self.config["maxlag"])}
        return self.api_request(f"{self.wikibase_root}/w/api.php?{urlencode(params)}",
                                callback, batch, {"ids": ids}, lagged)

    def api_request(self, url: str, callback, batch: Batch, cb_kwargs: dict,
                    lagged: int) -> scrapy.Request:
        return scrapy.Request(url, callback=callback, errback=self.batch_failed,
                              dont_filter=True, cb_kwargs={"batch": batch, **cb_kwargs},
                              meta={"marcus_lagged": lagged})

    def api_body(self, response, batch: Batch, expect: str):
        """(body, requests or rows instead): the JSON object of an API answer holding the
        object ``expect``; a maxlag error asks again later; any other error, or an answer
        without ``expect``, fails the batch (a rerun asks again)."""
        body, code, why = api_answer(response)
        if body is None:
            tries = response.meta.get("marcus_lagged", 0) + 1
            if code == "maxlag" and tries <= self.config["maxlag_retries"]:
                return None, [asked_again_after_lag(self, response, tries)]
            return None, self.fail_batch(batch, reasons.HTTP_ERROR if code == "maxlag"
                                         else reasons.BAD_RECORD, why)
        if not isinstance(body.get(expect), dict):
            return None, self.fail_batch(batch, reasons.BAD_RECORD, f"no {expect!r} object in "
                                         "the API's answer")
        return body, []

    def parse_paintings(self, response, batch: Batch, ids: list[str]):
        body, instead = self.api_body(response, batch, "entities")
        if body is None:
            yield from instead
            return
        entities = found_entities(body, ids)
        for qid in ids:
            entity = entities.get(qid)
            if entity is None:
                yield self.rejected(batch, qid, reasons.BAD_RECORD,
                                    "the item is missing from Wikidata (deleted since listed?)")
            else:
                batch.entities[qid] = entity
        yield from self.next_people(batch)

    def next_people(self, batch: Batch):
        """Request the next 50 people, genres and movements the batch names and nobody has
        asked for yet; when none are left, its files (each painting's first best-rank P18)."""
        wanted = []
        for entity in batch.entities.values():
            for credit in wikibase.credits(entity):
                wanted.append(credit.person)
            wanted += wikibase.item_values(entity, wikibase.GENRE)
            wanted += wikibase.item_values(entity, wikibase.MOVEMENT)
        wanted = [q for q in dict.fromkeys(wanted) if q and q not in self.people]
        if wanted:
            chunk = wanted[:IDS_PER_REQUEST]
            yield self.entities_request(chunk, self.parse_people, batch)
            return
        groups: list[dict[str, list[str]]] = [{}]
        for qid, entity in batch.entities.items():
            if qid in batch.done:
                continue
            images = [i for i in wikibase.string_values(entity, wikibase.IMAGE)
                      if valid_title(i)]
            if not images:
                yield self.rejected(batch, qid, reasons.NO_IMAGE_URL,
                                    "the item names no image (P18) that is a file name")
                continue
            title = "File:" + images[0].replace("_", " ")
            group = next((g for g in groups if title in g), groups[-1])
            if title not in group and (len(group) >= IDS_PER_REQUEST or len(quote(
                    "|".join([*group, title]))) > MAX_TITLES_URL_CHARS):
                group = {}
                groups.append(group)
            group.setdefault(title, []).append(qid)
        for group in groups:
            if group:
                yield self.files_request(batch, group)

    def parse_people(self, response, batch: Batch, ids: list[str]):
        body, instead = self.api_body(response, batch, "entities")
        if body is None:
            yield from instead
            return
        entities = found_entities(body, ids)
        languages = self.config["languages"]
        for qid in ids:
            entity = entities.get(qid)
            self.people[qid] = None if entity is None else {
                "label": wikibase.label(entity, languages),
                "born": wikibase.date_span(entity, wikibase.BIRTH),
                "died": wikibase.date_span(entity, wikibase.DEATH),
                "died_unknown": any(wikibase.snak(s["mainsnak"])[0] == "somevalue"
                                    for s in wikibase.statements(entity, wikibase.DEATH))}
        yield from self.next_people(batch)

    # --- files: Commons imageinfo --------------------------------------------------------------

    def files_request(self, batch: Batch, files: dict[str, list[str]],
                      proceed: dict | None = None) -> scrapy.Request:
        """Image info of ``files`` (title -> painting ids, part of the batch); ``proceed``:
        the previous answer's ``continue``."""
        params = {"action": "query", "titles": "|".join(files), "prop": "imageinfo",
                  "iiprop": IIPROP, "iiurlwidth": str(self.config["max_width"]),
                  "format": "json", "formatversion": "2", "maxlag": str(self.config["maxlag"]),
                  **(proceed or {})}
        return self.api_request(f"{self.commons_root}/w/api.php?{urlencode(params)}",
                                self.parse_files, batch, {"files": files}, 0)

    def parse_files(self, response, batch: Batch, files: dict[str, list[str]]):
        body, instead = self.api_body(response, batch, "query")
        if body is None:
            yield from instead
            return
        query = body["query"]
        normalized = query.get("normalized") if isinstance(query.get("normalized"), list) else []
        renamed = {n["to"]: n["from"] for n in normalized if isinstance(n, dict)
                   and isinstance(n.get("to"), str) and isinstance(n.get("from"), str)}
        pages = query.get("pages") or []
        if isinstance(pages, dict):  # formatversion 1
            pages = list(pages.values())
        for page in pages if isinstance(pages, list) else []:
            title = page.get("title") if isinstance(page, dict) else None
            if not isinstance(title, str):
                continue  # its paintings end as rows below, when the batch completes
            title = renamed.get(title, title)
            qids = files.get(title) or files.get(title.replace("_", " ")) or []
            gone = page.get("missing") is not None or page.get("invalid") is not None
            info = page.get("imageinfo")
            if not gone and (not isinstance(info, list) or not info):
                continue  # its info comes with a later answer (iicontinue)
            for qid in qids:
                if qid not in batch.done:
                    yield self.item_or_failure(batch, qid, page, gone=gone)
        more = body.get("continue")
        if isinstance(more, dict) and more and "batchcomplete" not in body:
            yield self.files_request(batch, files, {k: str(v) for k, v in more.items()})
            return
        for title, qids in files.items():  # the batch is complete: no more info comes
            for qid in qids:
                if qid not in batch.done:
                    yield self.item_or_failure(batch, qid, {"title": title}, gone=True)

    # --- rows ----------------------------------------------------------------------------------

    def rejected(self, batch: Batch, qid: str, reason: str, error: str):
        batch.done.add(qid)
        entity = batch.entities.get(qid)
        return self.new_item(qid, entity, page_url=f"{self.wikibase_root}/wiki/{qid}",
                             title=wikibase.label(entity, self.config["languages"]),
                             status="rejected", reason=reason, error=error)

    def fail_batch(self, batch: Batch, reason: str, error: str) -> list:
        """Every painting of the batch without a row yet ends as a failed one (a rerun retries)."""
        rows = []
        for qid in batch.ids:
            if qid not in batch.done:
                batch.done.add(qid)
                rows.append(self.failed_record(qid, reason, error))
        return rows

    def batch_failed(self, failure):
        reason, error = failure_reason(failure)
        request = failure.request
        batch = request.cb_kwargs["batch"]
        if reason == reasons.TOO_LARGE and request.callback == self.parse_paintings:
            # One enormous item makes its whole batch's answer too large: ask the halves, down
            # to the one item, which stays that large (rejected, as any record over max_bytes).
            if len(batch.ids) == 1:
                item = self.failed_record(batch.ids[0], reason, error)
                item.status = "rejected"
                yield item
                return
            middle = len(batch.ids) // 2
            for half in (batch.ids[:middle], batch.ids[middle:]):
                yield self.entities_request(half, self.parse_paintings, Batch(half))
            return
        yield from self.fail_batch(batch, reason, error)

    def item_or_failure(self, batch: Batch, qid: str, page: dict, gone: bool = False):
        """The painting's item and its image request; ``gone``: Commons has no such file (a
        row with the item's evidence, and no image)."""
        batch.done.add(qid)
        try:
            info = {} if gone else page["imageinfo"][0]
            if not isinstance(info, dict):
                raise TypeError(f"imageinfo holds {type(info).__name__}, not an object")
            item = self.item_from(qid, batch.entities[qid], page, info)
        except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
            return self.failed_record(qid, reasons.BAD_RECORD, reasons.describe(exc))
        if gone:
            missing = (f"Commons has no file {page.get('title')!r} (deleted or renamed?), or "
                       "returned no image info for it")
            item.error = f"{item.error}; {missing}" if item.error else missing
        return self.fetch_image(item)

    def item_from(self, qid: str, entity: dict, page: dict, info: dict):
        meta = info.get("extmetadata") if isinstance(info.get("extmetadata"), dict) else {}
        languages = self.config["languages"]
        credits = wikibase.credits(entity)
        people = [self.people.get(c.person) if c.person else None for c in credits]
        names = [p["label"] for p in people if p and p.get("label")]
        deaths = [p["died"] for p in people if p and p.get("died")]
        births = [p["born"] for p in people if p and p.get("born")]
        # The licence gate reads one death year: with several creators, or a death known to a
        # decade or a century, the latest possible one. An unknown hand among the creators, or
        # a named one without a known death, leaves the date rule without one.
        death_known = bool(credits) and all(
            c.person and p and p.get("died") and not p.get("died_unknown")
            for c, p in zip(credits, people, strict=True))
        inception = wikibase.date_span(entity, wikibase.INCEPTION)
        statuses = wikibase.copyright_statuses(entity)
        licence, flag, file_raw = normalize.normalise_license(
            "commons", **{k: v.get("value") if isinstance(v, dict) else v
                          for k, v in meta.items() if k in LICENCE_KEYS})
        if wikibase.status_says(statuses) is False:  # else the file's licence decides
            licence, flag = "copyrighted", False
        width, thumb_width = info.get("width"), info.get("thumbwidth")
        scaled = (info.get("thumburl") and isinstance(width, int)
                  and isinstance(thumb_width, int) and thumb_width < width)
        genres = self.labels(wikibase.item_values(entity, wikibase.GENRE))
        movements = self.labels(wikibase.item_values(entity, wikibase.MOVEMENT))
        return self.new_item(
            qid, entity,
            page_url=f"{self.wikibase_root}/wiki/{qid}",
            image_url=without_tracking(info.get("thumburl") if scaled else info.get("url")),
            license=licence, is_public_domain_flag=flag,
            license_raw=json.dumps({"P6216": statuses, "file": json.loads(file_raw)},
                                   ensure_ascii=False, sort_keys=True),
            title=wikibase.label(entity, languages) or title_from_file(page.get("title")),
            artist="; ".join(dict.fromkeys(names)) or None,
            artist_birth_year=min((s.first for s in births), default=None),
            artist_death_year=max(s.last for s in deaths) if death_known else None,
            attribution_qualifier=wikibase.qualifier_of(credits),
            date_text=inception.text if inception else None,
            date_start=inception.first if inception else None,
            date_end=inception.last if inception else None,
            object_type="painting",
            object_type_raw="|".join(wikibase.item_values(entity, wikibase.INSTANCE_OF)),
            genre="|".join(genres) or None, movement="|".join(movements) or None,
            same_as=same_as_links(entity))

    def labels(self, qids: list[str]) -> list[str]:
        return [p["label"] for p in (self.people.get(q) for q in qids) if p and p.get("label")]


def binding_id(row: object) -> tuple[str | None, int | None]:
    """(Q-id, its number) of one SPARQL result row's ``item``; (None, None) if it names none."""
    item = row.get("item") if isinstance(row, dict) else None
    value = item.get("value") if isinstance(item, dict) else None
    match = _ENTITY_URI.match(value) if isinstance(value, str) else None
    if match is None:
        return None, None
    return match[1], int(match[1][1:])


def found_entities(body: dict, ids: list[str]) -> dict[str, dict]:
    """Requested id -> its entity, following redirects; missing ids are left out."""
    entities = body.get("entities")
    if not isinstance(entities, dict):
        return {}
    out = {}
    for key, entity in entities.items():
        if not isinstance(entity, dict) or "missing" in entity:
            continue
        redirect = entity.get("redirects")
        asked = redirect.get("from") if isinstance(redirect, dict) else None
        for qid in (key, asked):  # keyed as asked; a redirect also names where it came from
            if qid in ids:
                out.setdefault(qid, entity)
    return out


def valid_title(name: str) -> bool:
    """A file name that can travel in a URL: UTF-8 text without control characters."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return not any(ord(c) < 32 or c in "|#<>[]{}" for c in name)


def same_as_links(entity: dict) -> str | None:
    """The item's museum object ids as ``source:id`` links, e.g. ``met:436535|aic:27992``, then
    its inventory numbers in the collections we crawl, ``cleveland:accession:1958.31`` (the
    record with that accession_number; curate/identity.py resolves them)."""
    links = [f"{source}:{normalize.europeana_key(value) if source == 'europeana' else value}"
             for prop, source in wikibase.SAME_AS.items()
             for value in wikibase.string_values(entity, prop)]
    links += [accession_link(wikibase.INVENTORY_COLLECTIONS[collection], number)
              for collection, number in wikibase.inventory_numbers(entity)
              if collection in wikibase.INVENTORY_COLLECTIONS and "|" not in number]
    return "|".join(dict.fromkeys(links)) or None

