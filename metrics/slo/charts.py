"""The SLO page's charts, built as Plotly figures on the server:

- the SLI per interval over the SLO window, with the objective line;
- the error budget burn-down: what is left of the window's budget, interval by interval;
- burn rates over the last days for the four alert windows, each with its threshold;
alert periods (page, ticket) shaded on all of them.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import numpy as np
import plotly.graph_objects as go

from metrics.promql.engine import range_query
from metrics.promql.source import SampleSource, new_source
from metrics.promql.steps import choose_step
from metrics.promql.values import summed_per_step
from metrics.slo.burn import ALERT_WINDOWS, error_budget
from metrics.slo.models import SLO, SLOAlertTransition
from metrics.slo.queries import event_queries
from metrics.slo.windows import window_ms

BURN_DAYS = 2
COLORS = {"page": "#b42318", "ticket": "#b54708"}


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def _summed(query: str, start: int, end: int, step: int, source: SampleSource) -> np.ndarray:
    """One value per step (the sum over series), NaN where there is none."""
    value = range_query(query, start, end, step, source=source).value
    return summed_per_step(value, (end - start) // step + 1)


def _events(
    slo: SLO, window: str, start: int, end: int, step: int, source: SampleSource
) -> tuple[np.ndarray, np.ndarray]:
    """(bad, total) events per step over windows of `window`."""
    queries = event_queries(slo.to_spec(), window)
    total = _summed(queries.total, start, end, step, source) * queries.total_scale
    counted = _summed(queries.bad, start, end, step, source) * queries.bad_scale
    if queries.bad_is_good:
        bad = total - np.where(np.isnan(counted), 0.0, counted)
    else:
        bad = np.where(np.isnan(counted) & ~np.isnan(total), 0.0, counted)
    return bad, total


def _alert_periods(slo: SLO, start: int, end: int) -> list[tuple[str, str, str]]:
    periods = []
    opened: tuple[str, int] | None = None
    for transition in SLOAlertTransition.objects.filter(slo=slo).order_by("at"):
        at = int(transition.at.timestamp() * 1000)
        if opened is not None:
            periods.append((opened[0], _iso(max(opened[1], start)), _iso(at)))
            opened = None
        if transition.new_state in COLORS:
            opened = (transition.new_state, at)
    if opened is not None:
        periods.append((opened[0], _iso(max(opened[1], start)), _iso(end)))
    return [p for p in periods if p[2] >= _iso(start)]


def _shade(figure: go.Figure, periods: list[tuple[str, str, str]]) -> None:
    for severity, x0, x1 in periods:
        figure.add_vrect(x0=x0, x1=x1, fillcolor=COLORS[severity], opacity=0.12, line_width=0)


def _layout(figure: go.Figure, title: str, y_title: str) -> dict[str, Any]:
    figure.update_layout(
        margin={"l": 60, "r": 20, "t": 30, "b": 40},
        height=300,
        title={"text": title, "x": 0},
        yaxis={"title": y_title},
        legend={"orientation": "h", "y": -0.2},
    )
    return json.loads(figure.to_json())


def slo_charts(slo: SLO, *, now_ms: int | None = None) -> dict[str, Any]:
    end = int(time.time() * 1000) if now_ms is None else now_ms
    window_length = window_ms(slo.window, end, slo.time_zone)
    start = end - window_length
    step = choose_step(window_length)
    step_text = f"{step // 1000}s"
    source = new_source()
    budget = float(error_budget(slo.objective_percent))
    objective = float(slo.objective_percent) / 100
    times = [_iso(start + i * step) for i in range((end - start) // step + 1)]
    periods = _alert_periods(slo, start, end)

    bad, total = _events(slo, step_text, start, end, step, source)
    with np.errstate(all="ignore"):
        sli = 1 - bad / total
    sli_figure = go.Figure()
    sli_figure.add_trace(
        go.Scatter(x=times, y=_list(sli), mode="lines", name=f"SLI per {step_text}")
    )
    sli_figure.add_hline(
        y=objective,
        line_dash="dash",
        line_color="#1a7f37",
        annotation_text=f"objective {slo.objective_percent.normalize()} %",
    )
    _shade(sli_figure, periods)

    window_total = float(np.nansum(total))
    consumed = (
        np.nancumsum(np.where(np.isnan(bad), 0.0, bad)) / (budget * window_total)
        if window_total
        else np.full(len(times), np.nan)
    )
    burn_down = go.Figure()
    burn_down.add_trace(
        go.Scatter(
            x=times,
            y=_list(100 * (1 - consumed)),
            mode="lines",
            fill="tozeroy",
            name="budget left (%)",
        )
    )
    burn_down.add_hline(y=0, line_color="#b42318")
    _shade(burn_down, periods)

    burn_end = end
    burn_start = end - BURN_DAYS * 86_400_000
    burn_step = choose_step(burn_end - burn_start)
    burn_times = [
        _iso(burn_start + i * burn_step) for i in range((burn_end - burn_start) // burn_step + 1)
    ]
    burns = go.Figure()
    for row in ALERT_WINDOWS:
        window_bad, window_total_events = _events(
            slo, row.long, burn_start, burn_end, burn_step, source
        )
        with np.errstate(all="ignore"):
            rate = (window_bad / window_total_events) / budget
        factor = float(row.factor(slo.window))
        burns.add_trace(
            go.Scatter(
                x=burn_times,
                y=_list(rate),
                mode="lines",
                name=f"{row.long} burn ({row.severity} above {factor:g})",
            )
        )
    for row in ALERT_WINDOWS:
        burns.add_hline(
            y=float(row.factor(slo.window)),
            line_dash="dot",
            line_color=COLORS[row.severity],
            opacity=0.5,
        )
    _shade(burns, [p for p in periods if p[2] >= _iso(burn_start)])
    return {
        "sli": _layout(sli_figure, "SLI over the window", "good / total"),
        "burn_down": _layout(burn_down, "Error budget left", "% of the window's budget"),
        "burn_rates": _layout(
            burns, f"Burn rates, last {BURN_DAYS} days", "times the sustainable rate"
        ),
    }


def _list(values: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) or math.isinf(v) else float(v) for v in values.tolist()]
