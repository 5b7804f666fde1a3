"""curate.licence: the licence gate needs both kinds of evidence (the source's flag and the dates),
and every verdict names its rule.
"""

from hypothesis import given
from hypothesis import strategies as st

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
