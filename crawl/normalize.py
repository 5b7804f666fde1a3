"""Turn each source's raw metadata into the normalised fields of ``ArtworkImage``.

Museum metadata is free text written by people: "ca. 1485–95", "Workshop of Rogier van der
Weyden", ``<bdi><a ...>Vincent van Gogh</a></bdi>``. These pure functions (no I/O, no Scrapy)
read such values and never raise: on None, "", garbage, HTML, huge or broken unicode input they
return None or "unknown", so a spider can call them on any record.

Spiders should prefer a source's structured values (Met ``objectBeginDate``, CMA
``creation_date_earliest``, AIC ``date_start``, NGA ``beginyear``) and parse text only where
nothing better exists (Commons, URL lists); the text parsers therefore do not widen "ca." dates.
"""

from __future__ import annotations

import html
import json
import math
import re

# Inputs longer than this are cut: no real date, name or licence is longer, and regexes on
# megabytes of garbage would only waste time.
MAX_TEXT = 100_000
LATEST_YEAR = 2100  # larger numbers in date text are ids or measurements, not years

LICENSES = ("PD", "CC0", "CC-BY", "CC-BY-SA", "copyrighted", "unknown")
OBJECT_TYPES = ("painting", "drawing", "print", "photograph", "sculpture", "other")


def _text(value: object) -> str:
    """Any value as bounded text; "" for None, NaN and types that are not text or numbers."""
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int) and abs(value) < 10**100:  # str() of giant ints raises
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(value)
    return ""


# --- HTML --------------------------------------------------------------------------------------

# Commons hides machine-readable data in `<div style="display: none;">`; it is not display text.
# Bounded attribute runs keep the search linear on garbage such as "<div<div<div...".
_HIDDEN_DIV = re.compile(r"<div\b[^<>]{0,500}?display\s*:\s*none[^<>]{0,500}>", re.IGNORECASE)
_DIV_END = re.compile(r"</div\s*>", re.IGNORECASE)
_TAG = re.compile(r"<[^<>]*>")  # [^<>] (not [^>]) so that "<<<<..." cannot go quadratic
_SPACE = re.compile(r"\s+")


def _drop_hidden_divs(text: str) -> str:
    """Remove hidden divs with their content (they do not nest in Commons output).

    A div is a block, so the text around it is joined with a space, not glued together.
    """
    kept, pos = [], 0
    while (opening := _HIDDEN_DIV.search(text, pos)) is not None:
        kept.append(text[pos : opening.start()])
        closing = _DIV_END.search(text, opening.end())
        if closing is None:  # unclosed: everything after the opening tag was hidden
            return " ".join(kept)
        pos = closing.end()
    kept.append(text[pos:])
    return " ".join(kept)


def strip_html(text: object) -> str | None:
    """Plain text from an HTML fragment, or None when nothing is left.

    >>> strip_html('attributed to <bdi><a href="...">Vincent van Gogh</a></bdi>')
    'attributed to Vincent van Gogh'
    >>> strip_html('1650<div style="display: none;">date QS:P571,+1650-00-00T00:00:00Z/9</div>')
    '1650'
    >>> strip_html("Tom &amp; Jerry<br/>  drawn") == "Tom & Jerry drawn"
    True
    """
    raw = _text(text)
    if "<" in raw:
        raw = _TAG.sub(" ", _drop_hidden_divs(raw))
    return _SPACE.sub(" ", html.unescape(raw)).strip() or None


def _plain_lower(text: object) -> str:
    """Display text, lower-cased, with every kind of dash as "-"."""
    plain = (strip_html(text) or "").lower()
    return re.sub(r"[\u2010-\u2015\u2212]", "-", plain)


# --- years -------------------------------------------------------------------------------------

