"""SLO pages and the SLO JSON API."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from coe_portal.accounts.auth import request_user, token_required
from coe_portal.accounts.models import Team
from coe_portal.accounts.policy import Action, allowed
from incidents.incident.selectors import incidents_visible_to
from metrics.backends.errors import error_status
from metrics.notify.silences import Silence
from metrics.promql.errors import PromQLError
from metrics.slo.charts import slo_charts
from metrics.slo.models import SLO
from metrics.slo.queries import SLIError
from metrics.slo.selectors import slo_as_json, slo_list
from metrics.views.editing import slo_create_api

SORTS = {
    "service": ("service__name", "name"),
    "state": ("-alert_state", "service__name"),
    "objective": ("-objective_percent", "service__name"),
}


def _budget_percent(slo: SLO) -> float | None:
    remaining = (slo.last_figures or {}).get("error_budget_remaining")
    return None if remaining is None else float(Decimal(remaining) * 100)


@require_GET
def slo_list_page(request: HttpRequest) -> HttpResponse:
    team = request.GET.get("team", "")
    service = request.GET.get("service", "")
    sort = request.GET.get("sort", "service")
    slos = slo_list(team=team, service=service).order_by(*SORTS.get(sort, SORTS["service"]))
    rows = [
        {
            "slo": slo,
            "budget_percent": _budget_percent(slo),
            "sli": (slo.last_figures or {}).get("sli"),
            "burn_1h": (slo.last_figures or {}).get("burn_rates", {}).get("1h"),
            "burn_6h": (slo.last_figures or {}).get("burn_rates", {}).get("6h"),
        }
        for slo in slos
    ]
    context = {
        "rows": rows,
        "teams": Team.objects.all(),
        "team_filter": team,
        "service_filter": service,
        "sort": sort,
    }
    return render(request, "metrics/slo_list.html", context)


@require_GET
def slo_detail_page(request: HttpRequest, pk: int) -> HttpResponse:
    slo = get_object_or_404(SLO.objects.select_related("service", "team"), pk=pk)
    context = {
        "slo": slo,
        "data": slo_as_json(slo),
        "budget_percent": _budget_percent(slo),
        "transitions": slo.transitions.all()[:50],
        "silences": Silence.objects.filter(slo=slo).order_by("-starts_at")[:10],
        "incidents": incidents_visible_to(request.user).filter(slos=slo)[:20],
        "now": timezone.now(),
        "can_respond": allowed(request_user(request), Action.RESPOND, slo),
        "can_change": allowed(request_user(request), Action.CHANGE_RULES, slo),
    }
    return render(request, "metrics/slo_detail.html", context)


@require_GET
@token_required("read")
def slo_list_api(request: HttpRequest) -> JsonResponse:
    slos = slo_list(team=request.GET.get("team", ""), service=request.GET.get("service", ""))
    return JsonResponse({"status": "success", "data": [slo_as_json(slo) for slo in slos]})


@require_GET
@token_required("read")
def slo_detail_api(request: HttpRequest, pk: int) -> JsonResponse:
    slo = SLO.objects.select_related("service", "team").filter(pk=pk).first()
    if slo is None:
        return JsonResponse(
            {"status": "error", "errorType": "not_found", "error": f"no SLO with id {pk}"},
            status=404,
        )
    return JsonResponse({"status": "success", "data": slo_as_json(slo)})


@require_GET
def slo_charts_data(request: HttpRequest, pk: int) -> JsonResponse:
    slo = get_object_or_404(SLO.objects.select_related("service", "team"), pk=pk)
    try:
        return JsonResponse(slo_charts(slo))
    except (PromQLError, SLIError) as exc:
        return JsonResponse({"error": f"The SLO's queries failed: {exc}"}, status=error_status(exc))


@csrf_exempt
@login_not_required
def slo_list_or_create_api(request: HttpRequest) -> HttpResponse:
    """GET lists (`read` scope), POST creates (`write` scope)."""
    if request.method == "POST":
        return slo_create_api(request)
    return slo_list_api(request)
