"""Evaluates a parsed query over a set of steps; `instant_query` and `range_query` are the
entry points every part of the portal uses.

With an external metrics backend (`metrics.backends`), a query without a `source` runs on the
backend and its answer comes back as the same value types; with a `source` (the portal's own
SLO and alarm rules, see `metrics.promql.source.new_source`) it runs here, on samples the
source reads from wherever metrics live."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from metrics.backends import remote
from metrics.promql import binary, functions
from metrics.promql.aggregation import aggregate
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
from metrics.promql.errors import BadDataError, ExecutionError, ParseError
from metrics.promql.histograms import histogram_quantile
from metrics.promql.parser import parse, type_of
from metrics.promql.signatures import MATRIX, SET_OPERATORS, STRING
from metrics.promql.source import SampleSource, StoreSource
from metrics.promql.values import (
    FloatArray,
    InstantSeries,
    IntArray,
    Matrix,
    RawSeries,
    Scalar,
    StringValue,
    Value,
    Vector,
    without_name,
)
from metrics.promql.windows import RANGE_FUNCTIONS, absent_over_time, apply_range_function
from metrics.storage.encoding import is_stale
from metrics.storage.matchers import EQUAL, NAME

LOOKBACK_MS = 5 * 60 * 1000
# A subquery without a step evaluates every minute: Prometheus's default evaluation interval.
DEFAULT_SUBQUERY_STEP_MS = 60_000
MAX_POINTS = 11_000


@dataclass
class QueryResult:
    value: Value
    steps: IntArray


def instant_query(
    query: str, at_ms: int | None = None, *, source: SampleSource | None = None
) -> QueryResult:
    at = int(time.time() * 1000) if at_ms is None else at_ms
    if source is None and (backend := remote()) is not None:
        return QueryResult(*backend.instant(query, at))
    steps = np.array([at], dtype=np.int64)
    return QueryResult(Evaluator(steps, source or StoreSource()).evaluate(parse(query)), steps)


def range_query(
    query: str, start_ms: int, end_ms: int, step_ms: int, *, source: SampleSource | None = None
) -> QueryResult:
    check_range(start_ms, end_ms, step_ms)
    if source is None and (backend := remote()) is not None:
        return QueryResult(*backend.range(query, start_ms, end_ms, step_ms))
    steps = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
    expr = parse(query)
    check_range_expression(query)
    value = Evaluator(steps, source or StoreSource()).evaluate(expr)
    return QueryResult(value, steps)


def check_range_expression(query: str) -> None:
    """A range query must be of a scalar or an instant vector (checked before it runs, as
    Prometheus does). A query the portal cannot parse is left to the backend that runs it."""
    try:
        kind = type_of(parse(query))
    except ParseError:
        return
    if kind in (MATRIX, STRING):
        name = "string" if kind == STRING else "range vector"
        raise BadDataError(
            f'invalid expression type "{name}" for range query, must be Scalar or instant Vector'
        )


def check_range(start_ms: int, end_ms: int, step_ms: int) -> None:
    """Prometheus's own limits on a range query, whichever engine answers it."""
    if step_ms <= 0:
        raise BadDataError(
            "zero or negative query resolution step widths are not accepted. Try a positive integer"
        )
    if end_ms < start_ms:
        raise BadDataError("end timestamp must not be before start time")
    if (end_ms - start_ms) // step_ms > MAX_POINTS:  # as Prometheus counts: 11 001 steps pass
        raise BadDataError(
            "exceeded maximum resolution of 11,000 points per timeseries. "
            "Try decreasing the query resolution (?step=XX)"
        )


