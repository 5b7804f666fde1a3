"""Curation filters from params: every rule a record fails, named, never just the first.

``failed_rules(row, config)`` returns reason strings such as ``date_window``,
``object_type:drawing`` or ``resolution:200x180``; an empty list means the record may enter
the training set (subject to de-duplication and the per-artist minimum, decided on the whole
set in ``curate/stage.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from curate.licence import LicenceRules, Verdict, decide


@dataclass(frozen=True)
class FilterConfig:
    date_window: tuple[int, int] = (1400, 1900)  # creation date, inclusive years
    object_types: tuple[str, ...] = ("painting",)
    min_short_side_px: int = 256
    min_pixels: int = 100_000
    aspect_ratio: tuple[float, float] = (0.33, 3.0)  # width / height
    artist_allow: frozenset[str] = field(default_factory=frozenset)  # casefolded; empty = all
    artist_deny: frozenset[str] = field(default_factory=frozenset)
    genres: tuple[str, ...] = ()  # words of a genre, casefolded; empty = every painting
    licence: LicenceRules = field(default_factory=LicenceRules)

    @classmethod
    def from_params(cls, p: dict) -> FilterConfig:
        """The filters of the ``curate`` section ``p`` (checked against curate.settings.SPEC:
        every key is there)."""
        lic = p["licence"]
        return cls(
            date_window=tuple(p["date_window"]),
            object_types=tuple(p["object_types"]),
            min_short_side_px=p["min_short_side_px"],
            min_pixels=p["min_pixels"],
            aspect_ratio=tuple(float(x) for x in p["aspect_ratio"]),
            artist_allow=frozenset(artist_key(a) for a in p["artist_allow"]),
            artist_deny=frozenset(artist_key(a) for a in p["artist_deny"]),
            genres=tuple(artist_key(g) for g in p["genres"] if artist_key(g)),
            licence=LicenceRules(current_year=p["current_year"],
                                 min_years_since_death=lic["min_years_since_death"],
                                 undated_min_age_years=lic["undated_min_age_years"]))


def artist_key(name) -> str:
    """How artist names compare in allow/deny lists and per-artist counts."""
    if not isinstance(name, str):
        return ""
    return " ".join(name.casefold().split())


def genre_matches(genre: str, wanted: tuple[str, ...]) -> bool:
    """Whether any of the record's genres (``|``-joined) holds one of the ``wanted`` words or
    phrases as whole words, a plural allowed: "landscape" matches "landscape art" and
    "Landscapes", "portrait" not "self-portraiture"."""
    names = [artist_key(g) for g in genre.split("|")]
    return any(re.search(rf"(?<![\w-]){re.escape(w)}s?(?![\w-])", name)
               for w in wanted for name in names)


def _missing(value) -> bool:
    return value is None or value != value  # None or NaN


def failed_rules(row: dict, config: FilterConfig) -> tuple[list[str], Verdict]:
    """(reasons, licence verdict) for one record row (records + hash columns)."""
    reasons: list[str] = []
    if row.get("status") != "stored":
        reasons.append(f"crawl:{row.get('status')}:{row.get('reason') or ''}".rstrip(":"))
    elif not _missing(row.get("hash_error")):
        reasons.append("hash:unreadable")
    verdict = decide(row.get("license"), row.get("is_public_domain_flag"),
                     row.get("artist_death_year"), row.get("date_end"),
                     row.get("attribution_qualifier"), config.licence)
    if not verdict.passes:
        reasons.append(verdict.reason)
    start, end = row.get("date_start"), row.get("date_end")
    low, high = config.date_window
    if _missing(start) or _missing(end):
        reasons.append("date_window:unknown")
    elif start < low or end > high:
        reasons.append("date_window")
    if row.get("object_type") not in config.object_types:
        reasons.append(f"object_type:{row.get('object_type')}")
    width, height = row.get("width"), row.get("height")
    if row.get("status") == "stored" and not (_missing(width) or _missing(height)):
        if min(width, height) < config.min_short_side_px or width * height < config.min_pixels:
            reasons.append(f"resolution:{int(width)}x{int(height)}")
        ratio = width / height if height else float("inf")
        if not config.aspect_ratio[0] <= ratio <= config.aspect_ratio[1]:
            reasons.append(f"aspect_ratio:{ratio:.2f}")
    if config.genres:
        genre = row.get("genre")
        if _missing(genre) or not str(genre).strip():
            reasons.append("genre:unknown")
        elif not genre_matches(str(genre), config.genres):
            reasons.append(f"genre:{genre}")
    artist = artist_key(row.get("artist"))
    if artist in config.artist_deny:
        reasons.append("artist_deny")
    if config.artist_allow and artist not in config.artist_allow:
        reasons.append("artist_not_allowed")
    return reasons, verdict
