"""Range functions Prometheus computes sample by sample with running (Kahan-compensated) sums:
stddev/stdvar_over_time, deriv, predict_linear and holt_winters.

Still vectorised over steps: pass k adds the k-th sample of every step's window at once, and
a step whose window has fewer samples keeps its running values. Each window is thus summed in
Prometheus's own order with its own operations, so the answers agree to the last bit; do not
replace a running sum here with a numpy reduction (it rounds differently).

Windows are given as `lo` (index of each step's first sample) and `count` (samples in it);
steps with empty windows give garbage, which callers mask.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from metrics.promql.values import BoolArray, FloatArray, IntArray


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
