"""CloudWatch metric alarm evaluation: M out of N datapoints against a threshold.

Pure functions only: no models, no ORM, no I/O. The caller fetches the datapoints of the
evaluation range and records the resulting state change; this module only decides.

Semantics follow the AWS CloudWatch user guide, "Configuring how CloudWatch alarms treat missing
data" (section "How alarm state is evaluated when data is missing", and its two example tables),
and the AWS Knowledge Center article "Why did my CloudWatch alarm send me a notification after a
single breached data point?" for the `missing` case of a lone breaching datapoint:

* CloudWatch reads an evaluation range longer than `evaluation_periods` (N).
* With at least N real datapoints in the range, the newest N real ones are evaluated and the
  treat-missing-data setting plays no part.
* With fewer, every real datapoint in the range is used, and missing ones are filled, as few as
  possible, following the setting: `breaching` and `notBreaching` fill; `missing` and `ignore` do
  not fill and decide from the real datapoints when they can (see `_decide_without_filling`).
* ALARM when at least `datapoints_to_alarm` (M) of the datapoints considered breach, OK otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum


class AlarmState(StrEnum):
    """The three states of a CloudWatch alarm."""

    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class TreatMissingData(StrEnum):
    """How missing datapoints count when there are fewer real ones than evaluation periods."""

    MISSING = "missing"
    NOT_BREACHING = "notBreaching"
    BREACHING = "breaching"
    IGNORE = "ignore"


class Comparison(Enum):
    """Threshold comparisons, with CloudWatch's operator names and the words used in reasons."""

    GREATER = (">", "GreaterThanThreshold", "greater than")
    GREATER_OR_EQUAL = (">=", "GreaterThanOrEqualToThreshold", "greater than or equal to")
    LESS = ("<", "LessThanThreshold", "less than")
    LESS_OR_EQUAL = ("<=", "LessThanOrEqualToThreshold", "less than or equal to")

    def __init__(self, symbol: str, cloudwatch_name: str, phrase: str) -> None:
        self.symbol = symbol
        self.cloudwatch_name = cloudwatch_name
        self.phrase = phrase

    @classmethod
    def parse(cls, text: str | Comparison) -> Comparison:
        """Accept `>`, `>=`, `<`, `<=` or the CloudWatch operator names."""
        if isinstance(text, Comparison):
            return text
        for comparison in cls:
            if text in (comparison.symbol, comparison.cloudwatch_name):
                return comparison
        accepted = ", ".join(f"{c.symbol!r}/{c.cloudwatch_name!r}" for c in cls)
        raise ValueError(f"unknown comparison {text!r}; expected one of {accepted}")

    def breaches(self, value: float, threshold: float) -> bool:
        """Whether `value` is on the alarming side of `threshold`."""
        if self is Comparison.GREATER:
            return value > threshold
        if self is Comparison.GREATER_OR_EQUAL:
            return value >= threshold
        if self is Comparison.LESS:
            return value < threshold
        return value <= threshold


@dataclass(frozen=True)
class ConsideredDatapoint:
    """One datapoint counted in the M out of N decision.

    `periods_ago` is 0 for the newest period of the evaluation range. `value` is None for a
    missing datapoint that the treat-missing-data setting filled in (`filled` is then True).
    """

    periods_ago: int
    value: float | None
    breaching: bool
    filled: bool = False
    timestamp: datetime | None = None


@dataclass(frozen=True)
class AlarmEvaluation:
    """The outcome of one evaluation.

    `state` is None when the alarm keeps its current state ("unchanged": `ignore` without enough
    data to decide). `datapoints` are those counted, oldest first; `deciding_datapoints` are the
    ones that decided the outcome and that the reason names.
    """

    state: AlarmState | None
    current_state: AlarmState
    reason: str
    datapoints: tuple[ConsideredDatapoint, ...]
    deciding_datapoints: tuple[ConsideredDatapoint, ...]

    @property
    def unchanged(self) -> bool:
        """True when the evaluation decided to keep the current state."""
        return self.state is None

    @property
    def next_state(self) -> AlarmState:
        """The state the alarm is in after this evaluation."""
        return self.current_state if self.state is None else self.state

    @property
    def is_transition(self) -> bool:
        """True when the alarm moves to a different state (a change to record and notify)."""
        return self.next_state != self.current_state


