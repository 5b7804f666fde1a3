"""The licence gate: public domain only when the source's flag AND a rule on dates agree.

Neither kind of evidence is trusted alone: museums flag modern works as public domain by
mistake, and dates say nothing about a photograph's own rights or a museum's terms. Each
record gets a verdict and the name of the rule that decided, so that any image in the training
set can show why it is there.

Date rules (all years from params, never from the clock, so that reruns agree):

- ``life+70``: the named artist died at least ``min_years_since_death`` (71) years before
  ``current_year`` (life + 70 years, counted to the end of the death year).
- ``undated``: no usable death year, or a later hand ("after", "follower of", "circle of",
  ...) whose own dates are unknown: the work itself must have been created at least
  ``undated_min_age_years`` (170) years ago: up to 100 years of its author's life after the
  work, plus 70.
- ``workshop``: "workshop of" / "studio of": assistants may outlive the master, so both
  ``life+70`` for the master and the ``undated`` rule for the work must hold.

Disagreements (the flag says PD but the dates do not, or the other way round) are listed in a
report; only agreement lets a record through.
"""

from __future__ import annotations

from dataclasses import dataclass

LATER_HAND = {"after", "follower of", "circle of", "school of", "manner of", "style of",
              "imitator of", "copy after", "formerly attributed to"}
WORKSHOP = {"workshop of", "studio of"}
PD_LICENCES = {"PD", "CC0"}


@dataclass(frozen=True)
class LicenceRules:
    current_year: int = 2026
    min_years_since_death: int = 71
    undated_min_age_years: int = 170


@dataclass(frozen=True)
class Verdict:
    passes: bool
    rule: str  # which rule decided, e.g. "flag:CC0 + life+70 (died 1890)"
    flag_ok: bool
    dates_ok: bool
    reason: str | None  # reject reason when not passing
    disagreement: str | None  # "flag_pd_dates_not" / "dates_pd_flag_not" / None


def _int(value) -> int | None:
    try:
        if value is None or value != value:  # None or NaN
            return None
        return int(value)
    except (TypeError, ValueError):
        return None


def date_rule(death_year, date_end, qualifier, rules: LicenceRules) -> tuple[bool, str]:
    """(passes, description) of the date evidence alone."""
    death, created = _int(death_year), _int(date_end)
    qualifier = qualifier.strip().lower() if isinstance(qualifier, str) else ""
    latest_death = rules.current_year - rules.min_years_since_death
    latest_creation = rules.current_year - rules.undated_min_age_years
    life = None if death is None else (death <= latest_death, f"life+70 (died {death})")
    undated = (None if created is None else
               (created <= latest_creation, f"undated (created by {created})"))
    if qualifier in WORKSHOP:
        if life is None or undated is None:
            return False, "workshop: needs the master's death year and the creation date"
        return life[0] and undated[0], f"workshop: {life[1]} and {undated[1]}"
    if qualifier in LATER_HAND or life is None:
        if undated is None:
            return False, "no death year and no creation date"
        return undated[0], undated[1] + (f" [{qualifier}]" if qualifier else "")
    return life


def decide(license: str | None, flag, death_year, date_end, qualifier,
           rules: LicenceRules) -> Verdict:
    flag_ok = bool(flag) and flag == flag and (license in PD_LICENCES)
    dates_ok, description = date_rule(death_year, date_end, qualifier, rules)
    rule = f"flag:{license or 'none'} + {description}"
    disagreement = None
    if flag_ok and not dates_ok:
        disagreement = "flag_pd_dates_not"
    elif dates_ok and flag is not None and flag == flag and not flag:
        disagreement = "dates_pd_flag_not"
    if flag_ok and dates_ok:
        return Verdict(True, rule, True, True, None, None)
    reason = "licence:source_not_pd" if not flag_ok else "licence:dates"
    return Verdict(False, rule, flag_ok, dates_ok, reason, disagreement)
