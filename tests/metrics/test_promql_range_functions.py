"""Range functions with exact expected values: stddev/stdvar/present/last_over_time, changes,
resets, deriv, predict_linear, holt_winters, and the float order of rate and friends.

Cases follow Prometheus's promql/testdata/functions.test where it has them; the others are
small enough to work out by hand (or, for float-order cases, were checked against Prometheus
2.42 itself). Samples live in memory: no database, no Prometheus.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from metrics.promql import running
from metrics.promql.engine import instant_query, range_query
from metrics.promql.errors import ExecutionError, ParseError
from metrics.promql.parser import parse
from metrics.promql.source import Loaded
from metrics.promql.values import Vector, label_key
from metrics.storage.encoding import STALE_NAN
from metrics.storage.matchers import NAME, Matcher

T0 = 1_700_000_000_000  # whole seconds: times relative to it are exact
SECOND = 1_000
MINUTE = 60 * SECOND
NAN = math.nan

Series = dict[str, tuple[dict[str, str], int, Sequence[float]]]


class MemorySource:
    """Samples at T0, T0 + interval, ... for each series."""

    def __init__(self, **series: tuple[dict[str, str], int, Sequence[float]]) -> None:
        self.series = []
        for name, (labels, interval_ms, values) in series.items():
            timestamps = T0 + interval_ms * np.arange(len(values), dtype=np.int64)
            self.series.append(
                ({NAME: name, **labels}, timestamps, np.array(values, dtype=np.float64))
            )

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> Loaded:
        loaded: Loaded = []
        for labels, timestamps, values in self.series:
            if all(m.matches(labels.get(m.name, "")) for m in matchers):
                keep = (timestamps >= start_ms) & (timestamps <= end_ms)
                loaded.append((labels, timestamps[keep], values[keep]))
        return loaded


def at(query: str, offset_ms: int, source: MemorySource) -> dict[tuple, float]:
    """The instant query's answer at T0 + offset_ms, by labels."""
    value = instant_query(query, T0 + offset_ms, source=source).value
    assert isinstance(value, Vector)
    return {
        label_key(series.labels): float(series.values[0])
        for series in value.series
        if series.present[0]
    }


def only(query: str, offset_ms: int, source: MemorySource) -> float:
    answer = at(query, offset_ms, source)
    assert len(answer) == 1, answer
    return next(iter(answer.values()))


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


# changes() and resets() ---------------------------------------------------------------------

REQUESTS = MemorySource(
    http_requests=({"path": "/foo"}, 5 * MINUTE, [1, 2, 3, 0, 1, 0, 0, 1, 2, 0]),
)
BAR = MemorySource(http_requests=({"path": "/bar"}, 5 * MINUTE, [1, 2, 3, 4, 5, 1, 2, 3, 4, 5]))
BIZ = MemorySource(http_requests=({"path": "/biz"}, 5 * MINUTE, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]))


@pytest.mark.parametrize(
    ("range_", "foo", "bar", "biz"),
    [("5m", 0, 0, 0), ("20m", 1, 0, 0), ("30m", 2, 1, 0), ("50m", 3, 1, 0)],
)
def test_resets_counts_each_drop_below_the_previous_sample(range_, foo, bar, biz):
    query = f"resets(http_requests[{range_}])"
    assert only(query, 50 * MINUTE, REQUESTS) == foo
    assert only(query, 50 * MINUTE, BAR) == bar
    assert only(query, 50 * MINUTE, BIZ) == biz


@pytest.mark.parametrize(
    ("range_", "foo", "bar", "biz"),
    [("5m", 0, 0, 0), ("20m", 3, 3, 0), ("30m", 4, 5, 1), ("50m", 8, 9, 1)],
)
def test_changes_counts_each_new_value(range_, foo, bar, biz):
    query = f"changes(http_requests[{range_}])"
    assert only(query, 50 * MINUTE, REQUESTS) == foo
    assert only(query, 50 * MINUTE, BAR) == bar
    assert only(query, 50 * MINUTE, BIZ) == biz