@dataclass(frozen=True)
class _RealDatapoint:
    periods_ago: int
    value: float
    breaching: bool
    timestamp: datetime | None


@dataclass(frozen=True)
class _Rule:
    """The alarm's validated settings, passed around the helpers as one value."""

    evaluation_periods: int
    datapoints_to_alarm: int
    comparison: Comparison
    threshold: float
    treat_missing_data: TreatMissingData


def default_evaluation_range(evaluation_periods: int) -> int:
    """How many of the newest periods to read for an alarm over `evaluation_periods` periods.

    CloudWatch reads more periods than N; how many depends on the period and the metric's
    resolution and is not published. Its documented examples read 5 for N = 3, so N + 2.
    """
    return evaluation_periods + 2


def evaluate_alarm(
    datapoints: Sequence[float | None],
    *,
    evaluation_periods: int,
    datapoints_to_alarm: int,
    comparison: str | Comparison,
    threshold: float,
    treat_missing_data: str | TreatMissingData = TreatMissingData.MISSING,
    current_state: str | AlarmState = AlarmState.INSUFFICIENT_DATA,
    evaluation_range: int | None = None,
    timestamps: Sequence[datetime] | None = None,
) -> AlarmEvaluation:
    """Decide an alarm's state from the datapoints of its evaluation range, oldest first.

    Each datapoint is a float or None (missing); NaN counts as missing. Only the newest
    `evaluation_range` datapoints are used (default `default_evaluation_range`); a range shorter
    than `evaluation_periods` is padded with missing datapoints at its old end. `timestamps`,
    when given, parallel `datapoints` and name them in the reason.
    """
    rule = _validated_rule(
        evaluation_periods, datapoints_to_alarm, comparison, threshold, treat_missing_data
    )
    current = _parse_state(current_state)
    window_size = _validated_range(evaluation_range, evaluation_periods)
    _check_timestamps(datapoints, timestamps)
    window = list(datapoints[-window_size:])
    window_times = list(timestamps[-window_size:]) if timestamps is not None else None
    real = _real_datapoints(window, window_times, rule)
    range_length = max(len(window), evaluation_periods)

    if len(real) >= evaluation_periods:
        return _decide(real[-evaluation_periods:], rule, current, filled=())
    if rule.treat_missing_data in (TreatMissingData.BREACHING, TreatMissingData.NOT_BREACHING):
        filled = _fill_missing(real, range_length, rule)
        return _decide(real, rule, current, filled=filled)
    return _decide_without_filling(real, range_length, rule, current)


def _validated_rule(
    evaluation_periods: int,
    datapoints_to_alarm: int,
    comparison: str | Comparison,
    threshold: float,
    treat_missing_data: str | TreatMissingData,
) -> _Rule:
    """Check the alarm settings; each error names the rule it breaks."""
    if evaluation_periods < 1:
        raise ValueError(f"evaluation_periods must be at least 1, got {evaluation_periods}")
    if not 1 <= datapoints_to_alarm <= evaluation_periods:
        raise ValueError(
            "datapoints_to_alarm must be between 1 and evaluation_periods "
            f"({evaluation_periods}), got {datapoints_to_alarm}"
        )
    if math.isnan(threshold):
        raise ValueError("threshold must be a number, got NaN")
    try:
        policy = TreatMissingData(treat_missing_data)
    except ValueError:
        accepted = ", ".join(p.value for p in TreatMissingData)
        raise ValueError(
            f"unknown treat_missing_data {treat_missing_data!r}; expected one of {accepted}"
        ) from None
    return _Rule(
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints_to_alarm,
        comparison=Comparison.parse(comparison),
        threshold=threshold,
        treat_missing_data=policy,
    )


def _parse_state(state: str | AlarmState) -> AlarmState:
    try:
        return AlarmState(state)
    except ValueError:
        accepted = ", ".join(s.value for s in AlarmState)
        raise ValueError(f"unknown alarm state {state!r}; expected one of {accepted}") from None


