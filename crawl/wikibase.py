"""Read Wikidata entities (the JSON of ``wbgetentities``) as licence evidence: pure functions.

Wikidata states facts as statements with ranks, snak types, precisions and qualifiers, and every
one of them changes what a fact means for the licence gate:

- **Ranks**: only the best rank counts: the preferred statements when there are any, else the
  normal ones; deprecated statements (known to be wrong) never count.
- **Snak types**: ``value``; ``somevalue`` (there is one, nobody knows it: an anonymous painter);
  ``novalue`` (there is none).
- **Time precision**: 11 day, 10 month, 9 year, 8 decade (+1650 is the 1650s), 7 century (+1650
  and +1700 are both the 17th century, 1601-1700, as Wikibase displays them), 6 millennium.
  Coarser values say nothing usable about a year. A date is kept as the span of years it
  allows, widened by its ``earliest date`` (P1319) and ``latest date`` (P1326) qualifiers, and
  the licence gate reads the end that is safe: the latest possible death, the latest possible
  creation.
- **Attribution**: "workshop of", "attributed to", "after a work by" ... are qualifiers of the
  creator statement (often on an unknown creator, ``somevalue``, naming the master) or
  statements of the painting itself. They map onto the records' ``attribution_qualifier``.

Nothing here raises on odd input: a claim that is not the shape Wikibase documents is ignored,
so a spider can call these on any entity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# --- properties and items (www.wikidata.org/wiki/Property:P...) -------------------------------
INSTANCE_OF, IMAGE, CREATOR, INCEPTION = "P31", "P18", "P170", "P571"
BIRTH, DEATH, EARLIEST, LATEST = "P569", "P570", "P1319", "P1326"
COPYRIGHT_STATUS, JURISDICTION = "P6216", "P1001"
GENRE, MOVEMENT, COLLECTION, MATERIAL = "P136", "P135", "P195", "P186"
NATURE_OF_STATEMENT = "P5102"
ANONYMOUS = "Q4233718"  # the item "anonymous", used as a creator like somevalue
PUBLIC_DOMAIN = "Q19652"
COPYRIGHTED = "Q50423863"
# Public domain "applies to jurisdiction" (P1001) values that say less than life + 70: the
# United States (publication before 1930) and "countries with 50 years pma or shorter".
SHORT_TERMS = {"Q30", "Q59621182"}

# Attribution properties, as qualifiers of P170 or as statements of the painting -> the records'
# attribution_qualifier (the vocabulary of crawl/normalize.py and curate/licence.py).
ATTRIBUTION = {
    "P1773": "attributed to", "P1774": "workshop of", "P1775": "follower of",
    "P1776": "circle of", "P1777": "manner of", "P1780": "school of",
    "P1877": "after", "P1778": "after",  # after a work by; forgery after
    "P1779": "possibly by",  # possible creator
}
NATURE_QUALIFIERS = {"Q230768": "attributed to", "Q18603603": "possibly by"}  # attribution;
# hypothetically

# A museum's own object id on Wikidata -> the source whose records carry that id as source_id
# (Europeana's "dataset/local" as crawl.normalize.europeana_key writes it).
SAME_AS = {"P3634": "met", "P4610": "aic", "P4683": "nga", "P727": "europeana"}
# Where a museum has no such property, the inventory number (P217) that a collection gives the
# painting, qualified by that collection (P195), names the record whose accession_number it is:
# the Cleveland Museum of Art has no id property, and the Smithsonian's P4704 is SAAM's
# artwork id, not the Open Access record id. The Met, AIC and NGA numbers back up their ids.
INVENTORY_NUMBER = "P217"
INVENTORY_COLLECTIONS = {
    "Q657415": "cleveland", "Q160236": "met", "Q239303": "aic", "Q214867": "nga",
    # Smithsonian units that hold paintings (one Open Access source):
    "Q1192305": "smithsonian",  # Smithsonian American Art Museum
    "Q1967614": "smithsonian",  # National Portrait Gallery
    "Q1620553": "smithsonian",  # Hirshhorn Museum and Sculpture Garden
    "Q1075126": "smithsonian",  # Freer Gallery of Art
    "Q259767": "smithsonian",  # Arthur M. Sackler Gallery
    "Q105749808": "smithsonian",  # National Museum of Asian Art
    "Q876537": "smithsonian",  # Renwick Gallery
}

_TIME = re.compile(r"^([+-])0*([0-9]{1,16})-([0-9]{2})-([0-9]{2})T")
_QID = re.compile(r"^Q[1-9][0-9]{0,11}$")
FIRST_YEAR_PRECISION = 6  # millennium; coarser precisions name no usable year


def is_qid(value: object) -> bool:
    return isinstance(value, str) and _QID.match(value) is not None


# --- statements -------------------------------------------------------------------------------


def statements(entity: object, prop: str) -> list[dict]:
    """The best-rank statements of ``prop``: preferred if any, else normal; never deprecated."""
    claims = entity.get("claims") if isinstance(entity, dict) else None
    found = claims.get(prop) if isinstance(claims, dict) else None
    if not isinstance(found, list):
        return []
    found = [s for s in found if isinstance(s, dict) and isinstance(s.get("mainsnak"), dict)]
    preferred = [s for s in found if s.get("rank") == "preferred"]
    return preferred or [s for s in found if s.get("rank", "normal") == "normal"]


def snak(snak: object) -> tuple[str, object]:
    """(snak type, value): ``("value", v)``, ``("somevalue", None)``, ``("novalue", None)``, or
    ``("bad", None)`` for a snak that is not the documented shape."""
    if not isinstance(snak, dict):
        return "bad", None
    kind = snak.get("snaktype")
    if kind in ("somevalue", "novalue"):
        return kind, None
    datavalue = snak.get("datavalue")
    if kind != "value" or not isinstance(datavalue, dict) or "value" not in datavalue:
        return "bad", None
    return "value", datavalue["value"]


def item_id(value: object) -> str | None:
    """The Q-id of a wikibase-entityid value (``{"id": "Q5598", ...}`` or numeric-id only)."""
    if not isinstance(value, dict):
        return None
    qid = value.get("id")
    if is_qid(qid):
        return qid
    number = value.get("numeric-id")
    if isinstance(number, int) and not isinstance(number, bool) and 0 < number < 10**12:
        return f"Q{number}"
    return None


def qualifier_values(statement: dict, prop: str) -> list[tuple[str, object]]:
    """(snak type, value) of each qualifier ``prop`` of a statement."""
    qualifiers = statement.get("qualifiers")
    found = qualifiers.get(prop) if isinstance(qualifiers, dict) else None
    return [snak(q) for q in found] if isinstance(found, list) else []


def item_values(entity: object, prop: str) -> list[str]:
    """Q-ids of the best-rank ``prop`` statements that name an item."""
    out = []
    for statement in statements(entity, prop):
        kind, value = snak(statement["mainsnak"])
        if kind == "value" and (qid := item_id(value)) is not None and qid not in out:
            out.append(qid)
    return out


def string_values(entity: object, prop: str) -> list[str]:
    out = []
    for statement in statements(entity, prop):
        kind, value = snak(statement["mainsnak"])
        if kind == "value" and isinstance(value, str) and value.strip() and value not in out:
            out.append(value.strip())
    return out


def inventory_numbers(entity: object) -> list[tuple[str, str]]:
    """(collection Q-id, number) of each inventory number statement that names its collection.

    Every statement but the deprecated ones counts: each collection numbers the painting its
    own way (a painting moved from one museum to another keeps both numbers), so a preferred
    number of one collection says nothing against the number of another.
    """
    claims = entity.get("claims") if isinstance(entity, dict) else None
    found = claims.get(INVENTORY_NUMBER) if isinstance(claims, dict) else None
    out: list[tuple[str, str]] = []
    for statement in found if isinstance(found, list) else []:
        if not isinstance(statement, dict) or statement.get("rank") == "deprecated":
            continue
        kind, number = snak(statement.get("mainsnak"))
        if kind != "value" or not isinstance(number, str) or not number.strip():
            continue
        for kind, collection in qualifier_values(statement, COLLECTION):
            qid = item_id(collection) if kind == "value" else None
            if qid and (qid, number.strip()) not in out:
                out.append((qid, number.strip()))
    return out


def label(entity: object, languages: list[str]) -> str | None:
    """The label in the first of ``languages`` that has one, else any label."""
    labels = entity.get("labels") if isinstance(entity, dict) else None
    if not isinstance(labels, dict):
        return None
    texts = {lang: v.get("value") for lang, v in labels.items()
             if isinstance(v, dict) and isinstance(v.get("value"), str) and v["value"].strip()}
    for lang in languages:
        if lang in texts:
            return texts[lang].strip()
    return texts[min(texts)].strip() if texts else None


# --- time -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """The years a Wikidata time value allows (both inclusive) and how it was written."""

    first: int
    last: int
    text: str  # "1650", "1650s", "17th century", "1650-03-14", with qualifiers if any


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def time_span(value: object) -> Span | None:
    """The span of years of a time datavalue (``{"time": "+1650-00-00T00:00:00Z",
    "precision": 8, ...}``); None when it has no usable year.

    >>> time_span({"time": "+1650-00-00T00:00:00Z", "precision": 8})
    Span(first=1650, last=1659, text='1650s')
    >>> time_span({"time": "+1700-00-00T00:00:00Z", "precision": 7})
    Span(first=1601, last=1700, text='17th century')
    """
    if not isinstance(value, dict) or not isinstance(value.get("time"), str):
        return None
    match = _TIME.match(value["time"])
    precision = value.get("precision")
    if match is None or not isinstance(precision, int) or isinstance(precision, bool):
        return None
    year = int(match[2]) * (-1 if match[1] == "-" else 1)
    if year <= 0 or year > 9999 or precision < FIRST_YEAR_PRECISION:
        return None  # BCE or year 0 (not a painting's date here), or vaguer than a millennium
    if precision >= 9:
        month, day = match[3], match[4]
        text = (str(year) if precision == 9 or month == "00" else f"{year}-{month}"
                if precision == 10 or day == "00" else f"{year}-{month}-{day}")
        return Span(year, year, text)
    if precision == 8:
        decade = year - year % 10
        return Span(decade, decade + 9, f"{decade}s")
    unit = 100 if precision == 7 else 1000
    n = (year + unit - 1) // unit
    return Span((n - 1) * unit + 1, n * unit,
                f"{_ordinal(n)} {'century' if unit == 100 else 'millennium'}")


def statement_span(statement: dict) -> Span | None:
    """A dated statement's span, widened by its earliest/latest date qualifiers."""
    kind, value = snak(statement.get("mainsnak"))
    span = time_span(value) if kind == "value" else None
    earliest, latest = ([b for b in (time_span(v) for k, v in qualifier_values(statement, prop)
                                      if k == "value") if b is not None]
                        for prop in (EARLIEST, LATEST))
    bounds = earliest + latest
    if not bounds:
        return span
    if span is None and not (earliest and latest):  # "not before 1800" alone: no end known
        return None
    first = min([b.first for b in bounds] + ([span.first] if span else []))
    last = max([b.last for b in bounds] + ([span.last] if span else []))
    text = (span.text + " " if span else "") + f"(between {first} and {last})"
    return Span(first, last, text)


