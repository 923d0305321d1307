"""The metrics explorer: type a query, pick a range, see a Plotly chart and a table.

The page is a form; `explorer_data` runs the query and answers the Plotly figure (plain
Plotly JSON with plotly's default template) plus a table, which static/metrics/explorer.js
draws.
"""

from __future__ import annotations

import functools
import json
import time
from typing import Any

import numpy as np
import plotly.graph_objects as go
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from metrics.backends.errors import BackendUnavailable
from metrics.promql.engine import range_query
from metrics.promql.errors import PromQLError
from metrics.promql.format import format_value
from metrics.promql.lexer import parse_duration
from metrics.promql.steps import choose_step
from metrics.promql.values import Scalar, Vector

RANGES = ["15m", "1h", "6h", "24h", "7d"]
MAX_SERIES_DRAWN = 50
DEFAULT_RANGE = "1h"


def time_window(params: Any) -> tuple[int, int]:
    """(start, end) in ms from `range` (e.g. 1h), or from absolute `start`/`end` (epoch s)."""
    if params.get("start") and params.get("end"):
        start, end = int(float(params["start"]) * 1000), int(float(params["end"]) * 1000)
        if end <= start:
            raise ValueError("the end of the range must be after its start")
        return start, end
    end = int(time.time() * 1000)
    return end - parse_duration(params.get("range") or DEFAULT_RANGE), end


def series_name(labels: dict[str, str]) -> str:
    name = labels.get("__name__", "")
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{inner}}}" if inner or not name else name


@require_GET
def explorer(request: HttpRequest) -> HttpResponse:
    context = {
        "query": request.GET.get("query", ""),
        "range": request.GET.get("range", DEFAULT_RANGE),
        "ranges": RANGES,
        "start": request.GET.get("start", ""),
        "end": request.GET.get("end", ""),
    }
    return render(request, "metrics/explorer.html", context)


@require_GET
def explorer_data(request: HttpRequest) -> JsonResponse:
    query = request.GET.get("query", "").strip()
    if not query:
        return JsonResponse(
            {"error": "Type a query, e.g. up or rate(http_requests_total[5m])."}, status=400
        )
    try:
        start, end = time_window(request.GET)
        step = choose_step(end - start)
        result = range_query(query, start, end, step)
    except BackendUnavailable as exc:
        return JsonResponse({"error": f"{exc}. Try again in a few seconds."}, status=503)
    except (PromQLError, ValueError) as exc:
        return JsonResponse({"error": str(exc)}, status=400)

    value = result.value
    series: list[tuple[dict[str, str], Any, Any]]
    if isinstance(value, Scalar):
        series = [({}, value.values, [True] * len(value.values))]
    else:
        assert isinstance(value, Vector)
        series = [(s.labels, s.values, s.present) for s in value.series]
    series.sort(key=lambda item: series_name(item[0]))

    xs = [_iso(ms / 1000) for ms in result.steps.tolist()]
    traces = [
        {
            "type": "scatter",
            "x": xs,
            "y": _points(values, present),
            "mode": "lines",
            "name": series_name(labels),
            "connectgaps": False,
            "hovertemplate": "%{y}<extra>%{fullData.name}</extra>",
        }
        for labels, values, present in series[:MAX_SERIES_DRAWN]
    ]
    table = []
    for labels, values, present in series:
        last = next((float(values[i]) for i in range(len(values) - 1, -1, -1) if present[i]), None)
        table.append(
            {"series": series_name(labels), "value": None if last is None else format_value(last)}
        )
    layout = {
        "template": _template(),
        "margin": {"l": 50, "r": 20, "t": 10, "b": 40},
        "height": 420,
        "showlegend": len(series) <= 12,
        "legend": {"orientation": "h", "y": -0.15},
        "xaxis": {"type": "date"},
        "uirevision": query,
    }
    return JsonResponse(
        {
            "figure": {"data": traces, "layout": layout},
            "table": table,
            "series_count": len(series),
            "drawn": min(len(series), MAX_SERIES_DRAWN),
            "step_seconds": step // 1000,
        }
    )


def _points(values: Any, present: Any) -> list[float | None]:
    """A series' values for Plotly: None where it has no value (or one JSON cannot hold)."""
    numbers = np.asarray(values, dtype=np.float64)
    shown = np.asarray(present, dtype=bool) & np.isfinite(numbers)
    out = numbers.astype(object)
    out[~shown] = None
    return out.tolist()


@functools.cache
def _template() -> dict[str, Any]:
    """Plotly's default template, as graph_objects would embed it; built once, since building
    the figure through graph_objects costs more than the query (2 ms a trace)."""
    return json.loads(go.Figure().to_json())["layout"]["template"]


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
