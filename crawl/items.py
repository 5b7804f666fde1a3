"""The one item every spider yields: a record with one image, licence evidence and fetch status.

Fields map one to one onto the raw records Parquet schema (``crawl/records.py``). Raw values
(``license_raw``, ``raw_record``) are kept beside the normalised ones so that curation can
always show its evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ArtworkImage:
    # --- identity and provenance ----------------------------------------------------------------
    source: str  # "met", "aic", "cleveland", "nga", "commons", "urls"
    source_id: str  # the id in the source's namespace
    accession_number: str | None = None  # the museum's own object number ("1958.31"), as printed
    page_url: str | None = None  # the human-readable record page
    image_url: str | None = None  # what was (or would be) fetched
    # --- licence: raw evidence and normalised ---------------------------------------------------
    license: str = "unknown"  # PD, CC0, CC-BY, CC-BY-SA, copyrighted, unknown
    license_raw: str | None = None  # the source's own value(s), verbatim
    is_public_domain_flag: bool | None = None  # the source's own PD judgement (None: says nothing)
    # --- what the record says -------------------------------------------------------------------
    title: str | None = None
    artist: str | None = None
    artist_birth_year: int | None = None
    artist_death_year: int | None = None
    attribution_qualifier: str | None = None  # "workshop of", "after", ... lower case
    date_text: str | None = None
    date_start: int | None = None
    date_end: int | None = None
    object_type: str | None = None  # painting, drawing, print, photograph, sculpture, other
    object_type_raw: str | None = None
    medium: str | None = None
    genre: str | None = None  # "portrait", "landscape art": the source's words, several joined by |
    movement: str | None = None  # "Baroque", "Impressionism", several joined by |
    same_as: str | None = None  # the same work at other sources, "met:436535|aic:27992"
    found_via: str | None = None  # how the listing reached it: "Category:A > Category:B"
    raw_record: str | None = None  # the source's record as JSON, for evidence and re-parsing
    # --- what the fetch produced ----------------------------------------------------------------
    status: str = "pending"  # stored, metadata_only, rejected (bad content), failed (fetch)
    reason: str | None = None  # machine-readable code when not stored (see crawl/reasons.py)
    error: str | None = None  # the reason in words; on a stored row, fields left empty and why
    http_status: int | None = None
    content_type: str | None = None
    etag: str | None = None  # the image response's validators, for conditional re-crawls
    last_modified: str | None = None
    sha256: str | None = None
    bytes: int | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None  # JPEG, PNG, TIFF, ... as decoded from the bytes
    extra: dict = field(default_factory=dict)  # per-spider scratch, never written
