"""OTLP metrics to Prometheus series, following the OpenTelemetry-to-Prometheus conventions.

- Names: dots and other characters become underscores, a unit suffix is added (`_seconds`,
  `_bytes`, ...), monotonic sums get `_total`, histograms `_bucket{le}`, `_sum` and `_count`,
  summaries `{quantile}`, `_sum` and `_count`.
- Labels: the data point's attributes, plus the resource's (`service.name` becomes `service`,
  `service.instance.id` becomes `instance` as in Prometheus;
  `telemetry.*` and `process.*` attributes are left out by default: they change with every
  restart and would multiply series).
- Delta temporality is stored as a running total, so `rate()` works the same for both.
- A point flagged "no recorded value" becomes a stale marker.
- Exponential histograms are refused through `partial_success`, naming the metric, and so are
  points whose time is out of bounds (`sample_bounds`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric

from metrics.ingest.sample_bounds import sample_bounds
from metrics.storage.encoding import STALE_NAN
from metrics.storage.labels import sanitize_label_name, sanitize_metric_name
from metrics.storage.writer import SeriesSamples

DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
NO_RECORDED_VALUE = 1

UNIT_SUFFIXES = {
    "s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds",
    "min": "minutes", "h": "hours", "d": "days",
    "By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes",
    "KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes",
    "By/s": "bytes_per_second", "%": "percent", "Hz": "hertz", "Cel": "celsius",
    "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "m": "meters",
}  # fmt: skip


@dataclass
class Conversion:
    series: list[SeriesSamples] = field(default_factory=list)
    rejected_points: int = 0
    problems: list[str] = field(default_factory=list)


def any_value_text(value: AnyValue) -> str:
    kind = value.WhichOneof("value")
    if kind is None:
        return ""
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return repr(value.double_value)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    if kind == "array_value":
        return "[" + ",".join(any_value_text(item) for item in value.array_value.values) + "]"
    return (
        "{"
        + ",".join(f"{kv.key}:{any_value_text(kv.value)}" for kv in value.kvlist_value.values)
        + "}"
    )


def attribute_labels(attributes: Iterable[KeyValue]) -> dict[str, str]:
    return {sanitize_label_name(kv.key): any_value_text(kv.value) for kv in attributes}


def resource_labels(attributes: Iterable[KeyValue]) -> dict[str, str]:
    ignored = tuple(settings.OTLP_IGNORED_RESOURCE_PREFIXES)
    labels: dict[str, str] = {}
    for kv in attributes:
        if kv.key == "service.name":
            labels["service"] = any_value_text(kv.value)
        elif kv.key == "service.instance.id":
            labels["instance"] = any_value_text(kv.value)
        elif not kv.key.startswith(ignored):
            labels[sanitize_label_name(kv.key)] = any_value_text(kv.value)
    return labels


def metric_base_name(metric: Metric) -> str:
    name = sanitize_metric_name(metric.name)
    unit = metric.unit
    if "{" in unit:  # annotations such as {request} carry no unit
        unit = "".join(part.split("}")[-1] for part in unit.split("{"))
    suffix = UNIT_SUFFIXES.get(unit)
    if suffix is None and unit == "1" and metric.WhichOneof("data") == "gauge":
        suffix = "ratio"
    if suffix is None and unit and unit != "1":
        suffix = sanitize_metric_name(unit.replace("/", "_per_")).strip("_")
    if suffix and not name.endswith("_" + suffix):
        name = f"{name}_{suffix}"
    return name


def _ms(time_unix_nano: int) -> int:
    return time_unix_nano // 1_000_000


def _number(point: object) -> float:
    kind = point.WhichOneof("value")  # type: ignore[attr-defined]
    return float(point.as_int) if kind == "as_int" else float(point.as_double)  # type: ignore[attr-defined]


class _Builder:
    """Collects points into one SeriesSamples per series (a request often carries several
    points of the same series), so that each series is validated and looked up once."""

    def __init__(self) -> None:
        self.result = Conversion()
        self.bounds = sample_bounds()
        self._by_series: dict[tuple[str, tuple[tuple[str, str], ...], bool], SeriesSamples] = {}

    def add(
        self, name: str, labels: dict[str, str], time_ms: int, value: float, *, delta: bool = False
    ) -> None:
        key = (name, tuple(labels.items()), delta)
        samples = self._by_series.get(key)
        if samples is None:
            samples = SeriesSamples(name, labels, [], [], is_delta=delta)
            self._by_series[key] = samples
            self.result.series.append(samples)
        samples.timestamps.append(time_ms)
        samples.values.append(value)

    def reject(self, points: int, problem: str) -> None:
        self.result.rejected_points += points
        self.result.problems.append(problem)

    def in_bounds(self, metric: Metric, time_ms: int) -> bool:
        """Whether the point's time is one the store keeps; if not, the point is refused."""
        if self.bounds.accepts(time_ms):
            return True
        self.result.rejected_points += 1
        self.bounds.refuse(f"metric {metric.name[:200]!r}")
        return False

    def finish(self) -> Conversion:
        if self.bounds.refused:
            self.result.problems.append(self.bounds.problem("data point"))
        return self.result


