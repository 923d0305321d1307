"""The analytics page and the CSV of each of its charts. The numbers, and the rule on restricted
incidents, live in incidents/analytics.py; these views only read the filters and render."""

from __future__ import annotations

import csv

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from coe_portal.accounts.models import Team
from incidents.analytics.charts import CHARTS, build_chart, build_charts, csv_rows
from incidents.analytics.filters import parse_filters
from incidents.analytics.incidents import RESTRICTED
from incidents.analytics.visibility import service_choices

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@require_GET
def analytics_page(request: HttpRequest) -> HttpResponse:
    today = timezone.now().date()
    filters = parse_filters(request.GET, today=today)
    charts = build_charts(request.user, filters, today=today)
    by_severity = next(chart for chart in charts if chart.slug == "incidents-by-severity")
    context = {
        "filters": filters,
        "query": filters.query_string(),
        "charts": charts,
        "charts_json": {"charts": [chart.as_json() for chart in charts]},
        "hidden_incidents": sum(int(cell or 0) for cell in by_severity.values(RESTRICTED)),
        "teams": list(Team.objects.order_by("name").values_list("name", flat=True)),
        "services": service_choices(request.user),
    }
    return render(request, "incidents/analytics/page.html", context)


@require_GET
def analytics_csv(request: HttpRequest, chart: str) -> HttpResponse:
    if chart not in CHARTS:
        raise Http404("No such chart.")
    today = timezone.now().date()
    filters = parse_filters(request.GET, today=today)
    table = build_chart(chart, request.user, filters, today=today)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"{chart}-{filters.start.isoformat()}-{filters.end.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    for row in csv_rows(table):
        # Team and service names are text a spreadsheet must not run as a formula.
        writer.writerow(
            [
                f"'{cell}" if isinstance(cell, str) and cell.startswith(FORMULA_PREFIXES) else cell
                for cell in row
            ]
        )
    return response