def date_span(entity: object, prop: str) -> Span | None:
    """The span of every best-rank ``prop`` statement together: several dates of one event are
    alternatives, and the licence gate must hold for all of them."""
    spans = [s for s in (statement_span(st) for st in statements(entity, prop)) if s is not None]
    if not spans:
        return None
    if len(spans) == 1:
        return spans[0]
    return Span(min(s.first for s in spans), max(s.last for s in spans),
                " or ".join(dict.fromkeys(s.text for s in spans)))


# --- creators ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credit:
    """One creator of a painting as the item states it."""

    person: str | None  # Q-id of the named person (the master for "workshop of"), None: unknown
    qualifier: str | None  # attribution qualifier, None for a plain attribution
    unknown: bool  # somevalue or "anonymous": an unnamed hand


def credits(entity: object) -> list[Credit]:
    """The painting's creators: P170 statements with their attribution qualifiers, else the
    attribution statements of the item itself ("workshop of" X as a statement)."""
    found = []
    for statement in statements(entity, CREATOR):
        kind, value = snak(statement["mainsnak"])
        if kind == "novalue" or kind == "bad":
            continue
        person = item_id(value) if kind == "value" else None
        unknown = person is None or person == ANONYMOUS
        person = None if person == ANONYMOUS else person
        qualifier = None
        for prop, words in ATTRIBUTION.items():
            named = [item_id(v) for k, v in qualifier_values(statement, prop) if k == "value"]
            named = [q for q in named if q and q != ANONYMOUS]
            if named or qualifier_values(statement, prop):
                qualifier = qualifier or words
                person = person or (named[0] if named else None)
        for kind_, value_ in qualifier_values(statement, NATURE_OF_STATEMENT):
            nature = item_id(value_) if kind_ == "value" else None
            if nature in NATURE_QUALIFIERS and qualifier is None:
                qualifier = NATURE_QUALIFIERS[nature]
        found.append(Credit(person, qualifier, unknown))
    if any(c.person for c in found):
        return found
    for prop, words in ATTRIBUTION.items():  # "after a work by" X as a statement of its own
        for qid in item_values(entity, prop):
            if qid != ANONYMOUS:
                return [Credit(qid, words, True)]
    return found


