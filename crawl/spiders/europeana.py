"""Europeana: Europe's aggregator of museum, library and archive records, through its Search API.

    EUROPEANA_API_KEY=yourkey python -m crawl europeana --out data/crawl/europeana \\
        --api-root https://api.europeana.eu
    python -m crawl europeana --out /tmp/europeana --api-root demo   # the demo's emulator

Params (``crawl.sources.europeana``): ``api_key`` (null: ``$EUROPEANA_API_KEY``; prefer the
variable, since a params value ends up in dvc.lock), ``query`` (the search's ``query``; ``*``
for everything the filters select), ``filters`` (``qf`` terms, e.g. ``TYPE:IMAGE`` and
``proxy_dc_type.en:painting``), ``reusability`` (``open``, ``restricted``, ``permission``,
several joined by commas, or ``""`` for no rights filter), ``page_size`` (``rows``, at most 100:
the API caps larger values at 100), ``object_types``, ``fetch_non_pd``.

A live crawl needs a key: a personal key is free and instant with a Europeana account
(https://pro.europeana.eu/page/get-api, then "Manage API keys"). Against the demo (a loopback
API root) the spider sends ``api2demo``, Europeana's public demo key and the only key the demo
knows; a key of yours is never sent to a local server. The key goes in the ``X-Api-Key`` header,
the way Europeana prefers ("Accessing the APIs": the ``wskey`` parameter is planned for
deprecation because URLs leak), so that it is in no URL Scrapy logs. The API still writes it into
each item's ``guid`` (``utm_campaign``) and ``link`` (``wskey``): both are removed before the
item is kept as ``raw_record``, and the key is never logged.

Listing: ``GET {api_root}/record/v2/search.json?query=Q&qf=A&qf=B&reusability=open&profile=rich
&rows=N&cursor=C``, cursor paging as Europeana documents it (``start`` paging stops at the first
1,000 results): the first request sends ``cursor=*``, each next one the ``nextCursor`` of the
answer before, and the answer without a ``nextCursor`` is the last (with Solr cursors that is
an empty page after the last records). One request at a time: each cursor comes from the page
before. A page that is no JSON object, says ``"success": false`` or has no ``items`` list is a
listing failure (logged, the run exits 3), never an empty last page; a 400/401/403 is one too,
with the API's own error and code (a refused key says where to get one); a cursor followed
before stops the listing (``listing_stops``).

Record -> row: the id ``/2021608/SK_A_1234`` becomes ``2021608:SK_A_1234``
(``crawl.normalize.europeana_key``); the first value of the list fields (``title``; the
creator from ``dcCreatorLangAware``/``dcCreator``, or the first ``edmAgentLabel`` when the
creator is only linked-data URIs; ``year``); the object type from ``dcTypeLangAware`` (profile
rich), else ``painting`` when the listing's own filters select paintings (a ``qf`` term naming
painting): Europeana's ``type`` is ``IMAGE`` for paintings and photographs alike; the page is
``guid`` without its tracking parameters. The licence is the ``rights`` URI (edm:rights):
publicdomain/mark is PD, publicdomain/zero CC0 (both the source's "public domain"), licenses/by
and by-sa CC-BY and CC-BY-SA; anything else (rightsstatements.org InC and NoC-*, NC and ND
licences, Europeana's rr-* statements) is copyrighted; no rights at all is unknown, and
statements that disagree are unknown too. ``license_raw`` keeps the list as JSON.

``genre`` is what ``normalize.genre_from_terms`` finds in the English (``en``) and untagged
(``def``) values of the item's subject fields: ``dcSubjectLangAware`` (dc:subject, with
``profile=rich``), ``dcTypeLangAware`` (dc:type: providers write "portrait" there as often as
"painting") and ``edmConceptPrefLabelLangAware`` (the labels of the concepts Europeana linked the
record to, e.g. {"en": ["Portrait", "Painting"], "de": [...]}). Terms in other languages name no
genre here. A search item has no style or movement field and no identifier (api2's
BriefBean/ApiBean/RichBean carry no dc:identifier), so ``movement`` and ``accession_number`` stay
empty; dc:identifier is only in the full record, and is whatever each provider put there.

The image is the first ``edmIsShownBy``: the provider's own file, on the provider's host. A
record without one is a ``no_image_url`` row; ``edmPreview`` is Europeana's small thumbnail and
is never fetched as the painting. With ``allowed_origins`` empty, images may come from the hosts
the records name: each record's image host (over http and https, on the default ports; any other
port exactly) is allowed just before its request, so a redirect may never leave the hosts the
records themselves name (a provider that redirects elsewhere gives an ``offsite`` row).
Listing requests are not redirected at all, so that the key header never reaches another host.

Europeana's stated politeness (the API fair-use policy and "Accessing the APIs", 2025-2026): "a
reasonable number of concurrent requests to an API, together with an appropriate wait period for
completion of those calls"; limits are per key and unpublished: personal keys' limits were
"progressively reduced until April 2026", project keys get "significantly higher" ones, and a
key over its limit gets a 429 ("Personal key client has reached the limit of N requests per M
minutes"), which pauses the host and retries (crawl/middlewares.py). Whole datasets are better
fetched from Europeana's FTP or OAI-PMH services than through the search. Here the search runs
one request at a time by construction; ``delay_s`` and ``concurrency`` apply per host, so the
providers' image hosts are each throttled on their own.
"""

