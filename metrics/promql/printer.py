"""A parsed query printed back as PromQL, in Prometheus's canonical form (`/api/v1/format_query`):
`sum by (job) (rate(x{a="b"}[5m] offset 1m))`."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

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
    VectorSelector,
)
from metrics.storage.matchers import EQUAL, NAME, Matcher

_UNITS = (("y", 31_536_000_000), ("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000),
          ("m", 60_000), ("s", 1000), ("ms", 1))  # fmt: skip


def duration(ms: int) -> str:
    """As Prometheus's model.Duration prints: 1h30m, 90s -> 1m30s, 0 -> 0s."""
    if ms == 0:
        return "0s"
    sign, rest, parts = ("-" if ms < 0 else ""), abs(ms), []
    for unit, size in _UNITS:
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)


def number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def _modifiers(offset_ms: int, at_ms: int | None, at_edge: str | None) -> str:
    """` @ t offset d`, in the order Prometheus prints them."""
    text = ""
    if at_edge is not None:
        text = f" @ {at_edge}()"
    elif at_ms is not None:
        text = f" @ {at_ms / 1000:.3f}"
    return text + (f" offset {duration(offset_ms)}" if offset_ms else "")


def matchers_text(matchers: Sequence[Matcher]) -> str:
    """`{a="b", c=~"d.*"}`, values quoted so any label value survives."""
    inner = ", ".join(f"{m.name}{m.op}{json.dumps(m.value, ensure_ascii=False)}" for m in matchers)
    return "{" + inner + "}"


def _selector(node: VectorSelector, range_text: str = "") -> str:
    shown = [m for m in node.matchers if not (m.name == NAME and m.op == EQUAL and node.name)]
    braces = matchers_text(shown) if shown or not node.name else ""
    return node.name + braces + range_text + _modifiers(node.offset_ms, node.at_ms, node.at_edge)


def format_expr(expr: Expr) -> str:
    if isinstance(expr, NumberLiteral):
        return number(expr.value)
    if isinstance(expr, StringLiteral):
        return json.dumps(expr.value, ensure_ascii=False)
    if isinstance(expr, VectorSelector):
        return _selector(expr)
    if isinstance(expr, MatrixSelector):
        return _selector(expr.selector, f"[{duration(expr.range_ms)}]")
    if isinstance(expr, Subquery):
        step = duration(expr.step_ms) if expr.step_ms else ""
        return f"{format_expr(expr.expr)}[{duration(expr.range_ms)}:{step}]" + _modifiers(
            expr.offset_ms, expr.at_ms, expr.at_edge
        )
    if isinstance(expr, Paren):
        return f"({format_expr(expr.expr)})"
    if isinstance(expr, Unary):
        return f"{expr.op}{format_expr(expr.expr)}"
    if isinstance(expr, Call):
        return f"{expr.function}({', '.join(format_expr(arg) for arg in expr.args)})"
    if isinstance(expr, Aggregate):
        grouping = ""
        if expr.grouping or expr.without:
            grouping = f" {'without' if expr.without else 'by'} ({', '.join(expr.grouping)}) "
        param = f"{format_expr(expr.param)}, " if expr.param is not None else ""
        return f"{expr.op}{grouping}({param}{format_expr(expr.expr)})"
    if isinstance(expr, Binary):
        text = expr.op + (" bool" if expr.return_bool else "")
        matching = expr.matching
        if matching.on or matching.labels:
            text += f" {'on' if matching.on else 'ignoring'} ({', '.join(matching.labels)})"
        if matching.card in ("many-to-one", "one-to-many"):
            side = "group_left" if matching.card == "many-to-one" else "group_right"
            text += f" {side} ({', '.join(matching.include)})"
        return f"{format_expr(expr.lhs)} {text} {format_expr(expr.rhs)}"
    raise TypeError(f"cannot print {type(expr).__name__}")
