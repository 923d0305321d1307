"""Trace retention: spans are dropped by whole UTC days (everything that started before the
first kept day, found through the start index), in bounded deletes so a large backlog never
holds one long transaction."""

from __future__ import annotations

import time

from django.conf import settings

from metrics.traces.models import NANOS_PER_DAY, Span

DELETE_BATCH = 50_000


def enforce_trace_retention(*, now_ns: int | None = None) -> int:
    """Delete the spans of days older than TRACES_RETENTION_DAYS; returns how many."""
    today = (now_ns if now_ns is not None else time.time_ns()) // NANOS_PER_DAY
    first_kept = today - settings.TRACES_RETENTION_DAYS + 1
    deleted = 0
    while True:
        old = Span.objects.filter(start_ns__lt=first_kept * NANOS_PER_DAY)
        ids = list(old.values_list("id", flat=True)[:DELETE_BATCH])
        if not ids:
            return deleted
        count, _ = Span.objects.filter(id__in=ids).delete()
        deleted += count
