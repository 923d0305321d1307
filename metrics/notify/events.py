"""What a notification announces, and how each channel kind words it. Pure functions."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PROBLEM_STATES = {"ALARM", "page", "ticket", "no_data"}


@dataclass(frozen=True)
class StateChange:
    key: str  # unique per state change, e.g. "alarm-transition:12"
    source: str  # "alarm" or "slo"
    name: str
    team: str
    service: str | None
    old_state: str
    new_state: str
    reason: str
    at: datetime
    url: str
    severity: str = "warning"
    labels: dict[str, str] = field(default_factory=dict)
    alarm_id: int | None = None
    slo_id: int | None = None

    @property
    def firing(self) -> bool:
        return self.new_state in PROBLEM_STATES

    @property
    def subject(self) -> str:
        verb = "FIRING" if self.firing else "RESOLVED"
        where = f" ({self.service})" if self.service else ""
        return f"[{verb}] {self.source} {self.name}{where}: {self.old_state} → {self.new_state}"


def webhook_payload(change: StateChange) -> dict[str, Any]:
    return {
        "event": f"{change.source}_state_change",
        "idempotency_key": change.key,
        "name": change.name,
        "team": change.team,
        "service": change.service,
        "old_state": change.old_state,
        "new_state": change.new_state,
        "firing": change.firing,
        "severity": change.severity,
        "reason": change.reason,
        "at": change.at.isoformat(),
        "url": change.url,
        "labels": change.labels,
    }


def slack_payload(change: StateChange) -> dict[str, Any]:
    icon = ":red_circle:" if change.firing else ":large_green_circle:"
    return {
        "text": f"{icon} *{change.subject}*\n{change.reason}\n<{change.url}|Open in COE Portal>"
    }


def alertmanager_payload(change: StateChange) -> dict[str, Any]:
    """Alertmanager's webhook body (version 4), so existing receivers work unchanged."""
    labels = {
        "alertname": change.name,
        "source": change.source,
        "team": change.team,
        "severity": change.severity,
        **({"service": change.service} if change.service else {}),
        **change.labels,
    }
    fingerprint = hashlib.sha256(
        ",".join(f"{k}={v}" for k, v in sorted(labels.items())).encode()
    ).hexdigest()[:16]
    status = "firing" if change.firing else "resolved"
    at = change.at.isoformat().replace("+00:00", "Z")
    alert = {
        "status": status,
        "labels": labels,
        "annotations": {"summary": change.subject, "description": change.reason},
        "startsAt": at if change.firing else "0001-01-01T00:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z" if change.firing else at,
        "generatorURL": change.url,
        "fingerprint": fingerprint,
    }
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{change.name}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "coe-portal",
        "groupLabels": {"alertname": change.name},
        "commonLabels": labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": change.url.split("/", 3)[0] + "//" + change.url.split("/", 3)[2]
        if "://" in change.url
        else change.url,
        "alerts": [alert],
    }


def email_body(change: StateChange) -> str:
    return (
        f"{change.subject}\n\n{change.reason}\n\nTeam: {change.team}\n"
        f"When: {change.at:%Y-%m-%d %H:%M} UTC\nDetails: {change.url}\n"
    )


def payload_for(kind: str, change: StateChange) -> dict[str, Any]:
    if kind == "slack":
        return slack_payload(change)
    if kind == "alertmanager":
        return alertmanager_payload(change)
    if kind == "email":
        return {"subject": change.subject, "body": email_body(change)}
    return webhook_payload(change)
