"""Instant-vector functions, count_values, the label-set rule and vector matching, with exact
values (as Prometheus 2.42 gives them) on samples held in memory."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from metrics.promql.engine import instant_query, range_query
from metrics.promql.errors import ExecutionError, ParseError
from metrics.promql.format import instant_data
from metrics.promql.values import FloatArray, IntArray, Scalar, Vector
from metrics.storage.matchers import Matcher

# 2026-03-15 13:45:30 UTC, a Sunday
AT_S = 1_773_582_330
AT = AT_S * 1000


class ListSource:
    def __init__(self, series: list[tuple[dict[str, str], list[tuple[int, float]]]]) -> None:
        self.series = series

    def select(
        self, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> list[tuple[dict[str, str], IntArray, FloatArray]]:
        out = []
        for labels, points in self.series:
            if all(m.matches(labels.get(m.name, "")) for m in matchers):
                kept = [(t, v) for t, v in points if start_ms <= t <= end_ms]
                out.append(
                    (
                        labels,
                        np.array([t for t, _ in kept], dtype=np.int64),
                        np.array([v for _, v in kept], dtype=np.float64),
                    )
                )
        return out


def metric(name: str, value: float, at: int = AT - 10_000, **labels: str):
    return ({"__name__": name, **labels}, [(at, value)])


SOURCE = ListSource(
    [
        metric("x", 0.5, job="a"),
        metric("x", -2.0, job="b"),
        metric("x", math.nan, job="c"),
        metric("x", 3.0, job="d"),
        metric("when", float(AT_S), at=AT - 20_000, job="a"),
        metric("when", 951_782_400.0, job="leap"),  # 2000-02-29 00:00:00 UTC, a Tuesday
        metric("tagged", 1.0, at=AT - 42_000, src="api-eu-1", zone="eu"),
        metric("disk_read", 1.0, device="sda"),
        metric("disk_write", 2.0, device="sda"),
        metric("info", 1.0, job="a", version="1.2"),
    ]
)


def values(query: str, at: int = AT) -> dict[tuple, float]:
    result = instant_query(query, at, source=SOURCE)
    assert isinstance(result.value, Vector)
    return {
        tuple(sorted(s.labels.items())): float(s.values[0])
        for s in result.value.series
        if s.present[0]
    }


def scalar(query: str) -> float:
    result = instant_query(query, AT, source=SOURCE)
    assert isinstance(result.value, Scalar)
    return float(result.value.values[0])


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_it_gives_each_sample_its_own_timestamp():
    assert values("timestamp(when)") == {
        (("job", "a"),): (AT - 20_000) / 1000,
        (("job", "leap"),): (AT - 10_000) / 1000,
    }
    assert values('timestamp((tagged{zone="eu"}))') == {
        (("src", "api-eu-1"), ("zone", "eu")): (AT - 42_000) / 1000
    }


def test_timestamp_of_a_computed_value_is_the_step():
    assert values('timestamp(-when{job="a"})') == {(("job", "a"),): AT_S}
    assert values('timestamp(when{job="a"} offset 1m)', AT + 60_000) == {
        (("job", "a"),): (AT - 20_000) / 1000
    }


def test_date_functions_read_the_value_in_utc():
    expected = {
        "year": (2026, 2000),
        "month": (3, 2),
        "day_of_month": (15, 29),
        "day_of_week": (0, 2),
        "day_of_year": (74, 60),
        "days_in_month": (31, 29),
        "hour": (13, 0),
        "minute": (45, 0),
    }
    for name, (now, leap) in expected.items():
        assert values(f"{name}(when)") == {(("job", "a"),): now, (("job", "leap"),): leap}, name


def test_date_functions_without_argument_use_the_evaluation_time():
    assert values("hour()") == {(): 13.0}
    assert values("minute()") == {(): 45.0}
    assert values("day_of_week()") == {(): 0.0}
    assert values("days_in_month()") == {(): 31.0}


def test_date_of_nan_is_nan():
    assert math.isnan(values('year(x{job="c"})')[(("job", "c"),)])


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        ("sgn", {"a": 1.0, "b": -1.0, "d": 1.0}),
        ("sin", {"a": math.sin(0.5), "b": math.sin(-2.0), "d": math.sin(3.0)}),
        ("cos", {"a": math.cos(0.5), "b": math.cos(-2.0), "d": math.cos(3.0)}),
        ("tan", {"a": math.tan(0.5), "b": math.tan(-2.0), "d": math.tan(3.0)}),
        ("asin", {"a": math.asin(0.5), "b": math.nan, "d": math.nan}),
        ("acos", {"a": math.acos(0.5), "b": math.nan, "d": math.nan}),
        ("atan", {"a": math.atan(0.5), "b": math.atan(-2.0), "d": math.atan(3.0)}),
        ("sinh", {"a": math.sinh(0.5), "b": math.sinh(-2.0), "d": math.sinh(3.0)}),
        ("cosh", {"a": math.cosh(0.5), "b": math.cosh(-2.0), "d": math.cosh(3.0)}),
        ("tanh", {"a": math.tanh(0.5), "b": math.tanh(-2.0), "d": math.tanh(3.0)}),
        ("asinh", {"a": math.asinh(0.5), "b": math.asinh(-2.0), "d": math.asinh(3.0)}),
        ("acosh", {"a": math.nan, "b": math.nan, "d": math.acosh(3.0)}),
        ("atanh", {"a": math.atanh(0.5), "b": math.nan, "d": math.nan}),
        ("deg", {"a": 0.5 * 180 / math.pi, "b": -360 / math.pi, "d": 540 / math.pi}),
        ("rad", {"a": 0.5 * math.pi / 180, "b": -2 * math.pi / 180, "d": 3 * math.pi / 180}),
    ],
)
def test_math_functions_drop_the_name_and_keep_nan(function, expected):
    found = values(f"{function}(x)")
    assert set(found) == {(("job", job),) for job in "abcd"}
    assert math.isnan(found[(("job", "c"),)])
    for job, value in expected.items():
        # Go's math functions are its own, not the C library's: equal to the last bits or so.
        found_value = found[(("job", job),)]
        assert same(found_value, value) or math.isclose(found_value, value, rel_tol=1e-15)


def test_pi_and_sgn_of_zero():
    assert scalar("pi()") == math.pi
    assert values("sgn(vector(0))") == {(): 0.0}
    assert values("sgn(vector(-0.0))") == {(): 0.0}


def test_round_and_clamp_keep_nan():
    assert math.isnan(values('round(x{job="c"})')[(("job", "c"),)])
    assert math.isnan(values('clamp_max(x{job="c"}, 1)')[(("job", "c"),)])
    assert values("round(vector(2.5))") == {(): 3.0}
    assert values("round(vector(-2.5))") == {(): -2.0}
    assert math.isnan(values("clamp_max(vector(1), NaN)")[()])
    assert values("clamp_min(vector(NaN), Inf)") == {(): math.inf}
    assert math.isnan(values("clamp(vector(NaN), 0, 1)")[()])
    assert values("clamp(vector(5), 2, 1)") == {}


def test_label_replace_expands_groups_like_go():
    found = values('label_replace(tagged, "region", "$1-${2}x$$", "src", "api-([a-z]+)-(.*)")')
    assert found == {
        (("__name__", "tagged"), ("region", "eu-1x$"), ("src", "api-eu-1"), ("zone", "eu")): 1.0
    }
    # $2x is the group named "2x": there is none, so it gives nothing.
    found = values('label_replace(tagged, "region", "$2x", "src", "api-(.*)-(.*)")')
    assert list(found) == [(("__name__", "tagged"), ("src", "api-eu-1"), ("zone", "eu"))]


def test_label_replace_needs_a_whole_match_and_can_delete():
    unchanged = values('label_replace(tagged, "zone", "x", "src", "eu")')
    assert list(unchanged) == [(("__name__", "tagged"), ("src", "api-eu-1"), ("zone", "eu"))]
    deleted = values('label_replace(tagged, "zone", "", "src", ".+")')
    assert list(deleted) == [(("__name__", "tagged"), ("src", "api-eu-1"))]


def test_label_replace_refuses_bad_names_and_regexes():
    with pytest.raises(ExecutionError, match=r"invalid regular expression in label_replace\(\)"):
        values('label_replace(tagged, "a", "b", "src", "(")')
    with pytest.raises(ExecutionError, match=r"invalid destination label name in label_replace"):
        values('label_replace(tagged, "1a", "b", "src", ".*")')
    with pytest.raises(ExecutionError, match="invalid destination label name"):
        values('label_replace(nothing_here, "a-b", "b", "src", ".*")')


def test_label_join_joins_in_order_and_skips_missing():
    found = values('label_join(tagged, "both", "/", "zone", "missing", "src")')
    assert list(found) == [
        (("__name__", "tagged"), ("both", "eu//api-eu-1"), ("src", "api-eu-1"), ("zone", "eu"))
    ]
    assert list(values('label_join(tagged, "zone", ",")')) == [
        (("__name__", "tagged"), ("src", "api-eu-1"))
    ]


def test_label_join_refuses_bad_names():
    with pytest.raises(ExecutionError, match=r"invalid source label name in label_join\(\): a-b"):
        values('label_join(tagged, "x", ",", "a-b")')
    with pytest.raises(ExecutionError, match=r"invalid destination label name in label_join"):
        values('label_join(tagged, "", ",", "src")')
    with pytest.raises(ParseError, match="expected at least 3 argument"):
        values('label_join(tagged, "x")')


def test_label_functions_must_not_make_two_series_alike():
    with pytest.raises(ExecutionError, match="cannot contain metrics with the same labelset"):
        values('label_replace(x, "job", "same", "job", ".*")')


def test_sort_orders_an_instant_result_with_nan_last():
    def order(query: str) -> list[str]:
        data = instant_data(instant_query(query, AT, source=SOURCE))
        return [item["metric"]["job"] for item in data["result"]]

    assert order("sort(x)") == ["b", "a", "d", "c"]
    assert order("sort_desc(x)") == ["d", "a", "b", "c"]


def test_native_histogram_functions_give_nothing_over_floats():
    assert values("histogram_count(x)") == {}
    assert values("histogram_sum(x)") == {}
    assert values("histogram_fraction(0, 1, x)") == {}


def test_count_values_counts_by_value():
    source = ListSource(
        [metric("v", 1.0, job="a", env="p"), metric("v", 1.0, job="b", env="p"),
         metric("v", 2.5, job="c", env="q"), metric("v", math.nan, job="d", env="q")]
    )  # fmt: skip
    result = instant_query('count_values("value", v)', AT, source=source)
    assert isinstance(result.value, Vector)
    found = {s.labels["value"]: float(s.values[0]) for s in result.value.series}
    assert found == {"1": 2.0, "2.5": 1.0, "NaN": 1.0}
    result = instant_query('count_values by (env) ("value", v)', AT, source=source)
    assert isinstance(result.value, Vector)
    assert {tuple(sorted(s.labels.items())): float(s.values[0]) for s in result.value.series} == {
        (("env", "p"), ("value", "1")): 2.0,
        (("env", "q"), ("value", "2.5")): 1.0,
        (("env", "q"), ("value", "NaN")): 1.0,
    }
    with pytest.raises(ExecutionError, match='invalid label name "a-b"'):
        instant_query('count_values("a-b", v)', AT, source=source)


def test_count_values_over_a_range():
    source = ListSource([({"__name__": "v", "job": "a"}, [(0, 1.0), (60_000, 2.0)]),
                         ({"__name__": "v", "job": "b"}, [(0, 1.0), (60_000, 1.0)])])  # fmt: skip
    result = range_query('count_values("n", v)', 0, 60_000, 60_000, source=source)
    assert isinstance(result.value, Vector)
    found = {s.labels["n"]: (s.values[s.present].tolist(), s.present.tolist())
             for s in result.value.series}  # fmt: skip
    assert found == {"1": ([2.0, 1.0], [True, True]), "2": ([1.0], [False, True])}


def test_topk_refuses_a_k_that_is_no_integer():
    with pytest.raises(ExecutionError, match="Scalar value NaN overflows int64"):
        values("topk(NaN, x)")
    assert values("topk(0, x)") == {}


def test_quantile_puts_nan_first():
    # Sorted as NaN, -2, 0.5, 3: the median is between -2 and 0.5.
    assert values("quantile(0.5, x)") == {(): -0.75}
    assert math.isnan(values("quantile(0, x)")[()])


def test_dropping_the_name_may_not_make_two_series_alike():
    message = "vector cannot contain metrics with the same labelset"
    for query in (
        'abs({__name__=~"disk_.*"})',
        'sum(count_over_time({__name__=~"disk_.*"}[5m]))',
        '-{__name__=~"disk_.*"}',
        '{__name__=~"disk_.*"} * 2',
    ):
        with pytest.raises(ExecutionError, match=message):
            values(query)
    with pytest.raises(ExecutionError, match="grouping labels must ensure unique matches"):
        values('{__name__=~"disk_.*"} + on(device) group_left {__name__="disk_read"}')
    # A comparison keeps the name: nothing alike.
    assert len(values('{__name__=~"disk_.*"} > 0')) == 2
    assert values('sum without (__name__) ({__name__=~"disk_.*"})') == {(("device", "sda"),): 3.0}


def test_a_binary_operation_with_an_empty_side_is_empty():
    assert values("no_such_metric / on(job) group_left x") == {}
    assert values("x / on() no_such_metric") == {}
    assert values("x + on() group_left no_such_metric") == {}
    with pytest.raises(ExecutionError, match="found duplicate series for the match group"):
        values("vector(1) / on() group_left x")


def test_one_to_one_matching_errors_as_prometheus():
    with pytest.raises(
        ExecutionError,
        match=r"multiple matches for labels: many-to-one matching must be explicit",
    ):
        values("x + on() vector(1)")
    # Filtered comparisons do not count as matches.
    assert values("x > on() vector(2.9)") == {(): 3.0}


def test_group_left_takes_extra_labels_from_the_one_side():
    assert values('x{job="a"} * on(job) group_left(version) info') == {
        (("job", "a"), ("version", "1.2")): 0.5
    }
    assert values('x{job="a"} > bool on(job) group_left info') == {(("job", "a"),): 0.0}
    assert values('x{job="a"} == on(job) group_left(version) (info / 2)') == {
        (("__name__", "x"), ("job", "a"), ("version", "1.2")): 0.5
    }


def test_arithmetic_edge_values():
    assert scalar("5 % -3") == 2.0
    assert scalar("-5 % 3") == -2.0
    assert math.isnan(scalar("5 % 0"))
    assert scalar("0 ^ 0") == 1.0
    assert scalar("(-8) ^ (1/3)") != scalar("(-8) ^ (1/3)")  # NaN
    assert scalar("1 atan2 -1") == math.atan2(1, -1)
    assert values("vector(-0.0) atan2 vector(-1)") == {(): math.atan2(-0.0, -1)}


def test_atan2_keeps_the_metric_name():
    assert values('x{job="a"} atan2 2') == {(("__name__", "x"), ("job", "a")): math.atan2(0.5, 2)}
    assert values('x{job="a"} atan2 ignoring(zone) x') == {
        (("__name__", "x"), ("job", "a")): math.atan2(0.5, 0.5)
    }


def test_argument_counts_are_checked_as_prometheus_words_them():
    with pytest.raises(ParseError, match='expected at most 2 argument\\(s\\) in call to "round"'):
        values("round(x, 1, 2)")
    with pytest.raises(ParseError, match='expected at most 1 argument\\(s\\) in call to "hour"'):
        values("hour(x, x)")
    with pytest.raises(ParseError, match='expected 5 argument\\(s\\) in call to "label_replace"'):
        values('label_replace(x, "a", "b", "c")')
    with pytest.raises(ParseError, match="expected type string in aggregation parameter"):
        values("count_values(1, x)")
    with pytest.raises(ParseError, match="expected type string"):
        values('label_join(x, "a", ",", "b", 1)')
