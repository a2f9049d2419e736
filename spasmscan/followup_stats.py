"""Follow-up statistics: one patient's visits compared with a reference visit. Pure numbers, no files.

The rate of a visit is its one-sided episodes at rest on the compared side over its minutes of
tracked face at rest (``measures.rest_measures``); a patient whose reference visit is blepharospasm
is compared on "both" eyes, the rate being the prolonged closures of both eyes per minute of tracked
face outside prompted steps (``measures.clinical_measures``). Two visits' rates are compared by the exact
conditional test for two Poisson rates: given n = x0 + x1 episodes in all, the visit's x1 is
Binomial(n, pi) with pi = R t1 / (R t1 + t0), R the rate ratio, t0 and t1 the minutes at rest.
The Clopper-Pearson interval of pi maps to an exact interval of R; the two-sided p-value
(twice the smaller tail, at most 1) tests R = 1 and is below 1 - confidence exactly when the
interval leaves out 1. From scipy.special: scipy.stats takes over a second to import.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.special import bdtr, bdtrc, betaincinv, gammaincinv

from .errors import ParameterError
from .regions import SIDES, mirror_side

MIN_FALL = 0.5  # improved: the rate at least halved, the change botulinum toxin trials call a response
CONFIDENCE = 0.95  # level of every interval and of the response rule
RESPONSES = ("reference", "improved", "worse", "no clear change", "not assessable")
BOTH = "both"  # the comparison side of a blepharospasm patient: the prolonged closures of both eyes
REGIONS = {"eye": "eye", "mouth": "mouth", "eye_mouth": "eye+mouth"}  # column suffix: classify region


@dataclass(frozen=True)
class RateComparison:
    """A visit's rate of one-sided episodes at rest over the reference visit's: ratio and exact interval."""

    ratio: float  # NaN when neither visit had an episode; inf when only the visit had some
    ci_low: float
    ci_high: float  # inf when the reference visit had no episode
    p_value: float  # two-sided, exact, of ratio = 1


@dataclass(frozen=True)
class ResponseRule:
    """improved: the rate fell by at least ``min_fall`` (a share) and the interval lies below 1;
    worse: the interval lies above 1; otherwise no clear change. Intervals at ``confidence``."""

    min_fall: float = MIN_FALL
    confidence: float = CONFIDENCE

    def __post_init__(self):
        if not 0.0 <= self.min_fall < 1.0:
            raise ParameterError(f"the fall needed for 'improved' must be in [0, 1) (a share), got {self.min_fall}")
        if not 0.5 <= self.confidence < 1.0:
            raise ParameterError(f"the confidence level must be in [0.5, 1), got {self.confidence}")

    def text(self) -> str:
        level = f"{100 * self.confidence:g}%"
        return (f"improved: rate ratio <= {1 - self.min_fall:g} (a fall of at least {100 * self.min_fall:g}%) and "
                f"its {level} interval below 1; worse: the interval above 1; otherwise no clear change")

    def response(self, comparison: RateComparison) -> str:
        """One of RESPONSES (not 'reference') for ``comparison``."""
        if math.isnan(comparison.ci_low):
            return "not assessable"
        if comparison.ratio <= 1.0 - self.min_fall and comparison.ci_high < 1.0:
            return "improved"
        if comparison.ci_low > 1.0:
            return "worse"
        return "no clear change"


def rate_interval(count: int, minutes: float, *, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact (Garwood) interval of a Poisson rate per minute: ``count`` events in ``minutes``."""
    if not minutes > 0:
        return math.nan, math.nan
    alpha = 1.0 - confidence
    low = float(gammaincinv(count, alpha / 2)) if count > 0 else 0.0
    return low / minutes, float(gammaincinv(count + 1, 1.0 - alpha / 2)) / minutes


def rate_ratio_test(*, count: int, minutes: float, reference_count: int, reference_minutes: float,
                    confidence: float = CONFIDENCE) -> RateComparison:
    """(count / minutes) / (reference_count / reference_minutes) with its exact conditional interval
    and two-sided p-value; all NaN when either visit has no time at rest."""
    if count < 0 or reference_count < 0:
        raise ParameterError("episode counts must be >= 0")
    if not (minutes > 0 and reference_minutes > 0):
        return RateComparison(math.nan, math.nan, math.nan, math.nan)
    n = count + reference_count
    if n == 0:
        return RateComparison(math.nan, 0.0, math.inf, 1.0)
    alpha = 1.0 - confidence
    share_low = float(betaincinv(count, n - count + 1, alpha / 2)) if count > 0 else 0.0
    share_high = float(betaincinv(count + 1, n - count, 1.0 - alpha / 2)) if count < n else 1.0

    def to_ratio(share: float) -> float:  # the binomial share of the visit -> the rate ratio
        return math.inf if share >= 1.0 else share * reference_minutes / ((1.0 - share) * minutes)

    null_share = minutes / (minutes + reference_minutes)
    lower_tail = float(bdtr(count, n, null_share))
    upper_tail = float(bdtrc(count - 1, n, null_share)) if count > 0 else 1.0
    ratio = math.inf if reference_count == 0 else (count / minutes) / (reference_count / reference_minutes)
    return RateComparison(ratio=ratio, ci_low=to_ratio(share_low), ci_high=to_ratio(share_high),
                          p_value=min(1.0, 2.0 * min(lower_tail, upper_tail)))


# -- one visit's measures ------------------------------------------------------------------------
MEASURE_COLUMNS = ("tracked_minutes", "rest_minutes", "one_sided_per_min", "one_sided_per_min_eye",
                   "one_sided_per_min_mouth", "one_sided_per_min_eye_mouth", "rest_episodes",
                   "rest_episodes_per_min", "rest_rate_ci_low", "rest_rate_ci_high", "spasm_time_pct",
                   "longest_spasm_s", "spread_to_mouth", "jrs_frequency_estimate", "blinks_per_min",
                   "eye_opening_ratio")
