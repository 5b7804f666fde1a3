"""crawl/wikibase.py on entities in the real ``wbgetentities`` shape: best ranks, snak types,
every time precision, earliest/latest qualifiers, creators with their attribution qualifiers,
copyright statuses and labels, plus a property test that none of it raises on any JSON."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawl.wikibase import (
    CREATOR,
    DEATH,
    INCEPTION,
    Credit,
    Span,
    copyright_statuses,
    credits,
    date_span,
    inventory_numbers,
    item_id,
    label,
    qualifier_of,
    snak,
    statements,
    status_says,
    time_span,
)
from tests.crawl.spiders.helpers import JSON_VALUES

GREGORIAN = "http://www.wikidata.org/entity/Q1985727"


def time(text: str, precision: int) -> dict:
    return {"time": text, "timezone": 0, "before": 0, "after": 0, "precision": precision,
            "calendarmodel": GREGORIAN}


def year(y: int, precision: int = 9) -> dict:
    return time(f"+{y:04d}-00-00T00:00:00Z", precision)


def item(qid: str) -> dict:
    return {"entity-type": "item", "numeric-id": int(qid[1:]), "id": qid}


def value_snak(prop: str, value) -> dict:
    """A value snak as wbgetentities sends it; strings, times and items by their Python type."""
    kind, datatype = (("string", "string") if isinstance(value, str)
                      else ("time", "time") if "time" in value
                      else ("wikibase-entityid", "wikibase-item"))
    return {"snaktype": "value", "property": prop, "hash": "0" * 40,
            "datavalue": {"value": value, "type": kind}, "datatype": datatype}


def statement(prop: str, value=None, *, kind: str = "value", rank: str | None = "normal",
              **qualifiers) -> dict:
    """One statement; ``value`` None with kind somevalue/novalue; qualifiers P...=[value, ...]
    (a value "somevalue" or "novalue" gives a snak of that type)."""
    main = (value_snak(prop, value) if kind == "value"
            else {"snaktype": kind, "property": prop, "hash": "0" * 40})
    out = {"mainsnak": main, "type": "statement", "id": "Q1$X"}
    if rank is not None:
        out["rank"] = rank
    if qualifiers:
        out["qualifiers"] = {p: [{"snaktype": v, "property": p} if v in ("somevalue", "novalue")
                                 else value_snak(p, v) for v in vs]
                             for p, vs in qualifiers.items()}
        out["qualifiers-order"] = list(qualifiers)
    return out


def entity(*found: dict, labels: dict | None = None) -> dict:
    claims: dict = {}
    for s in found:
        claims.setdefault(s["mainsnak"]["property"], []).append(s)
    return {"type": "item", "id": "Q1", "claims": claims,
            "labels": {k: {"language": k, "value": v} for k, v in (labels or {}).items()}}


# --- ranks and snaks ----------------------------------------------------------------------------


def test_preferred_statements_hide_the_normal_ones():
    e = entity(statement(DEATH, year(1650)), statement(DEATH, year(1651), rank="preferred"))
    assert date_span(e, DEATH) == Span(1651, 1651, "1651")


def test_a_deprecated_death_date_never_counts():
    assert statements(entity(statement(DEATH, year(1900), rank="deprecated")), DEATH) == []
    e = entity(statement(DEATH, year(1650)), statement(DEATH, year(1990), rank="deprecated"))
    assert date_span(e, DEATH) == Span(1650, 1650, "1650")


def test_a_statement_without_a_rank_counts_as_normal():
    e = entity(statement(DEATH, year(1650), rank=None), statement(DEATH, year(1600), rank="x"))
    assert [s["mainsnak"]["datavalue"]["value"] for s in statements(e, DEATH)] == [year(1650)]


def test_statements_without_a_mainsnak_object_are_dropped():
    e = {"claims": {DEATH: [{"rank": "preferred"}, {"mainsnak": "x"}, 7,
                            statement(DEATH, year(1650))]}}
    assert len(statements(e, DEATH)) == 1
    assert statements({"claims": {DEATH: {}}}, DEATH) == statements("Q1", DEATH) == []


@pytest.mark.parametrize(("given_snak", "expected"), [
    (value_snak(CREATOR, item("Q5598")), ("value", item("Q5598"))),
    ({"snaktype": "somevalue", "property": CREATOR}, ("somevalue", None)),
    ({"snaktype": "novalue", "property": CREATOR}, ("novalue", None)),
    ({"snaktype": "value", "property": CREATOR}, ("bad", None)),
    ({"snaktype": "value", "datavalue": {"type": "string"}}, ("bad", None)),
    ({"snaktype": "unknown", "datavalue": {"value": "x"}}, ("bad", None)),
    ({"datavalue": {"value": "x"}}, ("bad", None)),
    ("value", ("bad", None)), (None, ("bad", None)),
])
def test_a_snak_reads_as_its_type_and_value_or_as_bad(given_snak, expected):
    assert snak(given_snak) == expected


def test_an_item_value_with_only_a_numeric_id_still_names_its_item():
    assert item_id({"entity-type": "item", "numeric-id": 5598}) == "Q5598"
    assert item_id({"id": "Q0", "numeric-id": 5598}) == "Q5598"
    assert item_id({"numeric-id": True}) is item_id({"numeric-id": 0}) is item_id("Q1") is None


# --- time ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    (time("+1650-03-14T00:00:00Z", 11), Span(1650, 1650, "1650-03-14")),
    (time("+1650-03-14T12:30:00Z", 14), Span(1650, 1650, "1650-03-14")),
    (time("+1650-03-00T00:00:00Z", 10), Span(1650, 1650, "1650-03")),
    (year(1650), Span(1650, 1650, "1650")),
    (time("+00000001650-00-00T00:00:00Z", 9), Span(1650, 1650, "1650")),
    (year(1654, 8), Span(1650, 1659, "1650s")),
    (year(1650, 7), Span(1601, 1700, "17th century")),
    (year(1700, 7), Span(1601, 1700, "17th century")),
    (year(1601, 7), Span(1601, 1700, "17th century")),
    (year(1600, 7), Span(1501, 1600, "16th century")),
    (year(1150, 7), Span(1101, 1200, "12th century")),
    (year(2001, 7), Span(2001, 2100, "21st century")),
    (year(1650, 6), Span(1001, 2000, "2nd millennium")),
    (year(1650, 5), None), (year(1650, 0), None),
    (time("-0500-00-00T00:00:00Z", 9), None), (year(0), None),
    (time("+10000-00-00T00:00:00Z", 9), None),
    (time("1650-00-00T00:00:00Z", 9), None), (time("+1650", 9), None),
    (time("around 1650", 9), None), ({"time": "+1650-00-00T00:00:00Z"}, None),
    ({**year(1650), "precision": "9"}, None), ({**year(1650), "precision": True}, None),
    ({**year(1650), "time": 1650}, None), ("+1650-00-00T00:00:00Z", None),
])
def test_a_time_value_is_the_span_of_years_its_precision_allows(value, expected):
    assert time_span(value) == expected


def test_a_padded_year_keeps_its_full_date_text():
    assert time_span(time("+00000001650-03-14T00:00:00Z", 11)).text == "1650-03-14"
    assert time_span(time("+00000001650-03-00T00:00:00Z", 10)).text == "1650-03"


def test_earliest_and_latest_date_qualifiers_widen_a_date():
    s = statement(INCEPTION, year(1654, 8), P1319=[year(1648)], P1326=[year(1662)])
    assert date_span(entity(s), INCEPTION) == Span(1648, 1662, "1650s (between 1648 and 1662)")


def test_qualifiers_widen_a_date_but_never_narrow_it():
    s = statement(INCEPTION, year(1650, 7), P1319=[year(1620)], P1326=[year(1680)])
    assert date_span(entity(s), INCEPTION) == Span(
        1601, 1700, "17th century (between 1601 and 1700)")


def test_an_unknown_date_between_two_qualifiers_is_their_span():
    s = statement(INCEPTION, kind="somevalue", P1319=[year(1600)], P1326=[year(1620)])
    assert date_span(entity(s), INCEPTION) == Span(1600, 1620, "(between 1600 and 1620)")


def test_unusable_qualifiers_leave_the_date_as_it_is():
    s = statement(DEATH, year(1650), P1319=["somevalue", year(1600, 3)], P1326=["1700"])
    assert date_span(entity(s), DEATH) == Span(1650, 1650, "1650")


def test_an_earliest_date_alone_never_becomes_the_latest_possible_date():
    s = statement(INCEPTION, kind="somevalue", P1319=[year(1800)])
    span = date_span(entity(s), INCEPTION)
    assert span is None or span.last > 1800


def test_several_best_rank_dates_are_one_span_covering_them_all():
    e = entity(statement(DEATH, year(1650)), statement(DEATH, year(1664, 8)),
               statement(DEATH, year(1650)), statement(DEATH, kind="somevalue"),
               statement(DEATH, year(1990), rank="deprecated"))
    assert date_span(e, DEATH) == Span(1650, 1669, "1650 or 1660s")
    assert date_span(entity(statement(DEATH, kind="novalue")), DEATH) is None


# --- creators -----------------------------------------------------------------------------------


def test_a_plain_creator_is_a_named_hand_without_qualifier():
    found = credits(entity(statement(CREATOR, item("Q5598"))))
    assert found == [Credit("Q5598", None, False)] and qualifier_of(found) is None


def test_an_unknown_creator_workshop_of_a_master_credits_the_master():
    s = statement(CREATOR, kind="somevalue", P3831=[item("Q4233718")], P1774=[item("Q5598")])
    found = credits(entity(s))
    assert found == [Credit("Q5598", "workshop of", True)]
    assert qualifier_of(found) == "workshop of"


def test_the_anonymous_item_as_creator_is_an_unknown_hand():
    assert credits(entity(statement(CREATOR, item("Q4233718")))) == [Credit(None, None, True)]
    s = statement(CREATOR, item("Q4233718"), P1776=[item("Q4233718")])
    assert credits(entity(s)) == [Credit(None, "circle of", True)]


def test_attributed_to_as_a_qualifier_names_the_hand_it_attributes():
    s = statement(CREATOR, kind="somevalue", P1773=[item("Q5598")])
    assert credits(entity(s)) == [Credit("Q5598", "attributed to", True)]


def test_the_nature_of_statement_attribution_makes_a_creator_attributed_to():
    s = statement(CREATOR, item("Q5598"), P5102=[item("Q230768")])
    assert credits(entity(s)) == [Credit("Q5598", "attributed to", False)]
    s = statement(CREATOR, item("Q5598"), P5102=[item("Q18603603")])
    assert credits(entity(s)) == [Credit("Q5598", "possibly by", False)]


def test_after_a_work_by_as_a_statement_of_the_painting_credits_the_master():
    e = entity(statement(CREATOR, kind="somevalue"), statement("P1877", item("Q5598")))
    assert credits(e) == [Credit("Q5598", "after", True)]
    assert credits(entity(statement("P1877", item("Q5598")))) == [Credit("Q5598", "after", True)]


def test_a_named_creator_outweighs_an_attribution_statement_of_the_painting():
    e = entity(statement(CREATOR, item("Q167654")), statement("P1877", item("Q5598")))
    assert credits(e) == [Credit("Q167654", None, False)]


def test_a_novalue_or_malformed_creator_is_ignored():
    e = entity(statement(CREATOR, kind="novalue"), statement(CREATOR, item("Q5598")))
    e["claims"][CREATOR].append({"mainsnak": {"snaktype": "value"}, "rank": "normal"})
    assert credits(e) == [Credit("Q5598", None, False)]
    assert credits(entity(statement(CREATOR, kind="novalue"))) == []


def test_a_deprecated_creator_is_not_a_creator():
    e = entity(statement(CREATOR, item("Q5598"), rank="deprecated"),
               statement(CREATOR, kind="somevalue"))
    assert credits(e) == [Credit(None, None, True)]


# --- copyright ----------------------------------------------------------------------------------

PD, COPYRIGHTED, US, PMA_100 = "Q19652", "Q50423863", "Q30", "Q60332278"


@pytest.mark.parametrize(("found", "expected"), [
    ([statement("P6216", item(PD))], True),
    ([statement("P6216", item(PD), P1001=[item(US)])], False),
    ([statement("P6216", item(PD), P1001=[item(PMA_100)], P459=[item("Q29940705")])], True),
    ([statement("P6216", item(PD), P1001=[item(US), item(PMA_100)])], True),
    ([statement("P6216", item(COPYRIGHTED))], False),
    ([statement("P6216", item(PD)), statement("P6216", item(COPYRIGHTED), P1001=[item("Q142")])],
     False),
    ([statement("P6216", item(PD), rank="deprecated")], None),
    ([statement("P6216", kind="somevalue")], None),
    ([], None),
])
def test_the_copyright_status_says_public_domain_only_beyond_the_united_states(found, expected):
    assert status_says(copyright_statuses(entity(*found))) is expected


def test_copyright_statuses_keep_each_status_with_its_jurisdictions():
    e = entity(statement("P6216", item(PD), P1001=[item(US), "somevalue"]),
               statement("P6216", kind="novalue"))
    assert copyright_statuses(e) == [{"status": PD, "jurisdictions": [US, "somevalue"]},
                                     {"status": "novalue", "jurisdictions": []}]


# --- labels -------------------------------------------------------------------------------------


def test_the_label_is_in_the_first_language_that_has_one_else_any():
    e = entity(labels={"nl": "De Nachtwacht", "en": "The Night Watch", "de": " Die Nachtwache "})
    assert label(e, ["fr", "en", "nl"]) == "The Night Watch"
    assert label(e, ["nl", "en"]) == "De Nachtwacht"
    assert label(e, ["fr"]) == "Die Nachtwache"
    assert label(entity(labels={"en": " ", "fr": "La Ronde"}), ["en"]) == "La Ronde"
    assert label(entity(), ["en"]) is label({"labels": {"en": "x"}}, ["en"]) is None


# --- property test ------------------------------------------------------------------------------

PROPS = [CREATOR, DEATH, INCEPTION, "P6216", "P1001", "P1319", "P1326", "P1774", "P1877", "P5102"]


def mostly(strategy):
    """``strategy`` three times in four, else any JSON value, so the fuzz reaches deep fields."""
    return st.integers(0, 3).flatmap(lambda n: strategy if n else JSON_VALUES)


ANY_TIME = st.fixed_dictionaries({
    "time": mostly(st.from_regex(r"\A[+-]0{0,12}[0-9]{1,5}-[0-9]{2}-[0-9]{2}T")),
    "precision": mostly(st.integers(-2, 16))})
ANY_ITEM = st.fixed_dictionaries({}, optional={
    "id": mostly(st.sampled_from(["Q5598", "Q4233718", "Q19652", "Q30", "Q0"])),
    "numeric-id": mostly(st.integers())})
ANY_SNAK = mostly(st.fixed_dictionaries({
    "snaktype": mostly(st.sampled_from(["value", "somevalue", "novalue"])),
    "datavalue": mostly(st.fixed_dictionaries({"value": mostly(ANY_TIME | ANY_ITEM)}))}))
ANY_STATEMENT = mostly(st.fixed_dictionaries({
    "mainsnak": ANY_SNAK, "rank": mostly(st.sampled_from(["preferred", "normal"])),
    "qualifiers": mostly(st.dictionaries(st.sampled_from(PROPS), mostly(
        st.lists(ANY_SNAK, max_size=3)), max_size=3))}))
ANY_ENTITY = mostly(st.fixed_dictionaries({
    "claims": mostly(st.dictionaries(st.sampled_from(PROPS), mostly(
        st.lists(ANY_STATEMENT, max_size=3)), max_size=4)),
    "labels": mostly(st.dictionaries(st.text(max_size=3), mostly(
        st.fixed_dictionaries({"value": JSON_VALUES})), max_size=3))}))


@settings(max_examples=200, deadline=None)
@given(ANY_ENTITY)
def test_no_entity_makes_the_readers_raise(e):
    for prop in PROPS:
        assert all(isinstance(s, dict) for s in statements(e, prop))
        span = date_span(e, prop)
        assert span is None or span.first <= span.last
    assert all(isinstance(c, Credit) for c in credits(e))
    assert status_says(copyright_statuses(e)) in (True, False, None)
    assert label(e, ["en"]) is None or isinstance(label(e, ["en"]), str)


# --- inventory numbers ----------------------------------------------------------------------------


def test_an_inventory_number_comes_with_each_collection_that_gives_it():
    found = entity(statement("P217", "1958.31", P195=[item("Q657415")]),
                   statement("P217", " 40.2 ", P195=[item("Q160236"), item("Q160236")]))
    assert inventory_numbers(found) == [("Q657415", "1958.31"), ("Q160236", "40.2")]


def test_every_collection_keeps_its_number_whatever_the_ranks_but_deprecated_ones_go():
    # A preferred number of one museum says nothing against another museum's number.
    found = entity(statement("P217", "A 1", rank="preferred", P195=[item("Q160236")]),
                   statement("P217", "1958.31", P195=[item("Q657415")]),
                   statement("P217", "1958.3", rank="deprecated", P195=[item("Q657415")]))
    assert inventory_numbers(found) == [("Q160236", "A 1"), ("Q657415", "1958.31")]


def test_a_number_without_its_collection_or_without_a_value_names_nothing():
    found = entity(statement("P217", "1958.31"), statement("P217", kind="somevalue",
                                                           P195=[item("Q657415")]),
                   statement("P217", "7", P195=["somevalue"]))
    assert inventory_numbers(found) == []
