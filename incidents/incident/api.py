"""JSON API for incidents, COEs and action items (bearer tokens: `read` to list and fetch,
`write` to open incidents, change their status and add to their timelines).

A token sees what its team sees: restricted incidents of other teams, and their COEs and action
items, do not exist for it (404, and absent from lists)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from coe_portal.accounts.auth import token_required
from coe_portal.accounts.models import ApiToken, Service
from incidents.models import ActionItem, Coe, Incident, Severity, TimelineEntry
from incidents.models.coe import SECTIONS
from incidents.selectors import incidents_visible_to_team
from incidents.services import incident_open, incident_set_status

LIMIT = 500


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _error(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"status": "error", "error": message, **extra}, status=status)


def _token(request: HttpRequest) -> ApiToken:
    token = request.api_token  # type: ignore[attr-defined]
    assert isinstance(token, ApiToken)
    return token


def _incidents(request: HttpRequest) -> QuerySet[Incident]:
    return incidents_visible_to_team(_token(request).team)


def incident_json(incident: Incident, *, timeline: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": incident.pk,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "team": incident.team.name,
        "services": [s.name for s in incident.services.all()],
        "owner": incident.owner.get_username() if incident.owner else None,
        "summary": incident.summary,
        "started_at": _iso(incident.started_at),
        "detected_at": _iso(incident.detected_at),
        "mitigated_at": _iso(incident.mitigated_at),
        "resolved_at": _iso(incident.resolved_at),
        "restricted": incident.restricted,
        "alarms": [a.name for a in incident.alarms.all()],
        "slos": [s.name for s in incident.slos.all()],
        "coe": getattr(getattr(incident, "coe", None), "pk", None),
    }
    if timeline:
        data["timeline"] = [
            {
                "at": _iso(entry.at),
                "kind": entry.kind,
                "text": entry.text,
                "author": entry.author.get_username() if entry.author else None,
            }
            for entry in incident.timeline.select_related("author")
        ]
    return data


def action_item_json(item: ActionItem) -> dict[str, Any]:
    return {
        "id": item.pk,
        "coe": item.coe_id,
        "title": item.title,
        "owner": item.owner.get_username(),
        "team": item.team.name,
        "priority": item.priority,
        "kind": item.kind,
        "due_date": item.due_date.isoformat(),
        "tracker_url": item.tracker_url or None,
        "status": item.status,
    }


def coe_json(coe: Coe, *, full: bool = False) -> dict[str, Any]:
    items = list(coe.action_items.select_related("owner", "team"))
    data: dict[str, Any] = {
        "id": coe.pk,
        "title": coe.title,
        "state": coe.state,
        "revision": coe.revision,
        "incident": coe.incident_id,
        "severity": coe.incident.severity,
        "team": coe.team.name,
        "services": [s.name for s in coe.services.all()],
        "authors": [u.get_username() for u in coe.authors.all()],
        "created_at": _iso(coe.created_at),
        "submitted_at": _iso(coe.submitted_at),
        "approved_at": _iso(coe.approved_at),
        "closed_at": _iso(coe.closed_at),
        "action_items_done": sum(1 for item in items if item.is_finished),
        "action_items_total": len(items),
    }
    if full:
        data["sections"] = {field: getattr(coe, field) for field, _, _ in SECTIONS}
        data["impact"] = {
            "customers_affected": coe.customers_affected,
            "impact_minutes": coe.impact_minutes,
            "failed_requests": coe.failed_requests,
            "budget_consumed_percent": coe.budget_consumed_percent,
        }
        data["questions"] = [
            {"group": a.group, "question": a.prompt, "answer": a.answer} for a in coe.answers.all()
        ]
        data["whys"] = [
            {"chain": w.chain, "position": w.position, "why": w.question, "because": w.answer}
            for w in coe.whys.all()
        ]
        data["action_items"] = [action_item_json(item) for item in items]
        data["reviews"] = [
            {
                "action": r.action,
                "user": r.user.get_username() if r.user else None,
                "note": r.note,
                "at": _iso(r.at),
                "revision": r.coe_revision,
            }
            for r in coe.reviews.select_related("user")
        ]
    return data


@require_GET
@token_required("read")
def incident_list_api(request: HttpRequest) -> JsonResponse:
    incidents = _incidents(request).prefetch_related("services", "alarms", "slos")
    for key in ("status", "severity"):
        if request.GET.get(key):
            incidents = incidents.filter(**{key: request.GET[key]})
    if request.GET.get("team"):
        incidents = incidents.filter(team__name=request.GET["team"])
    data = [incident_json(incident) for incident in incidents[:LIMIT]]
    return JsonResponse({"status": "success", "data": data})


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ValidationError("body must be a JSON object")
    return body


def _when(body: dict[str, Any], key: str) -> datetime | None:
    value = body.get(key)
    if value in (None, ""):
        return None
    moment = parse_datetime(str(value)) if isinstance(value, str) else None
    if moment is None or moment.tzinfo is None:
        raise ValidationError({key: "give an ISO 8601 time with a zone, e.g. 2026-11-23T10:00Z"})
    return moment


def _invalid(error: ValidationError) -> JsonResponse:
    if hasattr(error, "error_dict"):
        return _error(400, "invalid fields", errors=error.message_dict)
    return _error(400, " ".join(error.messages))


def incident_create_api(request: HttpRequest) -> JsonResponse:
    token = _token(request)
    try:
        body = _json_body(request)
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            raise ValidationError({"title": "required: a non-empty string"})
        severity = body.get("severity", Severity.SEV3)
        if severity not in Severity.values:
            raise ValidationError({"severity": f"one of {', '.join(Severity.values)}"})
        names = body.get("services", [])
        if not isinstance(names, list):
            raise ValidationError({"services": "a list of service names"})
        services = list(Service.objects.filter(name__in=names))
        unknown = sorted(set(names) - {s.name for s in services})
        if unknown:
            raise ValidationError({"services": f"unknown services: {', '.join(unknown)}"})
        started = _when(body, "started_at")
        incident = incident_open(
            title=title, severity=severity, team=token.team, services=services,
            started_at=started or timezone.now(), detected_at=_when(body, "detected_at"),
            summary=str(body.get("summary", "")), restricted=bool(body.get("restricted", False)),
        )  # fmt: skip
    except ValidationError as error:
        return _invalid(error)
    return JsonResponse({"status": "success", "data": incident_json(incident)}, status=201)


@csrf_exempt
@login_not_required
def incidents_api(request: HttpRequest) -> HttpResponse:
    """GET lists (`read`), POST opens an incident for the token's team (`write`)."""
    if request.method == "POST":
        return token_required("write")(incident_create_api)(request)
    return incident_list_api(request)