def _validated_range(evaluation_range: int | None, evaluation_periods: int) -> int:
    if evaluation_range is None:
        return default_evaluation_range(evaluation_periods)
    if evaluation_range < evaluation_periods:
        raise ValueError(
            f"evaluation_range must be at least evaluation_periods ({evaluation_periods}), "
            f"got {evaluation_range}"
        )
    return evaluation_range


def _check_timestamps(
    datapoints: Sequence[float | None], timestamps: Sequence[datetime] | None
) -> None:
    if timestamps is not None and len(timestamps) != len(datapoints):
        raise ValueError(
            f"timestamps must parallel datapoints: got {len(timestamps)} timestamps "
            f"for {len(datapoints)} datapoints"
        )


def _real_datapoints(
    window: list[float | None], window_times: list[datetime] | None, rule: _Rule
) -> list[_RealDatapoint]:
    """The reported datapoints of the window, oldest first, each marked breaching or not."""
    real: list[_RealDatapoint] = []
    for index, value in enumerate(window):
        if value is None or math.isnan(value):  # NaN is how some sources say "no data"
            continue
        real.append(
            _RealDatapoint(
                periods_ago=len(window) - 1 - index,
                value=value,
                breaching=rule.comparison.breaches(value, rule.threshold),
                timestamp=window_times[index] if window_times is not None else None,
            )
        )
    return real


def _fill_missing(
    real: list[_RealDatapoint], range_length: int, rule: _Rule
) -> list[ConsideredDatapoint]:
    """Fill just enough missing periods to reach N datapoints, newest missing periods first.

    Every real datapoint in the range is kept, however old, so only N minus their number are
    filled (CloudWatch "uses missing data points only as few times as possible").
    """
    needed = rule.evaluation_periods - len(real)
    present = {point.periods_ago for point in real}
    missing_ages = [age for age in range(range_length) if age not in present][:needed]
    breaching = rule.treat_missing_data is TreatMissingData.BREACHING
    return [
        ConsideredDatapoint(periods_ago=age, value=None, breaching=breaching, filled=True)
        for age in missing_ages
    ]


def _considered(point: _RealDatapoint) -> ConsideredDatapoint:
    return ConsideredDatapoint(
        periods_ago=point.periods_ago,
        value=point.value,
        breaching=point.breaching,
        timestamp=point.timestamp,
    )


def _oldest_first(points: list[ConsideredDatapoint]) -> tuple[ConsideredDatapoint, ...]:
    return tuple(sorted(points, key=lambda point: -point.periods_ago))


def _decide(
    real: list[_RealDatapoint],
    rule: _Rule,
    current: AlarmState,
    *,
    filled: Sequence[ConsideredDatapoint],
) -> AlarmEvaluation:
    """Count breaching datapoints among N (real plus filled): ALARM at M or more, else OK."""
    considered = _oldest_first([_considered(point) for point in real] + list(filled))
    breaching_count = sum(point.breaching for point in considered)
    alarming = breaching_count >= rule.datapoints_to_alarm
    deciding = tuple(point for point in considered if point.breaching == alarming)
    return AlarmEvaluation(
        state=AlarmState.ALARM if alarming else AlarmState.OK,
        current_state=current,
        reason=_threshold_reason(deciding, len(considered), alarming, rule),
        datapoints=considered,
        deciding_datapoints=deciding,
    )


def _decide_without_filling(
    real: list[_RealDatapoint], range_length: int, rule: _Rule, current: AlarmState
) -> AlarmEvaluation:
    """`missing` and `ignore` with fewer than N real datapoints: decide from the real ones.

    Reproduces the docs' tables: M or more real breaching datapoints give ALARM; any real
    non-breaching datapoint gives OK (rows `0----`, `----0`, `0-X--`). Otherwise the data is not
    enough: `ignore` keeps the current state and `missing` gives INSUFFICIENT_DATA, except that
    under `missing` a lone run of breaching datapoints whose oldest one is at least M periods old
    gives ALARM (row `X----` against `----X`; the Knowledge Center article states the rule).
    """
    breaching = [point for point in real if point.breaching]
    if len(breaching) >= rule.datapoints_to_alarm or (real and len(breaching) < len(real)):
        return _decide(real, rule, current, filled=())
    if rule.treat_missing_data is TreatMissingData.MISSING and breaching:
        oldest = breaching[0]
        if oldest.periods_ago + 1 >= rule.datapoints_to_alarm:
            return _stale_breach(real, oldest, rule, current)
    return _not_enough_data(real, range_length, rule, current)