from __future__ import annotations

import json
import os
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import scrapy

from crawl import normalize
from crawl.middlewares import DEFAULT_PORTS, origin
from crawl.spiders.base import SourceSpider, api_error, parse_json
from crawl.spiders.commons import without_tracking
from marcus.config import list_of, optional
from marcus.errors import UserError

SEARCH_PATH = "/record/v2/search.json"
MAX_ROWS = 100  # the API's rows limit (api.search.rowLimit): more is silently capped
PROFILE = "rich"  # standard lacks dcTypeLangAware, the record's own object type
DEMO_KEY = "api2demo"  # Europeana's public demo key: the one the demo server knows
KEY_VARIABLE = "EUROPEANA_API_KEY"
GET_A_KEY = "https://pro.europeana.eu/page/get-api"
REUSABILITY = ("open", "restricted", "permission")
FIRST_CURSOR = "*"
LISTING = "europeana search"
# edm:rights URIs (scheme and "www." dropped) -> licence; anything else is "copyrighted".
RIGHTS = (("creativecommons.org/publicdomain/mark/", "PD"),
          ("creativecommons.org/publicdomain/zero/", "CC0"),
          ("creativecommons.org/licenses/by/", "CC-BY"),
          ("creativecommons.org/licenses/by-sa/", "CC-BY-SA"))
# Language-aware maps ({"en": [...], "def": [...], "nl": [...]}) are read in this order first.
LANGUAGES = ("en", "def")
# Fields of a search item whose en/def values may name the genre (see the module docstring).
SUBJECT_FIELDS = ("dcSubjectLangAware", "dcTypeLangAware", "edmConceptPrefLabelLangAware")
MAX_VALUES = 50  # values of one field read at most (a list of a million years reads as 50)


