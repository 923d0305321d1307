"""Range functions Prometheus computes sample by sample with running (Kahan-compensated) sums:
stddev/stdvar_over_time, deriv, predict_linear and holt_winters.

Still vectorised over steps: pass k adds the k-th sample of every step's window at once, and
a step whose window has fewer samples keeps its running values. Each window is thus summed in
Prometheus's own order with its own operations, so the answers agree to the last bit; do not
replace a running sum here with a numpy reduction (it rounds differently).

A pass costs numpy's per-call overhead whatever the number of steps, so with a few steps (an
instant query over a long window) each window is instead summed in a plain loop over Python
floats: the same IEEE operations in the same order, the same bits, much faster there.

Windows are given as `lo` (index of each step's first sample) and `count` (samples in it);
steps with empty windows give garbage, which callers mask.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

from metrics.promql.values import BoolArray, FloatArray, IntArray

# Up to this many steps, windows are summed one at a time (see above).
ROW_WISE_STEPS = 16


def columns(
    length: int, lo: IntArray, count: IntArray
) -> Iterator[tuple[int, IntArray, BoolArray]]:
    """For k = 0, 1, ...: k, the index of each window's k-th sample, and where it exists."""
    for k in range(int(count.max(initial=0))):
        yield k, np.minimum(lo + k, length - 1), k < count


def kahan_add(
    increment: FloatArray, total: FloatArray, compensation: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Prometheus's kahanSumInc (Neumaier's variant): the new sum and compensation."""
    added = total + increment
    lost = np.where(
        np.abs(total) >= np.abs(increment), (total - added) + increment, (increment - added) + total
    )
    return added, compensation + lost


def variance(values: FloatArray, lo: IntArray, count: IntArray) -> FloatArray:
    """stdvar_over_time: Welford's running mean and sum of squares, both compensated."""
    if len(lo) <= ROW_WISE_STEPS:
        samples = values.tolist()
        return _per_window(lo, count, 1, lambda low, high, _: _variance_of(samples[low:high]))
    return _variance_columns(values, lo, count)


def _variance_of(samples: list[float]) -> float:
    mean = mean_c = aux = aux_c = 0.0
    for count, value in enumerate(samples, start=1):
        delta = value - (mean + mean_c)
        mean, mean_c = _kahan_add(_divide(delta, float(count)), mean, mean_c)
        aux, aux_c = _kahan_add(delta * (value - (mean + mean_c)), aux, aux_c)
    return _divide(aux + aux_c, float(len(samples)))


def _variance_columns(values: FloatArray, lo: IntArray, count: IntArray) -> FloatArray:
    mean = np.zeros(len(lo))
    mean_c, aux, aux_c = mean.copy(), mean.copy(), mean.copy()
    with np.errstate(all="ignore"):
        for k, index, here in columns(len(values), lo, count):
            value = values[index]
            delta = value - (mean + mean_c)
            new_mean, new_mean_c = kahan_add(delta / float(k + 1), mean, mean_c)
            new_aux, new_aux_c = kahan_add(delta * (value - (new_mean + new_mean_c)), aux, aux_c)
            mean, mean_c = np.where(here, new_mean, mean), np.where(here, new_mean_c, mean_c)
            aux, aux_c = np.where(here, new_aux, aux), np.where(here, new_aux_c, aux_c)
        return (aux + aux_c) / count


def linear_regression(
    timestamps: IntArray, values: FloatArray, lo: IntArray, count: IntArray, intercept_ms: IntArray
) -> tuple[FloatArray, FloatArray]:
    """Prometheus's linearRegression: least-squares slope (per second) and the value at
    `intercept_ms` (one time per step); x is (t - intercept_ms) / 1e3, each sum compensated.
    A window whose values are all equal has slope 0 (NaN for an infinite value)."""
    if len(lo) <= ROW_WISE_STEPS:
        times, samples = timestamps.tolist(), values.tolist()
        slope, intercept = np.full(len(lo), np.nan), np.full(len(lo), np.nan)
        for step in np.flatnonzero(count >= 2).tolist():
            low, high = int(lo[step]), int(lo[step] + count[step])
            slope[step], intercept[step] = _regression_of(
                times[low:high], samples[low:high], int(intercept_ms[step])
            )
        return slope, intercept
    return _regression_columns(timestamps, values, lo, count, intercept_ms)


def _regression_of(times: list[int], samples: list[float], origin: int) -> tuple[float, float]:
    sum_x = c_x = sum_y = c_y = sum_xy = c_xy = sum_x2 = c_x2 = 0.0
    first_y = samples[0]
    constant = True
    for index, (time, y) in enumerate(zip(times, samples, strict=True)):
        if constant and index > 0 and y != first_y:
            constant = False
        x = float(time - origin) / 1e3
        sum_x, c_x = _kahan_add(x, sum_x, c_x)
        sum_y, c_y = _kahan_add(y, sum_y, c_y)
        sum_xy, c_xy = _kahan_add(x * y, sum_xy, c_xy)
        sum_x2, c_x2 = _kahan_add(x * x, sum_x2, c_x2)
    if constant:
        return (math.nan, math.nan) if math.isinf(first_y) else (0.0, first_y)
    n = float(len(samples))
    sum_x, sum_y, sum_xy, sum_x2 = sum_x + c_x, sum_y + c_y, sum_xy + c_xy, sum_x2 + c_x2
    covariance = sum_xy - _divide(sum_x * sum_y, n)
    variance_x = sum_x2 - _divide(sum_x * sum_x, n)
    slope = _divide(covariance, variance_x)
    return slope, _divide(sum_y, n) - _divide(slope * sum_x, n)


