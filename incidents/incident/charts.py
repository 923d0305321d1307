"""Charts of an incident's linked alarms and SLOs over the incident window, as one plain,
JSON-serialisable dict: the incident page draws it live, a COE stores it as its frozen metrics.

The dict holds data, not a Plotly figure, so a stored snapshot stays readable whatever the
drawing code (static/incidents/incident/charts.js) becomes. Building it never raises for a bad
or slow query: that chart carries the `error` instead and the others are still drawn.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from django.utils import timezone

from incidents.incident.models import Incident, TimelineEntry
from metrics.alarms.models import Alarm
from metrics.promql.engine import range_query
from metrics.promql.errors import PromQLError
from metrics.promql.source import SampleSource, new_source
from metrics.promql.steps import MIN_STEP_MS, NICE_STEPS_S
from metrics.promql.values import FloatArray, Scalar, Vector, summed_per_step
from metrics.slo.burn import ALERT_WINDOWS, error_budget
from metrics.slo.models import SLO
from metrics.slo.queries import SLIError, event_queries
from metrics.slo.spec import SLOSpec
from metrics.timeouts import query_time_limit

logger = logging.getLogger(__name__)

MARGIN_MIN = timedelta(minutes=30)
MARGIN_SHARE = 0.25
MARGIN_MAX = timedelta(hours=6)
MAX_POINTS = 300
MAX_SERIES = 20  # an alarm expression should give one series; a runaway one must not bloat a page
SIGNIFICANT_DIGITS = 6
# The SRE Workbook's fast-burn page: 1 h and 5 m burn rates both above the row's factor.
PAGE_ROW = ALERT_WINDOWS[0]
BURN_UNIT = "\N{MULTIPLICATION SIGN}"  # burn rates are multiples of the sustainable rate


def incident_window(incident: Incident, now: datetime | None = None) -> tuple[datetime, datetime]:
    """From `started_at` minus a margin to (`resolved_at` or now) plus the same margin, never
    beyond now. The margin is 30 minutes, or a quarter of the incident's duration when that is
    longer, at most 6 hours: enough "before" to see what normal looked like."""
    now = now or timezone.now()
    end = incident.resolved_at or now
    duration = max(end - incident.started_at, timedelta(0))
    margin = min(max(MARGIN_MIN, duration * MARGIN_SHARE), MARGIN_MAX)
    start = incident.started_at - margin
    return start, max(start, min(end + margin, now))


def incident_markers(incident: Incident) -> list[dict[str, str]]:
    """Moments to mark on every chart, like the metrics tab of AWS Incident Manager, in time
    order (ties keep the order below); a moment not known yet is left out.

    - Incident start: `started_at`; Detected: `detected_at`;
    - Alarm: the first timeline entry of kind `alarm` (an alarm or SLO changed state);
    - Engaged: the first timeline entry written by a person (it has an author) of any kind but
      `alarm`, at or after detection (after the start when the detection time is unknown). A
      person opening the incident by hand therefore engages it; an incident an alarm opened is
      engaged by the first status change, note, action or deploy someone records. Entries
      before detection (a deploy that caused it) are not engagement.
    - Mitigation: `mitigated_at`; Resolved: `resolved_at`.
    """
    entries = list(incident.timeline.order_by("at", "id"))
    first_alarm = next((e for e in entries if e.kind == TimelineEntry.Kind.ALARM), None)
    engaged_from = incident.detected_at or incident.started_at
    engaged = next(
        (
            e
            for e in entries
            if e.author_id is not None
            and e.kind != TimelineEntry.Kind.ALARM
            and e.at >= engaged_from
        ),
        None,
    )
    moments = [
        ("Incident start", incident.started_at),
        ("Detected", incident.detected_at),
        ("Alarm", first_alarm.at if first_alarm else None),
        ("Engaged", engaged.at if engaged else None),
        ("Mitigation", incident.mitigated_at),
        ("Resolved", incident.resolved_at),
    ]
    known = [(label, at) for label, at in moments if at is not None]
    known.sort(key=lambda pair: pair[1])  # stable: simultaneous moments keep the order above
    return [{"label": label, "at": _iso(at)} for label, at in known]


def chart_step(range_ms: int, *, at_least_ms: int = MIN_STEP_MS) -> int:
    """The smallest familiar step (15 s, 30 s, 1 m, ... 1 d) of at least `at_least_ms` that
    gives at most MAX_POINTS points over the range."""
    for seconds in NICE_STEPS_S:
        step = seconds * 1000
        if step >= at_least_ms and range_ms // step + 1 <= MAX_POINTS:
            return step
    return max(at_least_ms, -(-range_ms // (MAX_POINTS - 1)))


def build_incident_charts(incident: Incident, now: datetime | None = None) -> dict[str, Any]:
    """One chart per linked alarm (its expression and threshold), then one per linked SLO (its
    1 h and 5 m burn rates against the fast-burn page threshold), over `incident_window`.

    ```
    {"window": {"start": iso, "end": iso},
     "incident": {"start": iso, "end": iso | None},
     "markers": [{"label": str, "at": iso}, ...],
     "charts": [{"title": str, "kind": "alarm" | "slo", "query": str, "unit": str,
                 "threshold": float | None,
                 "series": [{"name": str, "t": [iso, ...], "v": [float | None, ...]}],
                 "error": str | None}, ...]}
    ```
    Times are UTC, ISO 8601 with a Z, to the second. Values have 6 significant digits; a
    missing, NaN or infinite value is None.
    """
    start, end = incident_window(incident, now)
    start_ms, end_ms = _ms(start), _ms(end)
    source = new_source()  # shared: an alarm and an SLO on the same series read it once
    charts = [_alarm_chart(alarm, start_ms, end_ms, source) for alarm in _alarms(incident)]
    charts += [_slo_chart(slo, start_ms, end_ms, source) for slo in _slos(incident)]
    return {
        "window": {"start": _iso(start), "end": _iso(end)},
        "incident": {
            "start": _iso(incident.started_at),
            "end": _iso(incident.resolved_at) if incident.resolved_at else None,
        },
        "markers": incident_markers(incident),
        "charts": charts,
    }


# Alarms ------------------------------------------------------------------------------------


def _alarms(incident: Incident) -> Iterable[Alarm]:
    return incident.alarms.select_related("team")


def _alarm_chart(alarm: Alarm, start_ms: int, end_ms: int, source: SampleSource) -> dict[str, Any]:
    title = f"Alarm {alarm.team.name}/{alarm.name}"
    if alarm.kind != Alarm.Kind.THRESHOLD:
        # As the alarm's own page: only a threshold alarm has an expression to draw.
        what = "Composite" if alarm.kind == Alarm.Kind.COMPOSITE else "External"
        return _chart(
            title, "alarm", alarm.rule, threshold=None,
            error=f"{what} alarms have no expression to draw.",
        )  # fmt: skip
    title += f": {alarm.comparison} {alarm.threshold:g}"
    chart = _chart(title, "alarm", alarm.expression, threshold=_round(alarm.threshold))
    # Never finer than the alarm's period: the alarm's page draws one point per period.
    step = chart_step(end_ms - start_ms, at_least_ms=alarm.period_seconds * 1000)
    first, last = _grid(start_ms, end_ms, step)
    try:
        with query_time_limit():
            value = range_query(alarm.expression, first, last, step, source=source).value
    except Exception as exc:  # shown on the chart; the other charts are still drawn
        chart["error"] = _error_text(exc)
        return chart
    times = _times(first, last, step)
    if isinstance(value, Scalar):
        chart["series"] = [_series(alarm.name, times, value.values)]
    elif isinstance(value, Vector):
        for item in value.series[:MAX_SERIES]:
            values = np.where(item.present, item.values, np.nan)
            chart["series"].append(_series(_series_name(item.labels, alarm.name), times, values))
        if len(value.series) > MAX_SERIES:
            chart["error"] = f"Showing {MAX_SERIES} of {len(value.series)} series."
    return chart


def _series_name(labels: dict[str, str], fallback: str) -> str:
    name = labels.get("__name__", "")
    rest = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    if rest:
        return f"{name}{{{rest}}}"
    return name or fallback


# SLOs --------------------------------------------------------------------------------------


def _slos(incident: Incident) -> Iterable[SLO]:
    return incident.slos.select_related("service", "team")


def _slo_chart(slo: SLO, start_ms: int, end_ms: int, source: SampleSource) -> dict[str, Any]:
    """The burn rates the fast-burn page looks at: over 1 h (what pages, smoothed) and over 5 m
    (when the impact really started and stopped), against the page threshold (14.4 for 30
    days). Burn rate = error ratio / error budget, from event counts for every budgeting
    method (a timeslice SLO's burn here counts events, not bad minutes)."""
    title = f"SLO {slo.service.name}/{slo.name}: burn rate over 1 h and 5 m"
    chart = _chart(title, "slo", "", threshold=None)
    chart["unit"] = BURN_UNIT
    try:
        threshold = float(PAGE_ROW.factor(slo.window))
        chart["title"] = f"{title} (pages above {threshold:g})"
        chart["threshold"] = _round(threshold)
        spec = slo.to_spec()
        chart["query"] = _ratio_text(spec, PAGE_ROW.long)
        budget = float(error_budget(slo.objective_percent))
        step = chart_step(end_ms - start_ms)
        first, last = _grid(start_ms, end_ms, step)
        times = _times(first, last, step)
        with query_time_limit():
            for window in (PAGE_ROW.long, PAGE_ROW.short):
                ratio = _error_ratio(spec, window, first, last, step, source)
                name = f"{window} burn rate"
                chart["series"].append(_series(name, times, ratio / budget))
    except Exception as exc:  # shown on the chart; the other charts are still drawn
        chart["series"] = []
        chart["error"] = _error_text(exc)
    return chart


def _error_ratio(
    spec: SLOSpec, window: str, first: int, last: int, step: int, source: SampleSource
) -> FloatArray:
    """bad / total events over `window` ending at each step; NaN without traffic. A missing
    bad-event series with traffic means no errors, as the SLO's own evaluation counts it."""
    queries = event_queries(spec, window)
    steps = (last - first) // step + 1

    def summed(query: str) -> FloatArray:
        return summed_per_step(range_query(query, first, last, step, source=source).value, steps)

    total = summed(queries.total) * queries.total_scale
    counted = summed(queries.bad) * queries.bad_scale
    if queries.bad_is_good:
        bad = total - np.where(np.isnan(counted), 0.0, counted)
    else:
        bad = np.where(np.isnan(counted), 0.0, counted)
    with np.errstate(all="ignore"):
        ratio = np.where(total > 0, np.maximum(bad, 0.0) / total, np.nan)
    return np.asarray(ratio, dtype=np.float64)


def _ratio_text(spec: SLOSpec, window: str) -> str:
    """The error ratio over `window` as PromQL, to show what the chart is made of."""
    queries = event_queries(spec, window)
    if queries.bad_is_good:
        return f"1 - ({queries.bad}) / ({queries.total})"
    return f"({queries.bad}) / ({queries.total})"


# Shared ------------------------------------------------------------------------------------


def _chart(
    title: str, kind: str, query: str, *, threshold: float | None, error: str | None = None
) -> dict[str, Any]:
    return {
        "title": title,
        "kind": kind,
        "query": query,
        "unit": "",
        "threshold": threshold,
        "series": [],
        "error": error,
    }


def _error_text(exc: Exception) -> str:
    if isinstance(exc, PromQLError | SLIError):
        return f"The query failed: {exc}"
    logger.warning("incident chart: query failed: %s", exc, exc_info=True)
    return f"The query failed: {type(exc).__name__}: {exc}"


def _grid(start_ms: int, end_ms: int, step: int) -> tuple[int, int]:
    """Steps on multiples of the step (10:00, 10:01, ...), inside the window."""
    first = -(-start_ms // step) * step
    last = max(first, end_ms // step * step)
    return first, last


def _times(first: int, last: int, step: int) -> list[str]:
    return [_iso_ms(ms) for ms in range(first, last + 1, step)]


def _series(name: str, times: list[str], values: FloatArray) -> dict[str, Any]:
    return {"name": name, "t": times, "v": [_round(v) for v in values.tolist()]}


def _round(value: float) -> float | None:
    if math.isnan(value) or math.isinf(value):
        return None
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_ms(ms: int) -> str:
    return _iso(datetime.fromtimestamp(ms / 1000, tz=UTC))