def _stale_breach(
    real: list[_RealDatapoint], oldest: _RealDatapoint, rule: _Rule, current: AlarmState
) -> AlarmEvaluation:
    considered = _oldest_first([_considered(point) for point in real])
    reason = (
        f"Threshold Crossed: {len(real)} out of {len(real)} reported datapoints "
        f"{_listing(considered)} {_were(len(real))} {rule.comparison.phrase} the threshold "
        f"({_number(rule.threshold)}); the oldest began {oldest.periods_ago + 1} periods ago, "
        f"at least the {rule.datapoints_to_alarm} datapoints to alarm, and no datapoint since "
        f"was within the threshold."
    )
    return AlarmEvaluation(
        state=AlarmState.ALARM,
        current_state=current,
        reason=reason,
        datapoints=considered,
        deciding_datapoints=considered,
    )


def _not_enough_data(
    real: list[_RealDatapoint], range_length: int, rule: _Rule, current: AlarmState
) -> AlarmEvaluation:
    considered = _oldest_first([_considered(point) for point in real])
    summary = (
        f"{len(real)} of the last {range_length} datapoints reported"
        + (f" {_listing(considered)}" if considered else "")
        + f", {rule.evaluation_periods} needed"
    )
    if rule.treat_missing_data is TreatMissingData.IGNORE:
        state = None
        reason = f"Unchanged: {summary}; missing data is ignored, so the state is kept."
    else:
        state = AlarmState.INSUFFICIENT_DATA
        reason = f"Insufficient Data: {summary}."
    return AlarmEvaluation(
        state=state,
        current_state=current,
        reason=reason,
        datapoints=considered,
        deciding_datapoints=considered,
    )


def _threshold_reason(
    deciding: tuple[ConsideredDatapoint, ...], considered_count: int, alarming: bool, rule: _Rule
) -> str:
    """CloudWatch's wording: "2 out of the last 3 datapoints [...] were greater than ..."."""
    reported = tuple(point for point in deciding if not point.filled)
    filled_count = len(deciding) - len(reported)
    negation = "" if alarming else "not "
    listing = f" {_listing(reported)}" if reported else ""
    # Fewer than N means `missing`/`ignore` decided from the reported datapoints alone.
    out_of = "the last" if considered_count == rule.evaluation_periods else "the reported"
    text = (
        f"Threshold Crossed: {len(deciding)} out of {out_of} {considered_count} datapoints"
        f"{listing} {_were(len(deciding))} {negation}{rule.comparison.phrase} "
        f"the threshold ({_number(rule.threshold)})"
    )
    if filled_count:
        treated_as = "Breaching" if alarming else "NonBreaching"
        missing = _count(filled_count, "missing datapoint")
        text += f", including {missing} treated as [{treated_as}]"
    return text + "."


def _listing(points: Sequence[ConsideredDatapoint]) -> str:
    """`[7.0 (t-0), 5.0 (t-2)]`: values newest first, as CloudWatch lists them."""
    newest_first = sorted(points, key=lambda point: point.periods_ago)
    return "[" + ", ".join(_label(point) for point in newest_first) + "]"


def _label(point: ConsideredDatapoint) -> str:
    value = "missing" if point.value is None else _number(point.value)
    if point.timestamp is not None:
        return f"{value} ({point.timestamp:%d/%m/%y %H:%M:%S})"
    return f"{value} (t-{point.periods_ago})"


def _number(value: float) -> str:
    return repr(float(value))


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _were(count: int) -> str:
    return "was" if count == 1 else "were"
