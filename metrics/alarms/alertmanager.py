"""Alertmanager as an alarm source: its webhook JSON (version 4) becomes external alarms.

Each alert is identified by its fingerprint: `firing` puts its alarm in ALARM, `resolved` in
OK. Alertmanager repeats notifications (repeat_interval, retries): the same fingerprint with the
same status and startsAt is a duplicate and changes nothing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from django.db import transaction

from coe_portal.accounts.models import Team
from metrics.alarms.models import Alarm
from metrics.alarms.services import record_state

NAME_CHARACTERS = re.compile(r"[^a-z0-9-]+")
MAX_TIME_CHARS = 64


class AlertmanagerPayloadError(ValueError):
    pass


@dataclass(frozen=True)
class Received:
    alerts: int
    changed: int
    duplicates: int


def _time(text: Any, field: str) -> datetime | None:
    if not text or str(text).startswith("0001-01-01"):
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError):
        raise AlertmanagerPayloadError(f"{field} {text!r} is not an RFC 3339 time") from None


def _fingerprint(alert: dict[str, Any], labels: dict[str, str]) -> str:
    given = alert.get("fingerprint")
    if isinstance(given, str) and given:
        return given[:64]
    joined = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def parse_payload(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        raise AlertmanagerPayloadError("the body must be Alertmanager's webhook JSON object")
    if str(body.get("version")) != "4":
        version = body.get("version")
        raise AlertmanagerPayloadError(f"unsupported webhook version {version!r} (expected '4')")
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise AlertmanagerPayloadError("'alerts' must be a list")
    for index, alert in enumerate(alerts):
        if not isinstance(alert, dict) or alert.get("status") not in ("firing", "resolved"):
            raise AlertmanagerPayloadError(f"alerts[{index}]: status must be firing or resolved")
        if "labels" not in alert:
            raise AlertmanagerPayloadError(f"alerts[{index}]: labels must include alertname")
        for key in ("labels", "annotations"):
            pairs = alert.get(key, {})
            if not isinstance(pairs, dict) or not all(isinstance(v, str) for v in pairs.values()):
                raise AlertmanagerPayloadError(
                    f"alerts[{index}].{key} must be an object of strings"
                )
        if (
            not isinstance(alert["labels"].get("alertname"), str)
            or not alert["labels"]["alertname"]
        ):
            raise AlertmanagerPayloadError(f"alerts[{index}]: labels must include alertname")
        for key in ("startsAt", "endsAt", "fingerprint"):
            if alert.get(key) is not None and not isinstance(alert[key], str):
                raise AlertmanagerPayloadError(f"alerts[{index}].{key} must be a string")
        # An RFC 3339 time is at most 35 characters; the duplicate check keeps startsAt.
        for key in ("startsAt", "endsAt"):
            if len(alert.get(key) or "") > MAX_TIME_CHARS:
                raise AlertmanagerPayloadError(
                    f"alerts[{index}].{key} is longer than {MAX_TIME_CHARS} characters"
                )
    return alerts


def receive_alerts(*, team: Team, body: Any) -> Received:
    alerts = parse_payload(body)
    changed = duplicates = 0
    for alert in alerts:
        labels = dict(alert["labels"])
        fingerprint = _fingerprint(alert, labels)
        starts = _time(alert.get("startsAt"), "startsAt")
        ends = _time(alert.get("endsAt"), "endsAt")
        event = f"{alert['status']}@{alert.get('startsAt') or ''}"
        firing = alert["status"] == "firing"
        with transaction.atomic():
            alarm, _ = Alarm.objects.select_for_update().get_or_create(
                team=team,
                kind=Alarm.Kind.EXTERNAL,
                external_fingerprint=fingerprint,
                defaults={
                    # A callable: only evaluated (one more query) when the alarm is created.
                    "name": partial(_alarm_name, team, labels["alertname"], fingerprint),
                    "external_labels": labels,
                    "description": str((alert.get("annotations") or {}).get("summary", "")),
                },
            )
            if alarm.external_last_event == event:
                duplicates += 1
                continue
            alarm.external_last_event = event
            alarm.external_labels = labels
            alarm.save(update_fields=["external_last_event", "external_labels"])
            at = (starts if firing else ends) or datetime.now(tz=UTC)
            summary = str((alert.get("annotations") or {}).get("summary", ""))
            reason = f"Alertmanager: {labels['alertname']} {alert['status']}" + (
                f": {summary}" if summary else ""
            )
            new_state = Alarm.State.ALARM if firing else Alarm.State.OK
            if record_state(alarm, at, new_state, reason, []):
                changed += 1
    return Received(len(alerts), changed, duplicates)


def _alarm_name(team: Team, alertname: str, fingerprint: str) -> str:
    """`<alertname>-<fingerprint's first 8>`; if another alarm of the team has that name (a
    fingerprint sharing the first 8 characters), a longer suffix derived from all of it."""
    slug = NAME_CHARACTERS.sub("-", alertname.lower()).strip("-")[:80] or "alert"
    name = f"{slug}-{fingerprint[:8]}"
    if Alarm.objects.filter(team=team, name=name).exists():
        name = f"{slug}-{hashlib.sha256(fingerprint.encode()).hexdigest()[:16]}"
    return name
