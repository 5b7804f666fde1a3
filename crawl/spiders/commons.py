"""Wikimedia Commons: the files of category trees, with licence and metadata from extmetadata.

    python -m crawl commons --out data/crawl/commons --api-root https://commons.wikimedia.org

Params (``crawl.sources.commons``): ``categories`` (e.g. ``["Category:Paintings"]``, the roots),
``max_depth`` (subcategories followed this many levels down: 0 = the roots' own files),
``exclude_categories`` (a category whose title holds one of these, case-insensitive, is not
entered: details, frames, photographs of galleries), ``max_width`` (``iiurlwidth``: files
wider than this are fetched as a scaled thumbnail, never as a 100 MB original), ``page_size``
(``gcmlimit``, at most 500), ``maxlag`` (5, as Wikimedia asks of bots), ``maxlag_retries``
(how often one request may be told "lagged" before the category is given up),
``object_types``.

Category trees: ``Category:Paintings`` holds almost nothing but subcategories, and the
category graph has cycles. Categories are visited breadth first, each once (by title), to
``max_depth``: first a category's files, then its subcategories (``list=categorymembers``,
``cmtype=subcat``). A file met again under another category is one record all the same; its
row keeps the path it was first found by (``found_via``).

One ``action=query&generator=categorymembers&prop=imageinfo`` request per batch, continued the
documented way (mediawiki.org/wiki/API:Continue): the response's ``continue`` object is merged
into the original parameters for the next request. Image info for a batch may arrive over
several responses (``iicontinue``); a file becomes an item only once its ``imageinfo`` is there,
and a file still without it when the batch completes becomes a ``no_image_url`` row. Errors come
with HTTP 200 as an ``error`` member: ``maxlag`` means "wait and ask again" (``Retry-After``
honoured); any other code ends that category as a listing failure.

Wikimedia's policy: API requests in series (never more than one in flight: each continuation
is requested from the previous response's callback), a User-Agent with contact details,
``maxlag=5``, about 200 requests a minute, at most two parallel downloads from
upload.wikimedia.org (``concurrency``).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import scrapy

from crawl import normalize, reasons
from crawl.middlewares import retry_after_seconds
from crawl.spiders.base import SourceSpider, parse_json, record_id
from marcus.config import list_of

MAX_LIMIT = 500  # gcmlimit for clients without the apihighlimits right
DEFAULT_MAXLAG_WAIT_S = 5.0  # when a maxlag error comes without Retry-After
IIPROP = "url|size|mime|sha1|extmetadata"
LICENCE_KEYS = ("LicenseShortName", "License", "Copyrighted", "Categories")


@dataclass(frozen=True)
class Category:
    """A category on the way: its title, how deep below a root, and the titles that led here."""

    title: str
    depth: int
    path: tuple[str, ...]

    @property
    def found_via(self) -> str:
        return " > ".join((*self.path, self.title))


def category_title(name: object) -> str | None:
    """``Category:Name`` with spaces, first letter upper case (as MediaWiki stores titles)."""
    if not isinstance(name, str) or not name.strip():
        return None
    name = name.strip().replace("_", " ")
    name = name.split(":", 1)[1] if name.lower().startswith("category:") else name
    name = " ".join(name.split())
    return f"Category:{name[:1].upper()}{name[1:]}" if name else None


class CommonsSpider(SourceSpider):
    source = "commons"
    default_api_root = "https://commons.wikimedia.org"
    KEYS = {"categories": list_of(str), "max_depth": int, "exclude_categories": list_of(str),
            "max_width": int, "page_size": int, "maxlag": int, "maxlag_retries": int}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.queue: deque[Category] = deque()
        self.seen_categories: set[str] = set()
        self.excluded: list[str] = []  # categories not entered (exclude_categories)
        for title in self.config["categories"]:
            self.enqueue(category_title(title), 0, ())

    async def start(self):
        for request in self.next_category():
            yield request

    # --- the category tree ---------------------------------------------------------------------

    def enqueue(self, title: str | None, depth: int, path: tuple[str, ...]) -> None:
        """Queue a category once, unless it is excluded."""
        if title is None or title in self.seen_categories:
            return
        self.seen_categories.add(title)
        lowered = title.lower()
        if any(word.lower() in lowered for word in self.config["exclude_categories"] if word):
            self.excluded.append(title)
            return
        self.queue.append(Category(title, depth, path))

    def next_category(self):
        """The first request of the next queued category, if any and the limit allows."""
        if self.queue and not self.state.full:
            category = self.queue.popleft()
            yield self.api_request(category, self.base_params(category.title))

    def subcategories_request(self, category: Category, proceed: dict | None = None,
                              lagged: int = 0) -> scrapy.Request:
        params = {"action": "query", "list": "categorymembers", "cmtitle": category.title,
                  "cmtype": "subcat", "cmlimit": str(MAX_LIMIT), "format": "json",
                  "formatversion": "2", "maxlag": str(self.config["maxlag"]), **(proceed or {})}
        return scrapy.Request(f"{self.api_root}/w/api.php?{urlencode(params)}",
                              callback=self.parse_subcategories, errback=self.api_failed,
                              dont_filter=lagged > 0,
                              cb_kwargs={"category": category, "params": params},
                              meta={"marcus_lagged": lagged})

    def category_done(self, category: Category):
        """A category's files are all listed: its subcategories next, or the next category."""
        if category.depth < self.config["max_depth"] and not self.state.full:
            yield self.subcategories_request(category)
        else:
            yield from self.next_category()

    def parse_subcategories(self, response, category: Category, params: dict):
        body = yield from self.api_body(response, category, params)
        if body is None:
            return
        if not self.page_read(f"commons subcategories of {category.title}", response, 1, 0):
            yield from self.next_category()
            return
        query = body.get("query") if isinstance(body.get("query"), dict) else {}
        members = query.get("categorymembers")
        for member in members if isinstance(members, list) else []:
            title = member.get("title") if isinstance(member, dict) else None
            if isinstance(title, str) and title.startswith("Category:"):
                self.enqueue(category_title(title), category.depth + 1,
                             (*category.path, category.title))
        proceed = body.get("continue")
        if isinstance(proceed, dict) and proceed and not self.state.full:
            yield self.subcategories_request(
                category, {k: str(v) for k, v in proceed.items()})
        else:
            yield from self.next_category()

    # --- requests ------------------------------------------------------------------------------

    def base_params(self, category: str) -> dict:
        return {"action": "query", "generator": "categorymembers", "gcmtitle": category,
                "gcmtype": "file",
                "gcmlimit": str(max(1, min(self.config["page_size"], MAX_LIMIT))),
                "prop": "imageinfo", "iiprop": IIPROP,
                "iiurlwidth": str(self.config["max_width"]),
                "format": "json", "formatversion": "2",
                "maxlag": str(self.config["maxlag"])}

    def api_request(self, category: Category, params: dict, batch: dict | None = None,
                    lagged: int = 0) -> scrapy.Request:
        return scrapy.Request(
            f"{self.api_root}/w/api.php?{urlencode(params)}", callback=self.parse_api,
            errback=self.api_failed, dont_filter=lagged > 0,
            cb_kwargs={"category": category, "params": params, "batch": batch or new_batch()},
            meta={"marcus_lagged": lagged})

    def api_failed(self, failure):
        self.listing_failed(failure)
        yield from self.next_category()

    def category_failed(self, response, error: str):
        """A response that ends its category: logged and counted like a failed listing page."""
        self.listing_broken(response.url, error)
        yield from self.next_category()

    def api_body(self, response, category: Category, params: dict, batch: dict | None = None):
        """The answer as a JSON object (returned), or the requests to send instead (yielded):
        the same request later after ``maxlag``, the next category after any other error."""
        body, code, why = api_answer(response)
        if body is None:
            if code == "maxlag":
                yield from self.lagged(response, category, params, batch, why)
            else:
                yield from self.category_failed(response, why)
            return None
        if "query" not in body and "continue" not in body and "batchcomplete" not in body:
            yield from self.category_failed(response, "neither query, continue nor "
                                            "batchcomplete in the response")
            return None
        return body

    # --- responses -----------------------------------------------------------------------------

    def parse_api(self, response, category: Category, params: dict, batch: dict):
        body = yield from self.api_body(response, category, params, batch)
        if body is None:
            return
        # No "brought nothing new" rule here: an iicontinue response repeats its batch's
        # pages, and a batch may hold no files at all. A continuation seen before is dropped
        # by the scheduler's duplicate filter (logged as a stopped listing); the page cap ends
        # everything else.
        if not self.page_read(f"commons {params.get('gcmtitle')}", response, 1, 0):
            return
        query = body.get("query") if isinstance(body.get("query"), dict) else {}
        pages = query.get("pages") or []
        if isinstance(pages, dict):  # formatversion 1: keyed by pageid
            pages = list(pages.values())
        if not isinstance(pages, list):
            yield from self.category_failed(response, f"query.pages is {type(pages).__name__}")
            return
        for page in pages:
            if self.state.full:
                return
            pageid = page.get("pageid") if isinstance(page, dict) else None
            key, problem = record_id(pageid, page)
            if problem is not None:  # no id, or one that is no number: a row of its own
                if self.want(pageid, page):
                    yield self.unsafe_id(pageid, page)
                continue
            if key in batch["done"]:
                continue  # an iicontinue response repeats the batch's pages without info
            if not page.get("imageinfo"):
                batch["waiting"].setdefault(key, page)  # its info may come in a later response
                continue
            batch["done"].add(key)
            batch["waiting"].pop(key, None)
            if self.want(key):
                yield self.unsafe_id(key) or self.item_or_failure(page, category)
        proceed = body.get("continue")
        if "batchcomplete" in body or not isinstance(proceed, dict) or not proceed:
            yield from self.without_info(batch, category)  # the batch is over: no more info
            batch = new_batch()
        if self.state.full:
            return
        if isinstance(proceed, dict) and proceed:
            base = self.base_params(params["gcmtitle"])
            yield self.api_request(category,
                                   {**base, **{k: str(v) for k, v in proceed.items()}}, batch)
        else:
            yield from self.category_done(category)

    def lagged(self, response, category: Category, params: dict, batch: dict | None,
               why: str):
        """maxlag: the database replicas lag; ask again later, the same question."""
        tries = response.meta.get("marcus_lagged", 0) + 1
        if tries > self.config["maxlag_retries"]:
            yield from self.category_failed(response, f"still lagged after {tries - 1} "
                                            f"retries: {why}")
            return
        again = asked_again_after_lag(self, response, tries)
        self.logger.info("maxlag (%s); asking again: %s", why, response.url)
        yield again

    def without_info(self, batch: dict, category: Category):
        for key, page in batch["waiting"].items():
            if self.state.full:
                return
            if key in batch["done"] or not self.want(key):
                continue
            if (unsafe := self.unsafe_id(key)) is not None:
                yield unsafe
                continue
            title = page.get("title") if isinstance(page.get("title"), str) else None
            item = self.new_item(key, page, title=title_from_file(title),
                                 page_url=title and f"{self.api_root}/wiki/"
                                 f"{quote(title.replace(' ', '_'))}",
                                 status="rejected", reason=reasons.NO_IMAGE_URL,
                                 error="no imageinfo for this file (missing or deleted?)",
                                 found_via=category.found_via)
            yield item
        batch["waiting"].clear()

    def item_or_failure(self, page: dict, category: Category | None = None):
        try:
            item = self.item_from_page(page, category)
        except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
            return self.failed_record(page["pageid"], reasons.BAD_RECORD,
                                      reasons.describe(exc))
        return self.fetch_image(item)

    def item_from_page(self, page: dict, category: Category | None = None):
        info = page["imageinfo"][0]
        if not isinstance(info, dict):
            raise TypeError(f"imageinfo holds {type(info).__name__}, not an object")
        meta = info.get("extmetadata") if isinstance(info.get("extmetadata"), dict) else {}

        def value(key: str):
            entry = meta.get(key)
            return entry.get("value") if isinstance(entry, dict) else entry

        licence, flag, licence_raw = normalize.normalise_license(
            "commons", **{key: value(key) for key in LICENCE_KEYS if key in meta})
        name, qualifier = normalize.split_attribution(normalize.strip_html(value("Artist")))
        date_raw = value("DateTimeOriginal")
        date_start, date_end = normalize.parse_year_range(date_raw)
        categories = value("Categories")
        width, thumb_width = info.get("width"), info.get("thumbwidth")
        scaled = (info.get("thumburl") and isinstance(width, int) and isinstance(thumb_width, int)
                  and thumb_width < width)
        image_url = without_tracking(info.get("thumburl") if scaled else info.get("url"))
        return self.new_item(
            page["pageid"], page,
            page_url=info.get("descriptionurl") or None, image_url=image_url,
            license=licence, license_raw=licence_raw, is_public_domain_flag=flag,
            title=normalize.strip_html(value("ObjectName")) or title_from_file(page.get("title")),
            artist=name, attribution_qualifier=qualifier,
            date_text=normalize.strip_html(date_raw), date_start=date_start, date_end=date_end,
            object_type=normalize.object_type_from_commons(categories),
            object_type_raw=normalize.strip_html(categories),
            found_via=category.found_via if category else None)