_QS_PAIR = re.compile(r"(P[0-9]*),([+-][0-9]{1,11})-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z/([0-9]{1,2})")
_ISO_DATE = re.compile(r"(?<![0-9])([0-9]{4})-[0-9]{2}-[0-9]{2}(?![0-9])")
_DECADE = re.compile(r"(?<![0-9])([0-9]{3})0\s*'?s\b")
_BCE = re.compile(r"\b(?:b\.\s?c\.(?:\s?e\.)?|bce?)(?![a-z])")
_CENTURY = re.compile(
    r"\b(?:(early|mid|late|first half of the|second half of the)[\s-]*)?"
    r"([0-9]{1,2})(?:st|nd|rd|th)\b"
)
# Part of a century -> (first, last) year offsets within it.
_CENTURY_PART = {None: (1, 100), "early": (1, 40), "mid": (26, 75), "late": (61, 100),
                 "first half of the": (1, 50), "second half of the": (51, 100)}
_OPEN_ENDED = re.compile(r"^(?:ca?\.\s*|circa\s+)?(not\s+)?(before|after)\b")
_NOT_YEAR_END = r"(?![0-9]|\.[0-9]|(?:st|nd|rd|th|s)\b)"  # not part of "1.5", "15th", "1890s"


def _year_patterns(min_digits: int) -> tuple[re.Pattern, re.Pattern]:
    year = rf"(?<![0-9.])([0-9]{{{min_digits},4}})"
    connector = r"\s*(?:-|/|\bto\b|\band\b|\bor\b)\s*"
    return re.compile(year + connector + r"([0-9]{1,4})" + _NOT_YEAR_END), re.compile(
        year + _NOT_YEAR_END
    )


# Common-era years need 3-4 digits (so "18 May 1642" ignores the day); BCE years may be short.
_CE_RANGE, _CE_YEAR = _year_patterns(3)
_BCE_RANGE, _BCE_YEAR = _year_patterns(1)


def _range_end(start_digits: str, end_digits: str, bce: bool) -> int:
    """The end of "1485–95" (1495), "1620/25" (1625), "1699–02" (1702), "1503–1519" (1519)."""
    start = int(start_digits)
    if len(end_digits) >= len(start_digits):
        return int(end_digits)
    cut = len(start_digits) - len(end_digits)
    end = int(start_digits[:cut] + end_digits)
    if end < start and not bce:  # rolled over into the next century
        end += 10 ** len(end_digits)
    return end


def _qs_years(text: str) -> list[tuple[int, int]]:
    """Spans from Commons' hidden "date QS:P571,+1650-00-00T00:00:00Z/9" (also P1319/P1326).

    Precision 9 is a year, 8 a decade, 7 a century (Wikibase reads +1650/7 and +1700/7 as the
    17th century, 1601-1700); coarser or finer precisions fall back to the year or to the text.
    """
    at = text.find("date QS:")
    if at < 0:
        return []
    spans = []
    for _prop, year_text, precision_text in _QS_PAIR.findall(text[at : at + 1000]):
        year, precision = int(year_text), int(precision_text)
        if not 0 < abs(year) <= LATEST_YEAR:
            continue
        if precision >= 9:
            spans.append((year, year))
        elif precision == 8:
            spans.append((year - year % 10, year - year % 10 + 9))
        elif precision == 7 and year > 0:
            first = (year - 1) // 100 * 100 + 1
            spans.append((first, first + 99))
    return spans


