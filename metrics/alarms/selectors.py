"""Reads for alarms: their JSON shape for the API."""

from __future__ import annotations

from typing import Any

from metrics.alarms.models import Alarm


def alarm_as_json(alarm: Alarm) -> dict[str, Any]:
    return {
        "id": alarm.pk,
        "name": alarm.name,
        "team": alarm.team.name,
        "service": alarm.service.name if alarm.service else None,
        "kind": alarm.kind,
        "expression": alarm.expression or None,
        "rule": alarm.rule or None,
        "period_seconds": alarm.period_seconds,
        "evaluation_periods": alarm.evaluation_periods,
        "datapoints_to_alarm": alarm.datapoints_to_alarm,
        "comparison": alarm.comparison,
        "threshold": alarm.threshold,
        "treat_missing_data": alarm.treat_missing_data,
        "state": alarm.state,
        "state_reason": alarm.state_reason,
        "state_changed_at": alarm.state_changed_at.isoformat() if alarm.state_changed_at else None,
        "last_evaluated_at": alarm.last_evaluated_at.isoformat()
        if alarm.last_evaluated_at
        else None,
        "last_error": alarm.last_error or None,
    }
