"""Functions over range vectors (`rate(x[5m])` and friends), computed for every step at once.

A window at step t covers the samples with t - range <= timestamp <= t (both ends included,
as in Prometheus 2.x), shifted back by the selector's offset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from metrics.promql import running
from metrics.promql.errors import ExecutionError
from metrics.promql.values import (
    BoolArray,
    FloatArray,
    InstantSeries,
    IntArray,
    Matrix,
    RawSeries,
    Vector,
    without_name,
)


class Window:
    """Index bounds [lo, hi) of each step's window in one series' samples."""

    def __init__(self, series: RawSeries, steps: IntArray, range_ms: int, offset_ms: int) -> None:
        self.series = series
        self.range_end = steps - offset_ms
        self.range_start = self.range_end - range_ms
        self.lo = np.searchsorted(series.timestamps, self.range_start, side="left")
        self.hi = np.searchsorted(series.timestamps, self.range_end, side="right")
        self.count = self.hi - self.lo

    def reduce(self, ufunc: np.ufunc, values: FloatArray | None = None) -> FloatArray:
        """ufunc.reduce over each window (steps with empty windows give garbage: mask them)."""
        data = self.series.values if values is None else values
        padded = np.append(data, 0.0)  # reduceat needs every index < len
        bounds = np.empty(2 * len(self.lo), dtype=np.int64)
        bounds[0::2] = self.lo
        bounds[1::2] = self.hi
        bounds = np.minimum(bounds, len(data))
        with np.errstate(all="ignore"):
            return ufunc.reduceat(padded, bounds)[0::2]


@dataclass
class Edges:
    """First and last sample of each step's window, the sample count, and the change between
    them (for counters, with what resets lost added back). Arrays of one row per step, or
    stacked for many series."""

    first_t: FloatArray
    last_t: FloatArray
    first_v: FloatArray
    last_v: FloatArray
    count: FloatArray
    change: FloatArray


def window_edges(
    window: Window, *, counter: bool, into: Edges | None = None, row: int = 0
) -> Edges:
    """The edges of one series' windows, written into row `row` of `into` when given."""
    ts, values = window.series.timestamps, window.series.values
    first = np.minimum(window.lo, len(ts) - 1)
    last = np.maximum(window.hi - 1, 0)
    with np.errstate(all="ignore"):
        change = values[last] - values[first]
    if counter:
        # A reset at j (a drop below the previous sample) lost the value before it; only
        # resets after the window's first sample and up to its last one count. They are added
        # one by one, oldest first, as Prometheus does (a cumulative sum rounds differently).
        resets = np.flatnonzero(values[1:] < values[:-1]) + 1
        if len(resets):
            after_first = np.searchsorted(resets, first, side="right")
            in_window = np.searchsorted(resets, last, side="right") - after_first
            lost = values[resets - 1]
            for k in range(int(in_window.max(initial=0))):
                index = np.minimum(after_first + k, len(resets) - 1)
                with np.errstate(all="ignore"):
                    change = np.where(k < in_window, change + lost[index], change)
    if into is None:
        return Edges(
            ts[first].astype(np.float64),
            ts[last].astype(np.float64),
            values[first],
            values[last],
            window.count.astype(np.float64),
            change,
        )
    into.first_t[row] = ts[first]
    into.last_t[row] = ts[last]
    into.first_v[row] = values[first]
    into.last_v[row] = values[last]
    into.count[row] = window.count
    into.change[row] = change
    return into


def duration_seconds(duration_ms: int) -> float:
    """A duration in seconds as Go's time.Duration.Seconds() rounds it: whole seconds plus the
    fraction, each converted on its own."""
    whole, fraction_ms = divmod(duration_ms, 1000)
    return float(whole) + float(fraction_ms * 1_000_000) / 1e9


def extrapolate(
    edges: Edges,
    range_start: IntArray,
    range_end: IntArray,
    range_ms: int,
    *,
    counter: bool,
    rate: bool,
) -> FloatArray:
    """Prometheus's extrapolatedRate (delta, increase, rate) on edges of any shape, with its
    order of floating-point operations (factor = interval / sampled, / range for a rate, then
    change * factor), so results agree to the last bit."""
    with np.errstate(all="ignore"):
        result = edges.change
        duration_to_start = (edges.first_t - range_start) / 1000
        duration_to_end = (range_end - edges.last_t) / 1000
        sampled = (edges.last_t - edges.first_t) / 1000
        average = sampled / (edges.count - 1)
        if counter:
            to_zero = sampled * (edges.first_v / result)
            use_zero = (result > 0) & (edges.first_v >= 0) & (to_zero < duration_to_start)
            duration_to_start = np.where(use_zero, to_zero, duration_to_start)
        threshold = average * 1.1
        interval = sampled.copy()
        interval += np.where(duration_to_start < threshold, duration_to_start, average / 2)
        interval += np.where(duration_to_end < threshold, duration_to_end, average / 2)
        factor = interval / sampled
        if rate:
            factor = factor / duration_seconds(range_ms)
        result = result * factor
    return np.asarray(result, dtype=np.float64)


