"""Wikimedia Commons: the files of some categories, with licence and metadata from extmetadata.

    python -m crawl commons --out data/crawl/commons --api-root https://commons.wikimedia.org

Params (``crawl.sources.commons``): ``categories`` (e.g. ``["Category:Paintings"]``, crawled
one after another), ``max_width`` (``iiurlwidth``: files wider than this are fetched as a
scaled thumbnail, never as a 100 MB original), ``page_size`` (``gcmlimit``, at most 500),
``maxlag`` (5, as Wikimedia asks of bots), ``maxlag_retries`` (how often one request may be
told "lagged" before the category is given up), ``object_types``.

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


class CommonsSpider(SourceSpider):
    source = "commons"
    default_api_root = "https://commons.wikimedia.org"
    KEYS = {"categories": list_of(str), "max_width": int, "page_size": int, "maxlag": int,
            "maxlag_retries": int}

    async def start(self):
        for request in self.next_category(0):
            yield request

    # --- requests ------------------------------------------------------------------------------

    def categories(self) -> list[str]:
        names = self.config["categories"]
        return [n if n.startswith("Category:") else f"Category:{n}"
                for n in (str(n).strip() for n in names) if n]

    def base_params(self, category: str) -> dict:
        return {"action": "query", "generator": "categorymembers", "gcmtitle": category,
                "gcmtype": "file",
                "gcmlimit": str(max(1, min(self.config["page_size"], MAX_LIMIT))),
                "prop": "imageinfo", "iiprop": IIPROP,
                "iiurlwidth": str(self.config["max_width"]),
                "format": "json", "formatversion": "2",
                "maxlag": str(self.config["maxlag"])}

    def api_request(self, index: int, params: dict, batch: dict | None = None,
                    lagged: int = 0) -> scrapy.Request:
        return scrapy.Request(
            f"{self.api_root}/w/api.php?{urlencode(params)}", callback=self.parse_api,
            errback=self.api_failed, dont_filter=lagged > 0,
            cb_kwargs={"index": index, "params": params, "batch": batch or new_batch()},
            meta={"marcus_lagged": lagged})

    def next_category(self, index: int):
        """The first request of the category at ``index``, if any and the limit allows."""
        categories = self.categories()
        if index < len(categories) and not self.state.full:
            yield self.api_request(index, self.base_params(categories[index]))

    def api_failed(self, failure):
        self.listing_failed(failure)
        yield from self.next_category(failure.request.cb_kwargs["index"] + 1)

    def category_failed(self, response, index: int, error: str):
        """A response that ends its category: logged and counted like a failed listing page."""
        self.listing_broken(response.url, error)
        yield from self.next_category(index + 1)

    # --- responses -----------------------------------------------------------------------------

    def parse_api(self, response, index: int, params: dict, batch: dict):
        try:
            body = parse_json(response)
            if not isinstance(body, dict):
                raise TypeError(f"the response is a {type(body).__name__}")
        except (ValueError, TypeError) as exc:
            yield from self.category_failed(response, index, reasons.describe(exc))
            return
        error = body.get("error")
        if error is not None:
            code = error.get("code") if isinstance(error, dict) else None
            if code == "maxlag":
                yield from self.lagged(response, index, params, batch, error)
            else:
                info = error.get("info") if isinstance(error, dict) else error
                yield from self.category_failed(response, index, f"API error {code}: {info}")
            return
        if "query" not in body and "continue" not in body and "batchcomplete" not in body:
            yield from self.category_failed(response, index, "neither query, continue nor "
                                            "batchcomplete in the response")
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
            yield from self.category_failed(response, index, f"query.pages is "
                                            f"{type(pages).__name__}")
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
                yield self.unsafe_id(key) or self.item_or_failure(page)
        proceed = body.get("continue")
        if "batchcomplete" in body or not isinstance(proceed, dict) or not proceed:
            yield from self.without_info(batch)  # the batch is over: no more info will come
            batch = new_batch()
        if self.state.full:
            return
        if isinstance(proceed, dict) and proceed:
            base = self.base_params(params["gcmtitle"])
            yield self.api_request(index, {**base, **{k: str(v) for k, v in proceed.items()}},
                                   batch)
        else:
            yield from self.next_category(index + 1)

    def lagged(self, response, index: int, params: dict, batch: dict, error: dict):
        """maxlag: the database replicas lag; ask again later, the same question."""
        tries = response.meta.get("marcus_lagged", 0) + 1
        if tries > self.config["maxlag_retries"]:
            yield from self.category_failed(response, index,
                                            f"still lagged after {tries - 1} retries: "
                                            f"{error.get('info')}")
            return
        wait = retry_after_seconds(response.headers.get(b"Retry-After"))
        wait = min(DEFAULT_MAXLAG_WAIT_S if wait is None else wait,
                   self.settings.getfloat("MARCUS_RETRY_AFTER_MAX_S", 300.0))
        self.crawler.stats.inc_value("marcus/retry/maxlag")
        self.logger.info("maxlag (%s); asking again in %.0f s: %s", error.get("info"), wait,
                         response.url)
        request = self.api_request(index, params, batch, lagged=tries)
        request.meta["marcus_not_before"] = time.monotonic() + wait  # PoliteRetryMiddleware
        yield request

    def without_info(self, batch: dict):
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
                                 error="no imageinfo for this file (missing or deleted?)")
            yield item
        batch["waiting"].clear()

    def item_or_failure(self, page: dict):
        try:
            item = self.item_from_page(page)
        except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
            return self.failed_record(page["pageid"], reasons.BAD_RECORD,
                                      reasons.describe(exc))
        return self.fetch_image(item)

    def item_from_page(self, page: dict):
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
            object_type_raw=normalize.strip_html(categories))


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
