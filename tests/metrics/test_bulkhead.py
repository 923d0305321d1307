"""The ingest bulkhead with real threads: a burst past the slots waits for one instead of being
bounced, and only what cannot wait is shed, with the numbers on the exported metrics."""

from __future__ import annotations

import threading
import time

import pytest
from prometheus_client import REGISTRY

from metrics.ingest.errors import IngestError
from metrics.ingest.limits import Bulkhead


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def hold(bulkhead: Bulkhead, release: threading.Event, entered: threading.Barrier) -> None:
    with bulkhead.slot():
        entered.wait()
        release.wait(5)


def test_a_request_past_the_slots_waits_for_one_and_is_served():
    bulkhead = Bulkhead(slots=2, waiting=1, wait_seconds=5)
    release, entered = threading.Event(), threading.Barrier(3)
    holders = [threading.Thread(target=hold, args=(bulkhead, release, entered)) for _ in range(2)]
    for thread in holders:
        thread.start()
    entered.wait()
    assert (bulkhead.storing, sample("coe_portal_ingest_in_flight")) == (2, 2)
    threading.Timer(0.3, release.set).start()
    began = time.monotonic()
    with bulkhead.slot():  # the third waits until a holder lets go
        waited = time.monotonic() - began
    for thread in holders:
        thread.join()
    assert 0.25 <= waited < 2
    assert (bulkhead.storing, bulkhead.waiting) == (0, 0)
    assert sample("coe_portal_ingest_in_flight") == 0
    assert sample("coe_portal_ingest_waiting") == 0


def test_with_no_room_to_wait_or_after_the_wait_it_is_shed_with_retry_after():
    bulkhead = Bulkhead(slots=1, waiting=1, wait_seconds=0.2)
    release, entered = threading.Event(), threading.Barrier(2)
    holder = threading.Thread(target=hold, args=(bulkhead, release, entered))
    holder.start()
    entered.wait()
    before = {
        reason: sample("coe_portal_ingest_shed_total", reason=reason)
        for reason in ("waited too long", "no room to wait")
    }
    waiter_error: list[IngestError] = []

    def wait_in_line() -> None:
        try:
            with bulkhead.slot():
                pass
        except IngestError as error:
            waiter_error.append(error)

    waiter = threading.Thread(target=wait_in_line)
    waiter.start()
    time.sleep(0.05)
    assert bulkhead.waiting == 1
    # The one waiting place is taken.
    with pytest.raises(IngestError) as shed_at_once, bulkhead.slot():
        pass
    waiter.join()
    release.set()
    holder.join()
    assert (shed_at_once.value.status, shed_at_once.value.retry_after) == (503, 5)
    assert [e.status for e in waiter_error] == [503]  # waited 0.2 s, no slot came free
    assert sample("coe_portal_ingest_shed_total", reason="no room to wait") == (
        before["no room to wait"] + 1
    )
    assert sample("coe_portal_ingest_shed_total", reason="waited too long") == (
        before["waited too long"] + 1
    )
    assert (bulkhead.storing, bulkhead.waiting) == (0, 0)


def test_the_default_leaves_one_web_thread_for_pages(settings):
    assert settings.WEB_THREADS == 8
    assert settings.INGEST_MAX_CONCURRENCY + settings.INGEST_MAX_WAITING == 7