def convert_metrics_request(request: ExportMetricsServiceRequest) -> Conversion:
    builder = _Builder()
    for resource_metrics in request.resource_metrics:
        base_labels = resource_labels(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                _convert_metric(builder, metric, base_labels)
    return builder.finish()


def _convert_metric(builder: _Builder, metric: Metric, base: dict[str, str]) -> None:
    kind = metric.WhichOneof("data")
    name = metric_base_name(metric)
    if kind == "gauge":
        for point in metric.gauge.data_points:
            time_ms = _ms(point.time_unix_nano)
            if not builder.in_bounds(metric, time_ms):
                continue
            value = STALE_NAN if point.flags & NO_RECORDED_VALUE else _number(point)
            builder.add(name, {**base, **attribute_labels(point.attributes)}, time_ms, value)
    elif kind == "sum":
        monotonic = metric.sum.is_monotonic
        delta = metric.sum.aggregation_temporality == DELTA
        if monotonic and not name.endswith("_total"):
            name += "_total"
        for point in metric.sum.data_points:
            time_ms = _ms(point.time_unix_nano)
            if not builder.in_bounds(metric, time_ms):
                continue
            stale = point.flags & NO_RECORDED_VALUE
            builder.add(
                name,
                {**base, **attribute_labels(point.attributes)},
                time_ms,
                STALE_NAN if stale else _number(point),
                delta=delta and not stale,
            )
    elif kind == "histogram":
        delta = metric.histogram.aggregation_temporality == DELTA
        for point in metric.histogram.data_points:
            labels = {**base, **attribute_labels(point.attributes)}
            time_ms = _ms(point.time_unix_nano)
            if not builder.in_bounds(metric, time_ms):
                continue
            if point.flags & NO_RECORDED_VALUE:
                for suffix in ("_count", "_sum"):
                    builder.add(name + suffix, labels, time_ms, STALE_NAN)
                continue
            if len(point.bucket_counts) not in (0, len(point.explicit_bounds) + 1):
                builder.reject(
                    1,
                    f"histogram {metric.name}: {len(point.bucket_counts)} bucket counts for "
                    f"{len(point.explicit_bounds)} bounds (need bounds + 1)",
                )
                continue
            cumulative = 0
            bounds = [*point.explicit_bounds, float("inf")]
            for bound, count in zip(bounds, point.bucket_counts, strict=False):
                cumulative += count
                le = "+Inf" if bound == float("inf") else _format_bound(bound)
                builder.add(
                    name + "_bucket", {**labels, "le": le}, time_ms, float(cumulative), delta=delta
                )
            builder.add(name + "_count", labels, time_ms, float(point.count), delta=delta)
            if point.HasField("sum"):
                builder.add(name + "_sum", labels, time_ms, point.sum, delta=delta)
    elif kind == "summary":
        for point in metric.summary.data_points:
            labels = {**base, **attribute_labels(point.attributes)}
            time_ms = _ms(point.time_unix_nano)
            if not builder.in_bounds(metric, time_ms):
                continue
            for quantile in point.quantile_values:
                builder.add(
                    name,
                    {**labels, "quantile": _format_bound(quantile.quantile)},
                    time_ms,
                    quantile.value,
                )
            builder.add(name + "_count", labels, time_ms, float(point.count))
            builder.add(name + "_sum", labels, time_ms, point.sum)
    elif kind == "exponential_histogram":
        points = len(metric.exponential_histogram.data_points)
        builder.reject(
            points,
            f"exponential histogram {metric.name} is not supported ({points} points rejected): "
            "configure the SDK to use explicit bucket histograms",
        )
    else:
        builder.reject(0, f"metric {metric.name} has no data")


def _format_bound(bound: float) -> str:
    """Bucket bounds as Prometheus's OTLP translator writes them: 0.005, 1, 2.5."""
    return str(np.format_float_positional(bound, trim="-"))
