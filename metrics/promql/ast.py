"""PromQL syntax tree."""

from __future__ import annotations

from dataclasses import dataclass, field

from metrics.storage.matchers import Matcher


class Expr:
    """Base of every node."""


@dataclass(frozen=True)
class NumberLiteral(Expr):
    value: float


@dataclass(frozen=True)
class StringLiteral(Expr):
    value: str


@dataclass(frozen=True)
class VectorSelector(Expr):
    name: str
    matchers: tuple[Matcher, ...]
    offset_ms: int = 0
    # The @ modifier: a fixed time, or the query's start() or end() ("start", "end").
    at_ms: int | None = None
    at_edge: str | None = None


@dataclass(frozen=True)
class MatrixSelector(Expr):
    selector: VectorSelector
    range_ms: int


@dataclass(frozen=True)
class Subquery(Expr):
    """`expr[range:step]`: the instant vector evaluated every `step_ms` (0: the default
    evaluation interval) over the range, as a range vector."""

    expr: Expr
    range_ms: int
    step_ms: int = 0
    offset_ms: int = 0
    at_ms: int | None = None
    at_edge: str | None = None


@dataclass(frozen=True)
class Call(Expr):
    function: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Aggregate(Expr):
    op: str
    expr: Expr
    param: Expr | None = None
    grouping: tuple[str, ...] = ()
    without: bool = False


@dataclass(frozen=True)
class VectorMatching:
    card: str = "one-to-one"  # one-to-one, many-to-one, one-to-many, many-to-many
    labels: tuple[str, ...] = ()
    on: bool = False
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class Binary(Expr):
    op: str
    lhs: Expr
    rhs: Expr
    return_bool: bool = False
    matching: VectorMatching = field(default_factory=VectorMatching)


@dataclass(frozen=True)
class Unary(Expr):
    op: str
    expr: Expr


@dataclass(frozen=True)
class Paren(Expr):
    expr: Expr
