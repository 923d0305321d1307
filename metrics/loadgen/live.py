"""Live demo traffic through the OpenTelemetry SDK: one MeterProvider per service (each is its
own resource), instruments fed with simulated requests, exported periodically over OTLP/HTTP;
and, when a span exporter is given, traces of a sample of the requests (`traces.ShopTracing`)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SpanExporter

from metrics.loadgen.shop import BUCKETS_S, SERVICES, Incident, simulate
from metrics.loadgen.traces import ShopTracing


def run_live(
    exporter_factory: Callable[[], MetricExporter],
    *,
    incidents: list[Incident],
    tick_seconds: float,
    export_seconds: float,
    duration_seconds: float | None,
    seed: int,
    should_stop: Callable[[], bool] = lambda: False,
    span_exporter_factory: Callable[[], SpanExporter] | None = None,
    trace_rate: float = 0.0,
) -> None:
    """Sends metrics of all the traffic and, with `span_exporter_factory`, about `trace_rate`
    traces a second, until `duration_seconds` have passed or `should_stop()`."""
    rng = np.random.default_rng(seed)
    # Traces draw from their own generator: the metrics stay those of the seed, traces or not.
    trace_rng = np.random.default_rng(seed + 1_000)
    tracing = (
        ShopTracing(span_exporter_factory)
        if span_exporter_factory is not None and trace_rate > 0
        else None
    )
    view = View(
        instrument_name="http.server.request.duration",
        aggregation=ExplicitBucketHistogramAggregation(list(BUCKETS_S)),
    )
    providers = {}
    instruments = {}
    for service in SERVICES:
        reader = PeriodicExportingMetricReader(
            exporter_factory(), export_interval_millis=int(export_seconds * 1000)
        )
        provider = MeterProvider(
            resource=Resource.create(
                {"service.name": service, "service.instance.id": f"{service}-1"}
            ),
            metric_readers=[reader],
            views=[view],
        )
        meter = provider.get_meter("coe-portal.loadgen", "1.0")
        providers[service] = provider
        instruments[service] = (
            meter.create_counter(
                "http.server.requests", unit="{request}", description="Requests answered."
            ),
            meter.create_histogram(
                "http.server.request.duration", unit="s", description="Duration of requests."
            ),
        )
    started = time.monotonic()
    try:
        while not should_stop():
            if duration_seconds is not None and time.monotonic() - started >= duration_seconds:
                break
            now_ms = int(time.time() * 1000)
            if tracing is not None:
                # The requests of the tick that just went by, so no span starts in the future.
                tracing.send_traffic(
                    tick_seconds,
                    now_ms - int(tick_seconds * 1000),
                    trace_rate=trace_rate,
                    incidents=incidents,
                    rng=trace_rng,
                )
            for traffic in simulate(tick_seconds, now_ms, incidents, rng):
                counter, histogram = instruments[traffic.route.service]
                for status, latencies in traffic.latencies_by_status.items():
                    attributes: dict[str, str | int] = {
                        "http.route": traffic.route.route,
                        "http.request.method": traffic.route.method,
                        "http.response.status_code": int(status),
                    }
                    if len(latencies):
                        counter.add(len(latencies), attributes)
                    for latency in latencies:
                        histogram.record(float(latency), attributes)
            time.sleep(tick_seconds)
    finally:
        for provider in providers.values():
            provider.shutdown()
        if tracing is not None:
            tracing.shutdown()