class Evaluator:
    def __init__(
        self,
        steps: IntArray,
        source: SampleSource,
        query_range: tuple[int, int] | None = None,
    ) -> None:
        self.steps = steps
        self.source = source
        # What start() and end() mean: the query's own first and last step, also inside a
        # subquery (which evaluates on steps of its own).
        self.query_range = query_range or (int(steps[0]), int(steps[-1]))

    def evaluate(self, expr: Expr) -> Value:
        value = self.eval(expr)
        if isinstance(value, Vector):
            return binary.deduplicate(value)
        return value

    def eval(self, expr: Expr) -> Value:
        if isinstance(expr, NumberLiteral):
            return Scalar(np.full(len(self.steps), expr.value))
        if isinstance(expr, StringLiteral):
            return StringValue(expr.value)
        if isinstance(expr, Paren):
            return self.eval(expr.expr)
        if isinstance(expr, VectorSelector):
            return self.vector_selector(expr)
        if isinstance(expr, MatrixSelector):
            return self.matrix_selector(expr)
        if isinstance(expr, Subquery):
            return self.subquery(expr)
        if isinstance(expr, Unary):
            return functions.check_unary_result(self.unary(expr))
        if isinstance(expr, Binary):
            return self.binary(expr)
        if isinstance(expr, Aggregate):
            return self.aggregate(expr)
        if isinstance(expr, Call):
            return functions.check_call_result(expr.function, self.call(expr))
        raise ExecutionError(f"cannot evaluate {type(expr).__name__}")

    # Selectors ---------------------------------------------------------------------------

    def _at(self, node: VectorSelector | Subquery) -> int | None:
        """The time an @ modifier fixes, if any."""
        if node.at_edge is not None:
            return self.query_range[0] if node.at_edge == "start" else self.query_range[1]
        return node.at_ms

    def _anchors(self, node: VectorSelector | Subquery) -> IntArray:
        """The times each step evaluates the node at, before its offset."""
        at = self._at(node)
        return self.steps if at is None else np.full(len(self.steps), at, dtype=np.int64)

    def vector_selector(self, selector: VectorSelector) -> Vector:
        times = self._anchors(selector) - selector.offset_ms
        loaded = self.source.select(selector.matchers, int(times[0]) - LOOKBACK_MS, int(times[-1]))
        out = Vector()
        for labels, timestamps, values in loaded:
            if len(timestamps) == 0:
                continue
            index = np.searchsorted(timestamps, times, side="right") - 1
            clipped = np.maximum(index, 0)
            sample_values = values[clipped]
            present = (
                (index >= 0)
                & (timestamps[clipped] >= times - LOOKBACK_MS)
                & ~is_stale(sample_values)
            )
            if present.any():
                out.series.append(InstantSeries(labels, sample_values, present))
        return out

    def matrix_selector(self, matrix: MatrixSelector) -> Matrix:
        selector = matrix.selector
        anchors = self._anchors(selector)
        end = int(anchors[-1]) - selector.offset_ms
        start = int(anchors[0]) - selector.offset_ms - matrix.range_ms
        series = []
        for labels, timestamps, values in self.source.select(selector.matchers, start, end):
            stale = is_stale(values)
            if stale.any():  # copies only when there is something to drop
                series.append(RawSeries(labels, timestamps[~stale], values[~stale]))
            else:
                series.append(RawSeries(labels, timestamps, values))
        return Matrix(series, matrix.range_ms, selector.offset_ms, self._at(selector))

    def subquery(self, node: Subquery) -> Matrix:
        """The inner expression evaluated on a grid of its own (multiples of its step, from the
        first one inside the earliest window to the last step), all those steps at once, then
        windowed like a range selector's samples."""
        at = self._at(node)
        interval = node.step_ms or DEFAULT_SUBQUERY_STEP_MS
        first = int(self.steps[0]) if at is None else at
        last = int(self.steps[-1]) if at is None else at
        earliest = first - node.offset_ms - node.range_ms
        start = interval * int(earliest / interval)  # truncated toward zero, as Go divides
        if start < earliest:
            start += interval
        inner_steps = np.arange(start, last - node.offset_ms + 1, interval, dtype=np.int64)
        series: list[RawSeries] = []
        if len(inner_steps):
            inner = Evaluator(inner_steps, self.source, self.query_range).evaluate(node.expr)
            assert isinstance(inner, Vector)
            for one in inner.series:
                keep = one.present & ~is_stale(one.values)
                if keep.any():
                    series.append(RawSeries(one.labels, inner_steps[keep], one.values[keep]))
        return Matrix(series, node.range_ms, node.offset_ms, at)

    # Operators ---------------------------------------------------------------------------

    def unary(self, expr: Unary) -> Value:
        value = self.eval(expr.expr)
        if isinstance(value, Scalar):
            return Scalar(-value.values)
        assert isinstance(value, Vector)
        return Vector(
            [InstantSeries(without_name(s.labels), -s.values, s.present) for s in value.series]
        )

    def binary(self, expr: Binary) -> Value:
        lhs, rhs = self.eval(expr.lhs), self.eval(expr.rhs)
        steps = len(self.steps)
        if isinstance(lhs, Scalar) and isinstance(rhs, Scalar):
            return Scalar(binary.elementwise(expr.op, lhs.values, rhs.values))
        if isinstance(lhs, Vector) and isinstance(rhs, Scalar):
            return binary.scalar_vector(
                expr.op, lhs, rhs.values, scalar_on_left=False, return_bool=expr.return_bool
            )
        if isinstance(lhs, Scalar) and isinstance(rhs, Vector):
            return binary.scalar_vector(
                expr.op, rhs, lhs.values, scalar_on_left=True, return_bool=expr.return_bool
            )
        assert isinstance(lhs, Vector)
        assert isinstance(rhs, Vector)
        if expr.op in SET_OPERATORS:
            return binary.set_operation(expr.op, lhs, rhs, expr.matching, steps)
        return binary.vector_vector(expr.op, lhs, rhs, expr.matching, expr.return_bool, steps)

    def aggregate(self, expr: Aggregate) -> Vector:
        vector = self.eval(expr.expr)
        assert isinstance(vector, Vector)
        param: FloatArray | str | None = None
        if expr.param is not None:
            value = self.eval(expr.param)
            assert isinstance(value, Scalar | StringValue)
            param = value.values if isinstance(value, Scalar) else value.value
        return aggregate(expr.op, vector, expr.grouping, expr.without, param, len(self.steps))

    # Functions ---------------------------------------------------------------------------

    def call(self, expr: Call) -> Value:
        name = expr.function
        steps = len(self.steps)
        if name in RANGE_FUNCTIONS:
            # One range argument; the others (quantile_over_time's q, predict_linear's t,
            # holt_winters' factors) are scalars, passed in order.
            samples, scalar_args = None, []
            for arg in expr.args:
                arg_value = self.eval(arg)
                if isinstance(arg_value, Matrix):
                    samples = arg_value
                else:
                    assert isinstance(arg_value, Scalar)
                    scalar_args.append(arg_value.values)
            assert samples is not None
            ends = samples.window_ends(self.steps)
            return apply_range_function(name, samples, ends, scalar_args)
        if name == "time":
            return Scalar(self.steps / 1000.0)
        if name == "pi":
            return Scalar(np.full(steps, math.pi))
        if name in functions.INSTANT_FUNCTIONS:
            return self.instant_function(expr)
        if name == "vector":
            scalar = self.eval(expr.args[0])
            assert isinstance(scalar, Scalar)
            return Vector([InstantSeries({}, scalar.values, np.ones(steps, dtype=bool))])
        if name == "scalar":
            vector = self.eval(expr.args[0])
            assert isinstance(vector, Vector)
            return Scalar(_scalar_of(vector, steps))
        if name == "histogram_quantile":
            q = self.eval(expr.args[0])
            vector = self.eval(expr.args[1])
            assert isinstance(q, Scalar)
            assert isinstance(vector, Vector)
            return histogram_quantile(q.values, vector, steps)
        if name == "absent":
            vector = self.eval(expr.args[0])
            assert isinstance(vector, Vector)
            seen = np.zeros(steps, dtype=bool)
            for series in vector.series:
                seen |= series.present
            return _absent_result(expr.args[0], ~seen)
        if name == "absent_over_time":
            matrix = self.eval(expr.args[0])
            assert isinstance(matrix, Matrix)
            ends = matrix.window_ends(self.steps)
            return _absent_result(expr.args[0], absent_over_time(matrix, ends))
        return self.element_function(expr)

    def instant_function(self, expr: Call) -> Vector:
        """The functions of `metrics.promql.functions`, given their evaluated arguments."""
        name = expr.function
        if name == "timestamp":
            arg = expr.args[0]
            while isinstance(arg, Paren):
                arg = arg.expr
            if isinstance(arg, VectorSelector):  # the samples' own times, not the steps'
                return functions.sample_timestamps(
                    self.source, arg.matchers, arg.offset_ms, self._anchors(arg), LOOKBACK_MS
                )
        if name in functions.DATE_FUNCTIONS and not expr.args:
            every_step = np.ones(len(self.steps), dtype=bool)
            args: list[Value] = [Vector([InstantSeries({}, self.steps / 1000.0, every_step)])]
        else:
            args = [self.eval(arg) for arg in expr.args]
        return functions.apply(name, args, self.steps)

    def element_function(self, expr: Call) -> Vector:
        vector = self.eval(expr.args[0])
        assert isinstance(vector, Vector)
        scalars = []
        for arg in expr.args[1:]:
            value = self.eval(arg)
            assert isinstance(value, Scalar)
            scalars.append(value.values)
        name = expr.function
        out = Vector()
        for series in vector.series:
            values = series.values
            with np.errstate(all="ignore"):
                if name == "abs":
                    result = np.abs(values)
                elif name == "ceil":
                    result = np.ceil(values)
                elif name == "floor":
                    result = np.floor(values)
                elif name == "sqrt":
                    result = np.sqrt(values)
                elif name == "exp":
                    result = np.exp(values)
                elif name == "ln":
                    result = np.log(values)
                elif name == "log2":
                    result = np.log2(values)
                elif name == "log10":
                    result = np.log10(values)
                elif name == "round":
                    inverse = 1 / scalars[0] if scalars else 1.0
                    result = np.floor(values * inverse + 0.5) / inverse
                elif name == "clamp_min":
                    result = functions.go_max(scalars[0], values)
                elif name == "clamp_max":
                    result = functions.go_min(scalars[0], values)
                elif name == "clamp":
                    low, high = scalars
                    result = functions.go_max(low, functions.go_min(high, values))
                    present = series.present & ~(low > high)
                    out.series.append(InstantSeries(without_name(series.labels), result, present))
                    continue
                else:
                    raise ExecutionError(f'function "{name}" is not supported')
            out.series.append(InstantSeries(without_name(series.labels), result, series.present))
        return out


def _scalar_of(vector: Vector, steps: int) -> np.ndarray:
    counts = np.zeros(steps, dtype=np.int64)
    result = np.full(steps, math.nan)
    for series in vector.series:
        counts += series.present
        result = np.where(series.present, series.values, result)
    return np.where(counts == 1, result, math.nan)


def _absent_result(arg: Expr, absent: np.ndarray) -> Vector:
    labels: dict[str, str] = {}
    selector = arg.selector if isinstance(arg, MatrixSelector) else arg
    if isinstance(selector, VectorSelector):
        labels = {m.name: m.value for m in selector.matchers if m.op == EQUAL and m.name != NAME}
    if not absent.any():
        return Vector()
    return Vector([InstantSeries(labels, np.ones(len(absent)), absent)])