def test_changes_takes_nan_to_nan_as_no_change_and_a_number_to_nan_as_one():
    source = MemorySource(
        x=({"a": "b"}, 5 * MINUTE, [NAN, NAN, NAN]), y=({"a": "c"}, 5 * MINUTE, [0, NAN, 0])
    )
    assert at("changes(x[15m])", 15 * MINUTE, source) == {(("a", "b"),): 0.0}
    assert at("changes(y[15m])", 15 * MINUTE, source) == {(("a", "c"),): 2.0}


def test_changes_and_resets_of_one_sample_are_zero_and_of_none_absent():
    source = MemorySource(x=({}, MINUTE, [7]))
    assert only("changes(x[5m])", 0, source) == 0
    assert only("resets(x[5m])", 0, source) == 0
    assert at("changes(x[5m])", 6 * MINUTE, source) == {}
    assert at("resets(nothing[5m])", 0, source) == {}


def test_resets_ignores_nan_and_counts_the_drop_after_it():
    source = MemorySource(x=({}, MINUTE, [5, NAN, 3, 1, 4]))
    # 5 -> NaN and NaN -> 3 are no drops (comparisons with NaN are false); 3 -> 1 is.
    assert only("resets(x[10m])", 4 * MINUTE, source) == 1


# stddev_over_time, stdvar_over_time, present_over_time, last_over_time -----------------------


def test_stdvar_and_stddev_over_time_of_prometheus_testdata():
    source = MemorySource(metric=({}, 10 * SECOND, [0, 8, 8, 2, 3]))
    # 10.56 by hand; Prometheus 2.42's running, compensated sums give one ulp less.
    assert only("stdvar_over_time(metric[1m])", MINUTE, source) == 10.559999999999999
    assert only("stddev_over_time(metric[1m])", MINUTE, source) == 3.249615361854384


def test_stdvar_of_equal_values_is_zero_not_a_rounding_residue():
    # Prometheus issue 4927: a naive sum of squares gives a tiny non-zero variance.
    source = MemorySource(metric=({}, 10 * SECOND, [1.5990505637277868] * 3))
    assert only("stdvar_over_time(metric[1m])", MINUTE, source) == 0
    assert only("stddev_over_time(metric[1m])", MINUTE, source) == 0


def test_stddev_of_one_sample_is_zero():
    source = MemorySource(metric=({"job": "a"}, MINUTE, [42]))
    assert at("stddev_over_time(metric[1m])", 0, source) == {(("job", "a"),): 0.0}
    assert at("stdvar_over_time(metric[1m])", 0, source) == {(("job", "a"),): 0.0}


def test_stddev_over_time_of_a_textbook_set():
    source = MemorySource(metric=({}, SECOND, [2, 4, 4, 4, 5, 5, 7, 9]))
    assert only("stdvar_over_time(metric[10s])", 7 * SECOND, source) == 4
    assert only("stddev_over_time(metric[10s])", 7 * SECOND, source) == 2


def test_stddev_over_time_with_nan_or_inf_is_nan():
    source = MemorySource(a=({}, SECOND, [1, NAN, 3]), b=({}, SECOND, [1, math.inf, 3]))
    assert math.isnan(only("stddev_over_time(a[5s])", 2 * SECOND, source))
    assert math.isnan(only("stdvar_over_time(b[5s])", 2 * SECOND, source))


def test_present_over_time_is_one_where_the_window_has_a_sample_even_nan():
    source = MemorySource(
        http_requests=({"path": "/foo"}, MINUTE, [1, 2, 3]),
        expiry=({"job": "ingress"}, MINUTE, [NAN, NAN]),
    )
    assert at("present_over_time(http_requests[5m])", 2 * MINUTE, source) == {
        (("path", "/foo"),): 1.0
    }
    assert at("present_over_time(expiry[30s])", MINUTE, source) == {(("job", "ingress"),): 1.0}
    assert at("present_over_time(http_requests[30s])", 3 * MINUTE, source) == {}


def test_present_over_time_over_a_range_marks_only_covered_steps():
    source = MemorySource(x=({}, MINUTE, [1, 1]))
    result = range_query("present_over_time(x[1m])", T0, T0 + 4 * MINUTE, MINUTE, source=source)
    assert isinstance(result.value, Vector)
    (series,) = result.value.series
    assert series.present.tolist() == [True, True, True, False, False]
    assert series.values[series.present].tolist() == [1.0, 1.0, 1.0]


