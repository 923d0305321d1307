"""Request bodies, built before any timing: each client owns its series, and each of its bodies
carries the next, later samples of those same series (never a duplicate, never out of order).

Values look like real metrics, as compression depends on them: half the series are counters
(small integer increments), half gauges (a random walk kept to two decimals).
"""

from __future__ import annotations

from typing import Any

import cramjam
import numpy as np
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from metrics.ingest.remote_write_proto import WriteRequest

SERIES_PER_REQUEST = 500
SAMPLES_PER_SERIES = 10
METRIC_NAMES = 25  # per kind: 500 series = 2 kinds x 25 names x 10 label sets
SCRAPE_INTERVAL_MS = 15_000
BLOCK_MS = 2 * 60 * 60 * 1000


def start_ms(now_ms: int, requests: int) -> int:
    """A block-aligned start far enough back that the last body still lies in the past."""
    span = requests * SAMPLES_PER_SERIES * SCRAPE_INTERVAL_MS
    return ((now_ms - span) // BLOCK_MS - 1) * BLOCK_MS


def series_values(client: int, requests: int) -> np.ndarray:
    """Values of every series for all of a client's requests: shape (series, samples)."""
    rng = np.random.default_rng(client)
    total = requests * SAMPLES_PER_SERIES
    counters = np.cumsum(rng.integers(0, 20, size=(SERIES_PER_REQUEST // 2, total)), axis=1)
    gauges = 50 + np.cumsum(rng.normal(0, 0.5, size=(SERIES_PER_REQUEST // 2, total)), axis=1)
    return np.vstack([counters.astype(np.float64), np.round(gauges, 2)])


def _series_labels(client: int, series: int, prefix: str) -> tuple[str, dict[str, str]]:
    kind = "total" if series < SERIES_PER_REQUEST // 2 else "gauge"
    name = f"{prefix}_{kind}_{series % METRIC_NAMES}"
    return name, {"instance": f"client-{client}:9100", "job": "bench", "slot": str(series)}


def remote_write_bodies(client: int, requests: int, first_ms: int) -> list[bytes]:
    """Snappy-compressed WriteRequests, each the next 10 samples of the client's 500 series."""
    values = series_values(client, requests)
    request = WriteRequest()
    samples = []  # series-major, like `values`: filled in place for each body
    for index in range(SERIES_PER_REQUEST):
        name, labels = _series_labels(client, index, "bench_rw")
        timeseries = request.timeseries.add()
        for label, value in [("__name__", name), *sorted(labels.items())]:
            timeseries.labels.add(name=label, value=value)
        samples.extend(timeseries.samples.add() for _ in range(SAMPLES_PER_SERIES))
    bodies = []
    for request_index in range(requests):
        times, flat = _window(values, first_ms, request_index)
        for sample, timestamp, value in zip(samples, times, flat, strict=True):
            sample.timestamp = timestamp
            sample.value = value
        bodies.append(bytes(cramjam.snappy.compress_raw(request.SerializeToString())))
    return bodies


def _window(values: np.ndarray, first_ms: int, request_index: int) -> tuple[list[int], list[float]]:
    """Timestamps (ms) and values of one body, series-major, as flat lists."""
    offset = request_index * SAMPLES_PER_SERIES
    steps = np.arange(offset, offset + SAMPLES_PER_SERIES, dtype=np.int64)
    times = np.tile(first_ms + steps * SCRAPE_INTERVAL_MS, SERIES_PER_REQUEST)
    return times.tolist(), values[:, offset : offset + SAMPLES_PER_SERIES].ravel().tolist()


def otlp_bodies(client: int, requests: int, first_ms: int) -> list[bytes]:
    """ExportMetricsServiceRequests: 50 gauges x 10 attribute sets x 10 timestamps each."""
    values = series_values(client + 1000, requests)
    export = ExportMetricsServiceRequest()
    resource_metrics = export.resource_metrics.add()
    for key, value in (("service.name", "bench"), ("service.instance.id", f"client-{client}")):
        resource_metrics.resource.attributes.add(key=key).value.string_value = value
    scope = resource_metrics.scope_metrics.add()
    scope.scope.name = "benchmarks"
    metrics: dict[str, Any] = {}
    points = []  # series-major, like `values`: filled in place for each body
    for index in range(SERIES_PER_REQUEST):
        name, labels = _series_labels(client, index, "bench.otlp")
        metric = metrics.get(name)
        if metric is None:
            metric = metrics[name] = scope.metrics.add(name=name)
        for _ in range(SAMPLES_PER_SERIES):
            point = metric.gauge.data_points.add()
            point.attributes.add(key="slot").value.string_value = labels["slot"]
            points.append(point)
    bodies = []
    for request_index in range(requests):
        times, flat = _window(values, first_ms, request_index)
        for point, time_ms, value in zip(points, times, flat, strict=True):
            point.time_unix_nano = time_ms * 1_000_000
            point.as_double = value
        bodies.append(export.SerializeToString())
    return bodies
