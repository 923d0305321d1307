"""Checks of an alarm's settings, shared by forms, the admin and the API: each problem is named
by field, with a message a person can act on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from metrics.alarms.composite import RuleError, find_cycle, parse_rule, referenced_alarms
from metrics.promql.errors import ParseError
from metrics.promql.parser import parse

if TYPE_CHECKING:
    from metrics.alarms.models import Alarm


def alarm_problems(alarm: Alarm) -> dict[str, str]:
    from metrics.alarms.models import Alarm

    problems: dict[str, str] = {}
    if alarm.kind == Alarm.Kind.EXTERNAL:
        return problems
    if alarm.kind == Alarm.Kind.THRESHOLD:
        if not alarm.expression.strip():
            problems["expression"] = "A threshold alarm needs a PromQL expression."
        else:
            try:
                parse(alarm.expression)
            except ParseError as exc:
                problems["expression"] = f"Invalid PromQL: {exc}"
        if alarm.datapoints_to_alarm > alarm.evaluation_periods:
            problems["datapoints_to_alarm"] = (
                f"Datapoints to alarm ({alarm.datapoints_to_alarm}) cannot exceed the "
                f"evaluation periods ({alarm.evaluation_periods})."
            )
        return problems
    try:
        rule = parse_rule(alarm.rule)
    except RuleError as exc:
        return {"rule": f"Invalid rule: {exc}"}
    siblings = {
        other.name: other
        for other in Alarm.objects.filter(team_id=alarm.team_id).exclude(pk=alarm.pk)
    }
    unknown = sorted(referenced_alarms(rule) - set(siblings) - {alarm.name})
    if unknown:
        problems["rule"] = f"Unknown alarm(s) in the rule: {', '.join(unknown)}."
        return problems
    rules = {
        name: parse_rule(other.rule)
        for name, other in siblings.items()
        if other.kind == Alarm.Kind.COMPOSITE and other.rule
    }
    rules[alarm.name] = rule
    cycle = find_cycle(rules)
    if cycle:
        problems["rule"] = f"The rule makes a cycle: {' → '.join(cycle)}."
    return problems
