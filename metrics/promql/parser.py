"""PromQL parser: precedence climbing over the lexer's tokens, with type checks."""

from __future__ import annotations

from dataclasses import fields, replace
from functools import lru_cache

from metrics.promql.ast import (
    Aggregate,
    Binary,
    Call,
    Expr,
    MatrixSelector,
    NumberLiteral,
    Paren,
    StringLiteral,
    Subquery,
    Unary,
    VectorMatching,
    VectorSelector,
)
from metrics.promql.errors import ParseError
from metrics.promql.lexer import Token, parse_duration, tokenize
from metrics.promql.signatures import (
    AGGREGATIONS,
    COMPARISONS,
    FUNCTIONS,
    MATRIX,
    PARAMETRIC_AGGREGATIONS,
    PRECEDENCE,
    SCALAR,
    SET_OPERATORS,
    STRING,
    VECTOR,
)
from metrics.storage.matchers import EQUAL, NOT_EQUAL, NOT_REGEX, REGEX, Matcher

MATCH_OPS = {"=": EQUAL, "!=": NOT_EQUAL, "=~": REGEX, "!~": NOT_REGEX}
# Deeper trees are refused: evaluation and type checks recurse once per level. Dashboards and
# rules stay far below (a long sum of 100 terms is 100 deep).
MAX_NESTING = 200


@lru_cache(maxsize=4096)
def parse(query: str) -> Expr:
    """The syntax tree of a query (immutable, so parsed once per process and text)."""
    if not query.strip():
        raise ParseError("empty query")
    parser = _Parser(tokenize(query))
    try:
        expr = parser.expression(0)
    except RecursionError:
        raise _too_deep() from None
    if parser.peek().kind != "EOF":
        token = parser.peek()
        raise ParseError(f"unexpected {token.text!r} at position {token.pos}")
    if nesting_depth(expr) > MAX_NESTING:
        raise _too_deep()
    type_of(expr)
    return expr


def _too_deep() -> ParseError:
    return ParseError(f"query is nested deeper than {MAX_NESTING} levels")


