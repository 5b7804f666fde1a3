"""The licence gate needs both kinds of evidence; filters name every rule a record fails."""

from hypothesis import given
from hypothesis import strategies as st

from curate.filters import FilterConfig, failed_rules
from curate.licence import LicenceRules, decide

RULES = LicenceRules(current_year=2026, min_years_since_death=71, undated_min_age_years=170)
licences = st.sampled_from(["PD", "CC0", "CC-BY", "CC-BY-SA", "copyrighted", "unknown", None])
flags = st.sampled_from([True, False, None, float("nan")])
years = st.one_of(st.none(), st.integers(-500, 2100), st.just(float("nan")))
qualifiers = st.sampled_from([None, "", "workshop of", "after", "follower of", "attributed to",
                              "circle of", "possibly by", "Workshop Of",
                              float("nan")])


@given(licences, flags, years, years, qualifiers)
def test_never_passes_without_both_flag_and_dates(licence, flag, death, created, qualifier):
    verdict = decide(licence, flag, death, created, qualifier, RULES)
    if verdict.passes:
        assert flag is True and licence in ("PD", "CC0")
        later_hand = isinstance(qualifier, str) and qualifier.lower() in (
            "after", "follower of", "circle of")
        if death is not None and death == death and not later_hand:
            assert death <= 2026 - 71
        else:
            assert created is not None and created == created and created <= 2026 - 170
    assert verdict.rule  # every verdict names its rule


def test_each_rule_by_example():
    assert decide("PD", True, 1890, 1880, None, RULES).passes
    assert "life+70 (died 1890)" in decide("PD", True, 1890, 1880, None, RULES).rule
    assert not decide("PD", True, 1960, 1930, None, RULES).passes  # died too recently
    assert decide("PD", True, 1960, 1930, None, RULES).disagreement == "flag_pd_dates_not"
    assert not decide("copyrighted", False, 1600, 1580, None, RULES).passes
    assert decide("copyrighted", False, 1600, 1580, None, RULES).disagreement == \
        "dates_pd_flag_not"
    assert decide("CC0", True, None, 1650, None, RULES).passes  # undated rule
    assert not decide("CC0", True, None, 1870, None, RULES).passes
    # A later hand: the named master's death year is not evidence.
    assert not decide("PD", True, 1600, 1890, "after", RULES).passes
    assert decide("PD", True, 1600, 1700, "after", RULES).passes
    # Workshop: the master's life and the work's date must both be old enough.
    assert decide("PD", True, 1700, 1690, "workshop of", RULES).passes
    assert not decide("PD", True, 1700, None, "workshop of", RULES).passes


def row(**kw):
    base = {"status": "stored", "license": "PD", "is_public_domain_flag": True,
            "artist_death_year": 1800, "date_start": 1750, "date_end": 1760,
            "attribution_qualifier": None, "object_type": "painting", "width": 800,
            "height": 600, "artist": "Jan Vermeer", "hash_error": None}
    return {**base, **kw}


def test_filters_name_every_failed_rule():
    config = FilterConfig()
    assert failed_rules(row(), config)[0] == []
    reasons, _ = failed_rules(row(date_start=1300, date_end=1310, object_type="drawing",
                                  width=200, height=150, is_public_domain_flag=False,
                                  license="copyrighted"), config)
    assert reasons == ["licence:source_not_pd", "date_window", "object_type:drawing",
                       "resolution:200x150"]
    assert failed_rules(row(width=3000, height=500), config)[0] == ["aspect_ratio:6.00"]
    assert failed_rules(row(date_start=None, date_end=None), config)[0][-1] == \
        "date_window:unknown"
    assert failed_rules(row(status="rejected", reason="truncated", width=None,
                            height=None), config)[0] == ["crawl:rejected:truncated"]


def test_artist_allow_and_deny_lists_are_case_insensitive():
    deny = FilterConfig.from_params({"artist_deny": ["jan  VERMEER"]})
    assert failed_rules(row(), deny)[0] == ["artist_deny"]
    allow = FilterConfig.from_params({"artist_allow": ["Someone Else"]})
    assert failed_rules(row(), allow)[0] == ["artist_not_allowed"]
