"""An SLO's figures from the metric store at one moment: SLI over its window, budget, burn rates
over the alert windows, and which alerts fire. All queries of one evaluation share a sample
source, so overlapping selectors are read once."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from decimal import Decimal

from metrics.promql.engine import instant_query
from metrics.promql.lexer import parse_duration
from metrics.promql.source import SampleSource, new_source
from metrics.promql.values import Scalar, Vector
from metrics.slo.burn import (
    BURN_WINDOWS,
    AlertCheck,
    Budget,
    budget_status,
    burn_rate,
    check_alerts,
    error_ratio,
    firing_severity,
    hours_to_exhaustion,
)
from metrics.slo.queries import event_queries
from metrics.slo.spec import TIMESLICES, SLOSpec
from metrics.slo.timeslices import minute_slices
from metrics.slo.windows import window_range


@dataclass
class SLOStatus:
    at_ms: int
    budget: Budget
    ratios: dict[str, float | None] = field(default_factory=dict)
    events: dict[str, float | None] = field(default_factory=dict)
    burn_rates: dict[str, Decimal | None] = field(default_factory=dict)
    checks: list[AlertCheck] = field(default_factory=list)
    severity: str | None = None
    hours_to_exhaustion: Decimal | None = None


def _value(query: str, at_ms: int, source: SampleSource) -> float | None:
    value = instant_query(query, at_ms, source=source).value
    if isinstance(value, Scalar):
        number = float(value.values[0])
    elif isinstance(value, Vector):
        present = [float(s.values[0]) for s in value.series if s.present[0]]
        if not present:
            return None
        number = sum(present)
    else:
        return None
    return None if math.isnan(number) else number


def events_over(
    spec: SLOSpec, window: str, at_ms: int, source: SampleSource
) -> tuple[float | None, float | None]:
    """(bad events, total events) over the window ending at at_ms."""
    queries = event_queries(spec, window)
    total = _value(queries.total, at_ms, source)
    first = _value(queries.bad, at_ms, source)
    total_events = None if total is None else total * queries.total_scale
    counted = None if first is None else first * queries.bad_scale
    if queries.bad_is_good:
        if total_events is None:
            return None, None
        return max(0.0, total_events - (counted or 0.0)), total_events
    return counted, total_events


def evaluate_slo(
    spec: SLOSpec, *, at_ms: int | None = None, source: SampleSource | None = None
) -> SLOStatus:
    at = int(time.time() * 1000) if at_ms is None else at_ms
    shared = source or new_source()
    window_text = window_range(spec.window, at, spec.time_zone)
    status = SLOStatus(at, Budget(None, None, None, None, None, None))
    bad: float | None
    total: float | None
    if spec.budgeting == TIMESLICES:
        # Good minutes over minutes with traffic; event counts still guard the alerts.
        minutes = minute_slices(
            spec, at_ms=at, window_ms=parse_duration(window_text), source=shared
        )
        bad, total = minutes.over_last(len(minutes.bad))
        for window in BURN_WINDOWS:
            bad_minutes, with_data = minutes.over_last(int(parse_duration(window) // 60_000))
            status.ratios[window] = error_ratio(bad_minutes, with_data)
            status.events[window] = events_over(spec, window, at, shared)[1]
            status.burn_rates[window] = burn_rate(status.ratios[window], spec.objective_percent)
    else:
        bad, total = events_over(spec, window_text, at, shared)
        for window in BURN_WINDOWS:
            window_bad, window_total = events_over(spec, window, at, shared)
            status.ratios[window] = error_ratio(window_bad, window_total)
            status.events[window] = window_total
            status.burn_rates[window] = burn_rate(status.ratios[window], spec.objective_percent)
    per_minute = None
    if status.events.get("5m"):
        per_minute = float(status.events["5m"] or 0) / 5
    status.budget = budget_status(
        bad_events=bad, total_events=total, objective_percent=spec.objective_percent,
        events_per_minute_now=per_minute,
    )  # fmt: skip
    status.checks = check_alerts(
        status.ratios, status.events, objective_percent=spec.objective_percent,
        window=spec.window, min_events=spec.min_events,
    )  # fmt: skip
    status.severity = firing_severity(status.checks)
    status.hours_to_exhaustion = hours_to_exhaustion(
        status.burn_rates.get("1h"), window=spec.window,
        remaining_fraction=status.budget.remaining_fraction or Decimal(0),
    )  # fmt: skip
    return status
