"""Incident pages: list, open one, the incident page with its timeline, status, edit form and
notes."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from coe_portal.accounts.auth import request_user
from coe_portal.accounts.policy import Action, allowed, require
from coe_portal.pagination import paginate
from incidents.coe.models import Coe
from incidents.incident.charts import build_incident_charts
from incidents.incident.forms import IncidentEditForm, IncidentForm, StatusForm
from incidents.incident.models import COE_REQUIRED_SEVERITIES, Incident, TimelineEntry
from incidents.incident.selectors import get_incident_for_user, incidents_visible_to
from incidents.incident.services import (
    incident_edit,
    incident_open,
    incident_set_status,
    timeline_entry_edit,
    timeline_note_add,
)


@require_GET
def incident_list(request: HttpRequest) -> HttpResponse:
    incidents = incidents_visible_to(request.user).prefetch_related("services")
    incidents = incidents.annotate(has_coe=Exists(Coe.objects.filter(incident=OuterRef("pk"))))
    status = request.GET.get("status", "")
    if status == "open":
        incidents = incidents.exclude(status=Incident.Status.RESOLVED)
    elif status == "coe_due":
        incidents = incidents.filter(
            status=Incident.Status.RESOLVED,
            severity__in=COE_REQUIRED_SEVERITIES,
            has_coe=False,
        )
    elif status:
        incidents = incidents.filter(status=status)
    page = paginate(request, incidents)
    return render(
        request, "incidents/incident/list.html", {"incidents": page, "page": page, "status": status}
    )


@require_http_methods(["GET", "POST"])
def incident_create(request: HttpRequest) -> HttpResponse:
    form = IncidentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            incident = incident_open(
                title=data["title"], severity=data["severity"], team=data["team"],
                started_at=data["started_at"], services=data["services"], owner=data["owner"],
                detected_at=data["detected_at"], summary=data["summary"],
                restricted=data["restricted"], visible_to=data["visible_to"],
                opened_by=request_user(request),
            )  # fmt: skip
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            return redirect(incident.get_absolute_url())
    status = 400 if request.method == "POST" else 200
    return render(request, "incidents/incident/form.html", {"form": form}, status=status)


def _detail_page(
    request: HttpRequest,
    incident: Incident,
    *,
    edit_form: IncidentEditForm | None = None,
    status: int = 200,
) -> HttpResponse:
    timeline = incident.timeline.select_related("author").prefetch_related("revisions")
    user = request_user(request)
    can_edit = allowed(user, Action.EDIT_INCIDENT, incident)
    context = {
        "incident": incident,
        "coe": Coe.objects.filter(incident=incident).first(),
        "can_start_coe": allowed(user, Action.START_COE, incident),
        "can_run": allowed(user, Action.RUN_INCIDENT, incident),
        "can_edit": can_edit,
        "edit_form": edit_form or (IncidentEditForm(incident=incident) if can_edit else None),
        "charts": build_incident_charts(incident),
        "timeline": timeline,
        "statuses": [s for s in Incident.Status if s != incident.status],
        "kinds": TimelineEntry.Kind.choices,
    }
    return render(request, "incidents/incident/detail.html", context, status=status)


@require_GET
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail_page(request, get_incident_for_user(request.user, pk))


@require_POST
def incident_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_incident_for_user(request.user, pk)
    require(request_user(request), Action.EDIT_INCIDENT, incident)
    form = IncidentEditForm(request.POST, incident=incident)
    if form.is_valid():
        try:
            incident_edit(incident=incident, user=request_user(request), changes=form.cleaned_data)
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            return redirect(incident.get_absolute_url())
    return _detail_page(request, incident, edit_form=form, status=400)


@require_POST
def incident_status(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_incident_for_user(request.user, pk)
    require(request_user(request), Action.EDIT_INCIDENT, incident)
    form = StatusForm(request.POST)
    if not form.is_valid():
        problems = [
            f"{form[name].label}: {' '.join(map(str, errs))}" for name, errs in form.errors.items()
        ]
        messages.error(request, " ".join(problems))
        return redirect(incident.get_absolute_url())
    try:
        incident_set_status(
            incident=incident, status=form.cleaned_data["status"], user=request_user(request),
            at=form.cleaned_data["at"],
        )  # fmt: skip
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect(incident.get_absolute_url())


@require_POST
def timeline_add(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_incident_for_user(request.user, pk)
    require(request_user(request), Action.RUN_INCIDENT, incident)
    kind = request.POST.get("kind", TimelineEntry.Kind.NOTE)
    if kind not in (TimelineEntry.Kind.NOTE, TimelineEntry.Kind.DEPLOY, TimelineEntry.Kind.ACTION):
        kind = TimelineEntry.Kind.NOTE
    try:
        timeline_note_add(
            incident=incident,
            user=request_user(request),
            text=request.POST.get("text", ""),
            kind=kind,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect(incident.get_absolute_url())


@require_POST
def timeline_edit(request: HttpRequest, pk: int, entry_id: int) -> HttpResponse:
    incident = get_incident_for_user(request.user, pk)
    entry = get_object_or_404(TimelineEntry, pk=entry_id, incident=incident)
    try:
        timeline_entry_edit(
            entry=entry, user=request_user(request), text=request.POST.get("text", "")
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect(incident.get_absolute_url())