def _regression_columns(
    timestamps: IntArray, values: FloatArray, lo: IntArray, count: IntArray, intercept_ms: IntArray
) -> tuple[FloatArray, FloatArray]:
    steps = len(lo)
    sum_x, sum_y, sum_xy, sum_x2 = (np.zeros(steps) for _ in range(4))
    c_x, c_y, c_xy, c_x2 = (np.zeros(steps) for _ in range(4))
    first_y = values[np.minimum(lo, len(values) - 1)]
    constant = np.ones(steps, dtype=bool)
    with np.errstate(all="ignore"):
        for k, index, here in columns(len(values), lo, count):
            y = values[index]
            if k > 0:  # (a NaN first value is not unequal to itself here)
                constant &= ~(here & (y != first_y))
            x = (timestamps[index] - intercept_ms).astype(np.float64) / 1e3
            for total, compensation, increment in (
                (sum_x, c_x, x), (sum_y, c_y, y), (sum_xy, c_xy, x * y), (sum_x2, c_x2, x * x),
            ):  # fmt: skip
                added, new_compensation = kahan_add(increment, total, compensation)
                np.copyto(total, added, where=here)
                np.copyto(compensation, new_compensation, where=here)
        n = count.astype(np.float64)
        sum_x, sum_y, sum_xy, sum_x2 = sum_x + c_x, sum_y + c_y, sum_xy + c_xy, sum_x2 + c_x2
        covariance = sum_xy - sum_x * sum_y / n
        variance_x = sum_x2 - sum_x * sum_x / n
        slope = covariance / variance_x
        intercept = sum_y / n - slope * sum_x / n
    infinite = np.isinf(first_y)
    slope = np.where(constant, np.where(infinite, np.nan, 0.0), slope)
    intercept = np.where(constant, np.where(infinite, np.nan, first_y), intercept)
    return slope, intercept


def holt_winters(
    values: FloatArray, lo: IntArray, count: IntArray, smoothing: FloatArray, trend: FloatArray
) -> FloatArray:
    """Double exponential smoothing as Prometheus 2.42's holt_winters: the last smoothed value
    (windows of two samples or more; `smoothing` and `trend` are per step, already checked)."""
    if len(lo) <= ROW_WISE_STEPS:
        samples, smoothings, trends = values.tolist(), smoothing.tolist(), trend.tolist()
        return _per_window(
            lo, count, 2,
            lambda low, high, step: _holt_winters_of(
                samples[low:high], smoothings[step], trends[step]
            ),
        )  # fmt: skip
    return _holt_winters_columns(values, lo, count, smoothing, trend)


def _holt_winters_of(samples: list[float], smoothing: float, trend: float) -> float:
    smoothed_before, smoothed = 0.0, samples[0]
    slope = samples[1] - samples[0]
    for index in range(1, len(samples)):
        scaled = smoothing * samples[index]
        if index > 1:
            slope = trend * (smoothed - smoothed_before) + (1 - trend) * slope
        smoothed_before, smoothed = smoothed, scaled + (1 - smoothing) * (smoothed + slope)
    return smoothed


def _holt_winters_columns(
    values: FloatArray, lo: IntArray, count: IntArray, smoothing: FloatArray, trend: FloatArray
) -> FloatArray:
    last = len(values) - 1
    first = np.minimum(lo, last)
    smoothed_before = np.zeros(len(lo))
    smoothed = values[first].copy()
    with np.errstate(all="ignore"):
        slope = values[np.minimum(first + 1, last)] - values[first]
        for k, index, here in columns(len(values), lo, count):
            if k == 0:
                continue
            scaled = smoothing * values[index]
            # The first pass keeps the initial trend (calcTrendValue's i == 0).
            if k > 1:
                slope = np.where(
                    here, trend * (smoothed - smoothed_before) + (1 - trend) * slope, slope
                )
            estimate = scaled + (1 - smoothing) * (smoothed + slope)
            smoothed_before = np.where(here, smoothed, smoothed_before)
            smoothed = np.where(here, estimate, smoothed)
    return smoothed


def _per_window(
    lo: IntArray, count: IntArray, minimum: int, function: Callable[[int, int, int], float]
) -> FloatArray:
    """function(low, high, step) for each step whose window, samples[low:high], has `minimum`
    samples or more; NaN for the others."""
    result = np.full(len(lo), np.nan)
    for step in np.flatnonzero(count >= minimum).tolist():
        low = int(lo[step])
        result[step] = function(low, low + int(count[step]), step)
    return result


def _kahan_add(increment: float, total: float, compensation: float) -> tuple[float, float]:
    added = total + increment
    if abs(total) >= abs(increment):
        return added, compensation + ((total - added) + increment)
    return added, compensation + ((increment - added) + total)


def _divide(numerator: float, denominator: float) -> float:
    """IEEE division, as Go and numpy divide (Python raises on a zero denominator)."""
    if denominator != 0:
        return numerator / denominator
    if numerator == 0 or math.isnan(numerator):
        return math.nan
    return math.copysign(math.inf, numerator) * math.copysign(1.0, denominator)
