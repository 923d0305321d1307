"""Build COEs for tests: an incident that ran its course, and a COE written in full."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from incidents.coe.editing import WhyRow, action_item_save, coe_save_field, coe_save_whys
from incidents.coe.editing import coe_start as start
from incidents.coe.models import SECTION_FIELDS, Coe
from incidents.incident.models import Incident
from incidents.incident.services import incident_open, incident_set_status

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

WHYS = [
    ("Why did checkout fail?", "The payment client timed out on every call."),
    ("Why did it time out?", "The new connection pool size was 1."),
    ("Why was the pool size 1?", "The config default changed in the client upgrade."),
    ("Why did the change reach production?", "No canary compares pool settings."),
    ("Why is there no such canary?", "Config is not covered by deployment safety checks."),
]


def resolved_incident(org, *, severity: str = "SEV2", **changes) -> Incident:
    incident = incident_open(
        title="Checkout errors", severity=severity, team=org.checkout, owner=org.owner,
        started_at=NOW - timedelta(minutes=40), detected_at=NOW - timedelta(minutes=35),
        services=[org.cart], summary="Payments failed for some customers.", **changes,
    )  # fmt: skip
    incident_set_status(incident=incident, status="mitigated", at=NOW - timedelta(minutes=10))
    return incident_set_status(incident=incident, status="resolved", at=NOW)


def save(coe: Coe, user, field: str, value: str) -> Coe:
    return coe_save_field(coe=coe, user=user, field=field, value=value, base_version=None)


def written_coe(org, incident: Incident | None = None) -> Coe:
    """A COE with every section, answer, five whys and one action item: ready to submit."""
    coe = start(incident=incident or resolved_incident(org), user=org.owner, now=NOW)
    for field in SECTION_FIELDS:
        coe = save(coe, org.owner, field, f"The {field.replace('_', ' ')} of this incident.")
    for answer in coe.answers.all():
        coe = save(coe, org.owner, answer.field_key, "Answered with what we learned.")
    coe = coe_save_whys(
        coe=coe, user=org.owner, rows=[WhyRow(1, q, a) for q, a in WHYS], base_version=None
    )
    action_item_save(
        coe=coe, user=org.owner, title="Add pool size to the canary checks", owner=org.teammate,
        priority="high", kind="prevent", due_date=date(2026, 12, 15),
    )  # fmt: skip
    return Coe.objects.get(pk=coe.pk)
