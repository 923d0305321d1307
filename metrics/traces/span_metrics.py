"""Span metrics in the metric store, named as the OpenTelemetry Collector's spanmetrics
connector names them, so SLOs and alarms can be written on traced services:

    traces_spanmetrics_calls_total{service, span_name, span_kind, status_code}
    traces_spanmetrics_duration_seconds_bucket{…, le}, _sum, _count

Each stored batch queues the counts of its new spans (a span sent twice is stored, and
counted, once) in the same transaction; beat folds the queue into the metric store every few
seconds, stamping the increments with the time of folding."""

from __future__ import annotations

import bisect
import itertools
import json
import time
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from metrics.backends import is_read_only
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


# A queued entry: [service, span name, kind, status, calls, seconds, [count per bucket]].
Entry = list[Any]
Key = tuple[str, str, int, int]


def span_metric_counts(rows: list[SpanRow]) -> list[Entry]:
    """The spans counted per (service, name, kind, status): calls, summed seconds and the count
    in each bucket (not cumulative; the last bucket is +Inf). Compact enough to queue with every
    stored batch: one entry per operation, not one per series."""
    entries: dict[Key, Entry] = {}
    bucket_count = len(BUCKETS) + 1
    for row in rows:
        key = (row.service, row.name, row.kind, row.status_code)
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = [*key, 0, 0.0, [0] * bucket_count]
        seconds = row.duration_ns / 1e9
        entry[4] += 1
        entry[5] += seconds
        entry[6][bisect.bisect_left(BUCKETS, seconds)] += 1
    return list(entries.values())


def add_counts(totals: dict[Key, Entry], entries: list[Entry]) -> None:
    """Sum queued entries into `totals`, per key."""
    for service, name, kind, status, calls, seconds, buckets in entries:
        key = (service, name, kind, status)
        total = totals.get(key)
        if total is None:
            totals[key] = [service, name, kind, status, calls, seconds, list(buckets)]
            continue
        total[4] += calls
        total[5] += seconds
        total[6] = [a + b for a, b in zip(total[6], buckets, strict=True)]


def span_metric_series(entries: list[Entry], at_ms: int) -> list[SeriesSamples]:
    """The connector's series for summed entries, each an increment at `at_ms`."""
    out: list[SeriesSamples] = []
    bounds = [format(bound, "g") for bound in BUCKETS] + ["+Inf"]
    for service, name, kind, status, calls, seconds, buckets in entries:
        labels = {
            "service": service,
            "span_name": name,
            "span_kind": KIND_LABELS[kind],
            "status_code": STATUS_LABELS[status],
        }
        out.append(_increment("traces_spanmetrics_calls_total", labels, calls, at_ms))
        out.append(_increment("traces_spanmetrics_duration_seconds_count", labels, calls, at_ms))
        out.append(_increment("traces_spanmetrics_duration_seconds_sum", labels, seconds, at_ms))
        bucket = "traces_spanmetrics_duration_seconds_bucket"
        for le, cumulative in zip(bounds, itertools.accumulate(buckets), strict=True):
            out.append(_increment(bucket, {**labels, "le": le}, cumulative, at_ms))
    return out


def _increment(metric: str, labels: dict[str, str], value: float, at_ms: int) -> SeriesSamples:
    return SeriesSamples(metric, labels, [at_ms], [value], is_delta=True, counted_now=True)


def record_span_metrics(rows: list[SpanRow]) -> None:
    """Queue the counts of newly stored spans (call inside the spans' transaction). A portal
    that only reads an external store writes no span metrics (docs/backends.md)."""
    if not rows or is_read_only():
        return
    with connection.cursor() as cursor:  # a plain statement: this runs for every stored batch
        cursor.execute(
            f"INSERT INTO {SpanMetricsBatch._meta.db_table} (created_at, increments) "  # noqa: S608 (constant names)
            "VALUES (%s, %s)",
            [timezone.now(), json.dumps(span_metric_counts(rows))],
        )


def fold_span_metrics(*, limit: int = 2_000) -> int:
    """Add the queued counts to the metric store, once each: the batches are claimed with
    SKIP LOCKED, summed per operation, written and deleted in one transaction. Returns how many
    batches were folded."""
    with transaction.atomic():
        batches = list(
            SpanMetricsBatch.objects.select_for_update(skip_locked=True)
            .order_by("id")
            .values_list("id", "increments")[:limit]
        )
        if not batches:
            return 0
        totals: dict[Key, Entry] = {}
        old_format: list[list[Any]] = []
        for _, entries in batches:
            # Batches queued before the counts format hold [metric, {labels}, increment].
            old_format += [entry for entry in entries if len(entry) == 3]
            add_counts(totals, [entry for entry in entries if len(entry) != 3])
        at_ms = int(time.time() * 1000)
        series = span_metric_series(list(totals.values()), at_ms)
        if old_format:
            series = _merged(series, old_format, at_ms)
        write_samples(series)
        SpanMetricsBatch.objects.filter(id__in=[batch_id for batch_id, _ in batches]).delete()
    return len(batches)


def _merged(
    series: list[SeriesSamples], old_format: list[Entry], at_ms: int
) -> list[SeriesSamples]:
    """One increment per series: the new-format series plus the old-format increments."""
    sums: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for one in series:
        sums[(one.name, tuple(sorted(one.labels.items())))] = one.values[0]
    for name, labels, value in old_format:
        key = (name, tuple(sorted(labels.items())))
        sums[key] = sums.get(key, 0) + value
    return [_increment(name, dict(labels), value, at_ms) for (name, labels), value in sums.items()]
