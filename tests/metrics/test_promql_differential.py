"""Differential tests: the same samples in a real Prometheus and in the portal, the same
queries against both, results compared within 1e-9 relative.

Prometheus receives the samples by remote write (--web.enable-remote-write-receiver, with an
out-of-order window so history can be written at once); the portal through its own write path.
"""

from __future__ import annotations

import json
import math
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from metrics.promql.engine import instant_query, range_query
from metrics.promql.errors import ExecutionError, PromQLError
from metrics.promql.format import instant_data, range_data
from metrics.storage.encoding import STALE_NAN
from tests.metrics.helpers import (
    history_prometheus,
    prometheus_write,
    write_dataset,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

MINUTE = 60_000
# Whole minutes, three hours ago: far enough back for history, inside Prometheus's window.
START = (int(time.time() * 1000) // MINUTE - 180) * MINUTE
END = START + 170 * MINUTE


def build_dataset() -> list[tuple[dict[str, str], list[tuple[int, float]]]]:
    rng = random.Random(20261123)
    series: list[tuple[dict[str, str], list[tuple[int, float]]]] = []

    def times(interval_s: int, jitter_ms: int = 0, gap: tuple[int, int] | None = None) -> list[int]:
        out, t = [], START
        while t <= END:
            if gap is None or not gap[0] <= t < gap[1]:
                out.append(t + rng.randint(-jitter_ms, jitter_ms) if jitter_ms else t)
            t += interval_s * 1000
        return sorted(set(out))

    for service in ("cart", "search"):
        for code in ("200", "500"):
            value = 0.0
            points = []
            gap = (
                (START + 60 * MINUTE, START + 75 * MINUTE)
                if (service, code) == ("search", "500")
                else None
            )
            for index, t in enumerate(times(15, jitter_ms=1500, gap=gap)):
                if service == "cart" and code == "200" and index == 200:
                    value = 0.0  # a counter reset (process restart)
                value += rng.randint(0, 40 if code == "200" else 3)
                points.append((t, value))
            series.append(
                ({"__name__": "http_requests_total", "service": service, "code": code}, points)
            )
    for queue in ("emails", "invoices", "refunds"):
        series.append(
            (
                {"__name__": "queue_depth", "queue": queue},
                [(t, float(rng.randint(0, 12))) for t in times(30)],
            )
        )
    bounds = ["0.05", "0.1", "0.25", "0.5", "1", "+Inf"]
    for service in ("cart", "search"):
        counts = [0.0] * len(bounds)
        total_sum = 0.0
        bucket_points: list[list[tuple[int, float]]] = [[] for _ in bounds]
        sum_points, count_points = [], []
        for t in times(15):
            for _ in range(rng.randint(5, 30)):
                latency = rng.expovariate(6.0 if service == "cart" else 2.0)
                total_sum += latency
                for index, bound in enumerate(bounds):
                    if bound == "+Inf" or latency <= float(bound):
                        counts[index] += 1
            for index in range(len(bounds)):
                bucket_points[index].append((t, counts[index]))
            sum_points.append((t, total_sum))
            count_points.append((t, counts[-1]))
        for bound, points in zip(bounds, bucket_points, strict=True):
            series.append(
                ({"__name__": "latency_seconds_bucket", "service": service, "le": bound}, points)
            )
        series.append(({"__name__": "latency_seconds_sum", "service": service}, sum_points))
        series.append(({"__name__": "latency_seconds_count", "service": service}, count_points))
    # A gauge with fractions, NaN readings (a broken sensor) and a stretch of one value.
    temperature = []
    for index, t in enumerate(times(20, jitter_ms=900)):
        if 150 <= index < 156:
            reading = math.nan
        elif 300 <= index < 330:
            reading = 21.5
        else:
            reading = round(18 + 6 * math.sin(index / 40) + rng.uniform(-0.7, 0.7), 3)
        temperature.append((t, reading))
    series.append(({"__name__": "temperature_celsius", "room": "lab"}, temperature))
    series.append(({"__name__": "build_info", "version": "1.4"}, [(t, 1.0) for t in times(60)]))
    # Large values with small changes: where compensated sums and the order of operations show.
    memory, resident = [], 3.2e9
    for t in times(10, jitter_ms=4000):
        resident += rng.uniform(-5e5, 5.2e5) + rng.random() / 7
        memory.append((t, resident))
    series.append(({"__name__": "process_resident_memory_bytes", "job": "api"}, memory))
    # A target that goes away: a stale marker ends it.
    up = [(t, 1.0) for t in times(15) if t < START + 100 * MINUTE]
    up.append((START + 100 * MINUTE, STALE_NAN))
    series.append(({"__name__": "up", "job": "node"}, up))
    return series


RANGE_QUERIES = [
    "rate(http_requests_total[5m])",
    "irate(http_requests_total[1m])",
    "increase(http_requests_total[1h])",
    "delta(queue_depth[10m])",
    "idelta(queue_depth[5m])",
    "sum by (service) (rate(http_requests_total[5m]))",
    'sum(rate(http_requests_total{code="500"}[5m])) / sum(rate(http_requests_total[5m]))',
    'sum(increase(http_requests_total{code=~"5.."}[2h])) / sum(increase(http_requests_total[2h]))',
    "avg_over_time(queue_depth[10m])",
    "min_over_time(queue_depth[10m])",
    "max_over_time(queue_depth[10m])",
    "sum_over_time(queue_depth[10m])",
    "count_over_time(queue_depth[10m])",
    "quantile_over_time(0.9, queue_depth[30m])",
    "last_over_time(queue_depth[10m])",
    "stddev_over_time(queue_depth[10m])",
    "stdvar_over_time(queue_depth[10m])",
    "stddev_over_time(temperature_celsius[15m])",
    "stdvar_over_time(latency_seconds_sum[5m])",
    "stddev_over_time(build_info[2m])",
    "present_over_time(up[10m])",
    "present_over_time(queue_depth[1m])",
    "last_over_time(temperature_celsius[1m])",
    "changes(queue_depth[10m])",
    "changes(temperature_celsius[30m])",
    "changes(build_info[1h])",
    "resets(http_requests_total[1h])",
    "resets(queue_depth[10m])",
    "resets(temperature_celsius[30m])",
    "deriv(queue_depth[10m])",
    "deriv(temperature_celsius[15m])",
    "deriv(latency_seconds_sum[5m])",
    "deriv(build_info[10m])",
    "deriv(up[1m])",
    "predict_linear(queue_depth[30m], 3600)",
    "predict_linear(temperature_celsius[15m], 600)",
    "predict_linear(http_requests_total[10m] offset 5m, 600)",
    "predict_linear(latency_seconds_sum[5m], 0)",
    "predict_linear(build_info[10m], -300)",
    "predict_linear(queue_depth[10m], scalar(count(queue_depth)) * 100)",
    "holt_winters(queue_depth[30m], 0.5, 0.5)",
    "holt_winters(temperature_celsius[20m], 0.3, 0.7)",
    "holt_winters(latency_seconds_sum[10m], 0.1, 0.9)",
    "holt_winters(build_info[1m], 0.5, 0.5)",
    "quantile_over_time(scalar(count(queue_depth)) / 4, temperature_celsius[30m])",
    "histogram_quantile(0.99, sum by (le) (rate(latency_seconds_bucket[5m])))",
    "histogram_quantile(0.5, rate(latency_seconds_bucket[10m]))",
    "histogram_quantile(0.1, rate(latency_seconds_bucket[1m]))",
    "rate(latency_seconds_sum[1m])",
    "increase(latency_seconds_sum[90s])",
    "rate(http_requests_total[1m30s])",
    "increase(http_requests_total[7m])",
    "histogram_quantile(0.9, sum by (service, le) (rate(latency_seconds_bucket[5m])))",
    "topk(2, queue_depth)",
    "bottomk(1, rate(http_requests_total[5m]))",
    "count(http_requests_total)",
    "avg by (code) (rate(http_requests_total[5m]))",
    "max without (code) (rate(http_requests_total[5m]))",
    "min(queue_depth)",
    "stddev(queue_depth)",
    "quantile(0.75, queue_depth)",
    "http_requests_total offset 10m",
    "rate(http_requests_total[5m] offset 30m)",
    "queue_depth > 5",
    "queue_depth > bool 5",
    "2 * queue_depth + 1",
    "-queue_depth",
    "queue_depth % 3",
    "queue_depth ^ 2",
    "5 < queue_depth",
    'rate(http_requests_total{code="500"}[5m])'
    ' / ignoring(code) rate(http_requests_total{code="200"}[5m])',
    "sum by (service, code) (rate(http_requests_total[5m]))"
    " / on(service) group_left sum by (service) (rate(http_requests_total[5m]))",
    "sum by (service) (rate(http_requests_total[5m]))"
    " / on(service) group_right sum by (service, code) (rate(http_requests_total[5m]))",
    "up and on(job) up",
    'rate(http_requests_total[5m]) unless http_requests_total{code="500"}',
    'http_requests_total{code="500"} or queue_depth',
    "sum(queue_depth) or vector(0)",
    "clamp_min(queue_depth, 3)",
    "clamp_max(queue_depth, 3)",
    "clamp(queue_depth, 2, 8)",
    "abs(delta(queue_depth[10m]))",
    "scalar(sum(queue_depth)) * 2",
    "vector(1)",
    "time()",
    'absent(nothing_here{job="x"})',
    "absent(up)",
    "up",
    "count_over_time(up[10m])",
    "rate(latency_seconds_sum[5m]) / rate(latency_seconds_count[5m])",
    "round(rate(http_requests_total[5m]), 0.1)",
    "sqrt(queue_depth) + ln(queue_depth + 1) - log2(queue_depth + 1) + exp(queue_depth / 10)",
    "ceil(queue_depth / 7) - floor(queue_depth / 3)",
]

INSTANT_QUERIES = [
    *RANGE_QUERIES,
    "http_requests_total[3m]",
    "1 + 2 * 3",
    "2 ^ 3 ^ 2",
    "-2 ^ 2",
    "10 > bool 3",
]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with history_prometheus(tmp_path_factory.mktemp("prometheus-diff")) as base:
        yield base


@pytest.fixture
def loaded(prometheus: str) -> str:
    dataset = build_dataset()
    prometheus_write(prometheus, dataset)
    result = write_dataset(dataset)
    assert result.samples_rejected == 0
    return prometheus


def prometheus_answer(base: str, path: str, params: dict[str, str]) -> tuple[bool, Any]:
    """(True, data) when Prometheus answers, (False, its error message) when it refuses."""
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return True, json.loads(response.read())["data"]
    except urllib.error.HTTPError as error:
        return False, json.loads(error.read())["error"]


def prometheus_api(base: str, path: str, params: dict[str, str]) -> dict:
    answered, data = prometheus_answer(base, path, params)
    assert answered, f"{params['query']}: Prometheus refused it: {data}"
    return data


def prometheus_error(base: str, path: str, params: dict[str, str]) -> str:
    answered, message = prometheus_answer(base, path, params)
    assert not answered, f"{params['query']}: Prometheus answered {message!r}"
    return str(message)


def as_float(text: str) -> float:
    return float(text.replace("+Inf", "inf").replace("-Inf", "-inf"))


def same_number(expected: str, found: str, *, exact: bool = False) -> bool:
    a, b = as_float(expected), as_float(found)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b) or exact:
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def keyed(result: list[dict], field: str) -> dict[tuple, list]:
    return {tuple(sorted(item["metric"].items())): item[field] for item in result}


def assert_same(query: str, expected: dict, found: dict, *, exact: bool = False) -> None:
    assert found["resultType"] == expected["resultType"], query
    if expected["resultType"] in ("scalar", "string"):
        assert found["result"][0] == expected["result"][0], query
        assert same_number(expected["result"][1], found["result"][1]), (query, expected, found)
        return
    field = "value" if expected["resultType"] == "vector" else "values"
    want, got = keyed(expected["result"], field), keyed(found["result"], field)
    assert set(got) == set(want), (query, sorted(want), sorted(got))
    for labels, points in want.items():
        ours = got[labels]
        if field == "value":
            points, ours = [points], [ours]
        assert [p[0] for p in ours] == [p[0] for p in points], (query, labels)
        mismatched = [
            (p[0], p[1], o[1])
            for p, o in zip(points, ours, strict=True)
            if not same_number(p[1], o[1], exact=exact)
        ]
        assert not mismatched, (query, labels, mismatched[:5])


RANGE_START = START + 20 * MINUTE  # the range queries' window: to END, every minute


def range_params(query: str) -> dict[str, str]:
    return {"query": query, "start": str(RANGE_START / 1000), "end": str(END / 1000), "step": "60"}


def assert_range_agrees(base: str, query: str, *, exact: bool = False) -> None:
    """The query over the range window, from Prometheus at `base` and from the portal."""
    expected = prometheus_api(base, "/api/v1/query_range", range_params(query))
    found = range_data(range_query(query, RANGE_START, END, 60_000))
    assert_same(query, expected, found, exact=exact)


@pytest.mark.parametrize("query", RANGE_QUERIES)
def test_range_queries_agree_with_prometheus(loaded, query):
    assert_range_agrees(loaded, query)


@pytest.mark.parametrize("query", INSTANT_QUERIES)
def test_instant_queries_agree_with_prometheus(loaded, query):
    for at in (START + 62 * MINUTE + 7_000, START + 101 * MINUTE, END - 30_000):
        expected = prometheus_api(loaded, "/api/v1/query", {"query": query, "time": str(at / 1000)})
        found = instant_data(instant_query(query, at))
        assert_same(f"{query} @ {at}", expected, found)


# Subqueries, the @ modifier, start()/end() and negative offsets ----------------------------

AT = (START + 90 * MINUTE) // 1000  # seconds, inside the data
MODIFIER_QUERIES = [
    "max_over_time(rate(http_requests_total[5m])[30m:1m])",
    "avg_over_time(queue_depth[10m:])",
    "min_over_time(queue_depth[7m:45s])",
    "sum_over_time(sum by (service) (rate(http_requests_total[5m]))[20m:2m])",
    "max_over_time(queue_depth[15m:30s] offset 10m)",
    "rate(http_requests_total[5m:30s])",
    "increase(sum(http_requests_total)[1h:1m])",
    "avg_over_time(max_over_time(queue_depth[5m:1m])[20m:2m])",
    "count_over_time(up[10m:1m])",
    "last_over_time(queue_depth[5m:1m] offset -5m)",
    "queue_depth offset -10m",
    "rate(http_requests_total[5m] offset -15m)",
    f"queue_depth @ {AT}",
    f"rate(http_requests_total[5m] @ {AT})",
    f"sum by (service) (rate(http_requests_total[5m] @ {AT} offset 10m))",
    f"max_over_time(queue_depth[20m:1m] @ {AT})",
    "queue_depth @ start()",
    "rate(http_requests_total[10m] @ end())",
    "queue_depth - queue_depth @ start()",
    "max_over_time(rate(http_requests_total[5m])[10m:1m] @ end())",
]


@pytest.mark.parametrize("query", MODIFIER_QUERIES)
def test_subqueries_and_modifiers_agree_with_prometheus(loaded, query):
    assert_range_agrees(loaded, query)
    for at in (START + 62 * MINUTE + 7_000, END - 30_000):
        expected = prometheus_api(loaded, "/api/v1/query", {"query": query, "time": str(at / 1000)})
        assert_same(f"{query} at {at}", expected, instant_data(instant_query(query, at)))


@pytest.mark.parametrize(
    "query",
    ["queue_depth[10m:1m]", "rate(http_requests_total[5m])[10m:]", f"queue_depth[5m] @ {AT}"],
)
def test_an_instant_subquery_answers_the_same_points(loaded, query):
    at = START + 62 * MINUTE + 7_000
    expected = prometheus_api(loaded, "/api/v1/query", {"query": query, "time": str(at / 1000)})
    assert_same(query, expected, instant_data(instant_query(query, at)))


# Instant-vector functions, count_values, the label-set rule and vector matching ---------

INSTANT_FUNCTION_QUERIES = [
    "timestamp(up)",
    "timestamp(queue_depth offset 7m)",
    "timestamp((http_requests_total))",
    "timestamp(rate(http_requests_total[5m]))",
    "timestamp(vector(1))",
    "hour(timestamp(queue_depth))",
    "minute(timestamp(queue_depth))",
    "year()",
    "month()",
    "day_of_month()",
    "day_of_week()",
    "day_of_year()",
    "days_in_month()",
    "hour()",
    "minute()",
    "day_of_year(http_requests_total * 3600)",
    "days_in_month(queue_depth * 2592000)",
    "month(vector(time()) + queue_depth * 86400 * 30)",
    "year(vector(-1e10))",
    "day_of_week(vector(1e9 + 0.9))",
    "sgn(delta(queue_depth[10m]))",
    "sin(queue_depth)",
    "cos(queue_depth)",
    "tan(queue_depth)",
    "asin(queue_depth / 12)",
    "acos(queue_depth / 12 - 0.5)",
    "atan(delta(queue_depth[10m]))",
    "sinh(queue_depth / 3)",
    "cosh(queue_depth / 3)",
    "tanh(delta(queue_depth[10m]))",
    "asinh(delta(queue_depth[10m]))",
    "acosh(queue_depth)",
    "atanh(queue_depth / 12)",
    "deg(queue_depth)",
    "rad(queue_depth)",
    "pi()",
    "sin(pi() / 6 * queue_depth)",
    'label_replace(queue_depth, "kind", "q-$1", "queue", "(.*)s")',
    'label_replace(queue_depth, "queue", "", "queue", "e.*")',
    'label_replace(queue_depth, "queue", "$2", "queue", "(i)(.*)")',
    'label_replace(up, "instance", "${1}:9100", "job", "(.+)")',
    'label_replace(queue_depth, "x", "$1", "queue", "nomatch")',
    'label_join(http_requests_total, "key", "/", "service", "code")',
    'label_join(http_requests_total, "service", "-", "service", "missing", "__name__")',
    "sort(queue_depth)",
    "sort_desc(rate(http_requests_total[5m]))",
    "histogram_count(latency_seconds_bucket)",
    'count_values("value", queue_depth)',
    'count_values by (queue) ("value", queue_depth)',
    'count_values without (queue) ("queue_depth", queue_depth)',
    'count_values("code", http_requests_total > 1e9)',
    'count_values("rate", round(rate(http_requests_total[5m]), 0.25))',
    'count_values by (service) ("ratio", round(rate(latency_seconds_sum[5m]), 0.001))',
    "stddev(queue_depth / (queue_depth - 5))",
    "stdvar by (service) (rate(http_requests_total[5m]))",
    "quantile(0.5, queue_depth / (queue_depth - queue_depth + 0 * queue_depth))",
    "quantile(0.3, (queue_depth - 4) / 0)",
    "quantile(-1, queue_depth)",
    "quantile(2, queue_depth)",
    "group by (queue) (queue_depth)",
    "avg((queue_depth - 6) / 0)",
    "avg(queue_depth / 0)",
    "avg(queue_depth * 1e308)",
    "sum(queue_depth * 1e308)",
    "stddev(queue_depth / 0)",
    "stdvar(queue_depth * 1e200)",
    "group(http_requests_total)",
    "topk(1.9, queue_depth)",
    "topk(0, queue_depth)",
    "max((queue_depth - 6) / 0)",
    "min((queue_depth - 6) / 0)",
    "sum without (__name__) (latency_seconds_sum)",
    'count without (__name__, service) ({__name__=~"latency_seconds_.*"})',
    "no_such_metric / on(job) group_left http_requests_total",
    "queue_depth > on() vector(100)",
    "http_requests_total / on() group_left no_such_metric",
    "http_requests_total * on(service) group_left no_such_metric",
    "queue_depth atan2 2",
    "delta(queue_depth[10m]) atan2 queue_depth",
    "(queue_depth - 6) ^ 0.5",
    "queue_depth ^ -1",
    "queue_depth % -5",
    "(queue_depth - 6) % 4",
    "queue_depth % 0",
    "queue_depth == bool 3",
    "queue_depth != bool on(queue) queue_depth",
    "queue_depth > on(queue) (queue_depth / 2)",
    'http_requests_total{code="500"} > ignoring(code) http_requests_total{code="200"} / 10',
    "http_requests_total / ignoring(code) group_left sum by (service) (http_requests_total)",
    "http_requests_total > bool ignoring(code) group_left sum by (service) (http_requests_total)",
    "sum by (service) (http_requests_total) / ignoring(code) group_right http_requests_total",
    'latency_seconds_sum / on(service) group_left(le) latency_seconds_bucket{le="+Inf"}',
    'http_requests_total * on(service) group_left(le) latency_seconds_bucket{le="1"}',
    "sum by (service) (http_requests_total) + on(service) group_right http_requests_total",
    "clamp_max((queue_depth - 6) / 0, 3)",
    "clamp_min((queue_depth - 6) / 0, 3)",
    "clamp((queue_depth - 6) / 0, 1, 3)",
    "clamp(queue_depth, 5, 2)",
    "clamp_max(queue_depth, NaN)",
    "round((queue_depth - 6) / 0)",
    "round(queue_depth / 4)",
    "round(-queue_depth / 4, 2)",
]

# Ties between series: an instant query's input keeps its order, so Prometheus breaks ties the
# same way each time; in a range query that order comes from a Go map (random).
TIED_QUERIES = [
    "topk(2, queue_depth % 2)",
    "bottomk(2, queue_depth % 2)",
    "topk(1, queue_depth / 0)",
    "topk(2, (queue_depth - 6) / 0)",
    "bottomk(2, (queue_depth - 6) / 0)",
]

# Queries both must refuse, with the same message.
FAILING_QUERIES = [
    'sum(count_over_time({__name__=~"latency_seconds_(sum|count)"}[5m]))',
    'abs({__name__=~"latency_seconds_(sum|count)"})',
    '-{__name__=~"latency_seconds_(sum|count)"}',
    '{__name__=~"latency_seconds_(sum|count)"} * 2',
    'label_replace(queue_depth, "queue", "x", "queue", ".*")',
    'label_replace(queue_depth, "a-b", "x", "queue", ".*")',
    'label_replace(queue_depth, "a", "x", "queue", "(")',
    'label_join(queue_depth, "a", ",", "b-c")',
    'label_join(queue_depth, "1a", ",", "queue")',
    'count_values("a-b", queue_depth)',
    "topk(NaN, queue_depth)",
    "http_requests_total + on(service) http_requests_total",
    "queue_depth + on() group_left queue_depth",
    "http_requests_total / on(service) group_left latency_seconds_bucket",
    'label_join(http_requests_total, "service", "-", "code", "missing", "__name__")',
]


@pytest.mark.parametrize("query", INSTANT_FUNCTION_QUERIES)
def test_instant_function_range_queries_agree_with_prometheus(loaded, query):
    test_range_queries_agree_with_prometheus(loaded, query)


@pytest.mark.parametrize("query", INSTANT_FUNCTION_QUERIES + TIED_QUERIES)
def test_instant_function_instant_queries_agree_with_prometheus(loaded, query):
    test_instant_queries_agree_with_prometheus(loaded, query)


@pytest.mark.parametrize("query", FAILING_QUERIES)
def test_both_refuse_the_same_queries(loaded, query):
    at = END - 30_000
    expected = prometheus_error(loaded, "/api/v1/query", {"query": query, "time": str(at / 1000)})
    with pytest.raises(PromQLError) as raised:
        instant_query(query, at)
    assert str(raised.value) == expected, query
    expected = prometheus_error(loaded, "/api/v1/query_range", range_params(query))
    with pytest.raises(PromQLError) as raised:
        range_query(query, RANGE_START, END, 60_000)
    assert str(raised.value) == expected, query


@pytest.mark.parametrize(
    "query", ["sort(queue_depth)", "sort_desc(queue_depth)", "sort(-rate(http_requests_total[5m]))"]
)
def test_sorted_results_come_in_prometheus_order(loaded, query):
    for at in (START + 62 * MINUTE + 7_000, END - 30_000):
        expected = prometheus_api(loaded, "/api/v1/query", {"query": query, "time": str(at / 1000)})
        found = instant_data(instant_query(query, at))
        order = [item["metric"] for item in expected["result"]]
        assert [item["metric"] for item in found["result"]] == order, query


# Two series that differ only in their name, one taking over when the other stops: once a name
# is dropped, a function over a range vector (or unary minus) refuses them over a range, while
# an element function, operator or aggregation only refuses them at a step they share.
HANDOVER = [
    (
        {"__name__": "handover_old", "job": "relay"},
        [(t, 1.0) for t in range(START, START + 80 * MINUTE, 15_000)],
    ),
    (
        {"__name__": "handover_new", "job": "relay"},
        [(t, 2.0) for t in range(START + 90 * MINUTE, END, 15_000)],
    ),
]

HANDOVER_QUERIES = [
    'rate({__name__=~"handover_.*"}[5m])',
    'count_over_time({__name__=~"handover_.*"}[30m])',
    'abs({__name__=~"handover_.*"})',
    '-{__name__=~"handover_.*"}',
    '{__name__=~"handover_.*"} * 2',
    'sum(count_over_time({__name__=~"handover_.*"}[5m]))',
    'sum without (__name__) ({__name__=~"handover_.*"})',
    'timestamp({__name__=~"handover_.*"})',
    'label_replace({__name__=~"handover_.*"}, "__name__", "x", "", "")',
]


@pytest.fixture
def handover(loaded: str) -> str:
    prometheus_write(loaded, HANDOVER)
    assert write_dataset(HANDOVER).samples_rejected == 0
    return loaded


@pytest.mark.parametrize("query", HANDOVER_QUERIES)
def test_same_labelset_rule_agrees_with_prometheus(handover, query):
    answered, expected = prometheus_answer(handover, "/api/v1/query_range", range_params(query))
    if answered:
        assert isinstance(expected, dict)
        assert_same(query, expected, range_data(range_query(query, RANGE_START, END, 60_000)))
    else:
        with pytest.raises(PromQLError) as raised:
            range_query(query, RANGE_START, END, 60_000)
        assert str(raised.value) == expected, query
    for at in (START + 60 * MINUTE, START + 85 * MINUTE, END - 30_000):
        answered, expected = prometheus_answer(
            handover, "/api/v1/query", {"query": query, "time": str(at / 1000)}
        )
        if answered:
            assert isinstance(expected, dict)
            assert_same(f"{query} @ {at}", expected, instant_data(instant_query(query, at)))
        else:
            with pytest.raises(PromQLError) as raised:
                instant_query(query, at)
            assert str(raised.value) == expected, query


@pytest.mark.parametrize(
    "query", [f"timestamp(queue_depth @ {AT})", "timestamp(queue_depth @ start() offset 5m)"]
)
def test_timestamp_follows_the_at_modifier(loaded, query):
    assert_range_agrees(loaded, query)


# Range functions whose float order follows Prometheus's: the same answer to the last bit.
BIT_EXACT_QUERIES = [
    "rate(http_requests_total[5m])",
    "rate(http_requests_total[1m30s])",
    "increase(http_requests_total[7m])",
    "delta(queue_depth[10m])",
    "irate(http_requests_total[1m])",
    "idelta(queue_depth[5m])",
    "rate(latency_seconds_sum[1m])",
    "increase(latency_seconds_sum[90s])",
    "rate(http_requests_total[5m] offset 30m)",
    "histogram_quantile(0.1, rate(latency_seconds_bucket[1m]))",
    "stddev_over_time(temperature_celsius[15m])",
    "stdvar_over_time(latency_seconds_sum[5m])",
    "changes(temperature_celsius[30m])",
    "resets(http_requests_total[1h])",
    "deriv(temperature_celsius[15m])",
    "deriv(latency_seconds_sum[5m])",
    "predict_linear(temperature_celsius[15m], 600)",
    "predict_linear(http_requests_total[10m] offset 5m, 600)",
    "holt_winters(temperature_celsius[20m], 0.3, 0.7)",
    "holt_winters(latency_seconds_sum[10m], 0.1, 0.9)",
    "stddev_over_time(process_resident_memory_bytes[30m])",
    "stdvar_over_time(process_resident_memory_bytes[7m])",
    "deriv(process_resident_memory_bytes[1h])",
    "predict_linear(process_resident_memory_bytes[30m] offset 7m, 86400)",
    "holt_winters(process_resident_memory_bytes[15m], 0.2, 0.4)",
    "rate(process_resident_memory_bytes[5m])",
    "delta(process_resident_memory_bytes[2m])",
    "resets(process_resident_memory_bytes[30m])",
    "changes(process_resident_memory_bytes[3m])",
]


@pytest.mark.parametrize("query", BIT_EXACT_QUERIES)
def test_range_functions_agree_with_prometheus_to_the_last_bit(loaded, query):
    assert_range_agrees(loaded, query, exact=True)
    for at in (START + 62 * MINUTE + 7_000, END - 30_000):
        expected = prometheus_api(loaded, "/api/v1/query", {"query": query, "time": str(at / 1000)})
        assert_same(f"{query} @ {at}", expected, instant_data(instant_query(query, at)), exact=True)


@pytest.mark.parametrize(
    "query",
    [
        "holt_winters(queue_depth[5m], 1, 0.5)",
        "holt_winters(queue_depth[5m], 0, 0.5)",
        "holt_winters(queue_depth[5m], 0.5, 1.5)",
        "holt_winters(queue_depth[5m], 0.5, -1)",
        "holt_winters(queue_depth[5m], 1, 0)",
    ],
)
def test_refused_holt_winters_factors_fail_as_in_prometheus(loaded, query):
    at = START + 62 * MINUTE
    url = f"{loaded}/api/v1/query?{urllib.parse.urlencode({'query': query, 'time': at / 1000})}"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=60)
    expected = json.loads(refused.value.read())
    with pytest.raises(ExecutionError) as ours:
        instant_query(query, at)
    assert (ours.value.error_type, str(ours.value)) == (expected["errorType"], expected["error"])


def test_holt_winters_factors_are_not_checked_without_samples(loaded):
    query = "holt_winters(nothing_here[5m], 2, 2)"
    at = START + 62 * MINUTE
    expected = prometheus_api(loaded, "/api/v1/query", {"query": query, "time": str(at / 1000)})
    assert_same(query, expected, instant_data(instant_query(query, at)))
    assert expected["result"] == []
