"""JSON API for incidents (bearer tokens: `read` to list and fetch incidents and timelines,
`write` to open incidents, edit them, change their status and add to their timelines), and the
request and answer helpers the COE and action-item APIs share with it.

A token sees what its team sees: restricted incidents of other teams, and their COEs and action
items, do not exist for it (404, and absent from lists)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from coe_portal.accounts.auth import token_required
from coe_portal.accounts.models import ApiToken, Service, Team
from coe_portal.accounts.policy import Action, allowed, denial
from coe_portal.safe_json import JSONInputError, load_json
from incidents.incident.models import Incident, Severity, TimelineEntry
from incidents.incident.selectors import incidents_visible_to_team
from incidents.incident.services import (
    EDITABLE_FIELDS,
    TIME_FIELDS,
    incident_edit,
    incident_open,
    incident_set_status,
)
from metrics.alarms.models import Alarm
from metrics.slo.models import SLO

LIMIT = 500
TITLE_LENGTH = Incident._meta.get_field("title").max_length or 200


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def api_error(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"status": "error", "error": message, **extra}, status=status)


def request_token(request: HttpRequest) -> ApiToken:
    token = request.api_token  # type: ignore[attr-defined]
    assert isinstance(token, ApiToken)
    return token


def _incidents(request: HttpRequest) -> QuerySet[Incident]:
    return incidents_visible_to_team(request_token(request).team)


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
        "started_at": iso(incident.started_at),
        "detected_at": iso(incident.detected_at),
        "mitigated_at": iso(incident.mitigated_at),
        "resolved_at": iso(incident.resolved_at),
        "restricted": incident.restricted,
        "alarms": [a.name for a in incident.alarms.all()],
        "slos": [s.name for s in incident.slos.all()],
        "coe": getattr(getattr(incident, "coe", None), "pk", None),
    }
    if timeline:
        data["timeline"] = [
            {
                "at": iso(entry.at),
                "kind": entry.kind,
                "text": entry.text,
                "author": entry.author.get_username() if entry.author else None,
            }
            for entry in incident.timeline.select_related("author")
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


def json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = load_json(request.body or b"{}")
    except JSONInputError as exc:
        raise ValidationError(str(exc)) from None
    if not isinstance(body, dict):
        raise ValidationError("body must be a JSON object")
    return body


def body_time(body: dict[str, Any], key: str) -> datetime | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    try:
        moment = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well-formed but impossible, such as month 13
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValidationError({key: "give an ISO 8601 time with a zone, e.g. 2026-11-23T10:00Z"})
    try:
        moment.astimezone(UTC)  # what the database stores must stay within years 1-9999
    except OverflowError:
        raise ValidationError({key: "give a time between the years 1 and 9999 in UTC"}) from None
    return moment


def body_text(
    body: dict[str, Any], key: str, *, max_length: int | None = None, required: bool = False
) -> str:
    """A string field of the body: absent or null is empty (or refused when required); any
    other type is refused, and so is text longer than its column holds."""
    value = body.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({key: "must be a string"})
    if required and not value.strip():
        raise ValidationError({key: "required: a non-empty string"})
    if max_length is not None and len(value) > max_length:
        raise ValidationError({key: f"at most {max_length} characters (got {len(value)})"})
    return value


def invalid(error: ValidationError) -> JsonResponse:
    if hasattr(error, "error_dict"):
        return api_error(400, "invalid fields", errors=error.message_dict)
    return api_error(400, " ".join(error.messages))


def incident_create_api(request: HttpRequest) -> JsonResponse:
    token = request_token(request)
    try:
        body = json_body(request)
        title = body_text(body, "title", max_length=TITLE_LENGTH, required=True)
        severity = body.get("severity", Severity.SEV3)
        if not isinstance(severity, str) or severity not in Severity.values:
            raise ValidationError({"severity": f"one of {', '.join(Severity.values)}"})
        names = body.get("services", [])
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise ValidationError({"services": "a list of service names"})
        services = list(Service.objects.filter(name__in=names))
        unknown = sorted(set(names) - {s.name for s in services})
        if unknown:
            raise ValidationError({"services": f"unknown services: {', '.join(unknown)}"})
        restricted = body.get("restricted", False)
        if not isinstance(restricted, bool):
            raise ValidationError({"restricted": "must be true or false"})
        started = body_time(body, "started_at")
        incident = incident_open(
            title=title, severity=severity, team=token.team, services=services,
            started_at=started or timezone.now(), detected_at=body_time(body, "detected_at"),
            summary=body_text(body, "summary"), restricted=restricted,
        )  # fmt: skip
    except ValidationError as error:
        return invalid(error)
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
def incident_get_api(request: HttpRequest, pk: int) -> JsonResponse:
    incident = _incidents(request).filter(pk=pk).first()
    if incident is None:
        return api_error(404, f"no incident with id {pk}")
    return JsonResponse({"status": "success", "data": incident_json(incident, timeline=True)})


@csrf_exempt
@login_not_required
def incident_detail_api(request: HttpRequest, pk: int) -> HttpResponse:
    """GET fetches (`read`), PATCH edits (`write`)."""
    if request.method == "PATCH":
        return token_required("write")(incident_patch_api)(request, pk)
    return incident_get_api(request, pk)


def _own_incident(
    request: HttpRequest, pk: int, action: Action = Action.RUN_INCIDENT
) -> Incident | JsonResponse:
    incident = _incidents(request).filter(pk=pk).first()
    if incident is None:
        return api_error(404, f"no incident with id {pk}")
    if not allowed(request_token(request), action, incident):
        return api_error(403, denial(request_token(request), action, incident))
    return incident


def _names(body: dict[str, Any], key: str, model: Any, field: str = "name") -> list[Any]:
    """A list of names in the body, as the objects they name; unknown names are refused."""
    names = body[key]
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ValidationError({key: f"a list of {field}s"})
    found = list(model.objects.filter(**{f"{field}__in": names}))
    unknown = sorted(set(names) - {getattr(o, field) for o in found})
    if unknown:
        raise ValidationError({key: f"unknown: {', '.join(unknown)}"})
    return found


def edit_changes(body: dict[str, Any]) -> dict[str, Any]:
    """The body of a PATCH as `incident_edit`'s changes: only the keys present."""
    unknown = sorted(set(body) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationError({key: "not an editable field" for key in unknown})
    changes: dict[str, Any] = {}
    if "title" in body:
        changes["title"] = body_text(body, "title", max_length=TITLE_LENGTH, required=True)
    if "summary" in body:
        changes["summary"] = body_text(body, "summary")
    if "severity" in body:
        if body["severity"] not in Severity.values:
            raise ValidationError({"severity": f"one of {', '.join(Severity.values)}"})
        changes["severity"] = body["severity"]
    if "owner" in body:
        owner = body["owner"]
        if owner is None:
            changes["owner"] = None
        elif not isinstance(owner, str):
            raise ValidationError({"owner": "a username, or null for no lead"})
        else:
            lead = User.objects.filter(username=owner).first()
            if lead is None:
                raise ValidationError({"owner": f"no user named {owner}"})
            changes["owner"] = lead
    for key in TIME_FIELDS:
        if key in body:
            changes[key] = body_time(body, key)
    if "restricted" in body:
        if not isinstance(body["restricted"], bool):
            raise ValidationError({"restricted": "must be true or false"})
        changes["restricted"] = body["restricted"]
    for key, model in (("services", Service), ("alarms", Alarm), ("slos", SLO)):
        if key in body:
            changes[key] = _names(body, key, model)
    if "visible_to" in body:
        changes["visible_to"] = _names(body, "visible_to", Team)
    return changes


def incident_patch_api(request: HttpRequest, pk: int) -> JsonResponse:
    incident = _own_incident(request, pk, Action.EDIT_INCIDENT)
    if isinstance(incident, JsonResponse):
        return incident
    try:
        changes = edit_changes(json_body(request))
        incident = incident_edit(incident=incident, user=None, changes=changes)
    except ValidationError as error:
        return invalid(error)
    return JsonResponse({"status": "success", "data": incident_json(incident)})


@require_POST
@token_required("write")
def incident_status_api(request: HttpRequest, pk: int) -> JsonResponse:
    incident = _own_incident(request, pk, Action.EDIT_INCIDENT)
    if isinstance(incident, JsonResponse):
        return incident
    try:
        body = json_body(request)
        incident = incident_set_status(
            incident=incident, status=body_text(body, "status"), at=body_time(body, "at")
        )
    except ValidationError as error:
        return invalid(error)
    return JsonResponse({"status": "success", "data": incident_json(incident)})


def timeline_json(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "kind": entry.kind,
        "at": iso(entry.at),
        "text": entry.text,
        "author": entry.author.get_username() if entry.author else None,
    }


@require_GET
@token_required("read")
def incident_timeline_list_api(request: HttpRequest, pk: int) -> JsonResponse:
    incident = _incidents(request).filter(pk=pk).first()
    if incident is None:
        return api_error(404, f"no incident with id {pk}")
    entries = incident.timeline.select_related("author")
    return JsonResponse({"status": "success", "data": [timeline_json(e) for e in entries]})


@csrf_exempt
@login_not_required
def incident_timeline_api(request: HttpRequest, pk: int) -> HttpResponse:
    """GET lists the timeline (`read`), POST adds to it (`write`)."""
    if request.method == "POST":
        return token_required("write")(incident_timeline_add_api)(request, pk)
    return incident_timeline_list_api(request, pk)


def incident_timeline_add_api(request: HttpRequest, pk: int) -> JsonResponse:
    incident = _own_incident(request, pk)
    if isinstance(incident, JsonResponse):
        return incident
    try:
        body = json_body(request)
        kind = body.get("kind", TimelineEntry.Kind.NOTE)
        if not isinstance(kind, str) or kind not in (
            TimelineEntry.Kind.NOTE,
            TimelineEntry.Kind.DEPLOY,
            TimelineEntry.Kind.ACTION,
        ):
            raise ValidationError({"kind": "one of note, deploy, action"})
        text = body_text(body, "text", required=True)
        entry = TimelineEntry.objects.create(
            incident=incident, at=body_time(body, "at") or timezone.now(), kind=kind,
            text=text.strip(),
        )  # fmt: skip
    except ValidationError as error:
        return invalid(error)
    return JsonResponse(
        {
            "status": "success",
            "data": {"at": iso(entry.at), "kind": entry.kind, "text": entry.text},
        },
        status=201,
    )
