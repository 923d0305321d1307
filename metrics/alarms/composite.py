"""Composite alarm rules: parse, inspect and evaluate CloudWatch-style rule expressions.

A rule combines other alarms' states, e.g. `ALARM(a) AND (ALARM(b) OR NOT OK(c))`. Supported:
`ALARM(name)`, `OK(name)`, `INSUFFICIENT_DATA(name)`, `TRUE`, `FALSE`, `AND`, `OR`, `NOT` and
parentheses; precedence NOT > AND > OR, AND and OR associate to the left. Keywords are upper
case, as in CloudWatch. A name is bare (letters, digits, `-`, `_`, `.`, `:`) or double-quoted
(`"name with spaces"`, with `\\"` and `\\\\` escapes).

Pure functions only: no models, no ORM, no I/O. Positions in error messages are 0-based
character offsets into the rule text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import NoReturn, TypeAlias

STATE_FUNCTIONS = ("ALARM", "OK", "INSUFFICIENT_DATA")
_KEYWORDS = frozenset({*STATE_FUNCTIONS, "TRUE", "FALSE", "AND", "OR", "NOT"})
_NAME_PUNCTUATION = frozenset("-_.:")
_EXPECTED_OPERAND = "ALARM(...), OK(...), INSUFFICIENT_DATA(...), TRUE, FALSE, NOT or '('"


class RuleError(ValueError):
    """A rule that cannot be parsed or evaluated; `position` is set for syntax errors."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


@dataclass(frozen=True)
class StateIs:
    """`ALARM(name)`, `OK(name)` or `INSUFFICIENT_DATA(name)`: true when `alarm` is in `state`."""

    state: str
    alarm: str


@dataclass(frozen=True)
class Constant:
    """`TRUE` or `FALSE`."""

    value: bool


@dataclass(frozen=True)
class Not:
    operand: Rule


@dataclass(frozen=True)
class And:
    left: Rule
    right: Rule


@dataclass(frozen=True)
class Or:
    left: Rule
    right: Rule


Rule: TypeAlias = StateIs | Constant | Not | And | Or


@dataclass(frozen=True)
class _Token:
    """`kind` is "word" (keyword or bare name), "name" (quoted), "(", ")" or "end"."""

    kind: str
    text: str
    position: int

    def describe(self) -> str:
        if self.kind == "end":
            return "end of rule"
        if self.kind == "name":
            return f'"{self.text}"'
        return self.text if self.text in _KEYWORDS else f"'{self.text}'"


def parse_rule(text: str) -> Rule:
    """Parse a composite alarm rule; raise RuleError naming the position and what was expected."""
    return _Parser(list(_tokenize(text))).parse()


def referenced_alarms(rule: Rule) -> set[str]:
    """The names of the alarms whose states the rule reads."""
    if isinstance(rule, StateIs):
        return {rule.alarm}
    if isinstance(rule, Constant):
        return set()
    if isinstance(rule, Not):
        return referenced_alarms(rule.operand)
    return referenced_alarms(rule.left) | referenced_alarms(rule.right)


def evaluate_rule(rule: Rule, states: Mapping[str, str]) -> bool:
    """Whether the rule holds for the given alarm states (name -> OK/ALARM/INSUFFICIENT_DATA).

    Every referenced alarm must be known, even one that short-circuiting would skip, so a
    typo in a rule fails the same way whatever the other alarms' states are.
    """
    unknown = sorted(referenced_alarms(rule) - states.keys())
    if unknown:
        raise RuleError("unknown alarm " + ", ".join(repr(name) for name in unknown) + " in rule")
    for name in sorted(referenced_alarms(rule)):
        if states[name] not in STATE_FUNCTIONS:
            raise RuleError(f"alarm {name!r} has unknown state {states[name]!r}")
    return _evaluate(rule, states)


def find_cycle(rules: Mapping[str, Rule]) -> list[str] | None:
    """A loop of composite alarms referencing each other, as a path like ["a", "b", "a"].

    `rules` maps each composite alarm's name to its rule; referenced names that are not keys
    are metric alarms and end a path. Self-reference gives ["a", "a"]. None when acyclic.
    Names are visited in sorted order so the same rules always report the same cycle.
    """
    finished: set[str] = set()
    for start in sorted(rules):
        cycle = _cycle_from(start, rules, path=[], on_path=set(), finished=finished)
        if cycle is not None:
            return cycle
    return None