class EuropeanaSpider(SourceSpider):
    source = "europeana"
    default_api_root = "https://api.europeana.eu"
    KEYS = {"api_key": optional(str), "query": str, "filters": list_of(str),
            "reusability": str, "page_size": int}

    @classmethod
    def check_config(cls, config: dict, api_root: str) -> None:
        """Before any work: a known ``reusability``, and a key for a live crawl."""
        checked(config)
        api_key(config, api_root)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reusability = checked(self.config)
        self._api_key = api_key(self.config, self.api_root)  # never logged, never in a URL
        filters = [f.strip() for f in self.config["filters"] if f.strip()]
        self.filters = filters
        self.painting_filter = next((f for f in filters if names_paintings(f)), None)
        self.image_origins = not self.config["allowed_origins"]  # the records' own hosts
        self.cursors: set[str] = set()  # cursors requested so far

    async def start(self):
        yield self.page_request(FIRST_CURSOR)

    # --- listing -------------------------------------------------------------------------------

    def page_request(self, cursor: str) -> scrapy.Request:
        self.cursors.add(cursor)
        query = [("query", self.config["query"]), *(("qf", f) for f in self.filters)]
        if self.reusability:
            query.append(("reusability", ",".join(self.reusability)))
        query += [("profile", PROFILE),
                  ("rows", max(1, min(self.config["page_size"], MAX_ROWS))), ("cursor", cursor)]
        return scrapy.Request(
            f"{self.api_root}{SEARCH_PATH}?{urlencode(query)}", callback=self.parse_page,
            errback=self.listing_failed, headers={"X-Api-Key": self._api_key},
            cb_kwargs={"cursor": cursor},
            # The API's refusals carry their reason in JSON; a redirect would carry the key.
            meta={"handle_httpstatus_list": [400, 401, 403], "dont_redirect": True})

    def parse_page(self, response, cursor: str):
        if response.status >= 400:
            self.refused(response)
            return
        body = self.listing_json(response, "items")
        if body is None:
            return
        if body.get("success") is False:
            self.listing_broken(response.url, "the answer says success: false")
            return
        records = body["items"]
        if not isinstance(records, list):
            self.listing_broken(response.url, f"items is {type(records).__name__}, not a list")
            return
        met_before = self.state.met
        for record in records:
            if self.state.full:
                return
            yield from self.record_rows(record)
        if not self.page_read(LISTING, response, self.state.met - met_before,
                              len(records)):
            return
        following = body.get("nextCursor")
        if self.state.full or following is None or following == "":
            return  # no nextCursor: the last page
        if not isinstance(following, str):
            self.listing_broken(response.url, f"nextCursor is {type(following).__name__}, "
                                "not text")
        elif following in self.cursors:
            self.listing_stopped(f"{LISTING}: cursor {following[:100]!r} was followed before")
        else:
            yield self.page_request(following)

    def refused(self, response) -> None:
        """A 400/401/403 from the API: a listing failure with the API's own words."""
        try:
            body = parse_json(response)
        except ValueError:
            body = None
        said = api_error(body) if isinstance(body, dict) else None
        code = body.get("code") if isinstance(body, dict) else None
        error = f"HTTP {response.status}" + (f": {said}" if said else "") + (
            f" (code {code})" if isinstance(code, str) and code else "")
        if response.status in (401, 403):
            error += (f"; Europeana refused the API key: set crawl.sources.europeana.api_key or "
                      f"${KEY_VARIABLE} to a valid key (get one at {GET_A_KEY})")
        self.listing_broken(response.url, error)

    # --- records -------------------------------------------------------------------------------

    def record_rows(self, record: object):
        """The one row (or image request) of a record the listing named."""
        record = self.without_key(record)
        raw_id = record.get("id") if isinstance(record, dict) else None
        source_id = normalize.europeana_key(raw_id) if isinstance(raw_id, str) else raw_id
        for found in self.listed(source_id, record,
                                 lambda: self.item_from_record(record, source_id)):
            if isinstance(found, scrapy.Request) and self.image_origins:
                self.allow_host_of(found.url)  # before the request leaves, redirects included
            yield found

    def item_from_record(self, record: dict, source_id: str):
        creator = creator_of(record)
        name, qualifier = normalize.split_attribution(creator)
        birth, death = normalize.parse_life_years(creator)
        years = texts(record.get("year"))
        date_text = ", ".join(years) or None
        date_start, date_end = normalize.parse_year_range(date_text)
        type_raw = "; ".join(dict.fromkeys(texts(record.get("dcTypeLangAware")))) or None
        object_type = normalize.normalise_object_type(type_raw) if type_raw else "other"
        if object_type == "other" and self.painting_filter is not None:
            object_type = "painting"  # the listing selected paintings: Europeana says so
            type_raw = type_raw or f"qf={self.painting_filter}"
        licence, flag, licence_raw = rights_licence(record.get("rights"))
        return self.new_item(
            source_id, record, page_url=page_url(record), image_url=image_url(
                record.get("edmIsShownBy")),
            license=licence, license_raw=licence_raw, is_public_domain_flag=flag,
            title=first(texts(record.get("title")) + texts(record.get("dcTitleLangAware"))),
            artist=name, artist_birth_year=birth, artist_death_year=death,
            attribution_qualifier=qualifier, date_text=date_text, date_start=date_start,
            date_end=date_end, object_type=object_type,
            object_type_raw=type_raw or first(texts(record.get("type"))),
            genre=normalize.genre_from_terms(
                [t for f in SUBJECT_FIELDS for t in english(record.get(f))]))

    def without_key(self, record: object) -> object:
        """The item without the API key the API wrote into it (``guid``, ``link``)."""
        if not isinstance(record, dict):
            return record
        record = dict(record)
        if isinstance(record.get("guid"), str):
            record["guid"] = without_tracking(record["guid"])
        if isinstance(record.get("link"), str):
            record["link"] = without_params(record["link"], ("wskey",))
        key = self._api_key
        if len(key) >= 6:  # anywhere else at the top (a real key is long; "abc" is no secret)
            for name, value in record.items():
                if isinstance(value, str) and key in value:
                    record[name] = value.replace(key, "REDACTED")
        return record

    def allow_host_of(self, url: str) -> None:
        """Allow the image's host (both schemes on their default ports, else its exact origin)
        before its request, so its redirects may reach that host and nothing else."""
        found = origin(url)
        if found is None:
            return
        scheme, host, port = found
        wanted = {found}
        if port == DEFAULT_PORTS[scheme]:
            wanted |= {(s, host, p) for s, p in DEFAULT_PORTS.items()}
        new = wanted - set(self.allowed_origins)
        if new:
            self.allowed_origins = sorted({*self.allowed_origins, *new})


