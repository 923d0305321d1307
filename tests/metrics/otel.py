"""Requests shaped by the real OpenTelemetry SDK: a MeterProvider read in memory, then encoded
with the OTLP exporter's own encoder."""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry.exporter.otlp.proto.common._internal.metrics_encoder import encode_metrics
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

RESOURCE = Resource.create(
    {
        "service.name": "cart",
        "service.instance.id": "cart-1",
        "deployment.environment": "prod",
        "process.pid": 4242,
    }
)


class SdkRecorder:
    def __init__(self, *, delta: bool = False) -> None:
        temporality = AggregationTemporality.DELTA if delta else AggregationTemporality.CUMULATIVE
        self.reader = InMemoryMetricReader(
            preferred_temporality={
                Counter: temporality,
                Histogram: temporality,
                UpDownCounter: temporality,
            }
        )
        self.provider = MeterProvider(resource=RESOURCE, metric_readers=[self.reader])
        self.meter = self.provider.get_meter("shop", "1.0")

    def export(self) -> bytes:
        request: ExportMetricsServiceRequest = encode_metrics(self.reader.get_metrics_data())
        return request.SerializeToString()

    def record(self, action: Callable[[SdkRecorder], None]) -> bytes:
        action(self)
        return self.export()