def api_answer(response) -> tuple[dict | None, str | None, str]:
    """(body, error code, why) of a MediaWiki API answer, Commons' and Wikidata's alike: the
    JSON object when it holds no ``error``; else None with the error's code (``maxlag`` asks
    for the same request later; None: no JSON object at all) and the reason in words."""
    try:
        body = parse_json(response)
        if not isinstance(body, dict):
            raise TypeError(f"the response is a {type(body).__name__}")
    except (ValueError, TypeError) as exc:
        return None, None, reasons.describe(exc)
    error = body.get("error")
    if error is None:
        return body, None, ""
    code = error.get("code") if isinstance(error, dict) else None
    info = error.get("info") if isinstance(error, dict) else error
    return None, code if isinstance(code, str) else None, f"API error {code}: {info}"[:300]


def asked_again_after_lag(spider, response, tries: int) -> scrapy.Request:
    """The same request once more, after the ``Retry-After`` of a MediaWiki ``maxlag`` answer
    (5 s without one, at most crawl.retry_after_max_s): Commons and Wikidata alike."""
    wait = retry_after_seconds(response.headers.get(b"Retry-After"))
    wait = min(DEFAULT_MAXLAG_WAIT_S if wait is None else wait,
               spider.settings.getfloat("MARCUS_RETRY_AFTER_MAX_S", 300.0))
    spider.crawler.stats.inc_value("marcus/retry/maxlag")
    return response.request.replace(dont_filter=True, meta={
        **response.request.meta, "marcus_lagged": tries,
        "marcus_not_before": time.monotonic() + wait})  # held by PoliteRetryMiddleware


def new_batch() -> dict:
    """Pages of one generator batch: done (item made) and waiting (no imageinfo yet)."""
    return {"done": set(), "waiting": {}}


def title_from_file(title: object) -> str | None:
    """The file page's title without ``File:`` and extension: the fallback artwork title.

    >>> title_from_file("File:Jan Steen - The Feast.jpg")
    'Jan Steen - The Feast'
    """
    if not isinstance(title, str):
        return None
    name = title.split(":", 1)[1] if title.startswith("File:") else title
    stem, dot, ext = name.rpartition(".")
    return (stem if dot and stem and 2 <= len(ext) <= 5 else name).strip() or None


def without_tracking(url: object) -> object:
    """The URL without the ``utm_*`` parameters Commons adds since 2026 (same file).

    A value that is not text is returned as it is: ``new_item`` makes it a ``bad_url`` row.
    """
    if not isinstance(url, str):
        return url
    if not url:
        return None
    parts = urlsplit(url)
    if "utm_" not in parts.query:
        return url
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not k.startswith("utm_")]
    return urlunsplit(parts._replace(query=urlencode(query)))