# Measures whose change against the reference visit (visit minus reference) gets a change_ column.
CHANGED = ("one_sided_per_min", "one_sided_per_min_eye", "one_sided_per_min_mouth", "one_sided_per_min_eye_mouth",
           "rest_episodes_per_min", "spasm_time_pct", "longest_spasm_s", "spread_to_mouth",
           "jrs_frequency_estimate", "blinks_per_min", "eye_opening_ratio")


def _number(value) -> float | int:
    """``value`` as a number (integers stay integers, booleans 0/1); NaN when missing or not a number
    (reports write unknowns as empty or None)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def visit_measures(summary: dict, measures: dict, *, side: str, confidence: float = CONFIDENCE) -> dict:
    """The MEASURE_COLUMNS of one analysed visit, rates counted on ``side`` ("left", "right", "both" or
    "none"; "both": rest_episodes are the prolonged closures of both eyes, rest_minutes their minutes).

    summary: the visit's summary row (report.summary_row); measures: its measures.clinical_measures.
    spasm_time_pct, longest_spasm_s, spread_to_mouth and jrs_frequency_estimate are those of the
    visit's own more active side, as in its summary.
    """
    tracked_min = _number(measures.get("tracked_s")) / 60.0
    rest_min = _number(measures.get("rest_minutes"))
    row = {"tracked_minutes": tracked_min, "rest_minutes": rest_min}
    for column in ("spasm_time_pct", "longest_spasm_s", "jrs_frequency_estimate", "blinks_per_min"):
        row[column] = _number(summary.get(column, measures.get(column)))
    spread = summary.get("spread_to_mouth", measures.get("spread_to_mouth"))
    row["spread_to_mouth"] = spread if isinstance(spread, bool) else None
    if side == BOTH:
        row["rest_minutes"] = rest_min = _number(measures.get("closure_minutes"))
        episodes = measures.get("prolonged_closures")
    elif side in SIDES:
        count = _number(measures.get(f"twitches_{side}", summary.get(f"twitches_{side}")))
        row["one_sided_per_min"] = count / tracked_min if tracked_min > 0 else math.nan
        for suffix, region in REGIONS.items():
            row[f"one_sided_per_min_{suffix}"] = _number(measures.get(f"twitches_per_min_{side}_{region}"))
        episodes = measures.get(f"rest_episodes_{side}")
    else:
        row.update({column: math.nan for column in MEASURE_COLUMNS if column not in row})
        row["rest_episodes"] = None
        return row
    row["rest_episodes"] = int(episodes) if isinstance(episodes, (int, float)) and math.isfinite(episodes) else None
    if row["rest_episodes"] is not None and rest_min > 0:
        row["rest_episodes_per_min"] = row["rest_episodes"] / rest_min
        row["rest_rate_ci_low"], row["rest_rate_ci_high"] = rate_interval(row["rest_episodes"], rest_min,
                                                                          confidence=confidence)
    else:
        row["rest_episodes_per_min"] = row["rest_rate_ci_low"] = row["rest_rate_ci_high"] = math.nan
    if side == BOTH:
        row.update({column: math.nan for column in MEASURE_COLUMNS if column not in row})
        return row
    affected = _number(measures.get(f"rest_eye_aperture_{side}"))
    other = _number(measures.get(f"rest_eye_aperture_{mirror_side(side)}"))
    row["eye_opening_ratio"] = affected / other if other > 0 else math.nan
    return row


def change(value, reference) -> float:
    """value - reference for numbers (booleans as 0/1); NaN when either is unknown."""
    return _number(value) - _number(reference)


def compare_visit(row: dict, reference: dict, rule: ResponseRule) -> dict:
    """The comparison columns of a visit's measures ``row`` against the reference visit's ``reference``:
    change_COLUMN for CHANGED, rate_ratio, its interval and p-value, and the response."""
    out = {f"change_{column}": change(row.get(column), reference.get(column)) for column in CHANGED}
    count, reference_count = row.get("rest_episodes"), reference.get("rest_episodes")
    if count is None or reference_count is None:
        comparison = RateComparison(math.nan, math.nan, math.nan, math.nan)
    else:
        comparison = rate_ratio_test(count=count, minutes=row["rest_minutes"], reference_count=reference_count,
                                     reference_minutes=reference["rest_minutes"], confidence=rule.confidence)
    out.update(rate_ratio=comparison.ratio, rate_ratio_ci_low=comparison.ci_low,
               rate_ratio_ci_high=comparison.ci_high, rate_ratio_p_value=comparison.p_value,
               response=rule.response(comparison))
    return out


def comparison_side(reference_summary: dict, reference_measures: dict, counts_by_side: dict) -> tuple[str, bool]:
    """The side a patient's visits are compared on, and whether the reference verdict named it.

    "both" when the reference visit is blepharospasm (its prolonged closures are compared); else the
    reference visit's verdict side; without one, the side with more one-sided events in the
    reference visit, then in all the patient's visits (``counts_by_side``: side -> events); "none"
    when no visit has any.
    """
    if reference_summary.get("classification") == "blepharospasm":
        return BOTH, True
    side = reference_summary.get("affected_side")
    if side in SIDES:
        return side, True
    by_count = reference_measures.get("affected_side_by_count")
    if by_count in SIDES:
        return by_count, False
    if any(counts_by_side.get(s, 0) for s in SIDES):
        return max(SIDES, key=lambda s: (counts_by_side.get(s, 0), s == "left")), False
    return "none", False
