"""Span metrics in the metric store, named as the OpenTelemetry Collector's spanmetrics
connector names them, so SLOs and alarms can be written on traced services:

    traces_spanmetrics_calls_total{service, span_name, span_kind, status_code}
    traces_spanmetrics_duration_seconds_bucket{…, le}, _sum, _count

Each stored batch queues the increments of its new spans (a span sent twice is stored, and
counted, once) in the same transaction; beat folds the queue into the metric store every few
seconds, stamping the increments with the time of folding."""

from __future__ import annotations

import bisect
import time
from collections import defaultdict

from django.db import transaction

from metrics.storage.writer import SeriesSamples, write_samples
from metrics.traces.convert import SpanRow
from metrics.traces.models import SpanMetricsBatch

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


def record_span_metrics(rows: list[SpanRow]) -> None:
    """Queue the increments of newly stored spans (call inside the spans' transaction)."""
    if not rows:
        return
    increments = [
        [series.name, series.labels, series.values[0]] for series in span_metric_series(rows, 0)
    ]
    SpanMetricsBatch.objects.create(increments=increments)


def fold_span_metrics(*, limit: int = 2_000) -> int:
    """Add the queued increments to the metric store, once each: the batches are claimed with
    SKIP LOCKED, summed per series, written and deleted in one transaction. Returns how many
    batches were folded."""
    with transaction.atomic():
        batches = list(
            SpanMetricsBatch.objects.select_for_update(skip_locked=True)
            .order_by("id")
            .values_list("id", "increments")[:limit]
        )
        if not batches:
            return 0
        totals: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
        for _, increments in batches:
            for name, labels, value in increments:
                totals[(name, tuple(sorted(labels.items())))] += value
        at_ms = int(time.time() * 1000)
        write_samples(
            [
                SeriesSamples(name, dict(labels), [at_ms], [value], is_delta=True, counted_now=True)
                for (name, labels), value in totals.items()
            ]
        )
        SpanMetricsBatch.objects.filter(id__in=[batch_id for batch_id, _ in batches]).delete()
    return len(batches)