@require_GET
@token_required("read")
def incident_detail_api(request: HttpRequest, pk: int) -> JsonResponse:
    incident = _incidents(request).filter(pk=pk).first()
    if incident is None:
        return _error(404, f"no incident with id {pk}")
    return JsonResponse({"status": "success", "data": incident_json(incident, timeline=True)})


def _own_incident(request: HttpRequest, pk: int) -> Incident | JsonResponse:
    incident = _incidents(request).filter(pk=pk).first()
    if incident is None:
        return _error(404, f"no incident with id {pk}")
    if incident.team_id != _token(request).team_id:
        return _error(
            403, f"incident {pk} belongs to {incident.team.name}: this token cannot change it"
        )
    return incident


@require_POST
@token_required("write")
def incident_status_api(request: HttpRequest, pk: int) -> JsonResponse:
    incident = _own_incident(request, pk)
    if isinstance(incident, JsonResponse):
        return incident
    try:
        body = _json_body(request)
        incident = incident_set_status(incident=incident, status=str(body.get("status", "")))
    except ValidationError as error:
        return _invalid(error)
    return JsonResponse({"status": "success", "data": incident_json(incident)})


@require_POST
@token_required("write")
def incident_timeline_api(request: HttpRequest, pk: int) -> JsonResponse:
    incident = _own_incident(request, pk)
    if isinstance(incident, JsonResponse):
        return incident
    try:
        body = _json_body(request)
        kind = body.get("kind", TimelineEntry.Kind.NOTE)
        if kind not in (
            TimelineEntry.Kind.NOTE,
            TimelineEntry.Kind.DEPLOY,
            TimelineEntry.Kind.ACTION,
        ):
            raise ValidationError({"kind": "one of note, deploy, action"})
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValidationError({"text": "required: a non-empty string"})
        entry = TimelineEntry.objects.create(
            incident=incident, at=_when(body, "at") or timezone.now(), kind=kind,
            text=text.strip(),
        )  # fmt: skip
    except ValidationError as error:
        return _invalid(error)
    return JsonResponse(
        {
            "status": "success",
            "data": {"at": _iso(entry.at), "kind": entry.kind, "text": entry.text},
        },
        status=201,
    )


def _coes(request: HttpRequest) -> QuerySet[Coe]:
    return Coe.objects.filter(incident__in=_incidents(request).values("pk")).select_related(
        "team", "incident"
    )


@require_GET
@token_required("read")
def coe_list_api(request: HttpRequest) -> JsonResponse:
    coes = _coes(request).prefetch_related("services", "authors")
    if request.GET.get("state"):
        coes = coes.filter(state=request.GET["state"])
    if request.GET.get("team"):
        coes = coes.filter(team__name=request.GET["team"])
    return JsonResponse({"status": "success", "data": [coe_json(c) for c in coes[:LIMIT]]})


@require_GET
@token_required("read")
def coe_detail_api(request: HttpRequest, pk: int) -> JsonResponse:
    coe = _coes(request).filter(pk=pk).first()
    if coe is None:
        return _error(404, f"no COE with id {pk}")
    return JsonResponse({"status": "success", "data": coe_json(coe, full=True)})


@require_GET
@token_required("read")
def action_item_list_api(request: HttpRequest) -> JsonResponse:
    items = ActionItem.objects.filter(coe__in=_coes(request).values("pk")).select_related(
        "owner", "team"
    )
    for key in ("status", "priority", "kind"):
        if request.GET.get(key):
            items = items.filter(**{key: request.GET[key]})
    if request.GET.get("team"):
        items = items.filter(team__name=request.GET["team"])
    if request.GET.get("owner"):
        items = items.filter(owner__username=request.GET["owner"])
    data = [action_item_json(item) for item in items[:LIMIT]]
    return JsonResponse({"status": "success", "data": data})