def test_last_over_time_keeps_the_metric_name_and_others_drop_it():
    source = MemorySource(x=({"job": "a"}, MINUTE, [1, 2, 3]))
    assert at("last_over_time(x[5m])", 2 * MINUTE, source) == {((NAME, "x"), ("job", "a")): 3.0}
    for function in ("stddev_over_time", "stdvar_over_time", "present_over_time", "changes",
                     "resets", "deriv"):  # fmt: skip
        assert set(at(f"{function}(x[5m])", 2 * MINUTE, source)) == {(("job", "a"),)}


def test_stale_markers_are_not_samples_of_the_window():
    source = MemorySource(x=({}, MINUTE, [1, 2, STALE_NAN, 5]))
    assert only("changes(x[5m])", 3 * MINUTE, source) == 2
    assert only("present_over_time(x[30s])", 3 * MINUTE, source) == 1
    assert at("present_over_time(x[30s])", 2 * MINUTE, source) == {}


# deriv() and predict_linear() ---------------------------------------------------------------

RESET_MIDDLE = MemorySource(
    testcounter_reset_middle=({}, 5 * MINUTE, [0, 10, 20, 30, 40, 0, 10, 20, 30, 40, 50])
)
CANARY = MemorySource(http_requests=({"group": "canary"}, 5 * MINUTE, [80 * i for i in range(11)]))


def test_deriv_is_the_least_squares_slope_per_second():
    # Prometheus's testdata: sumX 16500, sumY 250, sumXY 480000, sumX2 34650000, n 11.
    assert only("deriv(testcounter_reset_middle[100m])", 50 * MINUTE, RESET_MIDDLE) == (
        0.010606060606060607
    )
    assert only("deriv(http_requests[50m])", 50 * MINUTE, CANARY) == 0.26666666666666666


def test_deriv_needs_two_samples():
    source = MemorySource(x=({}, MINUTE, [3, 4]))
    assert at("deriv(x[30s])", MINUTE, source) == {}
    assert only("deriv(x[1m])", MINUTE, source) == 1 / 60


def test_deriv_of_a_constant_is_zero_and_of_a_constant_infinity_nan():
    source = MemorySource(flat=({}, SECOND, [7, 7, 7]), huge=({}, SECOND, [math.inf] * 3))
    assert only("deriv(flat[5s])", 2 * SECOND, source) == 0
    assert math.isnan(only("deriv(huge[5s])", 2 * SECOND, source))
    assert only("predict_linear(flat[5s], 100)", 2 * SECOND, source) == 7
    assert math.isnan(only("predict_linear(huge[5s], 100)", 2 * SECOND, source))


def test_deriv_with_a_nan_first_sample_is_nan_not_zero():
    source = MemorySource(x=({}, SECOND, [NAN, NAN]))
    assert math.isnan(only("deriv(x[5s])", SECOND, source))


def test_predict_linear_extrapolates_from_the_evaluation_time():
    # Prometheus's testdata: intercept at t = 3000 s is 38.63..., plus 3600 s of slope.
    assert (
        only("predict_linear(testcounter_reset_middle[100m], 3600)", 50 * MINUTE, RESET_MIDDLE)
        == 76.81818181818181
    )
    # The last sample is exactly on the line: the prediction is that sample plus the slope.
    emulated = "http_requests + deriv(http_requests[50m]) * 3600"
    assert (
        only(f"predict_linear(http_requests[50m], 3600) - ({emulated})", 50 * MINUTE, CANARY) == 0
    )


def test_predict_linear_with_an_offset_still_predicts_from_the_evaluation_time():
    source = MemorySource(x=({}, SECOND, [1, 3, 5, 7]))
    # Samples at 0, 1, 2 s (1, 3, 5: slope 2); at 3 s the line is at 7, at 13 s at 27.
    assert only("predict_linear(x[2s] offset 1s, 10)", 3 * SECOND, source) == 27
    assert only("predict_linear(x[3s], 0)", 3 * SECOND, source) == 7
    assert only("predict_linear(x[3s], -3)", 3 * SECOND, source) == 1