# --- the API's values ------------------------------------------------------------------------


def api_key(config: dict, api_root: str) -> str:
    """The key to send: the demo's own against a loopback root, else params, else the
    environment; a live crawl without one is a UserError saying where to get one."""
    if is_demo(api_root):
        return DEMO_KEY
    key = (config.get("api_key") or os.environ.get(KEY_VARIABLE) or "").strip()
    if not key:
        raise UserError(
            f"crawl.sources.europeana: no API key for {api_root or 'the Europeana API'}: set "
            f"${KEY_VARIABLE} (or crawl.sources.europeana.api_key). A personal key is free: "
            f"{GET_A_KEY} (sign in, then \"Manage API keys\")")
    return key


def is_demo(api_root: str) -> bool:
    from crawl.run import is_loopback

    return api_root == "demo" or is_loopback(api_root)


def checked(config: dict) -> list[str]:
    """The section's own values checked (a UserError names what is wrong); the rights groups."""
    if not config["query"].strip():
        raise UserError("crawl.sources.europeana.query is blank (the API refuses an empty "
                        "query): use \"*\" for everything the filters select")
    return checked_reusability(config["reusability"])


def checked_reusability(value: str) -> list[str]:
    """``open,restricted`` as a list; "" for no rights filter; anything else a UserError."""
    wanted = [v.strip().lower() for v in value.split(",") if v.strip()]
    wrong = [v for v in wanted if v not in REUSABILITY]
    if wrong:
        raise UserError(f"crawl.sources.europeana.reusability: {', '.join(map(repr, wrong))} "
                        f"is not one of {', '.join(REUSABILITY)} (several joined by commas, or "
                        "\"\" for no rights filter)")
    return list(dict.fromkeys(wanted))


def names_paintings(term: str) -> bool:
    """A qf term that selects paintings (``proxy_dc_type.en:painting``), not one excluding them."""
    lowered = term.strip().lower()
    return "painting" in lowered and not lowered.startswith(("-", "!", "not "))


def texts(value: object) -> list[str]:
    """The text values of a field: a list, a language map (en, def, then the others) or a
    string; values that are not text are skipped, at most MAX_VALUES."""
    if isinstance(value, str):
        values = [value]
    elif isinstance(value, list):
        values = value[:MAX_VALUES]
    elif isinstance(value, dict):
        keys = [k for k in LANGUAGES if k in value] + sorted(
            k for k in value if k not in LANGUAGES and isinstance(k, str))[:MAX_VALUES]
        values = []
        for key in keys:
            entry = value[key]
            values += [entry] if isinstance(entry, str) else \
                entry[:MAX_VALUES] if isinstance(entry, list) else []
    else:
        return []
    return [v.strip() for v in values[:MAX_VALUES] if isinstance(v, str) and v.strip()]


