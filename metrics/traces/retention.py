"""Trace retention: spans are dropped by whole UTC days, with the resources of those days.
On PostgreSQL a day is a partition and goes with DROP TABLE; what the default partition holds
and everything on SQLite goes in bounded deletes, so a large backlog never holds one long
transaction. Each pass also creates today's and tomorrow's partitions ahead of the intake."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import OperationalError

from metrics.traces.models import NANOS_PER_DAY, Span, SpanResource
from metrics.traces.partitions import (
    drop_span_partitions_before,
    ensure_span_partitions,
    partitioned,
)

DELETE_BATCH = 50_000
log = logging.getLogger(__name__)


def enforce_trace_retention(*, now_ns: int | None = None) -> int:
    """Remove the spans of days older than TRACES_RETENTION_DAYS; returns how many."""
    today = (now_ns if now_ns is not None else time.time_ns()) // NANOS_PER_DAY
    first_kept = today - settings.TRACES_RETENTION_DAYS + 1
    removed = 0
    if partitioned():
        ensure_span_partitions([today, today + 1])
        try:
            removed += drop_span_partitions_before(first_kept)
        except OperationalError as error:  # the lock timeout: readers held the table
            log.warning("span partitions not dropped this pass: %s", error)
    removed += _delete_spans_before(first_kept * NANOS_PER_DAY)
    SpanResource.objects.filter(day__lt=first_kept).delete()
    return removed


def _delete_spans_before(cutoff_ns: int) -> int:
    """Bounded deletes (of the default partition's rows, on PostgreSQL): up to the start of the
    DELETE_BATCH-th oldest span at a time."""
    deleted = 0
    while True:
        old = Span.objects.filter(start_ns__lt=cutoff_ns)
        boundary = list(
            old.order_by("start_ns").values_list("start_ns", flat=True)[
                DELETE_BATCH - 1 : DELETE_BATCH
            ]
        )
        if boundary:
            old = old.filter(start_ns__lte=boundary[0])
        count, _ = old.delete()
        deleted += count
        if not boundary:
            return deleted
