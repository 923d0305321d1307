"""The one call `metrics` makes into `incidents`: an alarm or SLO alert changed state.

An alarm or SLO whose `open_incident_severity` is set opens an incident when it fires; while
that incident is open, further changes (a re-fire, the recovery) go to its timeline instead of
opening another."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Model

from incidents.incident.models import Incident, TimelineEntry
from incidents.incident.services import incident_open

FIRING = {"ALARM", "page", "ticket"}


def alert_changed(
    *,
    source: Model,
    name: str,
    old_state: str,
    new_state: str,
    reason: str,
    at: datetime,
    started_at: datetime | None = None,
) -> Incident | None:
    """Record an alarm's or SLO's change on its open incident, or open one when it starts
    firing. `started_at` is when the trouble began as the rule saw it (the first breaching
    datapoint, the start of the burning window), which is earlier than its detection `at`."""
    severity = getattr(source, "open_incident_severity", "")
    if not severity:
        return None
    field = "alarms" if source._meta.model_name == "alarm" else "slos"
    incident = (
        Incident.objects.filter(**{field: source})
        .exclude(status=Incident.Status.RESOLVED)
        .order_by("-started_at")
        .first()
    )
    text = f"{name}: {old_state} → {new_state}. {reason}"
    if incident is not None:
        TimelineEntry.objects.create(
            incident=incident, at=at, kind=TimelineEntry.Kind.ALARM, text=text
        )
        return incident
    if new_state not in FIRING:
        return None
    service = getattr(source, "service", None)
    incident = incident_open(
        title=f"{name} is firing",
        severity=severity,
        team=source.team,  # type: ignore[attr-defined]
        started_at=min(started_at or at, at),
        detected_at=at,
        services=[service] if service is not None else [],
        summary=reason,
    )
    getattr(incident, field).add(source)
    TimelineEntry.objects.create(incident=incident, at=at, kind=TimelineEntry.Kind.ALARM, text=text)
    return incident