def test_predict_linear_takes_its_duration_at_each_step():
    source = MemorySource(x=({}, SECOND, [0, 1, 2, 3, 4, 5]))
    result = range_query(
        "predict_linear(x[1s], time() - 1700000000)", T0 + SECOND, T0 + 5 * SECOND, SECOND,
        source=source,
    )  # fmt: skip
    assert isinstance(result.value, Vector)
    (series,) = result.value.series
    # At t s the line is at t; t seconds later it is at 2t.
    assert series.values.tolist() == [2.0, 4.0, 6.0, 8.0, 10.0]


# holt_winters() -----------------------------------------------------------------------------


def test_holt_winters_smooths_with_its_trend():
    source = MemorySource(x=({}, SECOND, [1, 2, 4, 8]))
    # s = 1, b = 1; then s = 0.5*2 + 0.5*(1 + 1) = 2; b = 0.5*(2 - 1) + 0.5*1 = 1,
    # s = 0.5*4 + 0.5*(2 + 1) = 3.5; b = 0.5*(3.5 - 2) + 0.5*1 = 1.25, s = 4 + 2.375.
    assert only("holt_winters(x[3s], 0.5, 0.5)", 3 * SECOND, source) == 6.375
    assert only("holt_winters(x[2s], 0.5, 0.5)", 2 * SECOND, source) == 3.5
    assert only("holt_winters(x[1s], 0.5, 0.5)", SECOND, source) == 2


def test_holt_winters_follows_a_straight_line():
    source = MemorySource(x=({}, 10 * SECOND, [10 * i for i in range(801)]))
    assert only("holt_winters(x[1m], 0.01, 0.1)", 8000 * SECOND, source) == 8000


def test_holt_winters_needs_two_samples():
    source = MemorySource(x=({}, MINUTE, [1, 2]))
    assert at("holt_winters(x[30s], 0.5, 0.5)", MINUTE, source) == {}


@pytest.mark.parametrize(
    ("factors", "message"),
    [
        ("1, 0.5", "invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000"),
        ("0, 0.5", "invalid smoothing factor. Expected: 0 < sf < 1, got: 0.000000"),
        ("-0.25, 2", "invalid smoothing factor. Expected: 0 < sf < 1, got: -0.250000"),
        ("0.5, 1", "invalid trend factor. Expected: 0 < tf < 1, got: 1.000000"),
        ("0.5, 0", "invalid trend factor. Expected: 0 < tf < 1, got: 0.000000"),
        ("0.5, +Inf", "invalid trend factor. Expected: 0 < tf < 1, got: +Inf"),
    ],
)
def test_holt_winters_refuses_factors_outside_zero_to_one(factors, message):
    source = MemorySource(x=({}, MINUTE, [1]))  # one sample is enough to be checked
    with pytest.raises(ExecutionError) as refused:
        instant_query(f"holt_winters(x[5m], {factors})", T0 + MINUTE, source=source)
    assert str(refused.value) == message
    assert refused.value.error_type == "execution"


def test_holt_winters_checks_factors_only_where_a_window_has_samples():
    source = MemorySource(x=({}, MINUTE, [1, 2]))
    assert at("holt_winters(x[1m], 2, 2)", 10 * MINUTE, source) == {}
    assert at("holt_winters(nothing[1m], 2, 2)", MINUTE, source) == {}


def test_holt_winters_lets_nan_factors_through_as_prometheus_does():
    source = MemorySource(x=({}, MINUTE, [1, 2]))
    assert math.isnan(only("holt_winters(x[5m], NaN, 0.5)", MINUTE, source))


# Scalar arguments and signatures ------------------------------------------------------------


def test_quantile_over_time_ranks_nan_lowest():
    source = MemorySource(x=({}, SECOND, [2, NAN, 1]))
    assert only("quantile_over_time(0.5, x[5s])", 2 * SECOND, source) == 1
    assert math.isnan(only("quantile_over_time(0, x[5s])", 2 * SECOND, source))
    assert only("quantile_over_time(1, x[5s])", 2 * SECOND, source) == 2


