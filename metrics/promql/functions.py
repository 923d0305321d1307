"""Instant-vector functions (math, trigonometry, dates, labels, sorting, `timestamp`) as
Prometheus 2.42 computes them, each over every step at once; and the engine's rule that a
result never holds two series with the same label set.

Nothing here reads samples except `sample_timestamps`, which `timestamp(selector)` needs."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import numpy as np

from metrics.promql.errors import ExecutionError
from metrics.promql.signatures import FUNCTIONS, MATRIX
from metrics.promql.source import SampleSource
from metrics.promql.values import (
    BoolArray,
    FloatArray,
    InstantSeries,
    IntArray,
    StringValue,
    Value,
    Vector,
    label_key,
    without_name,
)
from metrics.storage.encoding import is_stale
from metrics.storage.matchers import Matcher

SAME_LABELSET = "vector cannot contain metrics with the same labelset"
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _sgn(values: FloatArray) -> FloatArray:
    # np.sign keeps NaN and gives 0 for ±0; Prometheus returns the value itself then (-0 stays).
    return np.where(values < 0, -1.0, np.where(values > 0, 1.0, values))


MATH_FUNCTIONS: dict[str, Callable[[FloatArray], FloatArray]] = {
    "sgn": _sgn,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
    "deg": lambda values: values * 180 / math.pi,
    "rad": lambda values: values * math.pi / 180,
}

DATE_FUNCTIONS = {
    "day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month",
    "year",
}  # fmt: skip

# Native histograms are not stored by the portal: over float samples these give nothing.
NATIVE_HISTOGRAM_FUNCTIONS = {"histogram_count", "histogram_sum", "histogram_fraction"}

INSTANT_FUNCTIONS = (
    set(MATH_FUNCTIONS)
    | DATE_FUNCTIONS
    | NATIVE_HISTOGRAM_FUNCTIONS
    | {"label_replace", "label_join", "sort", "sort_desc", "timestamp"}
)


def math_function(name: str, vector: Vector) -> Vector:
    function = MATH_FUNCTIONS[name]
    with np.errstate(all="ignore"):
        return Vector(
            [
                InstantSeries(without_name(s.labels), function(s.values), s.present)
                for s in vector.series
            ]
        )


def date_values(name: str, seconds: FloatArray) -> FloatArray:
    """The calendar field `name` (UTC) of each Unix time; the fraction of a second is dropped
    (Go's time.Unix(int64(v), 0)). NaN and infinities give NaN."""
    finite = np.isfinite(seconds)
    whole = np.trunc(np.where(finite, seconds, 0.0)).astype(np.int64)
    instant = whole.astype("datetime64[s]")
    day = instant.astype("datetime64[D]")
    month = instant.astype("datetime64[M]")
    year = instant.astype("datetime64[Y]")
    if name == "year":
        result = year.astype(np.int64) + 1970
    elif name == "month":
        result = month.astype(np.int64) % 12 + 1
    elif name == "day_of_month":
        result = (day - month.astype("datetime64[D]")).astype(np.int64) + 1
    elif name == "day_of_year":
        result = (day - year.astype("datetime64[D]")).astype(np.int64) + 1
    elif name == "day_of_week":
        result = (day.astype(np.int64) + 4) % 7  # 1970-01-01 was a Thursday; Sunday is 0
    elif name == "days_in_month":
        result = ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")).astype(
            np.int64
        )
    elif name == "hour":
        result = (instant - day.astype("datetime64[s]")).astype(np.int64) // 3600
    elif name == "minute":
        result = (instant - day.astype("datetime64[s]")).astype(np.int64) // 60 % 60
    else:
        raise AssertionError(name)
    return np.where(finite, result.astype(np.float64), np.nan)


def date_function(name: str, vector: Vector) -> Vector:
    return Vector(
        [
            InstantSeries(without_name(s.labels), date_values(name, s.values), s.present)
            for s in vector.series
        ]
    )


def timestamp_of(vector: Vector, steps: IntArray) -> Vector:
    """`timestamp(expr)` for anything but a selector: a computed value's time is its step."""
    seconds = steps / 1000.0
    return Vector(
        [InstantSeries(without_name(s.labels), seconds.copy(), s.present) for s in vector.series]
    )


def sample_timestamps(
    source: SampleSource,
    matchers: Sequence[Matcher],
    offset_ms: int,
    steps: IntArray,
    lookback_ms: int,
) -> Vector:
    """`timestamp(selector)`: the time (seconds) of the sample the selector picks at each step,
    picked exactly as the engine's vector selector picks it."""
    times = steps - offset_ms
    out = Vector()
    for labels, timestamps, values in source.select(
        matchers, int(times[0]) - lookback_ms, int(times[-1])
    ):
        if len(timestamps) == 0:
            continue
        index = np.searchsorted(timestamps, times, side="right") - 1
        clipped = np.maximum(index, 0)
        present = (
            (index >= 0) & (timestamps[clipped] >= times - lookback_ms) & ~is_stale(values[clipped])
        )
        if present.any():
            seconds = timestamps[clipped] / 1000.0
            out.series.append(InstantSeries(without_name(labels), seconds, present))
    return out


def _check_label_name(name: str, message: str) -> None:
    if not LABEL_NAME.match(name):
        raise ExecutionError(f"{message}: {name}")


def _go_regex(pattern: str, function: str) -> re.Pattern[str]:
    try:
        return re.compile(f"(?:{pattern})\\Z")
    except re.error:
        raise ExecutionError(f"invalid regular expression in {function}(): {pattern}") from None


_TEMPLATE_NAME = re.compile(r"\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+)")


