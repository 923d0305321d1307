"""Timeslices budgeting (OpenSLO): the SLI counts good minutes, not good events. A minute with
traffic is good when its own good ratio meets the SLO's timeslice target; minutes without
traffic count neither way. Every window's figures then come from the same minute flags."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from metrics.promql.engine import Evaluator
from metrics.promql.parser import parse
from metrics.promql.source import SampleSource
from metrics.promql.values import summed_per_step
from metrics.slo.queries import event_queries
from metrics.slo.spec import SLOSpec

MINUTE_MS = 60_000


@dataclass(frozen=True)
class Minutes:
    bad: np.ndarray  # per minute: traffic, and below the timeslice target
    with_data: np.ndarray  # per minute: any traffic at all

    def over_last(self, minutes: int) -> tuple[float, float]:
        """(bad minutes, minutes with traffic) over the newest `minutes` slices."""
        return float(self.bad[-minutes:].sum()), float(self.with_data[-minutes:].sum())


def minute_slices(spec: SLOSpec, *, at_ms: int, window_ms: int, source: SampleSource) -> Minutes:
    """Judge every minute of the window ending at `at_ms`."""
    count = max(1, window_ms // MINUTE_MS)
    steps = np.arange(at_ms - (count - 1) * MINUTE_MS, at_ms + 1, MINUTE_MS, dtype=np.int64)
    queries = event_queries(spec, "1m")
    evaluator = Evaluator(steps, source)
    total = summed_per_step(evaluator.evaluate(parse(queries.total)), count) * queries.total_scale
    counted = summed_per_step(evaluator.evaluate(parse(queries.bad)), count) * queries.bad_scale
    counted = np.where(np.isnan(counted), 0.0, counted)
    bad_events = total - counted if queries.bad_is_good else counted
    with_data = np.nan_to_num(total) > 0
    target = float((spec.timeslice_target_percent or spec.objective_percent) / Decimal(100))
    with np.errstate(all="ignore"):
        good_fraction = 1 - bad_events / total
    return Minutes(bad=with_data & (good_fraction < target), with_data=with_data)