def _rates(name: str, matrix: Matrix, steps: IntArray) -> Vector:
    """rate, increase and delta for every series at once: edges per series, then one pass of
    the extrapolation over all of them stacked."""
    counter = name != "delta"
    windows = [
        Window(series, steps, matrix.range_ms, matrix.offset_ms)
        for series in matrix.series
        if len(series.timestamps)
    ]
    if not windows:
        return Vector()
    shape = (len(windows), len(steps))
    stacked = Edges(
        first_t=np.empty(shape),
        last_t=np.empty(shape),
        first_v=np.empty(shape),
        last_v=np.empty(shape),
        count=np.empty(shape),
        change=np.empty(shape),
    )
    for row, window in enumerate(windows):
        window_edges(window, counter=counter, into=stacked, row=row)
    results = extrapolate(
        stacked, windows[0].range_start, windows[0].range_end, matrix.range_ms,
        counter=counter, rate=name == "rate",
    )  # fmt: skip
    out = Vector()
    for index, window in enumerate(windows):
        present = window.count >= 2
        if present.any():
            out.series.append(
                InstantSeries(without_name(window.series.labels), results[index], present)
            )
    return out


def instant_rate(window: Window, *, rate: bool) -> tuple[FloatArray, BoolArray]:
    """irate and idelta: the last two samples of each window."""
    ts, values = window.series.timestamps, window.series.values
    last = np.maximum(window.hi - 1, 0)
    previous = np.maximum(window.hi - 2, 0)
    interval = (ts[last] - ts[previous]).astype(np.float64)
    present = (window.count >= 2) & (interval != 0)
    with np.errstate(all="ignore"):
        if rate:
            result = np.where(
                values[last] < values[previous], values[last], values[last] - values[previous]
            )
            result = result / (interval / 1000)
        else:
            result = values[last] - values[previous]
    return result, present


def over_time(
    name: str, window: Window, quantile: FloatArray | None = None
) -> tuple[FloatArray, BoolArray]:
    present = window.count >= 1
    values = window.series.values
    with np.errstate(all="ignore"):
        if name == "sum_over_time":
            return window.reduce(np.add), present
        if name == "count_over_time":
            return window.count.astype(np.float64), present
        if name == "avg_over_time":
            return window.reduce(np.add) / window.count, present
        if name == "min_over_time":
            return window.reduce(np.fmin), present
        if name == "max_over_time":
            return window.reduce(np.fmax), present
        if name == "last_over_time":
            return values[np.maximum(window.hi - 1, 0)], present
        if name == "present_over_time":
            return np.ones(len(window.lo)), present
        if name == "stdvar_over_time":
            return running.variance(values, window.lo, window.count), present
        if name == "stddev_over_time":
            return np.sqrt(running.variance(values, window.lo, window.count)), present
    if name == "changes":
        # NaN to NaN is no change.
        changed = (values[1:] != values[:-1]) & ~(np.isnan(values[1:]) & np.isnan(values[:-1]))
        return counted_pairs(window, changed), present
    if name == "resets":
        return counted_pairs(window, values[1:] < values[:-1]), present
    if name == "quantile_over_time":
        assert quantile is not None
        result = np.full(len(window.lo), np.nan)
        for step in np.flatnonzero(present):
            result[step] = quantile_of(
                float(quantile[step]), values[window.lo[step] : window.hi[step]]
            )
        return result, present
    raise AssertionError(name)


def counted_pairs(window: Window, flags: BoolArray) -> FloatArray:
    """How many neighbouring pairs of samples in each window are flagged (`flags[j]` for the
    pair of samples j and j + 1): changes and resets."""
    before = np.concatenate(([0], np.cumsum(flags, dtype=np.int64)))  # flagged pairs up to j
    last = len(window.series.values) - 1
    first = np.minimum(window.lo, last)
    final = np.clip(window.hi - 1, 0, last)
    return (before[final] - before[first]).astype(np.float64)