def expand_template(template: str, match: re.Match[str]) -> str:
    """Go's Regexp.ExpandString: $1, ${1}, $name, ${name}; $$ is a dollar; a name that is no
    group gives nothing; a malformed reference stays as written."""
    out: list[str] = []
    index = 0
    while index < len(template):
        char = template[index]
        if char != "$":
            out.append(char)
            index += 1
            continue
        if template.startswith("$$", index):
            out.append("$")
            index += 2
            continue
        reference = _TEMPLATE_NAME.match(template, index + 1)
        if reference is None:
            out.append("$")
            index += 1
            continue
        name = reference.group(1) or reference.group(2)
        index = reference.end()
        if name.isdigit() and not (name[0] == "0" and len(name) > 1):
            number = int(name)
            if number <= (match.re.groups or 0):
                out.append(match.group(number) or "")
        elif name in match.re.groupindex:
            out.append(match.group(name) or "")
    return "".join(out)


def label_replace(vector: Vector, dst: str, replacement: str, src: str, regex: str) -> Vector:
    pattern = _go_regex(regex, "label_replace")
    _check_label_name(dst, "invalid destination label name in label_replace()")
    out = Vector()
    for series in vector.series:
        labels = series.labels
        match = pattern.match(labels.get(src, ""))
        if match is not None:
            value = expand_template(replacement, match)
            labels = {k: v for k, v in labels.items() if k != dst}
            if value:
                labels[dst] = value
        out.series.append(InstantSeries(labels, series.values, series.present))
    return out


def label_join(vector: Vector, dst: str, separator: str, sources: Sequence[str]) -> Vector:
    for src in sources:
        _check_label_name(src, "invalid source label name in label_join()")
    _check_label_name(dst, "invalid destination label name in label_join()")
    out = Vector()
    for series in vector.series:
        value = separator.join(series.labels.get(src, "") for src in sources)
        labels = {k: v for k, v in series.labels.items() if k != dst}
        if value:
            labels[dst] = value
        out.series.append(InstantSeries(labels, series.values, series.present))
    return out


def sort_by_value(vector: Vector, descending: bool) -> Vector:
    """Orders the series by their value at the first step, NaN last either way (only an
    instant query's order is seen: a range query's series are ordered by labels)."""
    if not vector.series:
        return vector

    def key(series: InstantSeries) -> tuple[bool, float]:
        value = float(series.values[0])
        if not series.present[0] or math.isnan(value):
            return (True, 0.0)
        return (False, -value if descending else value)

    return Vector(sorted(vector.series, key=key))


# The rule about label sets ------------------------------------------------------------


def check_unique_per_step(vector: Vector) -> Vector:
    """What Prometheus checks after each step of a function, operator or aggregation: no two
    series with the same labels at the same step."""
    seen: dict[tuple[tuple[str, str], ...], BoolArray] = {}
    for series in vector.series:
        key = label_key(series.labels)
        present = seen.get(key)
        if present is None:
            seen[key] = series.present
            continue
        if (present & series.present).any():
            raise ExecutionError(SAME_LABELSET)
        seen[key] = present | series.present
    return vector


def check_unique_over_range(vector: Vector) -> Vector:
    """What Prometheus checks after a function over a range vector and after unary minus: no
    two series with the same labels that both have a value somewhere in the query's range."""
    seen: set[tuple[tuple[str, str], ...]] = set()
    for series in vector.series:
        if not series.present.any():
            continue
        key = label_key(series.labels)
        if key in seen:
            raise ExecutionError(SAME_LABELSET)
        seen.add(key)
    return vector


def present_anywhere(vector: Vector, steps: int) -> BoolArray:
    seen = np.zeros(steps, dtype=bool)
    for series in vector.series:
        seen |= series.present
    return seen


def _string(value: Value) -> str:
    assert isinstance(value, StringValue)
    return value.value


def apply(name: str, args: Sequence[Value], steps: IntArray) -> Vector:
    """One of INSTANT_FUNCTIONS over its evaluated arguments."""
    if name in NATIVE_HISTOGRAM_FUNCTIONS:
        return Vector()
    vector = args[0]
    assert isinstance(vector, Vector)
    if name in MATH_FUNCTIONS:
        return math_function(name, vector)
    if name in DATE_FUNCTIONS:
        return date_function(name, vector)
    if name == "timestamp":
        return timestamp_of(vector, steps)
    if name in ("sort", "sort_desc"):
        return sort_by_value(vector, descending=name == "sort_desc")
    strings = [_string(arg) for arg in args[1:]]
    if name == "label_replace":
        return label_replace(vector, *strings)
    if name == "label_join":
        return label_join(vector, strings[0], strings[1], strings[2:])
    raise AssertionError(name)


def check_call_result(name: str, value: Value) -> Value:
    """A function over a range vector is checked over the whole range, any other per step."""
    if not isinstance(value, Vector):
        return value
    if MATRIX in FUNCTIONS[name][0]:
        return check_unique_over_range(value)
    return check_unique_per_step(value)


def check_unary_result(value: Value) -> Value:
    return check_unique_over_range(value) if isinstance(value, Vector) else value


def go_max(a: FloatArray, b: FloatArray) -> FloatArray:
    """Go's math.Max, as Prometheus uses it: +Inf wins even over NaN, else NaN wins; +0 > -0."""
    with np.errstate(all="ignore"):
        result = np.where((a == 0) & (b == 0), a + b, np.maximum(a, b))
        return np.where((a == np.inf) | (b == np.inf), np.inf, result)


def go_min(a: FloatArray, b: FloatArray) -> FloatArray:
    """Go's math.Min: -Inf wins even over NaN, else NaN wins; -0 < +0."""
    with np.errstate(all="ignore"):
        result = np.where((a == 0) & (b == 0), -(-a - b), np.minimum(a, b))
        return np.where((a == -np.inf) | (b == -np.inf), -np.inf, result)
