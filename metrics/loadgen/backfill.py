"""History for the demo: cumulative OTLP data points, minute by minute, sent through the real
OpenTelemetry exporter (which sends whatever points it is given, whatever their time).

No traces here: the portal stamps span metrics with the time spans arrive, so old spans would
count as traffic of now, and days of spans would weigh on a small demo. Traces are live only."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from metrics.loadgen.shop import BUCKETS_S, SERVICES, Incident, bucket_counts, simulate

MINUTE_MS = 60_000
SCOPE = InstrumentationScope("coe-portal.loadgen", "1.0")
CUMULATIVE = AggregationTemporality.CUMULATIVE

Key = tuple[str, str, str, str]  # service, route, method, status


class Totals:
    def __init__(self) -> None:
        self.requests: dict[Key, int] = defaultdict(int)
        self.buckets: dict[Key, list[int]] = {}
        self.sums: dict[Key, float] = defaultdict(float)

    def add(self, key: Key, latencies: np.ndarray) -> None:
        self.requests[key] += len(latencies)
        counts = bucket_counts(latencies)
        previous = self.buckets.get(key)
        self.buckets[key] = (
            counts if previous is None else [a + b for a, b in zip(previous, counts, strict=True)]
        )
        self.sums[key] += float(latencies.sum())


def backfill(
    exporter: MetricExporter,
    *,
    start_ms: int,
    end_ms: int,
    incidents: list[Incident],
    seed: int,
    minutes_per_export: int = 60,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Exports one point per series per minute from start to end; returns the points sent."""
    rng = np.random.default_rng(seed)
    totals = Totals()
    start_ns = start_ms * 1_000_000
    pending: dict[str, list[tuple[int, dict[Key, int], dict[Key, list[int]], dict[Key, float]]]] = (
        defaultdict(list)
    )
    sent = 0
    minute = start_ms
    exported_minutes = 0
    while minute <= end_ms:
        for traffic in simulate(60, minute, incidents, rng):
            for status, latencies in traffic.latencies_by_status.items():
                route = traffic.route
                totals.add((route.service, route.route, route.method, status), latencies)
        for service in SERVICES:
            pending[service].append(
                (
                    minute,
                    {k: v for k, v in totals.requests.items() if k[0] == service},
                    {k: list(v) for k, v in totals.buckets.items() if k[0] == service},
                    {k: v for k, v in totals.sums.items() if k[0] == service},
                )
            )
        exported_minutes += 1
        minute += MINUTE_MS
        if exported_minutes % minutes_per_export == 0 or minute > end_ms:
            data = _metrics_data(pending, start_ns)
            sent += sum(
                len(metric.data.data_points)
                for resource in data.resource_metrics
                for scope in resource.scope_metrics
                for metric in scope.metrics
            )
            if exporter.export(data) is not MetricExportResult.SUCCESS:
                raise RuntimeError("the portal refused the backfill export (see its log)")
            pending.clear()
            if progress:
                progress(minute - start_ms, end_ms - start_ms)
    return sent


def _metrics_data(
    pending: dict[str, list[tuple[int, dict[Key, int], dict[Key, list[int]], dict[Key, float]]]],
    start_ns: int,
) -> MetricsData:
    resources = []
    for service, snapshots in pending.items():
        counter_points = []
        histogram_points = []
        for minute, requests, buckets, sums in snapshots:
            time_ns = minute * 1_000_000
            for key, count in requests.items():
                attributes = _attributes(key)
                counter_points.append(NumberDataPoint(attributes, start_ns, time_ns, count))
                histogram_points.append(
                    HistogramDataPoint(
                        attributes,
                        start_ns,
                        time_ns,
                        count,
                        sums[key],
                        buckets[key],
                        list(BUCKETS_S),
                        0.0,
                        0.0,
                    )
                )
        metrics = [
            Metric(
                "http.server.requests",
                "Requests answered.",
                "{request}",
                Sum(counter_points, CUMULATIVE, True),
            ),
            Metric(
                "http.server.request.duration",
                "Duration of requests.",
                "s",
                Histogram(histogram_points, CUMULATIVE),
            ),
        ]
        resources.append(
            ResourceMetrics(
                Resource.create({"service.name": service, "service.instance.id": f"{service}-1"}),
                [ScopeMetrics(SCOPE, metrics, "")],
                "",
            )
        )
    return MetricsData(resources)


def _attributes(key: Key) -> dict[str, str | int]:
    _, route, method, status = key
    return {
        "http.route": route,
        "http.request.method": method,
        "http.response.status_code": int(status),
    }