def trend(
    name: str, window: Window, steps: IntArray, scalar_args: Sequence[FloatArray]
) -> tuple[FloatArray, BoolArray]:
    """deriv, predict_linear and holt_winters: windows of two samples or more."""
    series = window.series
    present = window.count >= 2
    if name == "holt_winters":
        smoothing, trend_factor = scalar_args
        check_holt_winters(window, smoothing, trend_factor)
        return running.holt_winters(
            series.values, window.lo, window.count, smoothing, trend_factor
        ), present
    if name == "deriv":
        # Times relative to the window's first sample, as Prometheus does for precision.
        origin = series.timestamps[np.minimum(window.lo, len(series.timestamps) - 1)]
        slope, _ = running.linear_regression(
            series.timestamps, series.values, window.lo, window.count, origin
        )
        return slope, present
    if name == "predict_linear":
        (duration,) = scalar_args
        # Relative to the evaluation time itself (not the offset one): the intercept is "now".
        slope, intercept = running.linear_regression(
            series.timestamps, series.values, window.lo, window.count, steps
        )
        with np.errstate(all="ignore"):
            return slope * duration + intercept, present
    raise AssertionError(name)


def check_holt_winters(window: Window, smoothing: FloatArray, trend_factor: FloatArray) -> None:
    """Prometheus refuses the factors at the first step the function runs (a window with a
    sample), in its words; NaN factors pass its check."""
    bad_smoothing = (smoothing <= 0) | (smoothing >= 1)
    bad_trend = (trend_factor <= 0) | (trend_factor >= 1)
    refused = np.flatnonzero((window.count >= 1) & (bad_smoothing | bad_trend))
    if len(refused) == 0:
        return
    step = refused[0]
    if bad_smoothing[step]:
        raise ExecutionError(
            f"invalid smoothing factor. Expected: 0 < sf < 1, got: {go_float(smoothing[step])}"
        )
    raise ExecutionError(
        f"invalid trend factor. Expected: 0 < tf < 1, got: {go_float(trend_factor[step])}"
    )


def go_float(number: float) -> str:
    """A float as Go's %f prints it."""
    if np.isnan(number):
        return "NaN"
    if np.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    return f"{number:f}"


def quantile_of(q: float, values: FloatArray) -> float:
    """Prometheus's quantile: linear interpolation between closest ranks, NaN values ranked
    lowest; NaN q or no values -> NaN."""
    if len(values) == 0 or np.isnan(q):
        return float("nan")
    if q < 0:
        return float("-inf")
    if q > 1:
        return float("inf")
    # NaN sorts first in Prometheus (its Less puts NaN below everything), last in numpy.
    nan = np.isnan(values)
    ordered = np.concatenate((values[nan], np.sort(values[~nan])))
    rank = q * (len(ordered) - 1)
    lower = int(np.floor(rank))
    upper = min(lower + 1, len(ordered) - 1)
    weight = rank - lower
    return float(ordered[lower] * (1 - weight) + ordered[upper] * weight)


RANGE_FUNCTIONS = {
    "rate", "irate", "increase", "delta", "idelta", "avg_over_time", "min_over_time",
    "max_over_time", "sum_over_time", "count_over_time", "last_over_time", "quantile_over_time",
    "stddev_over_time", "stdvar_over_time", "present_over_time", "changes", "resets", "deriv",
    "predict_linear", "holt_winters",
}  # fmt: skip
TREND_FUNCTIONS = {"deriv", "predict_linear", "holt_winters"}


def apply_range_function(
    name: str, matrix: Matrix, steps: IntArray, scalar_args: Sequence[FloatArray] = ()
) -> Vector:
    """`name` over every series of `matrix`; `scalar_args` are the function's other (scalar)
    arguments in order, one value per step."""
    if name in ("rate", "increase", "delta"):
        return _rates(name, matrix, steps)
    out = Vector()
    for series in matrix.series:
        if len(series.timestamps) == 0:
            continue
        window = Window(series, steps, matrix.range_ms, matrix.offset_ms)
        if name in ("irate", "idelta"):
            values, present = instant_rate(window, rate=name == "irate")
        elif name in TREND_FUNCTIONS:
            values, present = trend(name, window, steps, scalar_args)
        else:
            quantile = scalar_args[0] if name == "quantile_over_time" else None
            values, present = over_time(name, window, quantile)
        if present.any():
            labels = series.labels if name == "last_over_time" else without_name(series.labels)
            out.series.append(InstantSeries(labels, values, present))
    return out


def absent_over_time(matrix: Matrix, steps: IntArray) -> BoolArray:
    """Steps at which no series has a sample in its window."""
    seen = np.zeros(len(steps), dtype=bool)
    for series in matrix.series:
        if len(series.timestamps):
            seen |= Window(series, steps, matrix.range_ms, matrix.offset_ms).count > 0
    return ~seen
