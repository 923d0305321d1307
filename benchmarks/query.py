"""Query latency, end to end: dashboard-style PromQL over a week of counters and a day of a
histogram, through the HTTP API of the running portal, one client, one request at a time.

Loading is not timed: query_data's remote-write bodies go to `POST /api/v1/write` (the production
write path), then every chunk is compacted and the tables vacuumed and analysed, the layout a
store settles into. When a `prometheus` binary is installed, the same bodies go to a real
Prometheus, the same queries are timed against it, and the answers are compared.
"""

from __future__ import annotations

import http.client
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import psycopg
from psycopg import sql

from benchmarks.common import METRIC_TABLES, Figure, percentile_ms
from benchmarks.prometheus import prometheus_binary, prometheus_server, wait_for_compaction
from benchmarks.query_data import (
    COUNTER_DAYS,
    DAY_MS,
    HISTOGRAM_DAYS,
    dataset,
    remote_write_bodies,
)
from benchmarks.session import Session
from benchmarks.storage import COMPACT_ALL

WARM_UPS = 2
REPETITIONS = 25
REMOTE_WRITE_HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
RELATIVE_TOLERANCE = 1e-9
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Query:
    name: str
    promql: str
    target_ms: float
    span_ms: int = 0  # 0: an instant query at the end of the data
    step_s: int = 0

    @property
    def path(self) -> str:
        return "/api/v1/query_range" if self.span_ms else "/api/v1/query"

    def params(self, end_ms: int) -> dict[str, str]:
        if not self.span_ms:
            return {"query": self.promql, "time": str(end_ms / 1000)}
        return {
            "query": self.promql,
            "start": str((end_ms - self.span_ms) / 1000),
            "end": str(end_ms / 1000),
            "step": str(self.step_s),
        }


QUERIES = (
    Query(
        "error_ratio_7d",
        'sum(increase(x_requests_total{code="500"}[7d])) / sum(increase(x_requests_total[7d]))',
        target_ms=50,
    ),
    Query(
        "rate_by_service_7d",
        "sum by (service) (rate(x_requests_total[5m]))",
        target_ms=50,
        span_ms=COUNTER_DAYS * DAY_MS,
        step_s=300,
    ),
    Query(
        "p99_latency_1d",
        "histogram_quantile(0.99, sum by (le) (rate(x_duration_seconds_bucket[5m])))",
        target_ms=40,
        span_ms=HISTOGRAM_DAYS * DAY_MS,
        step_s=60,
    ),
    # A subquery as dashboards use them: the peak 5-minute rate of every series in each hour,
    # over a day at 1-minute steps (80 series; the inner rate on one grid of 1 500 steps).
    Query(
        "subquery_max_rate_1d",
        "max_over_time(rate(x_requests_total[5m])[1h:1m])",
        target_ms=250,
        span_ms=DAY_MS,
        step_s=60,
    ),
)
# Every sample loaded, whatever its series: checks that both stores hold all of them.
COUNT_ALL = 'sum(count_over_time({__name__=~"x_requests_total|x_duration_seconds_bucket"}[8d]))'


class Client:
    """One keep-alive HTTP connection; `get` times a request until its answer is read."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.connection = http.client.HTTPConnection(host, port, timeout=120)
        self.headers = headers

    def get(self, path: str, params: dict[str, str]) -> tuple[float, int, bytes]:
        began = time.perf_counter()
        self.connection.request("GET", f"{path}?{urlencode(params)}", headers=self.headers)
        response = self.connection.getresponse()
        answer = response.read()
        return time.perf_counter() - began, response.status, answer

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        self.connection.request("POST", path, body=body, headers={**self.headers, **headers})
        response = self.connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.connection.close()


@dataclass
class Timed:
    latencies_s: list[float] = field(default_factory=list)
    first_s: float = 0.0  # the very first request: nothing decoded or cached yet in its worker
    data: dict[str, Any] | None = None  # the last answer's `data`
    error: str = ""


def time_query(client: Client, query: Query, end_ms: int) -> Timed:
    timed = Timed()
    params = query.params(end_ms)
    for attempt in range(WARM_UPS + REPETITIONS):
        seconds, status, answer = client.get(query.path, params)
        if status != 200:
            timed.error = f"HTTP {status}: {answer[:200]!r}"
            return timed
        if attempt == 0:
            timed.first_s = seconds
        if attempt >= WARM_UPS:
            timed.latencies_s.append(seconds)
        timed.data = json.loads(answer)["data"]
    return timed


def latency_figures(prefix: str, query: Query, timed: Timed, *, with_target: bool) -> list[Figure]:
    name = f"{prefix}.{query.name}"
    if timed.error:
        return [Figure(f"{name}.latency_p50", "failed", "", timed.error)]
    shape = _shape(timed.data)
    kind = (
        f"range {query.span_ms // DAY_MS} d step {query.step_s} s" if query.span_ms else "instant"
    )
    runs = f"{len(timed.latencies_s)} sequential requests after {WARM_UPS} warm-ups"
    target = f", target <= {query.target_ms:.0f} ms" if with_target else ""
    return [
        Figure(
            f"{name}.latency_p50",
            percentile_ms(timed.latencies_s, 50),
            "ms",
            f"{kind}, {shape}, {runs}{target}",
        ),
        Figure(f"{name}.latency_p95", percentile_ms(timed.latencies_s, 95), "ms", runs),
        Figure(
            f"{name}.latency_first",
            round(timed.first_s * 1000, 1),
            "ms",
            "the first request, before any cache in the answering process is warm",
        ),
    ]


def _shape(data: dict[str, Any] | None) -> str:
    if not data:
        return "no answer"
    result = data["result"]
    if data["resultType"] == "matrix":
        points = sum(len(item["values"]) for item in result)
        return f"{len(result)} series, {points} points"
    return f"{len(result)} series"


def remote_write_all(client: Client, bodies: list[bytes]) -> float:
    began = time.perf_counter()
    for body in bodies:
        status, answer = client.post("/api/v1/write", body, REMOTE_WRITE_HEADERS)
        if status != 204:
            raise RuntimeError(f"remote write refused: HTTP {status}: {answer[:300]!r}")
    return time.perf_counter() - began


def count_loaded(client: Client, end_ms: int) -> int:
    _, status, answer = client.get(
        "/api/v1/query", {"query": COUNT_ALL, "time": str(end_ms / 1000)}
    )
    if status != 200:
        raise RuntimeError(f"counting samples failed: HTTP {status}: {answer[:300]!r}")
    result = json.loads(answer)["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def vacuum_analyze(database_url: str) -> None:
    """What autovacuum does soon after a load: dead chunk rows gone, planner statistics fresh."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for table in METRIC_TABLES:
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))


