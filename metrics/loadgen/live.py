"""Live demo traffic through the OpenTelemetry SDK: one MeterProvider per service (each is its
own resource), instruments fed with simulated requests, exported periodically over OTLP/HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

from metrics.loadgen.shop import BUCKETS_S, SERVICES, Incident, simulate


def run_live(
    exporter_factory: Callable[[], OTLPMetricExporter],
    *,
    incidents: list[Incident],
    tick_seconds: float,
    export_seconds: float,
    duration_seconds: float | None,
    seed: int,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    rng = np.random.default_rng(seed)
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
