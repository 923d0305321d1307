"""The portal's SLO burn-rate alerts and alarms as Prometheus rule groups and alerts, for
`/api/v1/rules` and `/api/v1/alerts`: Grafana's alert list panel and Prometheus tooling read
them as they read a Prometheus server's.

Each SLO is a group of its multi-window burn-rate alerts (the query is the PromQL the portal's
evaluation is equivalent to; the portal evaluates it on its own, see metrics/slo/evaluate.py).
Each team's alarms are one group: a threshold alarm's query is its expression and comparison, a
composite alarm's its rule. States come from the last evaluation; nothing is evaluated here.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from metrics.alarms.models import Alarm
from metrics.slo.burn import ALERT_WINDOWS, error_budget
from metrics.slo.models import SLO
from metrics.slo.queries import EventQueries, event_queries

INTERVAL_SECONDS = 60  # the evaluation passes run every minute
NEVER = "0001-01-01T00:00:00Z"  # Prometheus's zero time, for a rule never evaluated


def _iso(moment: datetime | None) -> str:
    if moment is None:
        return NEVER
    return moment.isoformat().replace("+00:00", "Z")


def _ratio(queries: EventQueries) -> str:
    if queries.bad_is_good:
        return f"(1 - ({queries.bad}) / ({queries.total}))"
    return f"(({queries.bad}) / ({queries.total}))"


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def slo_group(slo: SLO) -> dict[str, Any]:
    spec = slo.to_spec()
    budget = error_budget(slo.objective_percent)
    figures = {
        (check["long_window"], check["short_window"]): check
        for check in (slo.last_figures or {}).get("alerts", [])
    }
    labels = {"slo": slo.name, "service": slo.service.name, "team": slo.team.name}
    rules = []
    for window in ALERT_WINDOWS:
        factor = window.factor(slo.window)
        limit = _number(factor * budget)
        query = (
            f"{_ratio(event_queries(spec, window.long))} > {limit} and "
            f"{_ratio(event_queries(spec, window.short))} > {limit}"
        )
        check = figures.get((window.long, window.short), {})
        firing = bool(check.get("firing")) and slo.enabled
        rule_labels = {**labels, "severity": window.severity}
        annotations = {
            "summary": f"{slo.name} burns its error budget {_number(factor)}x too fast over "
            f"{window.long} and {window.short} (objective {_number(slo.objective_percent)} % "
            f"over {slo.window})",
            **({"description": check["reason"]} if check.get("reason") else {}),
        }
        name = f"{slo.name}:burn_rate:{window.long}_{window.short}"
        alerts = []
        if firing:
            alerts.append(
                {
                    "labels": {"alertname": name, **rule_labels},
                    "annotations": annotations,
                    "state": "firing",
                    "activeAt": _iso(slo.alert_since),
                    "value": str(check.get("long_burn_rate") or ""),
                }
            )
        rules.append(
            _alerting_rule(name, query, rule_labels, annotations, alerts, slo.last_error,
                           slo.last_evaluated_at)
        )  # fmt: skip
    return _group(f"slo/{slo.team.name}/{slo.name}", rules, slo.last_evaluated_at)


def alarm_groups(alarms: list[Alarm]) -> list[dict[str, Any]]:
    by_team: dict[str, list[Alarm]] = defaultdict(list)
    for alarm in alarms:
        by_team[alarm.team.name].append(alarm)
    groups = []
    for team, members in sorted(by_team.items()):
        rules = [_alarm_rule(alarm) for alarm in sorted(members, key=lambda a: a.name)]
        last = max((a.last_evaluated_at for a in members if a.last_evaluated_at), default=None)
        groups.append(_group(f"alarms/{team}", rules, last))
    return groups


def _alarm_rule(alarm: Alarm) -> dict[str, Any]:
    if alarm.kind == Alarm.Kind.THRESHOLD:
        query = f"{alarm.expression} {alarm.comparison} {alarm.threshold:g}"
    else:
        query = alarm.rule or alarm.expression
    labels = {"alarm": alarm.name, "team": alarm.team.name}
    if alarm.service is not None:
        labels["service"] = alarm.service.name
    annotations = {"summary": alarm.state_reason} if alarm.state_reason else {}
    alerts = []
    if alarm.enabled and alarm.state == Alarm.State.ALARM:
        points = [p.get("value") for p in alarm.last_datapoints or [] if isinstance(p, dict)]
        value = next((p for p in reversed(points) if p is not None), None)
        alerts.append(
            {
                "labels": {"alertname": alarm.name, **labels},
                "annotations": annotations,
                "state": "firing",
                "activeAt": _iso(alarm.state_changed_at),
                "value": "" if value is None else str(value),
            }
        )
    rule = _alerting_rule(
        alarm.name, query, labels, annotations, alerts, alarm.last_error, alarm.last_evaluated_at
    )
    rule["duration"] = alarm.period_seconds * max(0, alarm.datapoints_to_alarm - 1)
    return rule


def _alerting_rule(
    name: str,
    query: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    alerts: list[dict[str, Any]],
    error: str,
    evaluated: datetime | None,
) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "state": "firing" if alerts else "inactive",
        "name": name,
        "query": query,
        "duration": 0,
        "labels": labels,
        "annotations": annotations,
        "alerts": alerts,
        "health": "err" if error else ("ok" if evaluated else "unknown"),
        "evaluationTime": 0,
        "lastEvaluation": _iso(evaluated),
        "type": "alerting",
    }
    if error:
        rule["lastError"] = error
    return rule


def _group(name: str, rules: list[dict[str, Any]], evaluated: datetime | None) -> dict[str, Any]:
    return {
        "name": name,
        "file": "coe-portal",
        "rules": rules,
        "interval": INTERVAL_SECONDS,
        "limit": 0,
        "evaluationTime": 0,
        "lastEvaluation": _iso(evaluated),
    }


def rule_groups() -> list[dict[str, Any]]:
    slos = SLO.objects.filter(enabled=True).select_related("team", "service").order_by("pk")
    alarms = list(Alarm.objects.filter(enabled=True).select_related("team", "service"))
    groups = []
    for slo in slos:
        try:
            groups.append(slo_group(slo))
        except ValueError:  # an SLO whose queries cannot be built: it has a last_error already
            continue
    return groups + alarm_groups(alarms)


def firing_alerts() -> list[dict[str, Any]]:
    return [alert for group in rule_groups() for rule in group["rules"] for alert in rule["alerts"]]