def query_latency(session: Session) -> list[Figure]:
    end_ms = (int(time.time() * 1000) // HOUR_MS) * HOUR_MS
    series = dataset(end_ms)
    bodies = remote_write_bodies(series)
    samples = sum(len(data.timestamps) for data in series)

    portal = Client(session.host, session.port, {"Authorization": f"Bearer {session.token}"})
    try:
        load_s = remote_write_all(portal, bodies)
        merged = int(session.shell(COMPACT_ALL).strip() or 0)
        vacuum_analyze(session.database_url)
        stored = count_loaded(portal, end_ms)
        figures = [
            Figure(
                "query.dataset",
                stored,
                "samples",
                f"of {samples}: {len(series)} series at 1 min (x_requests_total {COUNTER_DAYS} d, "
                f"x_duration_seconds_bucket {HISTOGRAM_DAYS} d), remote-written in {len(bodies)} "
                f"bodies in {load_s:.1f} s, then {merged} (series, block) groups compacted",
            )
        ]
        ours = {query.name: time_query(portal, query, end_ms) for query in QUERIES}
    finally:
        portal.close()
    for query in QUERIES:
        figures += latency_figures("query", query, ours[query.name], with_target=True)

    binary = prometheus_binary()
    if binary is None:
        return [*figures, Figure("prometheus", "skipped", "", "no prometheus binary on PATH")]
    with prometheus_server(binary) as (host, port):
        reference = Client(host, port, {})
        try:
            load_s = remote_write_all(reference, bodies)
            stored = _wait_for_samples(reference, end_ms, samples)
            compactions = wait_for_compaction(host, port)
            figures.append(
                Figure(
                    "prometheus.dataset",
                    stored,
                    "samples",
                    f"of {samples}, remote-written in {load_s:.1f} s, timed after its "
                    f"{compactions} compactions settled",
                )
            )
            theirs = {query.name: time_query(reference, query, end_ms) for query in QUERIES}
        finally:
            reference.close()
    for query in QUERIES:
        figures += latency_figures("prometheus", query, theirs[query.name], with_target=False)
    for query in QUERIES:
        figures.append(_agreement(query, ours[query.name], theirs[query.name]))
    return figures


def _wait_for_samples(client: Client, end_ms: int, expected: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while True:
        stored = count_loaded(client, end_ms)
        if stored >= expected or time.monotonic() > deadline:
            return stored
        time.sleep(0.5)


# Agreement ---------------------------------------------------------------------------------


def _agreement(query: Query, ours: Timed, theirs: Timed) -> Figure:
    name = f"query.{query.name}.vs_prometheus"
    if ours.data is None or theirs.data is None:
        return Figure(name, "DIFFER", "", f"no answer: {ours.error or theirs.error}")
    difference = first_difference(ours.data, theirs.data)
    if difference:
        return Figure(name, "DIFFER", "", difference)
    within = f"within {RELATIVE_TOLERANCE:g} relative"
    return Figure(name, "agree", "", f"{_shape(theirs.data)}, every value {within}")


def first_difference(ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    """The first way the portal's answer differs from Prometheus's; empty when they agree."""
    if ours["resultType"] != theirs["resultType"]:
        return f"result type {ours['resultType']} vs {theirs['resultType']}"
    field = "value" if theirs["resultType"] == "vector" else "values"
    mine, reference = _keyed(ours["result"], field), _keyed(theirs["result"], field)
    if set(mine) != set(reference):
        return f"series {sorted(mine)} vs {sorted(reference)}"
    for labels, points in reference.items():
        found = mine[labels]
        if field == "value":
            points, found = [points], [found]
        if [float(p[0]) for p in found] != [float(p[0]) for p in points]:
            return f"{dict(labels)}: {len(found)} vs {len(points)} points, at other timestamps"
        for expected, got in zip(points, found, strict=True):
            if not same_number(expected[1], got[1]):
                return f"{dict(labels)} at {expected[0]}: portal {got[1]}, prometheus {expected[1]}"
    return ""


def _keyed(result: list[dict[str, Any]], field: str) -> dict[tuple[tuple[str, str], ...], Any]:
    return {tuple(sorted(item["metric"].items())): item[field] for item in result}


def same_number(expected: str, found: str) -> bool:
    a, b = _as_float(expected), _as_float(found)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12)


def _as_float(text: str) -> float:
    return float(text.replace("+Inf", "inf").replace("-Inf", "-inf"))