def test_quantile_over_time_takes_a_scalar_expression():
    source = MemorySource(x=({}, SECOND, [0, 1, 4]))
    assert only("quantile_over_time(scalar(vector(0.75)), x[5s])", 2 * SECOND, source) == 2.5


@pytest.mark.parametrize(
    "query",
    [
        "predict_linear(x[5m])",
        "predict_linear(x, 60)",
        "holt_winters(x[5m], 0.5)",
        "deriv(x)",
        "changes(x[5m], 1)",
        "stddev_over_time(x)",
        'present_over_time(x[5m], "a")',
    ],
)
def test_signatures_are_checked_while_parsing(query):
    with pytest.raises(ParseError):
        parse(query)


# Float order of rate, increase and delta ----------------------------------------------------


def test_rate_divides_the_extrapolation_factor_by_the_range_before_multiplying():
    # Samples 30 s apart over a 90 s range: factor = (60 + 15 + 15) / 60, / 90, then * change.
    # The other order, change * (interval / sampled) / 90, rounds the last bit differently.
    source = MemorySource(x=({}, 30 * SECOND, [10.0, 10.15, 10.3]))
    value = only("rate(x[90s])", 75 * SECOND, source)
    change = 10.3 - 10.0
    assert value == change * ((90 / 60) / 90) == 0.005000000000000011  # as Prometheus 2.42
    assert value != change * (90 / 60) / 90


def test_increase_adds_the_value_lost_at_each_reset_in_turn():
    source = MemorySource(x=({}, SECOND, [2.1, 2.8, 1.2, 2.4, 1.3, 2.8]))
    # A sum of what the resets lost (2.8 + 2.4) added at once gives 5.899999999999999.
    assert only("increase(x[5s])", 5 * SECOND, source) == ((2.8 - 2.1) + 2.8) + 2.4
    assert ((2.8 - 2.1) + 2.8) + 2.4 == 5.8999999999999995  # as Prometheus 2.42


# The two ways of summing windows ------------------------------------------------------------


def test_windows_summed_one_by_one_and_all_at_once_agree_to_the_last_bit():
    rng = np.random.default_rng(20261204)
    values = rng.normal(1e6, 3e5, 2_000) * rng.choice([1e-3, 1.0, 1e9], 2_000)
    values[rng.choice(2_000, 20)] = np.nan
    values[rng.choice(2_000, 5)] = np.inf
    values[100:140] = 3.25  # a constant stretch
    timestamps = np.cumsum(rng.integers(1, 30_000, 2_000)).astype(np.int64) + T0
    steps = running.ROW_WISE_STEPS * 8
    lo = np.sort(rng.integers(0, 1_900, steps)).astype(np.int64)
    lo[:3] = [100, 100, 105]
    count = rng.integers(0, 100, steps).astype(np.int64)
    count[:3] = [40, 1, 2]
    origin = timestamps[lo] + rng.integers(-60_000, 60_000, steps)
    smoothing, trend = rng.uniform(0.01, 0.99, steps), rng.uniform(0.01, 0.99, steps)

    def one_by_one(function, *per_step):
        parts = [
            function(*(a[step : step + 1] if isinstance(a, np.ndarray) and len(a) == steps
                       else a for a in per_step))
            for step in range(steps)
        ]  # fmt: skip
        if isinstance(parts[0], tuple):
            return tuple(np.concatenate(column) for column in zip(*parts, strict=True))
        return np.concatenate(parts)

    pairs = [
        (running.variance(values, lo, count), one_by_one(running.variance, values, lo, count), 1),
        (
            running.holt_winters(values, lo, count, smoothing, trend),
            one_by_one(running.holt_winters, values, lo, count, smoothing, trend),
            2,
        ),
    ]
    regression = running.linear_regression(timestamps, values, lo, count, origin)
    single = one_by_one(running.linear_regression, timestamps, values, lo, count, origin)
    pairs += [(regression[0], single[0], 2), (regression[1], single[1], 2)]
    for together, alone, minimum in pairs:
        kept = count >= minimum
        assert np.array_equal(together[kept], alone[kept], equal_nan=True)
