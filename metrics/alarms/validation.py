"""Checks of an alarm's settings, shared by forms, the admin and the API: each problem is named
by field, with a message a person can act on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from metrics.alarms.composite import RuleError, find_cycle, parse_rule, referenced_alarms
from metrics.promql.errors import ParseError
from metrics.promql.parser import parse

THRESHOLD = "threshold"
COMPOSITE = "composite"
EXTERNAL = "external"


class AlarmSettings(Protocol):
    name: str
    kind: str
    expression: str
    evaluation_periods: int
    datapoints_to_alarm: int
    rule: str


def alarm_problems(alarm: AlarmSettings, siblings: Mapping[str, str]) -> dict[str, str]:
    """Problems of `alarm`'s settings, by field. `siblings` are the team's other alarms, by
    name: a composite alarm's rule, or "" for any other alarm (a composite rule may name
    them, and must not make a cycle through theirs)."""
    problems: dict[str, str] = {}
    if alarm.kind == EXTERNAL:
        return problems
    if alarm.kind == THRESHOLD:
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
    unknown = sorted(referenced_alarms(rule) - set(siblings) - {alarm.name})
    if unknown:
        problems["rule"] = f"Unknown alarm(s) in the rule: {', '.join(unknown)}."
        return problems
    rules = {name: parse_rule(text) for name, text in siblings.items() if text}
    rules[alarm.name] = rule
    cycle = find_cycle(rules)
    if cycle:
        problems["rule"] = f"The rule makes a cycle: {' → '.join(cycle)}."
    return problems