def qualifier_of(credits_: list[Credit]) -> str | None:
    """The attribution qualifier of the painting: the first one stated."""
    return next((c.qualifier for c in credits_ if c.qualifier), None)


# --- copyright --------------------------------------------------------------------------------


def copyright_statuses(entity: object) -> list[dict]:
    """Each best-rank copyright status (P6216) with the jurisdictions it applies to (P1001)."""
    out = []
    for statement in statements(entity, COPYRIGHT_STATUS):
        kind, value = snak(statement["mainsnak"])
        status = item_id(value) if kind == "value" else kind
        where = [item_id(v) or k for k, v in qualifier_values(statement, JURISDICTION)]
        out.append({"status": status, "jurisdictions": where})
    return out


def status_says(statuses: list[dict]) -> bool | None:
    """What the item's own copyright statements say: True (public domain, with no jurisdiction
    or one of life + 70 or longer), False (copyrighted, or public domain only in the United
    States or where 50 years after death suffice), None (nothing stated)."""
    if not statuses:
        return None
    if any(s["status"] == COPYRIGHTED for s in statuses):
        return False
    public = [s for s in statuses if s["status"] == PUBLIC_DOMAIN]
    if any(set(s["jurisdictions"]) - SHORT_TERMS or not s["jurisdictions"] for s in public):
        return True
    return False if public else None
