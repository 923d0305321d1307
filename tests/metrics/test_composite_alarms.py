"""Composite alarm rules: parsing, precedence, evaluation and cycles between composites."""

from __future__ import annotations

import pytest

from metrics.alarms.composite import (
    And,
    Constant,
    Not,
    Or,
    RuleError,
    StateIs,
    evaluate_rule,
    find_cycle,
    parse_rule,
    referenced_alarms,
)

EXAMPLE = "ALARM(a) AND (ALARM(b) OR NOT OK(c))"


@pytest.mark.parametrize(
    ("a", "b", "c", "expected"),
    [
        ("ALARM", "ALARM", "OK", True),
        ("ALARM", "ALARM", "ALARM", True),
        ("ALARM", "ALARM", "INSUFFICIENT_DATA", True),
        ("ALARM", "OK", "OK", False),
        ("ALARM", "OK", "ALARM", True),
        ("ALARM", "OK", "INSUFFICIENT_DATA", True),
        ("ALARM", "INSUFFICIENT_DATA", "OK", False),
        ("OK", "ALARM", "ALARM", False),
        ("OK", "OK", "ALARM", False),
        ("INSUFFICIENT_DATA", "ALARM", "ALARM", False),
    ],
)
def test_the_example_rule_over_its_truth_table(a: str, b: str, c: str, expected: bool) -> None:
    rule = parse_rule(EXAMPLE)

    assert evaluate_rule(rule, {"a": a, "b": b, "c": c}) is expected


def test_the_example_parses_to_the_expected_tree() -> None:
    assert parse_rule(EXAMPLE) == And(
        StateIs("ALARM", "a"),
        Or(StateIs("ALARM", "b"), Not(StateIs("OK", "c"))),
    )


def test_not_binds_tighter_than_and_which_binds_tighter_than_or() -> None:
    assert parse_rule("NOT ALARM(a) AND ALARM(b) OR ALARM(c)") == Or(
        And(Not(StateIs("ALARM", "a")), StateIs("ALARM", "b")),
        StateIs("ALARM", "c"),
    )
    assert parse_rule("TRUE OR FALSE AND FALSE") == Or(
        Constant(True), And(Constant(False), Constant(False))
    )


def test_and_and_or_associate_to_the_left() -> None:
    assert parse_rule("OK(a) AND OK(b) AND OK(c)") == And(
        And(StateIs("OK", "a"), StateIs("OK", "b")), StateIs("OK", "c")
    )


def test_constants_evaluate_without_alarms() -> None:
    assert evaluate_rule(parse_rule("TRUE AND NOT FALSE"), {}) is True
    assert evaluate_rule(parse_rule("NOT NOT FALSE"), {}) is False


def test_names_may_be_quoted_or_bare() -> None:
    rule = parse_rule(
        'INSUFFICIENT_DATA("checkout latency p99") OR ALARM(api-prod_1.eu:errors)'
        ' OR OK("say \\"hi\\" \\\\ bye")'
    )

    assert referenced_alarms(rule) == {
        "checkout latency p99",
        "api-prod_1.eu:errors",
        'say "hi" \\ bye',
    }


def test_keywords_are_plain_names_inside_a_state_function() -> None:
    assert parse_rule("OK(AND)") == StateIs("OK", "AND")


def test_referenced_alarms_lists_each_name_once() -> None:
    assert referenced_alarms(parse_rule("ALARM(a) OR (OK(a) AND NOT ALARM(b)) OR TRUE")) == {
        "a",
        "b",
    }


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        (
            "",
            "expected ALARM(...), OK(...), INSUFFICIENT_DATA(...), TRUE, FALSE, NOT or '(' "
            "at position 0, found end of rule",
            0,
        ),
        (
            "ALARM(a) AND",
            "expected ALARM(...), OK(...), INSUFFICIENT_DATA(...), TRUE, FALSE, NOT or '(' "
            "at position 12, found end of rule",
            12,
        ),
        ("ALARM a", "expected '(' after ALARM at position 6, found 'a'", 6),
        ("ALARM()", "expected an alarm name at position 6, found ')'", 6),
        ("ALARM(a", "expected ')' after the alarm name at position 7, found end of rule", 7),
        ("ALARM(a) ALARM(b)", "expected AND, OR or end of rule at position 9, found ALARM", 9),
        ("(ALARM(a) OR OK(b)", "expected ')' at position 18, found end of rule", 18),
        ("ALARM(a) && OK(b)", "unexpected character '&' at position 9", 9),
        ('ALARM("abc', "unterminated quoted alarm name starting at position 6", 6),
        ('ALARM("")', "alarm name must not be empty at position 6", 6),
        (
            "alarm(a)",
            "expected ALARM(...), OK(...), INSUFFICIENT_DATA(...), TRUE, FALSE, NOT or '(' "
            "at position 0, found 'alarm'",
            0,
        ),
    ],
)
def test_syntax_errors_name_the_position_and_what_was_expected(
    text: str, message: str, position: int
) -> None:
    with pytest.raises(RuleError) as raised:
        parse_rule(text)

    assert str(raised.value) == message
    assert raised.value.position == position


def test_an_unknown_alarm_is_an_error_even_when_short_circuited() -> None:
    rule = parse_rule("OK(a) OR ALARM(ghost) OR ALARM(zombie)")

    with pytest.raises(RuleError) as raised:
        evaluate_rule(rule, {"a": "OK"})

    assert str(raised.value) == "unknown alarm 'ghost', 'zombie' in rule"


def test_an_unknown_state_is_an_error() -> None:
    with pytest.raises(RuleError) as raised:
        evaluate_rule(parse_rule("ALARM(a)"), {"a": "PENDING"})

    assert str(raised.value) == "alarm 'a' has unknown state 'PENDING'"


def test_it_finds_a_composite_that_references_itself() -> None:
    rules = {"a": parse_rule("ALARM(cpu) OR ALARM(a)")}

    assert find_cycle(rules) == ["a", "a"]


def test_it_finds_a_three_alarm_cycle() -> None:
    rules = {
        "a": parse_rule("ALARM(b) AND ALARM(cpu)"),
        "b": parse_rule("ALARM(c)"),
        "c": parse_rule("NOT OK(a)"),
    }

    assert find_cycle(rules) == ["a", "b", "c", "a"]


def test_a_cycle_not_reachable_from_the_first_alarm_is_found() -> None:
    rules = {
        "a": parse_rule("ALARM(cpu)"),
        "m": parse_rule("ALARM(n)"),
        "n": parse_rule("ALARM(m)"),
    }

    assert find_cycle(rules) == ["m", "n", "m"]


def test_shared_alarms_without_a_loop_are_not_a_cycle() -> None:
    # A diamond: top reads left and right, which both read bottom, which reads metric alarms.
    rules = {
        "top": parse_rule("ALARM(left) AND ALARM(right)"),
        "left": parse_rule("ALARM(bottom)"),
        "right": parse_rule("ALARM(bottom) OR TRUE"),
        "bottom": parse_rule("ALARM(cpu) OR ALARM(memory)"),
    }

    assert find_cycle(rules) is None
    assert find_cycle({}) is None
