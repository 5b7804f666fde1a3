"""curate.filters: a record's failed rules are all named, and artist allow and deny lists ignore
case.
"""

from curate.filters import FilterConfig, failed_rules
from tests.projects import PARAMS


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
    curate = PARAMS["curate"]  # the committed section: from_params reads every key
    deny = FilterConfig.from_params({**curate, "artist_deny": ["jan  VERMEER"]})
    assert failed_rules(row(), deny)[0] == ["artist_deny"]
    allow = FilterConfig.from_params({**curate, "artist_allow": ["Someone Else"]})
    assert failed_rules(row(), allow)[0] == ["artist_not_allowed"]
