"""A bulkhead for ingestion: a few requests at a time per process, the rest shed at once.

Ingest must not take every web thread and starve the UI. A request that finds no free slot
gets 503 with Retry-After (Prometheus 2.42 does not retry a 429 by default, but retries a 503).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from metrics.ingest.errors import IngestError

_slots: threading.BoundedSemaphore | None = None
_slots_lock = threading.Lock()


def _semaphore() -> threading.BoundedSemaphore:
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(max(1, settings.INGEST_MAX_CONCURRENCY))
        return _slots


@contextmanager
def ingest_slot() -> Iterator[None]:
    slots = _semaphore()
    if not slots.acquire(blocking=False):
        raise IngestError(
            503,
            "too many ingest requests in progress; retry later",
            retry_after=settings.INGEST_RETRY_AFTER_SECONDS,
        )
    try:
        yield
    finally:
        slots.release()
