"""Incident writes. Status changes go through `incident_set_status` alone: it checks the move,
sets the times and writes the timeline entry."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from coe_portal.accounts.models import Service, Team
from coe_portal.accounts.policy import Action, require
from incidents.incident.models import Incident, TimelineEntry, TimelineRevision

Status = Incident.Status
ALLOWED_MOVES = {
    Status.INVESTIGATING: {Status.IDENTIFIED, Status.MITIGATED, Status.RESOLVED},
    Status.IDENTIFIED: {Status.INVESTIGATING, Status.MITIGATED, Status.RESOLVED},
    Status.MITIGATED: {Status.INVESTIGATING, Status.IDENTIFIED, Status.RESOLVED},
    Status.RESOLVED: {Status.INVESTIGATING},  # reopening
}


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