def _text_years(text: str) -> list[tuple[int, int]]:
    """Spans named in display text: decades, years and ranges, else centuries."""
    text = _ISO_DATE.sub(r"\1", text)
    bce = _BCE.search(text) is not None
    spans = []
    for match in _DECADE.finditer(text):
        spans.append((int(match[1]) * 10, int(match[1]) * 10 + 9))
    text = _DECADE.sub(" ", text)
    range_pattern, year_pattern = (_BCE_RANGE, _BCE_YEAR) if bce else (_CE_RANGE, _CE_YEAR)
    for match in range_pattern.finditer(text):
        spans.append((int(match[1]), _range_end(match[1], match[2], bce)))
    spans += [(int(y), int(y)) for y in year_pattern.findall(range_pattern.sub(" ", text))]
    if not spans and "centur" in text:
        for match in _CENTURY.finditer(text):
            century, (first, last) = int(match[2]), _CENTURY_PART[match[1]]
            if century:
                base = (century - 1) * 100
                spans.append((base + first, base + last))
    if bce:  # "500–480 B.C." -> (-500, -480); "5th century B.C." -> (-500, -401)
        spans = [(-max(a, b), -min(a, b)) for a, b in spans]
    spans = [(min(a, b), max(a, b)) for a, b in spans]  # "1700-1650" written backwards
    return [(a, b) for a, b in spans if a and b and -LATEST_YEAR <= a and b <= LATEST_YEAR]


def parse_year_range(text: object) -> tuple[int | None, int | None]:
    """(start, end) years from a free-text date; end >= start when both are set.

    >>> parse_year_range("ca. 1485–95")
    (1485, 1495)
    >>> parse_year_range("late 15th century")
    (1461, 1500)
    >>> parse_year_range("500 B.C.")
    (-500, -500)
    >>> parse_year_range("before 1520"), parse_year_range("after 1880")
    ((None, 1520), (1880, None))
    >>> parse_year_range('c. 1650<div style="display: none;">date QS:P571,+1651-00-00T00:00:00Z/9')
    (1651, 1651)

    "before"/"after" leave the open side None rather than guessing it. "ca." is not widened.
    """
    raw, plain = _text(text), _plain_lower(text)
    machine_readable = _qs_years(raw)
    spans = machine_readable or _text_years(plain)
    if not spans:
        return None, None
    start, end = min(a for a, _ in spans), max(b for _, b in spans)
    open_ended = _OPEN_ENDED.match(plain)
    if open_ended and not machine_readable:
        says_after = (open_ended[2] == "after") != bool(open_ended[1])  # "not before" = after
        return (start, None) if says_after else (None, end)
    return start, end


_LIFE_RANGE = re.compile(
    r"(?<![0-9])([0-9]{3,4})(?:\s*/\s*[0-9]{1,4})?\??\s*-\s*(?:ca?\.\s*|circa\s+)?"
    r"([0-9]{2,4})(?![0-9])"
)
_BORN = re.compile(r"(?:\bborn|\bb\.)\s*(?:in\s+)?(?:ca?\.\s*|circa\s+)?([0-9]{3,4})(?![0-9])")
_DIED = re.compile(r"(?:\bdied|\bd\.)\s*(?:in\s+)?(?:ca?\.\s*|circa\s+)?([0-9]{3,4})(?![0-9])")
_ACTIVE = re.compile(r"\bactive\b|\bact\.|\bfl\.|\bflourished\b|\bworking\b")
MAX_LIFESPAN = 120


def parse_life_years(text: object) -> tuple[int | None, int | None]:
    """(birth, death) from an artist bio line; (None, None) when it states no life dates.

    >>> parse_life_years("Dutch, Zundert 1853–1890 Auvers-sur-Oise")
    (1853, 1890)
    >>> parse_life_years("born 1900"), parse_life_years("died 1650")
    ((1900, None), (None, 1650))
    >>> parse_life_years("Flemish, active 1620–1650")  # activity is not life
    (None, None)
    """
    bio = _plain_lower(text)
    if not bio or _ACTIVE.search(bio):
        return None, None
    if life := _LIFE_RANGE.search(bio):
        birth, death = int(life[1]), _range_end(life[1], life[2], bce=False)
    else:
        born, died = _BORN.search(bio), _DIED.search(bio)
        birth, death = (int(born[1]) if born else None), (int(died[1]) if died else None)
    if birth is not None and death is not None and not 0 <= death - birth <= MAX_LIFESPAN:
        return None, None  # impossible life: a misread, not data
    return birth, death