def _cycle_from(
    name: str,
    rules: Mapping[str, Rule],
    *,
    path: list[str],
    on_path: set[str],
    finished: set[str],
) -> list[str] | None:
    """Depth-first search; `finished` holds alarms already known to lead to no cycle."""
    if name in on_path:
        return [*path[path.index(name) :], name]
    if name in finished or name not in rules:
        return None
    path.append(name)
    on_path.add(name)
    for child in sorted(referenced_alarms(rules[name])):
        cycle = _cycle_from(child, rules, path=path, on_path=on_path, finished=finished)
        if cycle is not None:
            return cycle
    path.pop()
    on_path.remove(name)
    finished.add(name)
    return None


def _evaluate(rule: Rule, states: Mapping[str, str]) -> bool:
    if isinstance(rule, StateIs):
        return states[rule.alarm] == rule.state
    if isinstance(rule, Constant):
        return rule.value
    if isinstance(rule, Not):
        return not _evaluate(rule.operand, states)
    if isinstance(rule, And):
        return _evaluate(rule.left, states) and _evaluate(rule.right, states)
    return _evaluate(rule.left, states) or _evaluate(rule.right, states)


def _is_name_character(character: str) -> bool:
    return character.isascii() and (character.isalnum() or character in _NAME_PUNCTUATION)


def _tokenize(text: str) -> Iterator[_Token]:
    position = 0
    while position < len(text):
        character = text[position]
        if character.isspace():
            position += 1
        elif character in "()":
            yield _Token(character, character, position)
            position += 1
        elif character == '"':
            token, position = _quoted_name(text, position)
            yield token
        elif _is_name_character(character):
            end = position
            while end < len(text) and _is_name_character(text[end]):
                end += 1
            yield _Token("word", text[position:end], position)
            position = end
        else:
            raise RuleError(f"unexpected character {character!r} at position {position}", position)
    yield _Token("end", "", len(text))


def _quoted_name(text: str, start: int) -> tuple[_Token, int]:
    """The quoted name opening at `start`, and the position just after its closing quote."""
    name: list[str] = []
    position = start + 1
    while position < len(text):
        character = text[position]
        if character == '"':
            return _Token("name", "".join(name), start), position + 1
        if character == "\\" and position + 1 < len(text):
            position += 1  # an escaped quote or backslash stands for itself
            character = text[position]
        name.append(character)
        position += 1
    raise RuleError(f"unterminated quoted alarm name starting at position {start}", start)


class _Parser:
    """Recursive descent over the tokens, one method per precedence level."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def parse(self) -> Rule:
        rule = self.or_expression()
        if self.current.kind != "end":
            self.fail("AND, OR or end of rule")
        return rule

    def or_expression(self) -> Rule:
        rule = self.and_expression()
        while self.accept_keyword("OR"):
            rule = Or(rule, self.and_expression())
        return rule

    def and_expression(self) -> Rule:
        rule = self.not_expression()
        while self.accept_keyword("AND"):
            rule = And(rule, self.not_expression())
        return rule

    def not_expression(self) -> Rule:
        if self.accept_keyword("NOT"):
            return Not(self.not_expression())
        return self.operand()

    def operand(self) -> Rule:
        token = self.current
        if token.kind == "(":
            self.index += 1
            rule = self.or_expression()
            self.expect(")", "')'")
            return rule
        if token.kind == "word" and token.text in ("TRUE", "FALSE"):
            self.index += 1
            return Constant(token.text == "TRUE")
        if token.kind == "word" and token.text in STATE_FUNCTIONS:
            self.index += 1
            self.expect("(", f"'(' after {token.text}")
            alarm = self.alarm_name()
            self.expect(")", "')' after the alarm name")
            return StateIs(token.text, alarm)
        self.fail(_EXPECTED_OPERAND)

    def alarm_name(self) -> str:
        token = self.current
        if token.kind not in ("word", "name"):
            self.fail("an alarm name")
        if not token.text:
            raise RuleError(
                f"alarm name must not be empty at position {token.position}", token.position
            )
        self.index += 1
        return token.text

    def accept_keyword(self, keyword: str) -> bool:
        if self.current.kind == "word" and self.current.text == keyword:
            self.index += 1
            return True
        return False

    def expect(self, kind: str, expected: str) -> None:
        if self.current.kind != kind:
            self.fail(expected)
        self.index += 1

    def fail(self, expected: str) -> NoReturn:
        token = self.current
        raise RuleError(
            f"expected {expected} at position {token.position}, found {token.describe()}",
            token.position,
        )
