"""A bulkhead for ingestion: a few requests store at a time per process, a few more wait briefly
for a slot, the rest are shed at once.

Ingest must not take every web thread and starve the UI. `INGEST_MAX_CONCURRENCY` requests store
at once; past that, up to `INGEST_MAX_WAITING` wait up to `INGEST_MAX_WAIT_MS` for a slot (a
burst is absorbed rather than bounced); the default leaves one web thread of the process free for
pages. A request that finds no slot and no room to wait, or waits too long, gets 503 with
Retry-After (Prometheus 2.42 does not retry a 429 by default, but retries a 503).

More slots than the store can use add latency, not throughput: `python -m benchmarks.capacity`
measures where intake throughput stops rising (docs/metrics.md has the figures behind the
default). The slots, the requests storing and waiting, the waits and the shed requests are
exported on `/metrics`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from prometheus_client import Counter, Gauge, Histogram

from metrics.ingest.errors import IngestError

SLOTS = Gauge(
    "coe_portal_ingest_slots",
    "Intake requests that may store at once (summed over live processes).",
    multiprocess_mode="livesum",
)
STORING = Gauge(
    "coe_portal_ingest_in_flight",
    "Intake requests storing now.",
    multiprocess_mode="livesum",
)
WAITING = Gauge(
    "coe_portal_ingest_waiting",
    "Intake requests waiting for a slot now.",
    multiprocess_mode="livesum",
)
SHED = Counter(
    "coe_portal_ingest_shed_total",
    "Intake requests answered 503 because no slot came free, by why.",
    ["reason"],
)
WAITED = Histogram(
    "coe_portal_ingest_wait_seconds",
    "How long intake requests waited for a slot (0 for those that found one free).",
    buckets=(0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0),
)


class Bulkhead:
    def __init__(self, slots: int, waiting: int, wait_seconds: float) -> None:
        self.slots = max(1, slots)
        self.max_waiting = max(0, waiting)
        self.wait_seconds = max(0.0, wait_seconds)
        self.storing = 0
        self.waiting = 0
        self._free = threading.Condition()
        SLOTS.set(self.slots)

    @contextmanager
    def slot(self) -> Iterator[None]:
        self._enter()
        try:
            yield
        finally:
            with self._free:
                self.storing -= 1
                STORING.dec()
                self._free.notify()

    def _enter(self) -> None:
        began = time.monotonic()
        with self._free:
            if self.storing >= self.slots:
                if self.waiting >= self.max_waiting or not self.wait_seconds:
                    SHED.labels("no room to wait").inc()
                    raise _shed()
                self.waiting += 1
                WAITING.inc()
                try:
                    got = self._free.wait_for(
                        lambda: self.storing < self.slots, timeout=self.wait_seconds
                    )
                finally:
                    self.waiting -= 1
                    WAITING.dec()
                if not got:
                    SHED.labels("waited too long").inc()
                    raise _shed()
            self.storing += 1
            STORING.inc()
        WAITED.observe(time.monotonic() - began)


def _shed() -> IngestError:
    return IngestError(
        503,
        "too many ingest requests in progress; retry later",
        retry_after=settings.INGEST_RETRY_AFTER_SECONDS,
    )


_bulkhead: Bulkhead | None = None
_bulkhead_lock = threading.Lock()


def bulkhead() -> Bulkhead:
    global _bulkhead
    with _bulkhead_lock:
        if _bulkhead is None:
            _bulkhead = Bulkhead(
                settings.INGEST_MAX_CONCURRENCY,
                settings.INGEST_MAX_WAITING,
                settings.INGEST_MAX_WAIT_MS / 1000,
            )
        return _bulkhead


def reset() -> None:
    """Size the bulkhead again from the settings (tests change them)."""
    global _bulkhead
    with _bulkhead_lock:
        _bulkhead = None


@contextmanager
def ingest_slot() -> Iterator[None]:
    with bulkhead().slot():
        yield
