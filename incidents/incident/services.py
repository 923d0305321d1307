"""Incident writes. Status changes go through `incident_set_status` alone: it checks the move,
sets the times and writes the timeline entry. Other changes go through `incident_edit`, which
writes one timeline entry per changed field. Who may call them is the caller's check
(`Action.EDIT_INCIDENT`): a page's user or an API token."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from coe_portal.accounts.models import Service, Team
from coe_portal.accounts.policy import Action, require
from incidents.incident.models import Incident, Severity, TimelineEntry, TimelineRevision

Status = Incident.Status
ALLOWED_MOVES = {
    Status.INVESTIGATING: {Status.IDENTIFIED, Status.MITIGATED, Status.RESOLVED},
    Status.IDENTIFIED: {Status.INVESTIGATING, Status.MITIGATED, Status.RESOLVED},
    Status.MITIGATED: {Status.INVESTIGATING, Status.IDENTIFIED, Status.RESOLVED},
    Status.RESOLVED: {Status.INVESTIGATING},  # reopening
}
# Clocks differ a little between a responder's laptop and the server.
FUTURE_TOLERANCE = timedelta(minutes=5)


def _not_in_future(moment: datetime | None, field: str) -> None:
    if moment is not None and moment > timezone.now() + FUTURE_TOLERANCE:
        raise ValidationError({field: "This time is in the future."})


@transaction.atomic
def incident_open(
    *,
    title: str,
    severity: str,
    team: Team,
    started_at: datetime,
    services: Iterable[Service] = (),
    owner: User | None = None,
    detected_at: datetime | None = None,
    summary: str = "",
    restricted: bool = False,
    visible_to: Iterable[Team] = (),
    opened_by: User | None = None,
) -> Incident:
    title = title.strip()
    if not title:
        raise ValidationError({"title": "Give the incident a title."})
    detected = detected_at or timezone.now()
    if detected < started_at:
        raise ValidationError({"detected_at": "An incident cannot be detected before it started."})
    incident = Incident.objects.create(
        title=title, severity=severity, team=team, owner=owner, summary=summary,
        started_at=started_at, detected_at=detected, restricted=restricted,
    )  # fmt: skip
    incident.services.set(services)
    incident.visible_to.set(visible_to)
    who = f" by {opened_by.get_username()}" if opened_by else ""
    TimelineEntry.objects.create(
        incident=incident, at=detected, kind=TimelineEntry.Kind.ACTION,
        text=f"Incident opened{who} ({severity}).", author=opened_by,
    )  # fmt: skip
    return incident


@transaction.atomic
def incident_set_status(
    *, incident: Incident, status: str, user: User | None = None, at: datetime | None = None
) -> Incident:
    locked = Incident.objects.select_for_update().get(pk=incident.pk)
    if status not in ALLOWED_MOVES.get(Status(locked.status), set()):
        wanted = Status(status).label if status in Status.values else repr(status)
        raise ValidationError(
            f"An incident cannot go from {locked.get_status_display()} to {wanted}."
        )
    if at is not None:
        _not_in_future(at, "at")
        if at < locked.started_at:
            raise ValidationError({"at": "A status cannot change before the incident started."})
    moment = at or timezone.now()
    old = locked.get_status_display()
    locked.status = status
    if status == Status.MITIGATED and locked.mitigated_at is None:
        locked.mitigated_at = moment
    if status == Status.RESOLVED:
        locked.resolved_at = moment
        if locked.mitigated_at is None:
            locked.mitigated_at = moment
    if status == Status.INVESTIGATING and incident.status == Status.RESOLVED:
        locked.resolved_at = None
    locked.save(update_fields=["status", "mitigated_at", "resolved_at"])
    TimelineEntry.objects.create(
        incident=locked, at=moment, kind=TimelineEntry.Kind.STATUS,
        text=f"Status: {old} → {locked.get_status_display()}.", author=user,
    )  # fmt: skip
    return locked


def timeline_note_add(
    *,
    incident: Incident,
    user: User,
    text: str,
    kind: str = TimelineEntry.Kind.NOTE,
    at: datetime | None = None,
) -> TimelineEntry:
    text = text.strip()
    if not text:
        raise ValidationError({"text": "Write something for the timeline."})
    return TimelineEntry.objects.create(
        incident=incident, at=at or timezone.now(), kind=kind, text=text, author=user
    )


@transaction.atomic
def timeline_entry_edit(*, entry: TimelineEntry, user: User, text: str) -> TimelineEntry:
    """Only the author edits an entry; the previous text is kept as a revision."""
    require(user, Action.EDIT_TIMELINE_ENTRY, entry)
    text = text.strip()
    if not text:
        raise ValidationError({"text": "An entry cannot be emptied; add a correction instead."})
    if text != entry.text:
        TimelineRevision.objects.create(entry=entry, text=entry.text)
        entry.text = text
        entry.edited_at = timezone.now()
        entry.save(update_fields=["text", "edited_at"])
    return entry


EDITABLE_FIELDS = (
    "title", "severity", "services", "summary", "owner", "started_at", "detected_at",
    "mitigated_at", "resolved_at", "alarms", "slos", "restricted", "visible_to",
)  # fmt: skip
TIME_FIELDS = ("started_at", "detected_at", "mitigated_at", "resolved_at")
MANY_FIELDS = ("services", "alarms", "slos", "visible_to")
LABELS = {
    "title": "Title", "severity": "Severity", "services": "Services", "summary": "Summary",
    "owner": "Lead", "started_at": "Started", "detected_at": "Detected",
    "mitigated_at": "Mitigated", "resolved_at": "Resolved", "alarms": "Alarms", "slos": "SLOs",
    "restricted": "Restricted", "visible_to": "Visible to",
}  # fmt: skip


def _shown(field: str, value: Any) -> str:
    """A value as the timeline shows it."""
    if field in TIME_FIELDS:
        return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if value else "not set"
    if field in MANY_FIELDS:
        names = (str(o) if field == "visible_to" else o.name for o in value)
        return ", ".join(sorted(names)) or "none"
    if field == "owner":
        return value.get_username() if value else "nobody"
    if field == "restricted":
        return "yes" if value else "no"
    return value or "empty"


def _current(incident: Incident, field: str) -> Any:
    if field in MANY_FIELDS:
        return set(getattr(incident, field).all())
    return getattr(incident, field)


def _validate(incident: Incident, new: dict[str, Any]) -> None:
    errors: dict[str, str] = {}
    if not new["title"]:
        errors["title"] = "Give the incident a title."
    if new["severity"] not in Severity.values:
        errors["severity"] = f"One of {', '.join(Severity.values)}."
    started = new["started_at"]
    if started is None:
        errors["started_at"] = "An incident has a start time."
    for field in TIME_FIELDS:
        moment = new[field]
        if moment is not None and moment > timezone.now() + FUTURE_TOLERANCE:
            errors[field] = "This time is in the future."
    if started is not None:
        if new["detected_at"] is not None and new["detected_at"] < started:
            errors.setdefault("detected_at", "An incident cannot be detected before it started.")
        for field in ("mitigated_at", "resolved_at"):
            if new[field] is not None and new[field] < started:
                errors.setdefault(field, f"{LABELS[field]} cannot be before the start.")
    mitigated, resolved = new["mitigated_at"], new["resolved_at"]
    status = incident.get_status_display()
    if incident.status == Status.RESOLVED:
        if resolved is None:
            errors.setdefault("resolved_at", "A resolved incident has a resolution time.")
    elif resolved is not None:
        errors.setdefault(
            "resolved_at", f"The incident is {status}, not resolved: move its status instead."
        )
    if incident.status in (Status.MITIGATED, Status.RESOLVED):
        if mitigated is None:
            errors.setdefault("mitigated_at", f"A {status.lower()} incident has a mitigation time.")
    elif mitigated is not None and mitigated != incident.mitigated_at:
        errors.setdefault(
            "mitigated_at", f"The incident is {status}, not mitigated: move its status instead."
        )
    if mitigated is not None and resolved is not None and resolved < mitigated:
        errors.setdefault("resolved_at", "An incident cannot be resolved before it was mitigated.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def incident_edit(*, incident: Incident, user: User | None, changes: dict[str, Any]) -> Incident:
    """Change any of EDITABLE_FIELDS (values as the model holds them: users, services, alarms,
    SLOs and teams as objects). Fields absent or unchanged are left alone and get no entry."""
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationError({name: "This field cannot be edited." for name in unknown})
    locked = Incident.objects.select_for_update().get(pk=incident.pk)
    old = {field: _current(locked, field) for field in EDITABLE_FIELDS}
    new = dict(old)
    for field, value in changes.items():
        if field in MANY_FIELDS:
            value = set(value)
        elif field in ("title", "summary"):
            value = (value or "").strip()
        new[field] = value
    _validate(locked, new)
    changed = [field for field in EDITABLE_FIELDS if new[field] != old[field]]
    if not changed:
        return locked
    for field in changed:
        if field in MANY_FIELDS:
            getattr(locked, field).set(new[field])
        else:
            setattr(locked, field, new[field])
    scalar = [field for field in changed if field not in MANY_FIELDS]
    if scalar:
        locked.save(update_fields=scalar)
    now = timezone.now()
    entries = []
    for field in changed:
        text = f"{LABELS[field]}: {_shown(field, old[field])} → {_shown(field, new[field])}"
        text += "" if text.endswith((".", "!", "?")) else "."  # a summary ends in its own stop
        entries.append(
            TimelineEntry(
                incident=locked, at=now, kind=TimelineEntry.Kind.ACTION, text=text, author=user
            )
        )
    TimelineEntry.objects.bulk_create(entries)
    return locked
