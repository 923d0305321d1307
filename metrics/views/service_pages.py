"""The service map and a service's RED dashboard (from the span metrics, through the PromQL
engine)."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from metrics.promql.engine import instant_query, range_query
from metrics.promql.errors import PromQLError
from metrics.promql.steps import choose_step
from metrics.promql.values import Scalar, Vector
from metrics.traces.page_forms import (
    MIN_RATE_WINDOW_S,
    NO_VALUE,
    NS_PER_MS,
    NS_PER_S,
    QUANTILES,
    SERVED_KINDS,
    TimeRangeForm,
    now_ns,
    number_text,
    percent_text,
    promql_string,
    rate_text,
    utc_iso,
    with_defaults,
)
from metrics.traces.queries import (
    GraphEdge,
    GraphNode,
    service_graph,
)

# --- Service map --------------------------------------------------------------------------


def layered_layout(
    services: list[str], calls: list[tuple[str, str]]
) -> dict[str, tuple[int, float]]:
    """(layer, position in layer) per service: layer = calls from the nearest entry service
    (one nobody else calls); services only reachable through a cycle start a layer 0 of their
    own. Positions are centred on 0, services in a layer by name."""
    callees: dict[str, set[str]] = {name: set() for name in services}
    called: set[str] = set()
    for client, server in calls:
        if client != server:
            callees.setdefault(client, set()).add(server)
            callees.setdefault(server, set())
            called.add(server)
    layer: dict[str, int] = {}
    pending = sorted(callees)
    starts = [name for name in pending if name not in called]
    while len(layer) < len(callees):
        if not starts:
            starts = [next(name for name in pending if name not in layer)]
        queue = deque(starts)
        for name in starts:
            layer[name] = 0
        while queue:
            name = queue.popleft()
            for callee in sorted(callees[name]):
                if callee not in layer:
                    layer[callee] = layer[name] + 1
                    queue.append(callee)
        starts = []
    by_layer: dict[int, list[str]] = {}
    for name in sorted(layer):
        by_layer.setdefault(layer[name], []).append(name)
    placed: dict[str, tuple[int, float]] = {}
    for depth, names in by_layer.items():
        for index, name in enumerate(names):
            placed[name] = (depth, index - (len(names) - 1) / 2)
    return placed


@dataclass(frozen=True)
class MapData:
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]


def _ratio(part: int | float, whole: int | float) -> float:
    return part / whole if whole else 0.0


def service_map_data(
    nodes: list[GraphNode], edges: list[GraphEdge], seconds: float, range_params: dict[str, str]
) -> MapData:
    """Nodes and edges with their rates and drawing positions, for the page and its script."""
    known = {node.service: node for node in nodes}
    for edge in edges:  # a client that serves nothing is still on the map
        for name in (edge.client, edge.server):
            known.setdefault(name, GraphNode(service=name, requests=0, errors=0))
    positions = layered_layout(list(known), [(edge.client, edge.server) for edge in edges])
    query = urlencode(range_params)
    node_rows = []
    for name in sorted(known):
        node = known[name]
        layer, position = positions[name]
        node_rows.append(
            {
                "service": name,
                "requests": node.requests,
                "errors": node.errors,
                "rate": node.requests / seconds,
                "rate_text": rate_text(node.requests / seconds),
                "error_rate": _ratio(node.errors, node.requests),
                "error_percent": percent_text(node.errors, node.requests),
                "x": layer,
                "y": position,
                "url": reverse("metrics:service-red", args=[name]) + "?" + query,
            }
        )
    edge_rows = []
    for edge in sorted(edges, key=lambda edge: (edge.client, edge.server)):
        edge_rows.append(
            {
                "client": edge.client,
                "server": edge.server,
                "requests": edge.requests,
                "errors": edge.errors,
                "rate": edge.requests / seconds,
                "rate_text": rate_text(edge.requests / seconds),
                "error_rate": _ratio(edge.errors, edge.requests),
                "error_percent": percent_text(edge.errors, edge.requests),
                "p50_ms": edge.p50_ms,
                "p95_ms": edge.p95_ms,
                "p99_ms": edge.p99_ms,
                "latency_text": [
                    number_text(edge.p50_ms),
                    number_text(edge.p95_ms),
                    number_text(edge.p99_ms),
                ],
                "from": list(positions[edge.client]),
                "to": list(positions[edge.server]),
            }
        )
    return MapData(nodes=node_rows, edges=edge_rows)


@require_GET
def service_map_page(request: HttpRequest) -> HttpResponse:
    form = TimeRangeForm(with_defaults(request.GET))
    data: MapData | None = None
    if form.is_valid():
        start, end = form.window_ns(now_ns())
        nodes, edges = service_graph(start, end)
        data = service_map_data(nodes, edges, (end - start) / NS_PER_S, form.url_params())
    context = {
        "form": form,
        "map": data,
        "map_json": {"nodes": data.nodes, "edges": data.edges} if data else None,
        "custom_range": form.data.get("range") == "custom",
    }
    return render(request, "metrics/service_map.html", context, status=200 if data else 400)


# --- A service's RED dashboard ------------------------------------------------------------


def red_queries(service: str, window: str) -> dict[str, str]:
    """PromQL for requests/s, errors/s and duration quantiles (seconds) of what `service`
    serves, over rate windows of `window`."""
    selector = f"service={promql_string(service)},span_kind=~{promql_string(SERVED_KINDS)}"
    calls = f"traces_spanmetrics_calls_total{{{selector}}}"
    errors = f'traces_spanmetrics_calls_total{{{selector},status_code="STATUS_CODE_ERROR"}}'
    buckets = f"traces_spanmetrics_duration_seconds_bucket{{{selector}}}"
    queries = {
        "requests": f"sum(rate({calls}[{window}]))",
        "errors": f"sum(rate({errors}[{window}]))",
    }
    for quantile in QUANTILES:
        queries[f"p{round(quantile * 100)}"] = (
            f"histogram_quantile({quantile}, sum by (le) (rate({buckets}[{window}])))"
        )
    return queries


def operation_queries(service: str, window: str) -> dict[str, str]:
    """Per span name over the whole range: requests, errors and p95 (seconds)."""
    selector = f"service={promql_string(service)},span_kind=~{promql_string(SERVED_KINDS)}"
    return {
        "requests": f"sum by (span_name) (increase(traces_spanmetrics_calls_total{{{selector}}}"
        f"[{window}]))",
        "errors": f"sum by (span_name) (increase(traces_spanmetrics_calls_total{{{selector},"
        f'status_code="STATUS_CODE_ERROR"}}[{window}]))',
        "p95": "histogram_quantile(0.95, sum by (span_name, le) (increase("
        f"traces_spanmetrics_duration_seconds_bucket{{{selector}}}[{window}])))",
    }


def _values(value: Any, size: int) -> list[float | None]:
    """One number per step (None where there is none), from a one-series result."""
    series: list[tuple[Any, Any]]
    if isinstance(value, Scalar):
        series = [(value.values, [True] * size)]
    elif isinstance(value, Vector):
        series = [(item.values, item.present) for item in value.series]
    else:
        series = []
    if not series:
        return [None] * size
    values, present = series[0]
    return [
        float(v) if p and math.isfinite(float(v)) else None
        for v, p in zip(values.tolist(), list(present), strict=True)
    ]


def _by_name(value: Any) -> dict[str, float]:
    if not isinstance(value, Vector):
        return {}
    out = {}
    for item in value.series:
        number = float(item.values[0])
        if bool(item.present[0]) and math.isfinite(number):
            out[item.labels.get("span_name", "")] = number
    return out


def service_red_data(service: str, start_ms: int, end_ms: int) -> dict[str, Any]:
    """The dashboard's series (times as UTC strings) and its per-operation table."""
    step = choose_step(end_ms - start_ms)
    window = f"{max(MIN_RATE_WINDOW_S, step // 1000)}s"
    queries = red_queries(service, window)
    series: dict[str, list[float | None]] = {}
    times: list[str] = []
    for name, query in queries.items():
        result = range_query(query, start_ms, end_ms, step)
        times = [utc_iso(ms * NS_PER_MS) for ms in result.steps.tolist()]
        series[name] = _values(result.value, len(times))
    for name in (f"p{round(quantile * 100)}" for quantile in QUANTILES):
        series[name] = [None if v is None else v * 1000 for v in series[name]]
    whole = f"{max(1, (end_ms - start_ms) // 1000)}s"
    per_operation = {
        name: _by_name(instant_query(query, end_ms).value)
        for name, query in operation_queries(service, whole).items()
    }
    operations = []
    seconds = (end_ms - start_ms) / 1000
    for name in sorted(per_operation["requests"]):
        requests = per_operation["requests"][name]
        errors = per_operation["errors"].get(name, 0.0)
        p95 = per_operation["p95"].get(name)
        operations.append(
            {
                "name": name,
                "requests": requests,
                "rate": requests / seconds,
                "errors": errors,
                "error_rate": _ratio(errors, requests),
                "error_percent": percent_text(errors, requests),
                "p95_ms": None if p95 is None else p95 * 1000,
                "text": {
                    "requests": number_text(requests),
                    "rate": rate_text(requests / seconds),
                    "errors": number_text(errors),
                    "p95": NO_VALUE if p95 is None else number_text(p95 * 1000),
                },
            }
        )
    return {
        "times": times,
        "series": series,
        "queries": queries,
        "operations": operations,
        "step_seconds": step // 1000,
        "window": window,
    }


def _url(name: str, params: dict[str, str], *args: str) -> str:
    return reverse(name, args=args) + ("?" + urlencode(params) if params else "")


@require_GET
def service_red_page(request: HttpRequest, service: str) -> HttpResponse:
    form = TimeRangeForm(with_defaults(request.GET))
    valid = form.is_valid()
    range_params = form.url_params() if valid else {}
    data: dict[str, Any] | None = None
    error = ""
    if valid:
        start, end = form.window_ns(now_ns())
        try:
            data = service_red_data(service, start // NS_PER_MS, end // NS_PER_MS)
        except PromQLError as exc:
            error = str(exc)
    for operation in data["operations"] if data else []:
        operation["search_url"] = _url(
            "metrics:trace-search",
            {"service": service, "operation": operation["name"], **range_params},
        )
    context = {
        "form": form,
        "service": service,
        "red": data,
        "error": error,
        "search_url": _url("metrics:trace-search", {"service": service, **range_params}),
        "map_url": _url("metrics:service-map", range_params),
        "custom_range": form.data.get("range") == "custom",
    }
    return render(request, "metrics/service_red.html", context, status=200 if valid else 400)
