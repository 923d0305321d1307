"""Span metrics in the metric store, named as the OpenTelemetry Collector's spanmetrics
connector names them, so SLOs and alarms can be written on traced services:

    traces_spanmetrics_calls_total{service, span_name, span_kind, status_code}
    traces_spanmetrics_duration_seconds_bucket{…, le}, _sum, _count

Each stored batch adds its new spans as increments (a span sent twice is stored, and counted,
once), stamped with the time of writing."""

from __future__ import annotations

import bisect
import time
from collections import defaultdict

from coe_portal.accounts.models import ApiToken
from metrics.storage.writer import SeriesSamples, WriteResult, write_samples
from metrics.traces.convert import SpanRow

# The connector's default histogram buckets, in seconds.
BUCKETS = (
    0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.4, 2.0, 5.0, 10.0, 15.0,
)  # fmt: skip
KIND_LABELS = {
    0: "SPAN_KIND_UNSPECIFIED", 1: "SPAN_KIND_INTERNAL", 2: "SPAN_KIND_SERVER",
    3: "SPAN_KIND_CLIENT", 4: "SPAN_KIND_PRODUCER", 5: "SPAN_KIND_CONSUMER",
}  # fmt: skip
STATUS_LABELS = {0: "STATUS_CODE_UNSET", 1: "STATUS_CODE_OK", 2: "STATUS_CODE_ERROR"}


def _delta(metric: str, labels: dict[str, str], value: float, at_ms: int) -> SeriesSamples:
    return SeriesSamples(metric, labels, [at_ms], [value], is_delta=True, counted_now=True)


def span_metric_series(rows: list[SpanRow], at_ms: int) -> list[SeriesSamples]:
    """One increment per series for these spans."""
    calls: dict[tuple[str, str, str, str], int] = defaultdict(int)
    sums: dict[tuple[str, str, str, str], float] = defaultdict(float)
    buckets: dict[tuple[str, str, str, str], list[int]] = defaultdict(
        lambda: [0] * (len(BUCKETS) + 1)
    )
    for row in rows:
        key = (row.service, row.name, KIND_LABELS[row.kind], STATUS_LABELS[row.status_code])
        seconds = row.duration_ns / 1e9
        calls[key] += 1
        sums[key] += seconds
        buckets[key][bisect.bisect_left(BUCKETS, seconds)] += 1
    out: list[SeriesSamples] = []
    for key, count in calls.items():
        service, name, kind, status = key
        labels = {"service": service, "span_name": name, "span_kind": kind, "status_code": status}
        out.append(_delta("traces_spanmetrics_calls_total", labels, count, at_ms))
        out.append(_delta("traces_spanmetrics_duration_seconds_count", labels, count, at_ms))
        out.append(_delta("traces_spanmetrics_duration_seconds_sum", labels, sums[key], at_ms))
        cumulative = 0
        for bound, in_bucket in zip((*BUCKETS, float("inf")), buckets[key], strict=True):
            cumulative += in_bucket
            le = "+Inf" if bound == float("inf") else format(bound, "g")
            bucket_labels = {**labels, "le": le}
            out.append(
                _delta(
                    "traces_spanmetrics_duration_seconds_bucket", bucket_labels, cumulative, at_ms
                )
            )
    return out


def record_span_metrics(rows: list[SpanRow], *, token: ApiToken | None) -> WriteResult:
    if not rows:
        return WriteResult()
    return write_samples(span_metric_series(rows, int(time.time() * 1000)), token=token)