_INT_YEAR = re.compile(r"(?:ca?\.\s*|circa\s+)?(-?[0-9]{1,4})(?:\.0*)?")


def parse_int_year(value: object) -> int | None:
    """A year from a number or numeric text: "1853", 1853, "c. 1853", "1853.0" -> 1853.

    Year 0 does not exist in the calendar museums use, so 0 is read as "missing".
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = int(value) if value.is_integer() else None
    if isinstance(value, int):
        return value if 0 < abs(value) <= LATEST_YEAR else None
    match = _INT_YEAR.fullmatch(_text(value).strip().lower())
    return parse_int_year(int(match[1])) if match else None


# --- attribution -------------------------------------------------------------------------------

# Qualifier as written -> canonical form. "studio of" is the same claim as "workshop of".
_QUALIFIERS = {
    "workshop of": "workshop of", "studio of": "workshop of",
    "follower of": "follower of", "followers of": "follower of",
    "circle of": "circle of", "school of": "school of", "manner of": "manner of",
    "style of": "style of", "imitator of": "imitator of",
    "after": "after", "copy after": "after",
    "attributed to": "attributed to", "formerly attributed to": "formerly attributed to",
    "possibly by": "possibly by", "probably by": "probably by",
    "possibly": "possibly by", "probably": "probably by",  # Met artistPrefix also says "Possibly"
}
# Longest first, so "formerly attributed to" wins over "attributed to", "copy after" over "after".
_QUALIFIER_PREFIX = re.compile(
    r"(" + "|".join(q.replace(" ", r"\s+") for q in sorted(_QUALIFIERS, key=len, reverse=True))
    + r")(?:\s*:|\s+|$)",
    re.IGNORECASE,
)


def normalise_qualifier(text: object) -> str | None:
    """Canonical qualifier from a separate field (Met ``artistPrefix``, CMA ``qualifier``).

    >>> normalise_qualifier("Followers of "), normalise_qualifier("Copy after")
    ('follower of', 'after')

    An unrecognised value is returned lower-cased rather than dropped: it is still evidence.
    """
    cleaned = _SPACE.sub(" ", (strip_html(text) or "").lower()).strip(" .,:;")
    return _QUALIFIERS.get(cleaned, cleaned[:100]) or None


def split_attribution(name: object) -> tuple[str | None, str | None]:
    """(artist, qualifier) from a name that may start with a qualifier.

    >>> split_attribution("Workshop of Rogier van der Weyden")
    ('Rogier van der Weyden', 'workshop of')
    >>> split_attribution("attributed to <bdi>Jan Steen</bdi>")
    ('Jan Steen', 'attributed to')
    """
    plain = strip_html(name)
    if plain is None:
        return None, None
    match = _QUALIFIER_PREFIX.match(plain)
    if match is None:
        return plain, None
    artist = plain[match.end() :].strip(" ,:;") or None
    return artist, _QUALIFIERS[_SPACE.sub(" ", match[1].lower())]


# --- licence -----------------------------------------------------------------------------------

_PD_TEXT = re.compile(r"(?<![a-z0-9])(?:pd|pdm|public-?domain)(?![a-z])|publicdomain-mark")
_CC0_TEXT = re.compile(r"(?<![a-z0-9])cc-?(?:0|zero)(?![0-9a-z])|publicdomain-zero")
_CC_TEXT = re.compile(r"(?<![a-z0-9])cc-by((?:-(?:sa|nc|nd))*)(?![a-z])")
# "No known copyright restrictions" (Flickr Commons, LoC) is not a claim of copyright.
_COPYRIGHT_TEXT = re.compile(r"(?<!no-known-)(?<!not-)copyright|all-rights-reserved|\u00a9")
_SOURCE_KEYS = {
    "met": ("isPublicDomain",),
    "aic": ("is_public_domain", "copyright_notice"),
    "cleveland": ("share_license_status",),
    "nga": ("openaccess", "maxpixels"),
    "commons": ("License", "LicenseShortName", "Copyrighted", "Categories"),
    "urls": ("license",),
}


def _licence_from_text(text: object) -> str | None:
    """Licence named in free text, template codes or licence URLs; None when none is named.

    "Public domain", "pd", "PD-Art (PD-old-100)" -> PD; "CC0", "cc-zero" -> CC0;
    "CC BY 4.0" -> CC-BY; "cc-by-sa-4.0" -> CC-BY-SA; NC/ND variants -> copyrighted.
    """
    code = _plain_lower(text).replace("creativecommons.org/licenses/", "cc-")
    code = re.sub(r"[\s_/]+", "-", code)
    if _CC0_TEXT.search(code):
        return "CC0"
    if _PD_TEXT.search(code):
        return "PD"
    if cc := _CC_TEXT.search(code):
        if "nc" in cc[1] or "nd" in cc[1]:
            return "copyrighted"  # not free enough to train on and redistribute
        return "CC-BY-SA" if "sa" in cc[1] else "CC-BY"
    return "copyrighted" if _COPYRIGHT_TEXT.search(code) else None


def _as_bool(value: object) -> bool | None:
    """True/False from a bool, 1/0 or "true"/"false"/"1"/"0"; None for anything else."""
    return {"true": True, "1": True, "false": False, "0": False}.get(_flag(value))


def _flag(value: object) -> str:
    """CSV-ish flag as text: "1", "0", "" ("1.0" and 1.0 from pandas read as "1")."""
    if isinstance(value, bool):
        return "1" if value else "0"
    text = _text(value).strip().lower()
    return text[:-2] if text.endswith(".0") else text


def _unwrap(value: object) -> object:
    """Commons extmetadata entries may be passed whole: {"value": ..., "source": ...}."""
    if isinstance(value, dict):
        return value.get("value")
    if isinstance(value, list | tuple):
        return "|".join(_text(v) for v in value)
    return value


def _commons_licence(raw: dict) -> str:
    stated = {
        _licence_from_text(_unwrap(raw.get(key)))
        for key in ("License", "LicenseShortName") if key in raw
    } - {None}
    copyrighted = _as_bool(_unwrap(raw.get("Copyrighted")))
    if not stated:  # no licence field: fall back to licence-template categories
        categories = _text(_unwrap(raw.get("Categories"))).split("|")
        stated = {_licence_from_text(c) for c in categories} & {"PD", "CC0", "CC-BY", "CC-BY-SA"}
    if not stated and copyrighted is not None:
        return "copyrighted" if copyrighted else "PD"
    if len(stated) != 1 or (stated == {"PD"} and copyrighted):
        return "unknown"  # fields disagree: let a person decide
    return stated.pop()


def _licence(source: str, raw: dict) -> str:
    if source in ("met", "aic"):  # AIC: the flag decides; copyright_notice is kept as evidence
        says_pd = _as_bool(raw.get("isPublicDomain" if source == "met" else "is_public_domain"))
        return {True: "PD", False: "copyrighted"}.get(says_pd, "unknown")
    if source == "cleveland":
        status = _flag(raw.get("share_license_status"))
        return {"cc0": "CC0", "copyrighted": "copyrighted"}.get(status, "unknown")
    if source == "nga":
        # Older files have no openaccess column; then an empty maxpixels alone means open.
        open_access = _flag(raw.get("openaccess")) if "openaccess" in raw else "1"
        capped = _flag(raw.get("maxpixels")) != ""  # a fair-use size cap: not open access
        if open_access == "0" or (open_access == "1" and capped):
            return "copyrighted"
        if open_access == "1" and ("maxpixels" in raw or "openaccess" in raw):
            return "CC0"
        return "unknown"
    if source == "commons":
        return _commons_licence(raw)
    if source == "urls":
        return _licence_from_text(raw.get("license")) or "unknown"
    return "unknown"


def _compact_json(raw: dict) -> str:
    """Deterministic JSON; NaN becomes null, odd values their str(), never an exception."""
    clean = {k: None if isinstance(v, float) and not math.isfinite(v) else v
             for k, v in raw.items()}
    options = {"sort_keys": True, "separators": (",", ":"), "default": str}
    try:
        dumped = json.dumps(clean, ensure_ascii=False, **options)
    except (TypeError, ValueError, RecursionError):  # e.g. mixed-type or circular keys
        return json.dumps({str(k): repr(v) for k, v in clean.items()}, **options)
    try:
        dumped.encode("utf-8")
        return dumped
    except UnicodeEncodeError:  # lone surrogates cannot be stored as UTF-8: escape them
        return json.dumps(clean, ensure_ascii=True, **options)


def normalise_license(source: str, **raw: object) -> tuple[str, bool | None, str]:
    """(license, is_public_domain_flag, license_raw) from one source's licence fields.

    >>> normalise_license("met", isPublicDomain=True)
    ('PD', True, '{"isPublicDomain":true}')
    >>> normalise_license("nga", openaccess="1", maxpixels="")[:2]
    ('CC0', True)
    >>> normalise_license("commons", License="cc-by-sa-4.0", Copyrighted="True")[:2]
    ('CC-BY-SA', False)

    The flag is True for PD/CC0, False for any other licence the source states, None when it
    states nothing usable. license_raw holds exactly the inputs this source's rule reads.
    """
    used = {key: raw[key] for key in _SOURCE_KEYS.get(source, ()) if key in raw}
    try:
        licence = _licence(source, used)
    except Exception:  # never let odd metadata stop a crawl
        licence = "unknown"
    flag = {"PD": True, "CC0": True, "unknown": None}.get(licence, False)
    return licence, flag, _compact_json(used)


# --- object type -------------------------------------------------------------------------------

# First match wins: a "Painting; Drawing" record is a painting, a "photographic print" a photo.
# Miniatures (portrait miniatures, Indian and Persian miniatures) are paintings in watercolour,
# gouache or enamel; museums file them with paintings, so they count as paintings here.
_TYPE_WORDS = (
    ("painting", re.compile(r"\bpaintings?\b|\bminiatures?\b")),
    ("photograph", re.compile(r"\bphoto(?:graph)?s?\b|\bphotographic\b")),
    ("drawing", re.compile(r"\bdrawings?\b|\bwatercolou?rs?\b|\bpastels?\b")),
    ("print", re.compile(r"\bprints?\b|\betchings?\b|\bengravings?\b|\bwoodcuts?\b|\blitho")),
    ("sculpture", re.compile(r"\bsculptures?\b|\bbusts?\b|\bstatue|\bstatuettes?\b")),
)


def normalise_object_type(raw: object) -> str:
    """painting/drawing/print/photograph/sculpture/other from a classification or type field.

    >>> normalise_object_type("Paintings"), normalise_object_type("Drawing and Watercolor")
    ('painting', 'drawing')
    >>> normalise_object_type("Decorative Arts"), normalise_object_type(None)
    ('other', 'other')

    Use it on classification fields only: a medium such as "Oil on canvas" is not a type.
    """
    classification = _plain_lower(_unwrap(raw))
    for object_type, words in _TYPE_WORDS:
        if words.search(classification):
            return object_type
    return "other"


_COMMONS_PLURALS = (("painting", "paintings"), ("drawing", "drawings"), ("print", "prints"),
                    ("photograph", "photographs"), ("sculpture", "sculptures"))


def object_type_from_commons(categories: object) -> str:
    """Object type from pipe-separated Commons categories.

    A category counts only if it is the plural itself or ends with it ("17th-century
    paintings", "1897 paintings"); "Paintings by X" alone does not, since Commons also files
    photos, frames and details of paintings under the painter.

    >>> object_type_from_commons("Paintings by X|17th-century paintings")
    'painting'
    >>> object_type_from_commons("Drawings|Paintings by X")
    'drawing'
    """
    names = [_SPACE.sub(" ", c).strip() for c in _plain_lower(_unwrap(categories)).split("|")]
    for object_type, plural in _COMMONS_PLURALS:
        if any(name == plural or name.endswith(" " + plural) for name in names):
            return object_type
    return "other"


# --- genre -------------------------------------------------------------------------------------

# Museums' subject terms (AIC subject_titles, Met tags) that name a painting genre -> the genre
# as Wikidata labels it, so that one filter word finds a genre at every source.
_GENRE_TERMS = (
    ("portrait", re.compile(r"\bportraits?\b|\bportraiture\b")),
    ("landscape art", re.compile(r"\blandscapes?\b")),
    ("marine art", re.compile(r"\bseascapes?\b|\bmarines?\b|\bmarine (?:art|painting)")),
    ("still life", re.compile(r"\bstill[- ]li(?:fe|fes|ves)\b")),
    ("genre art", re.compile(r"\bgenre (?:scenes?|paintings?|art)\b")),
    ("religious art", re.compile(r"\breligio(?:n|us)\b|\bsaints?\b|\bbiblical\b")),
    ("mythological painting", re.compile(r"\bmytholog")),
    ("history painting", re.compile(r"\bhistory paintings?\b")),
    ("abstract art", re.compile(r"\babstract(?:ion)?\b")),
)


def genre_from_terms(terms: object) -> str | None:
    """The painting genres a museum's subject terms name, ``|``-joined; None when none does.

    >>> genre_from_terms(["Portraits", "Men", "oil on canvas"])
    'portrait'
    >>> genre_from_terms(["landscapes", "Seascapes"])
    'landscape art|marine art'
    """
    values = terms if isinstance(terms, list | tuple) else [terms]
    text = " | ".join(_plain_lower(v) for v in values if isinstance(v, str))
    found = [genre for genre, pattern in _GENRE_TERMS if pattern.search(text)]
    return "|".join(found) or None


def terms_text(terms: object) -> str | None:
    """A list of terms (AIC style_titles) as ``|``-joined text; None when there is none."""
    values = terms if isinstance(terms, list | tuple) else [terms]
    kept = [strip_html(v) for v in values if isinstance(v, str) and strip_html(v)]
    return "|".join(dict.fromkeys(kept)) or None


# --- ids ---------------------------------------------------------------------------------------


def europeana_key(record_id: str) -> str:
    """Europeana's record id ("/2021608/SK_A_1234", Wikidata's P727 without the first slash)
    as our source_id: no slashes, which could act as a path ("2021608:SK_A_1234").

    >>> europeana_key("/2021608/SK_A_1234"), europeana_key("2021608/SK_A_1234")
    ('2021608:SK_A_1234', '2021608:SK_A_1234')
    """
    return record_id.strip().strip("/").replace("/", ":")


# --- accession numbers -------------------------------------------------------------------------

MAX_ACCESSION_CHARS = 200  # real numbers are short ("1942.9.97", "F1904.61", "MA.316371.019")


def accession_text(value: object) -> str | None:
    """A museum's own object number as it prints it: the text stripped, else None.

    >>> accession_text(" 1942.9.97 "), accession_text("F1904.61")
    ('1942.9.97', 'F1904.61')
    >>> accession_text(""), accession_text(["1958.31"]), accession_text(1958.31)
    (None, None, None)

    The number is kept exactly (no case folding, no dropped punctuation): curate matches it
    against inventory numbers. A whole number is its digits; anything else that is not text
    (a list, an object, a float that may have lost digits) or is longer than any real number
    is no number at all.
    """
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**30:
        return str(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text if text and len(text) <= MAX_ACCESSION_CHARS else None
