"""Alarm pages (list, detail with a chart of the expression) and the alarm JSON API."""

from __future__ import annotations

import json
import time

import plotly.graph_objects as go
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from coe_portal.accounts.auth import request_user, token_required
from coe_portal.accounts.policy import Action, allowed
from metrics.alarms.models import Alarm
from metrics.alarms.selectors import alarm_as_json
from metrics.notify.models import Delivery
from metrics.notify.silences import Silence
from metrics.promql.engine import range_query
from metrics.promql.errors import PromQLError
from metrics.promql.source import new_source
from metrics.promql.values import Scalar, Vector
from metrics.views.editing import alarm_create_api

CHART_HOURS = 6


@require_GET
def alarm_list_page(request: HttpRequest) -> HttpResponse:
    alarms = Alarm.objects.select_related("team", "service")
    state = request.GET.get("state", "")
    if state:
        alarms = alarms.filter(state=state)
    return render(
        request,
        "metrics/alarm_list.html",
        {"alarms": alarms, "state_filter": state, "states": Alarm.State.choices},
    )


@require_GET
def alarm_detail_page(request: HttpRequest, pk: int) -> HttpResponse:
    alarm = get_object_or_404(Alarm.objects.select_related("team", "service"), pk=pk)
    transitions = list(alarm.transitions.all()[:100])
    deliveries = Delivery.objects.filter(
        source_key__in=[f"alarm-transition:{t.pk}" for t in transitions]
    ).select_related("channel")[:100]
    context = {
        "alarm": alarm,
        "transitions": transitions,
        "deliveries": deliveries,
        "silences": Silence.objects.filter(alarm=alarm).order_by("-starts_at")[:10],
        "now": timezone.now(),
        "can_respond": allowed(request_user(request), Action.RESPOND, alarm),
        "can_change": allowed(request_user(request), Action.CHANGE_RULES, alarm),
    }
    return render(request, "metrics/alarm_detail.html", context)


@require_GET
def alarm_chart(request: HttpRequest, pk: int) -> JsonResponse:
    """The expression over the last hours, the threshold line, ALARM periods shaded."""
    alarm = get_object_or_404(Alarm, pk=pk)
    if alarm.kind != Alarm.Kind.THRESHOLD:
        return JsonResponse({"error": "Composite alarms have no expression to draw."}, status=400)
    end = int(time.time() * 1000)
    start = end - CHART_HOURS * 3_600_000
    step = alarm.period_seconds * 1000
    try:
        # The alarm's own engine and samples, so the chart shows what the alarm evaluates.
        value = range_query(alarm.expression, start, end, step, source=new_source()).value
    except PromQLError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    times = [
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((start + i * step) / 1000))
        for i in range((end - start) // step + 1)
    ]
    figure = go.Figure()
    series = [] if isinstance(value, Scalar) else value.series if isinstance(value, Vector) else []
    for item in series:
        ys = [
            v if p else None
            for v, p in zip(item.values.tolist(), item.present.tolist(), strict=True)
        ]
        figure.add_trace(go.Scatter(x=times, y=ys, mode="lines", name=alarm.name))
    figure.add_hline(
        y=alarm.threshold,
        line_dash="dash",
        line_color="#b42318",
        annotation_text=f"threshold {alarm.comparison} {alarm.threshold:g}",
    )
    for start_at, end_at in _alarm_periods(alarm, start, end):
        figure.add_vrect(x0=start_at, x1=end_at, fillcolor="#b42318", opacity=0.12, line_width=0)
    figure.update_layout(margin={"l": 50, "r": 20, "t": 10, "b": 40}, height=320, showlegend=False)
    return JsonResponse({"figure": json.loads(figure.to_json())})


def _alarm_periods(alarm: Alarm, start_ms: int, end_ms: int) -> list[tuple[str, str]]:
    periods = []
    opened: str | None = None
    for transition in alarm.transitions.order_by("at"):
        at = transition.at.strftime("%Y-%m-%dT%H:%M:%SZ")
        if transition.new_state == Alarm.State.ALARM:
            opened = at
        elif opened is not None:
            periods.append((opened, at))
            opened = None
    if opened is not None:
        periods.append((opened, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end_ms / 1000))))
    return periods


@require_GET
@token_required("read")
def alarm_list_api(request: HttpRequest) -> JsonResponse:
    alarms = Alarm.objects.select_related("team", "service")
    return JsonResponse({"status": "success", "data": [alarm_as_json(a) for a in alarms]})


@require_GET
@token_required("read")
def alarm_detail_api(request: HttpRequest, pk: int) -> JsonResponse:
    alarm = Alarm.objects.select_related("team", "service").filter(pk=pk).first()
    if alarm is None:
        return JsonResponse(
            {"status": "error", "errorType": "not_found", "error": f"no alarm with id {pk}"},
            status=404,
        )
    data = alarm_as_json(alarm)
    data["transitions"] = [
        {
            "at": t.at.isoformat(),
            "old_state": t.old_state,
            "new_state": t.new_state,
            "reason": t.reason,
        }
        for t in alarm.transitions.all()[:100]
    ]
    return JsonResponse({"status": "success", "data": data})


@csrf_exempt
@login_not_required
def alarm_list_or_create_api(request: HttpRequest) -> HttpResponse:
    """GET lists (`read` scope), POST creates (`write` scope)."""
    if request.method == "POST":
        return alarm_create_api(request)
    return alarm_list_api(request)
