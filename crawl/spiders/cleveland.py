"""The Cleveland Museum of Art Open Access API: paged artwork listings with full records.

    python -m crawl cleveland --out data/crawl/cleveland \
        --api-root https://openaccess-api.clevelandart.org

Params (``crawl.sources.cleveland``): ``types`` (CMA ``type`` names, e.g. ``[Painting]``, sent
comma-joined), ``cc0_only`` (send ``cc0=1``), ``page_size`` (``limit``, at most 1000),
``has_image`` (send ``has_image=1``), ``image_variant`` (``print``, a JPEG up to 3,400 px;
``web``, about 1,000 px; ``full``, an uncompressed TIFF, only when asked for), ``object_types``.
Each listing page holds whole records, so no per-object request is needed; pages are walked
with ``skip`` until ``info.total``. CMA states no rate limit: params ask for two requests in
flight and half a second between them.
"""

from __future__ import annotations

from urllib.parse import urlencode

import scrapy

from crawl import normalize
from crawl.spiders.base import SourceSpider, as_int
from marcus.config import list_of, one_of

MAX_LIMIT = 1000  # the API's largest page


class ClevelandSpider(SourceSpider):
    source = "cleveland"
    default_api_root = "https://openaccess-api.clevelandart.org"
    KEYS = {"types": list_of(str), "cc0_only": bool, "has_image": bool, "page_size": int,
            "image_variant": one_of("web", "print", "full")}

    async def start(self):
        yield self.page_request(0)

    def page_request(self, skip: int) -> scrapy.Request:
        size = max(1, min(self.config["page_size"], MAX_LIMIT))
        query: dict = {}
        if self.config["cc0_only"]:
            query["cc0"] = "1"
        if self.config["has_image"]:
            query["has_image"] = "1"
        types = self.config["types"]
        if types:
            query["type"] = ",".join(str(t) for t in types)
        query.update(limit=size, skip=skip)
        return scrapy.Request(f"{self.api_root}/api/artworks/?{urlencode(query)}",
                              callback=self.parse_page, errback=self.listing_failed,
                              cb_kwargs={"skip": skip})

    def parse_page(self, response, skip: int):
        body = self.listing_json(response, "data")
        if body is None:
            return
        records = body["data"]
        if not isinstance(records, list):
            self.listing_broken(response.url, f"data is a {type(records).__name__}")
            return
        met_before = self.state.met
        for record in records:
            if self.state.full:
                return
            source_id = record.get("id") if isinstance(record, dict) else None
            if source_id in (None, "") and isinstance(record, dict):
                source_id = record.get("accession_number")
            yield from self.listed(source_id, record, lambda r=record, i=source_id:
                                   self.item_from_record(r, str(i)))
        if not self.page_read("cleveland", response, self.state.met - met_before,
                              len(records)):
            return
        info = body.get("info") if isinstance(body.get("info"), dict) else {}
        total = as_int(info.get("total"))
        following = skip + len(records)
        if not self.state.full and records and total is not None and following < total:
            yield self.page_request(following)

    def image_url(self, images: object) -> str | None:
        """The configured variant's URL; ``print`` and ``full`` fall back to smaller ones."""
        if not isinstance(images, dict):
            return None
        variant = self.config["image_variant"]
        order = {"full": ("full", "print", "web"), "print": ("print", "web")}.get(
            variant, (variant, "web"))
        for name in order:
            block = images.get(name)
            if isinstance(block, dict) and block.get("url"):
                return _field(block["url"])
        return None

    def item_from_record(self, record: dict, source_id: str):
        creators = record.get("creators")
        creator = creators[0] if isinstance(creators, list) and creators else {}
        creator = creator if isinstance(creator, dict) else {}
        description = _text(creator.get("description")) or ""
        # "Claude Monet (French, 1840–1926)": the name, then nationality and life dates.
        name_text, _, bio = description.partition(" (")
        name, qualifier = normalize.split_attribution(name_text or None)
        qualifier = normalize.normalise_qualifier(creator.get("qualifier")) or qualifier
        bio_birth, bio_death = normalize.parse_life_years(bio.rstrip(")"))
        date_start = normalize.parse_int_year(record.get("creation_date_earliest"))
        date_end = normalize.parse_int_year(record.get("creation_date_latest"))
        if date_start is None and date_end is None:
            date_start, date_end = normalize.parse_year_range(record.get("creation_date"))
        licence, flag, licence_raw = normalize.normalise_license(
            "cleveland", share_license_status=record.get("share_license_status"))
        type_raw = _text(record.get("type"))
        return self.new_item(
            source_id, record,
            accession_number=normalize.accession_text(record.get("accession_number")),
            page_url=_field(record.get("url")),
            image_url=self.image_url(record.get("images")),
            license=licence, license_raw=licence_raw, is_public_domain_flag=flag,
            title=_field(record.get("title")), artist=name,
            artist_birth_year=normalize.parse_int_year(creator.get("birth_year")) or bio_birth,
            artist_death_year=normalize.parse_int_year(creator.get("death_year")) or bio_death,
            attribution_qualifier=qualifier,
            date_text=_field(record.get("creation_date")), date_start=date_start,
            date_end=date_end,
            object_type=normalize.normalise_object_type(type_raw), object_type_raw=type_raw,
            medium=_field(record.get("technique")))


def _field(value: object) -> object:
    """A field for ``new_item``: text stripped (None when blank), anything else as it came,
    for ``new_item`` to conform to the records schema or note as unusable."""
    return (value.strip() or None) if isinstance(value, str) else value


def _text(value: object) -> str | None:
    """A text field as a stripped str, or None when empty or not text (lists, dicts)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value).strip() or None
