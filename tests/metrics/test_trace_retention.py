"""Trace retention drops whole UTC days of spans with their resources; on PostgreSQL a day is a
partition, made as spans of that day arrive (or ahead of time by the retention pass)."""

from __future__ import annotations

import pytest
from django.db import connection

from metrics.traces.convert import SpanRow
from metrics.traces.models import NANOS_PER_DAY, Span, SpanResource
from metrics.traces.partitions import day_partitions, partition_name, partitioned
from metrics.traces.retention import enforce_trace_retention
from metrics.traces.store import store_spans

pytestmark = pytest.mark.django_db
TODAY = 20_600  # days since the epoch: 2026-05-25
NOON = 12 * 3_600 * 10**9


def row(span_id: str, day: int, service: str = "cart") -> SpanRow:
    return SpanRow(
        trace_id="ab" * 16, span_id=span_id, parent_span_id="", service=service,
        name="GET /cart", kind=Span.Kind.SERVER, start_ns=day * NANOS_PER_DAY + 5,
        duration_ns=10, status_code=0, status_message="", attributes={},
        resource={"service.name": service}, events=[], links=[],
    )  # fmt: skip


def days_stored() -> list[int]:
    starts = Span.objects.values_list("start_ns", flat=True)
    return sorted(start // NANOS_PER_DAY for start in starts)


def test_whole_days_older_than_the_retention_go_with_their_resources(settings):
    settings.TRACES_RETENTION_DAYS = 7
    store_spans([row(f"{offset + 1:016x}", TODAY - offset) for offset in (0, 6, 7, 30)], team=None)
    # A span written straight through the ORM (no partition made for it) goes as well.
    Span.objects.create(
        trace_id="cd" * 16, span_id="00000000000000ff", service="cart", name="GET /",
        start_ns=(TODAY - 9) * NANOS_PER_DAY, duration_ns=1,
    )  # fmt: skip
    assert enforce_trace_retention(now_ns=TODAY * NANOS_PER_DAY + NOON) == 3
    assert days_stored() == [TODAY - 6, TODAY]
    assert sorted(SpanResource.objects.values_list("day", flat=True)) == [TODAY - 6, TODAY]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions are PostgreSQL's")
def test_on_postgresql_each_day_is_a_partition_and_old_ones_are_dropped(settings):
    settings.TRACES_RETENTION_DAYS = 7
    store_spans([row("0000000000000001", TODAY - 8), row("0000000000000002", TODAY)], team=None)
    assert set(day_partitions()) >= {TODAY - 8, TODAY}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT span_id FROM {partition_name(TODAY)}")  # noqa: S608
        assert cursor.fetchall() == [("0000000000000002",)]
    enforce_trace_retention(now_ns=TODAY * NANOS_PER_DAY + NOON)
    partitions = set(day_partitions())
    assert TODAY - 8 not in partitions
    assert {TODAY, TODAY + 1} <= partitions  # tomorrow's is made ahead of the intake


@pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions are PostgreSQL's")
def test_spans_in_the_default_partition_move_to_their_day_when_it_is_made():
    Span.objects.create(
        trace_id="cd" * 16, span_id="00000000000000aa", service="cart", name="GET /",
        start_ns=(TODAY + 3) * NANOS_PER_DAY + 7, duration_ns=1,
    )  # fmt: skip
    assert partitioned()
    store_spans([row("00000000000000bb", TODAY + 3)], team=None)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT span_id FROM {partition_name(TODAY + 3)} ORDER BY span_id")  # noqa: S608
        assert cursor.fetchall() == [("00000000000000aa",), ("00000000000000bb",)]
        cursor.execute("SELECT count(*) FROM metrics_span_default")
        assert cursor.fetchone() == (0,)


def test_a_span_sent_again_is_stored_once_and_counted_once():
    first = store_spans([row("0000000000000001", TODAY), row("0000000000000002", TODAY)], team=None)
    again = store_spans([row("0000000000000001", TODAY), row("0000000000000003", TODAY)], team=None)
    assert [r.span_id for r in first] == ["0000000000000001", "0000000000000002"]
    assert [r.span_id for r in again] == ["0000000000000003"]
    assert Span.objects.count() == 3
    assert SpanResource.objects.count() == 1


def test_old_spans_outside_day_partitions_go_in_bounded_batches(settings, monkeypatch):
    settings.TRACES_RETENTION_DAYS = 7
    monkeypatch.setattr("metrics.traces.retention.DELETE_BATCH", 2)
    for n in range(5):  # through the ORM: no day partition is made for them
        Span.objects.create(
            trace_id="ef" * 16, span_id=f"{n + 1:016x}", service="cart", name="GET /",
            start_ns=(TODAY - 20 + n) * NANOS_PER_DAY, duration_ns=1,
        )  # fmt: skip
    store_spans([row("00000000000000aa", TODAY)], team=None)
    assert enforce_trace_retention(now_ns=TODAY * NANOS_PER_DAY + NOON) == 5
    assert days_stored() == [TODAY]