def english(value: object) -> list[str]:
    """The English and untagged values of a language map (``{"en": [...], "def": [...]}``);
    a plain list or string is untagged; anything else gives nothing."""
    if isinstance(value, dict):
        return texts({k: value[k] for k in LANGUAGES if k in value})
    return texts(value) if isinstance(value, str | list) else []


def first(values: list[str]) -> str | None:
    return values[0] if values else None


def is_uri(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def creator_of(record: dict) -> str | None:
    """The creator's name: dcCreator (language-aware first); when it holds only linked-data
    URIs, the first agent label (``edmAgentLabel``: ``[{"def": "Name"}]``)."""
    names = [t for t in texts(record.get("dcCreatorLangAware")) + texts(record.get("dcCreator"))
             if not is_uri(t)]
    if names:
        return names[0]
    labels = record.get("edmAgentLabel")
    labels = labels[:MAX_VALUES] if isinstance(labels, list) else []
    found = [t for label in labels for t in texts(label) if not is_uri(t)]
    return first(found + [t for t in texts(record.get("edmAgentLabelLangAware"))
                          if not is_uri(t)])


def image_url(value: object) -> object:
    """The first edmIsShownBy: a list's first text, or whatever it holds instead (a value that
    is no URL becomes a bad_url row in new_item)."""
    if isinstance(value, list):
        values = texts(value)
        if values:
            return values[0]
        return next((v for v in value[:MAX_VALUES] if v is not None and v != ""
                     and not isinstance(v, str)), None)
    if isinstance(value, str):
        return value.strip() or None
    return value


def page_url(record: dict) -> str | None:
    """The record's Europeana page: ``guid`` without tracking parameters, else built from
    the id."""
    guid = record.get("guid")
    if isinstance(guid, str) and guid.strip():
        return without_tracking(guid.strip())
    raw_id = record.get("id")
    if isinstance(raw_id, str) and raw_id.strip("/ "):
        return f"https://www.europeana.eu/item/{raw_id.strip().strip('/')}"
    return None


def without_params(url: str, names: tuple[str, ...]) -> str:
    parts = urlsplit(url)
    if not any(f"{name}=" in parts.query for name in names):
        return url
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in names]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def rights_licence(rights: object) -> tuple[str, bool | None, str]:
    """(licence, the source's PD flag, license_raw) from edm:rights URIs.

    >>> rights_licence(["http://creativecommons.org/publicdomain/mark/1.0/"])[:2]
    ('PD', True)
    >>> rights_licence(["http://rightsstatements.org/vocab/InC/1.0/"])[:2]
    ('copyrighted', False)
    >>> rights_licence(None)[:2]
    ('unknown', None)
    """
    found = {rights_of(uri) for uri in texts(rights)}
    if len(found) > 1 and found <= {"PD", "CC0"}:
        found = {"PD"}  # a mark and a dedication: both say no rights are reserved
    licence = found.pop() if len(found) == 1 else "unknown"  # none, or statements disagree
    flag = {"PD": True, "CC0": True, "unknown": None}.get(licence, False)
    return licence, flag, licence_evidence(rights)


def rights_of(uri: str) -> str:
    text = uri.strip().lower().split("://", 1)[-1].removeprefix("www.")
    for prefix, licence in RIGHTS:
        if text.startswith(prefix):
            return licence
    return "copyrighted"


def licence_evidence(rights: object) -> str:
    """``{"rights": [...]}`` as compact JSON, whatever the value holds."""
    options = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False}
    try:
        text = json.dumps({"rights": rights}, **options)
        text.encode("utf-8")
        return text
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError):
        return json.dumps({"rights": repr(rights)[:2000]}, **{**options, "ensure_ascii": True})
