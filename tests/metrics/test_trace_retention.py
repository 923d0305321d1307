from __future__ import annotations

import pytest

from metrics.traces.models import NANOS_PER_DAY, Span
from metrics.traces.retention import enforce_trace_retention

pytestmark = pytest.mark.django_db
TODAY = 20_600  # days since the epoch


def add(span_id: str, day: int) -> None:
    Span.objects.create(
        trace_id="ab" * 16, span_id=span_id, service="cart", name="GET /cart",
        start_ns=day * NANOS_PER_DAY + 5, duration_ns=10, day=day,
    )  # fmt: skip


def test_whole_days_older_than_the_retention_go(settings):
    settings.TRACES_RETENTION_DAYS = 7
    for offset in (0, 6, 7, 30):
        add(f"{offset + 1:016x}", TODAY - offset)
    now = TODAY * NANOS_PER_DAY + 12 * 3_600 * 10**9
    assert enforce_trace_retention(now_ns=now) == 2
    assert sorted(Span.objects.values_list("day", flat=True)) == [TODAY - 6, TODAY]