def nesting_depth(expr: Expr) -> int:
    """How many nodes deep the tree goes (a long chain `a + b + c ...` counts each operator),
    found without recursion: evaluation recurses once per level."""
    deepest = 0
    stack = [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        for item in fields(node):  # type: ignore[arg-type]  # every node is a dataclass
            value = getattr(node, item.name)
            children = value if isinstance(value, tuple) else (value,)
            stack.extend((child, depth + 1) for child in children if isinstance(child, Expr))
    return deepest


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.peek()
        self.index += 1
        return token

    def is_op(self, text: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind == "OP" and token.text == text

    def is_keyword(self, text: str) -> bool:
        token = self.peek()
        return token.kind == "KEYWORD" and token.text == text

    def expect_op(self, text: str) -> Token:
        if not self.is_op(text):
            token = self.peek()
            found = "end of query" if token.kind == "EOF" else repr(token.text)
            raise ParseError(f"expected {text!r} but found {found} at position {token.pos}")
        return self.take()

    # Expressions -----------------------------------------------------------------------

    def binary_operator(self) -> str | None:
        token = self.peek()
        if token.kind == "OP" and token.text in PRECEDENCE:
            return token.text
        if token.kind == "KEYWORD" and token.text in PRECEDENCE:
            return token.text
        return None

    def expression(self, min_precedence: int) -> Expr:
        lhs = self.unary()
        while True:
            op = self.binary_operator()
            if op is None or PRECEDENCE[op] < min_precedence:
                return lhs
            self.take()
            return_bool, matching = self.binary_modifiers(op)
            next_min = PRECEDENCE[op] if op == "^" else PRECEDENCE[op] + 1
            rhs = self.expression(next_min)
            lhs = Binary(op, lhs, rhs, return_bool, matching)

    def binary_modifiers(self, op: str) -> tuple[bool, VectorMatching]:
        return_bool = False
        if self.is_keyword("bool"):
            if op not in COMPARISONS:
                raise ParseError("bool modifier can only be used on comparison operators")
            self.take()
            return_bool = True
        card = "many-to-many" if op in SET_OPERATORS else "one-to-one"
        labels: tuple[str, ...] = ()
        on = False
        include: tuple[str, ...] = ()
        if self.is_keyword("on") or self.is_keyword("ignoring"):
            on = self.take().text == "on"
            labels = self.label_list()
            if self.is_keyword("group_left") or self.is_keyword("group_right"):
                if op in SET_OPERATORS:
                    raise ParseError(f"no grouping allowed for {op!r} operation")
                side = self.take().text
                card = "many-to-one" if side == "group_left" else "one-to-many"
                if self.is_op("("):
                    include = self.label_list()
        return return_bool, VectorMatching(card, labels, on, include)

    def unary(self) -> Expr:
        if self.is_op("-") or self.is_op("+"):
            op = self.take().text
            operand = self.expression(PRECEDENCE["^"])
            if op == "+":
                return operand
            if isinstance(operand, NumberLiteral):
                return NumberLiteral(-operand.value)
            return Unary("-", operand)
        return self.postfix(self.primary())

    def postfix(self, expr: Expr) -> Expr:
        while True:
            if self.is_op("["):
                self.take()
                token = self.take()
                if token.kind != "DURATION":
                    raise ParseError(f"expected a duration in [] at position {token.pos}")
                range_ms = int(token.value)  # type: ignore[call-overload]
                if self.peek().kind == "IDENT" and self.peek().text.startswith(":"):
                    expr = Subquery(expr, range_ms, self.subquery_step())
                    continue
                self.expect_op("]")
                if not isinstance(expr, VectorSelector):
                    raise ParseError(
                        "ranges are only allowed on vector selectors; for a range of another "
                        "expression, use a subquery (expr[range:step])"
                    )
                expr = MatrixSelector(expr, range_ms)
            elif self.is_keyword("offset"):
                self.take()
                negative = False
                if self.is_op("-"):
                    self.take()
                    negative = True
                token = self.take()
                if token.kind != "DURATION":
                    raise ParseError(f"expected a duration after offset at position {token.pos}")
                offset = -int(token.value) if negative else int(token.value)  # type: ignore[call-overload]
                expr = _with_offset(expr, offset)
            elif self.is_op("@"):
                self.take()
                expr = _with_at(expr, *self.at_time())
            else:
                return expr

    def subquery_step(self) -> int:
        """After `[range`: `:step]` or `:]` (the lexer reads `:5m` as one name)."""
        text = self.take().text[1:]
        if not text and self.peek().kind == "DURATION":
            text = self.take().text
        self.expect_op("]")
        if not text:
            return 0
        step = parse_duration(text)
        if step == 0:
            raise ParseError("zero subquery step is not allowed")
        return step

    def at_time(self) -> tuple[int | None, str | None]:
        """After `@`: a Unix time in seconds, or start() / end()."""
        token = self.peek()
        if token.kind == "IDENT" and token.text in ("start", "end") and self.is_op("(", 1):
            self.take()
            self.expect_op("(")
            self.expect_op(")")
            return None, token.text
        negative = False
        if self.is_op("-") or self.is_op("+"):
            negative = self.take().text == "-"
            token = self.peek()
        if token.kind != "NUMBER":
            raise ParseError(
                f"unexpected {token.text or 'end of query'!r} after @ at position {token.pos}: "
                "expected a Unix time in seconds, start() or end()"
            )
        self.take()
        seconds = -float(token.value) if negative else float(token.value)  # type: ignore[arg-type]
        if seconds != seconds or abs(seconds) > 9_000_000_000_000:
            raise ParseError(f"timestamp out of bounds for @ modifier: {token.text}")
        return round(seconds * 1000), None

    def primary(self) -> Expr:
        token = self.peek()
        if token.kind == "NUMBER":
            self.take()
            return NumberLiteral(float(token.value))  # type: ignore[arg-type]
        if token.kind == "STRING":
            self.take()
            return StringLiteral(str(token.value))
        if token.kind == "DURATION":
            raise ParseError(f"unexpected duration {token.text!r} at position {token.pos}")
        if self.is_op("("):
            self.take()
            inner = self.expression(0)
            self.expect_op(")")
            return Paren(inner)
        if self.is_op("{"):
            return self.selector("")
        if token.kind == "IDENT":
            name = token.text
            if name in AGGREGATIONS and (
                self.is_op("(", 1) or self.peek(1).text in ("by", "without")
            ):
                return self.aggregation()
            if self.is_op("(", 1):
                if name not in FUNCTIONS:
                    raise ParseError(f'unknown function with name "{name}"')
                return self.call()
            self.take()
            return self.selector(name)
        found = "end of query" if token.kind == "EOF" else repr(token.text)
        raise ParseError(f"unexpected {found} at position {token.pos}")

    def selector(self, name: str) -> VectorSelector:
        matchers: list[Matcher] = []
        if self.is_op("{"):
            self.take()
            while not self.is_op("}"):
                label = self.take()
                if label.kind not in ("IDENT", "KEYWORD"):
                    raise ParseError(f"expected a label name at position {label.pos}")
                op_token = self.take()
                if op_token.kind != "OP" or op_token.text not in MATCH_OPS:
                    raise ParseError(
                        f"expected a label matching operator (=, !=, =~, !~) after {label.text} "
                        f"at position {op_token.pos}"
                    )
                value = self.take()
                if value.kind != "STRING":
                    raise ParseError(f"expected a string after {label.text}{op_token.text}")
                matcher = Matcher(label.text, MATCH_OPS[op_token.text], str(value.value))
                if matcher.op in (REGEX, NOT_REGEX):
                    _check_regex(matcher.value)
                matchers.append(matcher)
                if not self.is_op("}"):
                    self.expect_op(",")
            self.expect_op("}")
        if name:
            if any(m.name == "__name__" for m in matchers):
                raise ParseError(f"metric name {name} given twice (also as __name__)")
            matchers.insert(0, Matcher("__name__", EQUAL, name))
        if not any(not m.matches("") for m in matchers):
            raise ParseError("vector selector must contain at least one non-empty matcher")
        return VectorSelector(name, tuple(matchers))

    def label_list(self) -> tuple[str, ...]:
        self.expect_op("(")
        labels: list[str] = []
        while not self.is_op(")"):
            token = self.take()
            if token.kind not in ("IDENT", "KEYWORD"):
                raise ParseError(f"expected a label name at position {token.pos}")
            labels.append(token.text)
            if not self.is_op(")"):
                self.expect_op(",")
        self.expect_op(")")
        return tuple(labels)

    def call(self) -> Call:
        name = self.take().text
        self.expect_op("(")
        args: list[Expr] = []
        while not self.is_op(")"):
            args.append(self.expression(0))
            if not self.is_op(")"):
                self.expect_op(",")
        self.expect_op(")")
        return Call(name, tuple(args))

    def aggregation(self) -> Aggregate:
        op = self.take().text
        grouping: tuple[str, ...] = ()
        without = False
        modifier_first = self.peek().text in ("by", "without")
        if modifier_first:
            without = self.take().text == "without"
            grouping = self.label_list()
        self.expect_op("(")
        param: Expr | None = None
        if op in PARAMETRIC_AGGREGATIONS:
            param = self.expression(0)
            self.expect_op(",")
        expr = self.expression(0)
        self.expect_op(")")
        if not modifier_first and self.peek().text in ("by", "without"):
            without = self.take().text == "without"
            grouping = self.label_list()
        return Aggregate(op, expr, param, grouping, without)


def _with_offset(expr: Expr, offset: int) -> Expr:
    if isinstance(expr, VectorSelector | Subquery):
        if expr.offset_ms:
            raise ParseError("offset may not be set multiple times")
        return replace(expr, offset_ms=offset)
    if isinstance(expr, MatrixSelector):
        inner = _with_offset(expr.selector, offset)
        assert isinstance(inner, VectorSelector)
        return MatrixSelector(inner, expr.range_ms)
    raise ParseError(
        "offset modifier must be preceded by an instant vector selector or range vector "
        "selector or a subquery"
    )


def _with_at(expr: Expr, at_ms: int | None, edge: str | None) -> Expr:
    if isinstance(expr, VectorSelector | Subquery):
        if expr.at_ms is not None or expr.at_edge is not None:
            raise ParseError("@ <timestamp> may not be set multiple times")
        return replace(expr, at_ms=at_ms, at_edge=edge)
    if isinstance(expr, MatrixSelector):
        inner = _with_at(expr.selector, at_ms, edge)
        assert isinstance(inner, VectorSelector)
        return MatrixSelector(inner, expr.range_ms)
    raise ParseError(
        "@ modifier must be preceded by an instant vector selector or range vector selector "
        "or a subquery"
    )


def _check_regex(pattern: str) -> None:
    import re

    try:
        re.compile(pattern)
    except re.error as exc:
        raise ParseError(f"invalid regular expression {pattern!r}: {exc}") from None


def type_of(expr: Expr) -> str:
    """The value type an expression evaluates to; raises ParseError on a type mismatch."""
    if isinstance(expr, NumberLiteral):
        return SCALAR
    if isinstance(expr, StringLiteral):
        return STRING
    if isinstance(expr, VectorSelector):
        return VECTOR
    if isinstance(expr, MatrixSelector):
        return MATRIX
    if isinstance(expr, Subquery):
        inner = type_of(expr.expr)
        if inner != VECTOR:
            raise ParseError(f"subquery is only allowed on instant vector, got {_type_name(inner)}")
        return MATRIX
    if isinstance(expr, Paren):
        return type_of(expr.expr)
    if isinstance(expr, Unary):
        inner = type_of(expr.expr)
        if inner not in (SCALAR, VECTOR):
            raise ParseError(
                "unary expression only allowed on expressions of type scalar or vector"
            )
        return inner
    if isinstance(expr, Call):
        arg_types, optional, result = FUNCTIONS[expr.function]
        given = len(expr.args)
        if optional == 0 and given != len(arg_types):
            raise ParseError(
                f'expected {len(arg_types)} argument(s) in call to "{expr.function}", got {given}'
            )
        if optional != 0 and given < len(arg_types) - 1:
            raise ParseError(
                f"expected at least {len(arg_types) - 1} argument(s) in call to "
                f'"{expr.function}", got {given}'
            )
        if optional > 0 and given > len(arg_types) - 1 + optional:
            raise ParseError(
                f"expected at most {len(arg_types) - 1 + optional} argument(s) in call to "
                f'"{expr.function}", got {given}'
            )
        wanted_types = list(arg_types)
        if optional < 0 and given > len(arg_types):
            wanted_types += [arg_types[-1]] * (given - len(arg_types))
        for index, (arg, wanted) in enumerate(zip(expr.args, wanted_types, strict=False)):
            found = type_of(arg)
            if found != wanted:
                raise ParseError(
                    f'expected type {_type_name(wanted)} in call to function "{expr.function}", '
                    f"got {_type_name(found)} (argument {index + 1})"
                )
        return result
    if isinstance(expr, Aggregate):
        if type_of(expr.expr) != VECTOR:
            raise ParseError(f"expected type instant vector in aggregation expression {expr.op}")
        wanted = STRING if expr.op == "count_values" else SCALAR
        if expr.param is not None and type_of(expr.param) != wanted:
            raise ParseError(f"expected type {wanted} in aggregation parameter of {expr.op}")
        return VECTOR
    if isinstance(expr, Binary):
        lhs, rhs = type_of(expr.lhs), type_of(expr.rhs)
        for side in (lhs, rhs):
            if side not in (SCALAR, VECTOR):
                raise ParseError(
                    f"binary expression must contain only scalar and instant vector types"
                    f" (found {_type_name(side)})"
                )
        if expr.op in SET_OPERATORS and (lhs != VECTOR or rhs != VECTOR):
            raise ParseError(f"set operator {expr.op!r} not allowed in binary scalar expression")
        if expr.op in COMPARISONS and lhs == rhs == SCALAR and not expr.return_bool:
            raise ParseError("comparisons between scalars must use BOOL modifier")
        if (lhs == SCALAR or rhs == SCALAR) and expr.matching.labels:
            raise ParseError("vector matching only allowed between instant vectors")
        return VECTOR if VECTOR in (lhs, rhs) else SCALAR
    raise ParseError(f"unsupported expression {expr!r}")


def _type_name(kind: str) -> str:
    return {VECTOR: "instant vector", MATRIX: "range vector"}.get(kind, kind)
