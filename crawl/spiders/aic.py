"""The Art Institute of Chicago API, with images from its IIIF server.

    python -m crawl aic --out data/crawl/aic --api-root https://api.artic.edu

Params (``crawl.sources.aic``): ``public_domain_only`` (use the search endpoint with
``query[term][is_public_domain]=true``), ``iiif_width`` (843 is what the public image server
gives), ``page_size`` (at most 100), ``object_types``. AIC's policy: one request a second, one
thread, an ``AIC-User-Agent`` header with a contact address (set in crawl/run.py). AIC serves at
most 10,000 results per query; beyond that its docs point to the nightly data dump.
"""

from __future__ import annotations

from urllib.parse import urlencode

import scrapy

from crawl import normalize
from crawl.spiders.base import SourceSpider, as_int

FIELDS = ("id,title,is_public_domain,copyright_notice,date_start,date_end,date_display,"
          "artist_display,artist_title,artwork_type_title,classification_titles,medium_display,"
          "image_id,thumbnail,api_link,subject_titles,style_titles,main_reference_number")
RESULT_WINDOW = 10_000


class AicSpider(SourceSpider):
    source = "aic"
    default_api_root = "https://api.artic.edu"
    KEYS = {"public_domain_only": bool, "page_size": int, "iiif_width": int}

    async def start(self):
        yield self.page_request(1)

    def page_request(self, page: int) -> scrapy.Request:
        size = min(self.config["page_size"], 100)
        query = {"page": page, "limit": size, "fields": FIELDS}
        path = "/api/v1/artworks"
        if self.config["public_domain_only"]:
            path += "/search"
            query["query[term][is_public_domain]"] = "true"
        return scrapy.Request(f"{self.api_root}{path}?{urlencode(query)}",
                              callback=self.parse_page, errback=self.listing_failed,
                              cb_kwargs={"page": page})

    def parse_page(self, response, page: int):
        body = self.listing_json(response, "data")
        if body is None:
            return
        records = body["data"]
        if not isinstance(records, list):
            self.listing_broken(response.url, f"data is {type(records).__name__}, not a list")
            return
        config = body.get("config") if isinstance(body.get("config"), dict) else {}
        iiif_url = config.get("iiif_url") if isinstance(config.get("iiif_url"), str) else None
        website = config.get("website_url") if isinstance(config.get("website_url"), str) \
            else None
        iiif_url, website = iiif_url or "https://www.artic.edu/iiif/2", website or \
            "https://www.artic.edu"
        met_before = self.state.met
        for record in records:
            if self.state.full:
                return
            source_id = record.get("id") if isinstance(record, dict) else None
            yield from self.listed(source_id, record, lambda r=record: self.item_from_record(
                r, iiif_url, website))
        if not self.page_read("aic", response, self.state.met - met_before,
                              len(records)):
            return
        pagination = body.get("pagination") if isinstance(body.get("pagination"), dict) else {}
        limit = max(as_int(pagination.get("limit")) or len(records), 1)
        if (not self.state.full and page < (as_int(pagination.get("total_pages")) or 0)
                and (page + 1) * limit <= RESULT_WINDOW):
            yield self.page_request(page + 1)

    def item_from_record(self, record: dict, iiif_url: str, website: str):
        display = record.get("artist_display")
        first, _, bio = (display if isinstance(display, str) else "").partition("\n")
        name, qualifier = normalize.split_attribution(first or record.get("artist_title"))
        birth, death = normalize.parse_life_years(bio)
        licence, flag, licence_raw = normalize.normalise_license(
            "aic", is_public_domain=record.get("is_public_domain"),
            copyright_notice=record.get("copyright_notice"))
        image_url = None
        image_id = record.get("image_id")
        if image_id:
            # Ask for a bounded width, never more than the master has (IIIF refuses upscaling).
            thumbnail = record.get("thumbnail")
            full_width = as_int(thumbnail.get("width")) if isinstance(thumbnail, dict) else None
            width = self.config["iiif_width"]
            if full_width and full_width > 0:
                width = min(width, full_width)
            image_url = f"{iiif_url}/{image_id}/full/{width},/0/default.jpg" \
                if isinstance(image_id, str | int) and not isinstance(image_id, bool) \
                else image_id  # not an id: new_item makes it a bad_url row
        type_raw = record.get("artwork_type_title")
        return self.new_item(
            record["id"], record,
            accession_number=normalize.accession_text(record.get("main_reference_number")),
            page_url=f"{website}/artworks/{record['id']}", image_url=image_url,
            license=licence, license_raw=licence_raw, is_public_domain_flag=flag,
            title=record.get("title"), artist=name or record.get("artist_title"),
            artist_birth_year=birth, artist_death_year=death, attribution_qualifier=qualifier,
            date_text=record.get("date_display"), date_start=record.get("date_start"),
            date_end=record.get("date_end"),
            object_type=normalize.normalise_object_type(type_raw), object_type_raw=type_raw,
            medium=record.get("medium_display"),
            genre=normalize.genre_from_terms(record.get("subject_titles")),
            movement=normalize.terms_text(record.get("style_titles")))
