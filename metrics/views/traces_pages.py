"""Trace pages: search, and one trace as a waterfall.

Spans are read only through metrics.traces.queries (the one exception is the list of services
with spans in a range, which that module does not offer). Pages hand their data to the static
scripts with `json_script`: the CSP allows no inline script or style.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from metrics.traces.models import Span
from metrics.traces.page_forms import (
    DEFAULT_LIMIT,
    DEFAULT_RANGE,
    MAX_SERVICES_LISTED,
    NS_PER_MS,
    RANGES_NS,
    TRACE_ID_RE,
    TraceSearchForm,
    format_duration,
    now_ns,
    utc_iso,
    utc_text,
    with_defaults,
)
from metrics.traces.queries import (
    TraceSummary,
    search_traces,
    span_resources,
    trace_spans,
    waterfall,
)

# --- Selectors the query module does not offer --------------------------------------------


def services_with_spans(start_ns: int, end_ns: int) -> list[str]:
    """Names of the services with a span starting in [start, end), sorted."""
    names = (
        Span.objects.filter(start_ns__gte=start_ns, start_ns__lt=end_ns)
        .values_list("service", flat=True)
        .order_by("service")
        .distinct()
    )
    return list(names[:MAX_SERVICES_LISTED])


# --- Trace search -------------------------------------------------------------------------


def _summary_row(summary: TraceSummary) -> dict[str, Any]:
    return {
        "trace_id": summary.trace_id,
        "url": reverse("metrics:trace-detail", args=[summary.trace_id]),
        "start": utc_text(summary.start_ns),
        "start_iso": utc_iso(summary.start_ns),
        "root_service": summary.root_service,
        "root_name": summary.root_name,
        "duration": format_duration(summary.duration_ns),
        "duration_ms": summary.duration_ns / NS_PER_MS,
        "span_count": summary.span_count,
        "error_count": summary.error_count,
        "services": summary.services,
    }


@require_GET
def trace_search_page(request: HttpRequest) -> HttpResponse:
    data = with_defaults(request.GET)
    if not data.get("limit"):
        data["limit"] = str(DEFAULT_LIMIT)
    form = TraceSearchForm(data)
    now = now_ns()
    results: list[dict[str, Any]] | None = None
    if form.is_valid():
        start, end = form.window_ns(now)
        results = [_summary_row(summary) for summary in search_traces(form.filters(now))]
    else:
        start, end = now - RANGES_NS[DEFAULT_RANGE], now
    services = services_with_spans(start, end)
    chosen = str(form.data.get("service") or "")
    if chosen and chosen not in services:
        services = sorted([*services, chosen])
    service_widget = form.fields["service"].widget
    assert isinstance(service_widget, forms.Select)
    service_widget.choices = [("", "All services")] + [(name, name) for name in services]
    context = {
        "form": form,
        "results": results,
        "scatter": {"traces": results or []},
        "custom_range": form.data.get("range") == "custom",
    }
    # A filter that cannot be read is the request's fault: 400, with the form saying why.
    status = 200 if results is not None else 400
    return render(request, "metrics/trace_search.html", context, status=status)


# --- One trace ----------------------------------------------------------------------------


def trace_page_data(trace_id: str) -> dict[str, Any]:
    """The waterfall of the trace with what the page shows around it; Http404 when no span of
    the trace is stored."""
    spans = trace_spans(trace_id)
    if not spans:
        raise Http404(f"No span of trace {trace_id} is stored.")
    data = waterfall(spans, span_resources(spans))
    trace_start = int(data["start_ns"])
    rows = []
    for row in data["rows"]:
        span_start = trace_start + int(row["start_offset_ns"])
        # Offsets, not absolute nanoseconds: JavaScript numbers lose those past 2**53.
        events = [
            {**event, "offset_ns": int(event.get("time_ns") or span_start) - span_start}
            for event in row.get("events") or []
        ]
        rows.append({**row, "events": events})
    return {
        **data,
        "rows": rows,
        "start": utc_text(trace_start),
        "skewed": sum(1 for row in rows if row.get("skew_ns")),
        "trace_url_template": reverse("metrics:trace-detail", args=["0" * 32]),
    }


@require_GET
def trace_detail_page(request: HttpRequest, trace_id: str) -> HttpResponse:
    trace_id = trace_id.lower()
    if not TRACE_ID_RE.fullmatch(trace_id):
        raise Http404("A trace id is 32 hex digits.")
    data = trace_page_data(trace_id)
    # The true root (no parent id) names the trace; spans with a lost parent are roots too.
    root = next((row for row in data["rows"] if not row["parent_span_id"]), None)
    context = {
        "trace": data,
        "trace_id": trace_id,
        "root": root,
        "duration": format_duration(int(data["duration_ns"])),
    }
    return render(request, "metrics/trace_detail.html", context)
