"""POST actions on alarms and SLOs: acknowledge, silence, end a silence (members of the owning
team: the policy's RESPOND rule)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from coe_portal.accounts.auth import request_user
from coe_portal.accounts.policy import Action, require
from metrics.alarms.models import Alarm
from metrics.alarms.services import alarm_acknowledge
from metrics.notify.silences import Silence, silence_create, silence_end
from metrics.slo.models import SLO

DURATIONS = {
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
    "1w": timedelta(weeks=1),
}


def _errors(error: ValidationError) -> str:
    return " ".join(error.messages)


@require_POST
def alarm_acknowledge_view(request: HttpRequest, pk: int) -> HttpResponse:
    alarm = get_object_or_404(Alarm.objects.select_related("team"), pk=pk)
    require(request_user(request), Action.RESPOND, alarm)
    try:
        alarm_acknowledge(alarm=alarm, user=request_user(request))
        messages.success(request, f"{alarm.name} is acknowledged.")
    except ValidationError as error:
        messages.error(request, _errors(error))
    return redirect(alarm.get_absolute_url())


def _silence(request: HttpRequest, *, alarm: Alarm | None = None, slo: SLO | None = None) -> None:
    require(request_user(request), Action.RESPOND, alarm or slo)
    duration = DURATIONS.get(request.POST.get("duration", ""))
    if duration is None:
        messages.error(request, "Pick how long to silence for.")
        return
    try:
        silence = silence_create(
            alarm=alarm,
            slo=slo,
            duration=duration,
            reason=request.POST.get("reason", ""),
            user=request_user(request),
        )
        messages.success(
            request, f"Notifications are silenced until {silence.ends_at:%Y-%m-%d %H:%M} UTC."
        )
    except ValidationError as error:
        messages.error(request, _errors(error))


@require_POST
def alarm_silence_view(request: HttpRequest, pk: int) -> HttpResponse:
    alarm = get_object_or_404(Alarm.objects.select_related("team"), pk=pk)
    _silence(request, alarm=alarm)
    return redirect(alarm.get_absolute_url())


@require_POST
def slo_silence_view(request: HttpRequest, pk: int) -> HttpResponse:
    slo = get_object_or_404(SLO.objects.select_related("team"), pk=pk)
    _silence(request, slo=slo)
    return redirect(slo.get_absolute_url())


@require_POST
def silence_end_view(request: HttpRequest, pk: int) -> HttpResponse:
    silence = get_object_or_404(Silence.objects.select_related("alarm__team", "slo__team"), pk=pk)
    target = silence.alarm or silence.slo
    assert target is not None
    require(request_user(request), Action.RESPOND, target)
    silence_end(silence=silence)
    messages.success(request, "The silence has ended.")
    return redirect(target.get_absolute_url())
