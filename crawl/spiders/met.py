"""The Met Collection API: department listing, then one JSON record per object.

    python -m crawl met --out data/crawl/met --api-root https://collectionapi.metmuseum.org

Params (``crawl.sources.met``): ``department_ids`` (11 = European Paintings),
``retry_403_html`` (a 403 HTML page is the Met's bot wall: retried, slowly), ``object_types``.
The Met lists every object of a department; the type is only known from the object record, so
unwanted types end as metadata-only rows. Only public-domain objects carry image URLs.
"""

from __future__ import annotations

import scrapy

from crawl import normalize, reasons
from crawl.spiders.base import SourceSpider, api_error, parse_json
from marcus.config import list_of

API = "/public/collection/v1"


class MetSpider(SourceSpider):
    source = "met"
    default_api_root = "https://collectionapi.metmuseum.org"
    KEYS = {"department_ids": list_of(int), "retry_403_html": bool}

    @classmethod
    def scrapy_settings(cls, config: dict) -> dict:
        return {"MARCUS_RETRY_403_HTML": config["retry_403_html"]}

    async def start(self):
        departments = "|".join(str(d) for d in self.config["department_ids"])
        yield scrapy.Request(f"{self.api_root}{API}/objects?departmentIds={departments}",
                             callback=self.parse_listing, errback=self.listing_failed)

    def parse_listing(self, response):
        body = self.listing_json(response, "objectIDs")
        if body is None:
            return
        object_ids = body["objectIDs"] or []  # null when the department has no objects
        if not isinstance(object_ids, list):
            self.listing_broken(response.url, f"objectIDs is {type(object_ids).__name__}")
            return
        for object_id in object_ids:
            if self.state.full:
                break
            if not self.want(object_id):
                continue
            if (unsafe := self.unsafe_id(object_id)) is not None:
                yield unsafe  # never part of a URL
            else:
                yield scrapy.Request(f"{self.api_root}{API}/objects/{object_id}",
                                     callback=self.parse_object, errback=self.record_failed,
                                     cb_kwargs={"source_id": str(object_id)})

    def parse_object(self, response, source_id: str):
        try:
            obj = parse_json(response)
            if not isinstance(obj, dict):
                raise TypeError(f"the object is JSON {type(obj).__name__}, not an object")
            if (error := api_error(obj)) is not None:  # a 200 saying "Not a valid object"
                raise ValueError(f"an error in a {response.status}: {error}")
            item = self.item_from_record(obj, source_id)
        except (ValueError, TypeError, AttributeError) as exc:
            yield self.failed_record(source_id, reasons.BAD_RECORD, reasons.describe(exc))
            return
        yield self.fetch_image(item)

    def item_from_record(self, obj: dict, source_id: str):
        name, qualifier = normalize.split_attribution(obj.get("artistDisplayName") or None)
        qualifier = normalize.normalise_qualifier(obj.get("artistPrefix")) or qualifier
        bio_birth, bio_death = normalize.parse_life_years(obj.get("artistDisplayBio"))
        date_start, date_end = obj.get("objectBeginDate"), obj.get("objectEndDate")
        if not isinstance(date_start, int) or not isinstance(date_end, int):
            date_start, date_end = normalize.parse_year_range(obj.get("objectDate"))
        licence, flag, licence_raw = normalize.normalise_license(
            "met", isPublicDomain=obj.get("isPublicDomain"))
        type_raw = obj.get("classification") or obj.get("objectName") or None
        return self.new_item(
            source_id, obj,
            accession_number=normalize.accession_text(obj.get("accessionNumber")),
            page_url=obj.get("objectURL") or None,
            image_url=obj.get("primaryImage") or None,
            license=licence, license_raw=licence_raw, is_public_domain_flag=flag,
            title=obj.get("title") or None, artist=name,
            artist_birth_year=normalize.parse_int_year(obj.get("artistBeginDate")) or bio_birth,
            artist_death_year=normalize.parse_int_year(obj.get("artistEndDate")) or bio_death,
            attribution_qualifier=qualifier,
            date_text=obj.get("objectDate") or None, date_start=date_start, date_end=date_end,
            object_type=normalize.normalise_object_type(type_raw), object_type_raw=type_raw,
            medium=obj.get("medium") or None,
            genre=normalize.genre_from_terms([t.get("term") for t in obj.get("tags") or []
                                              if isinstance(t, dict)]
                                             if isinstance(obj.get("tags"), list) else None))
