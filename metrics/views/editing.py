"""Creating and editing SLOs and alarms: pages for people, JSON for scripts (`write` scope).

Team leads of the owning team (and superusers) may create and change them; everyone can read."""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from coe_portal.accounts.auth import request_user, token_required
from coe_portal.accounts.models import ApiToken, Service, Team
from coe_portal.accounts.policy import Action, allowed, denial, require
from coe_portal.safe_json import JSONInputError, load_json
from metrics.alarms.models import Alarm
from metrics.alarms.selectors import alarm_as_json
from metrics.forms import AlarmForm, SLOForm
from metrics.slo.models import SLO
from metrics.slo.selectors import slo_as_json


def _check_can_manage(request: HttpRequest, form: ModelForm[Any]) -> None:
    team = (
        form.cleaned_data.get("team") if form.is_bound and hasattr(form, "cleaned_data") else None
    )
    team = team or getattr(form.instance, "team", None)
    if team is not None:
        require(request_user(request), Action.CHANGE_RULES, team)


def _edit(
    request: HttpRequest, form_class: type[ModelForm[Any]], instance: Model | None, what: str
) -> HttpResponse:
    # The owning team as stored, before the form copies posted values onto the instance.
    if instance is not None:
        require(request_user(request), Action.CHANGE_RULES, instance)
    if request.method == "POST":
        form = form_class(request.POST, instance=instance)
        if form.is_valid():
            _check_can_manage(request, form)
            saved = form.save()
            return redirect(saved.get_absolute_url())
        status = 400
    else:
        form = form_class(instance=instance)
        status = 200
    if instance is not None:
        _check_can_manage(request, form)
    return render(
        request,
        "metrics/edit.html",
        {"form": form, "what": what, "instance": instance},
        status=status,
    )


@require_http_methods(["GET", "POST"])
def slo_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, SLOForm, None, "SLO")


@require_http_methods(["GET", "POST"])
def slo_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, SLOForm, get_object_or_404(SLO, pk=pk), "SLO")


@require_http_methods(["GET", "POST"])
def alarm_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, AlarmForm, None, "alarm")


@require_http_methods(["GET", "POST"])
def alarm_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, AlarmForm, get_object_or_404(Alarm, pk=pk), "alarm")


def _form_data(body: dict[str, Any], token: ApiToken) -> dict[str, Any]:
    """JSON names to form values: services and teams by name, the token's team by default."""
    data = {key: value for key, value in body.items() if not isinstance(value, (dict, list))}
    if "service" in data:
        service = Service.objects.filter(name=data["service"]).first()
        data["service"] = service.pk if service else -1
    team_name = data.get("team") or token.team.name
    team = Team.objects.filter(name=team_name).first()
    data["team"] = team.pk if team else -1
    data.setdefault("enabled", True)
    return data


def _api_create(
    request: HttpRequest, form_class: type[ModelForm[Any]]
) -> tuple[Model | None, JsonResponse | None]:
    try:
        body = load_json(request.body or b"{}")
    except JSONInputError as exc:
        return None, JsonResponse({"status": "error", "error": str(exc)}, status=400)
    if not isinstance(body, dict):
        return None, JsonResponse(
            {"status": "error", "error": "body must be a JSON object"}, status=400
        )
    token: ApiToken = request.api_token  # type: ignore[attr-defined]
    form = form_class(_form_data(body, token))
    if not form.is_valid():
        errors = {field: [str(m) for m in messages] for field, messages in form.errors.items()}
        return None, JsonResponse(
            {"status": "error", "error": "invalid fields", "errors": errors}, status=400
        )
    team = form.cleaned_data["team"]
    if not allowed(token, Action.CHANGE_RULES, team):
        return None, JsonResponse(
            {"status": "error", "error": denial(token, Action.CHANGE_RULES, team)}, status=403
        )
    return form.save(), None


@require_POST
@token_required("write")
def slo_create_api(request: HttpRequest) -> JsonResponse:
    slo, error = _api_create(request, SLOForm)
    if error is not None:
        return error
    assert isinstance(slo, SLO)
    return JsonResponse({"status": "success", "data": slo_as_json(slo)}, status=201)


@require_POST
@token_required("write")
def alarm_create_api(request: HttpRequest) -> JsonResponse:
    alarm, error = _api_create(request, AlarmForm)
    if error is not None:
        return error
    assert isinstance(alarm, Alarm)
    return JsonResponse({"status": "success", "data": alarm_as_json(alarm)}, status=201)
