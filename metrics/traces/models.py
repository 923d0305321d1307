"""Stored spans. A span is identified by (trace id, span id, start): storing the same span again
does nothing, so an exporter's retry never duplicates it. Times are Unix nanoseconds, as in OTLP.

On PostgreSQL the span table is partitioned by UTC day of the start (see
`metrics.traces.partitions`): retention drops whole days, and the start is part of the key
because a partitioned table's key must hold the partition column."""

from __future__ import annotations

from django.db import models

from coe_portal.accounts.models import Team

NANOS_PER_DAY = 86_400 * 10**9


class Span(models.Model):
    class Kind(models.IntegerChoices):
        UNSPECIFIED = 0, "unspecified"
        INTERNAL = 1, "internal"
        SERVER = 2, "server"
        CLIENT = 3, "client"
        PRODUCER = 4, "producer"
        CONSUMER = 5, "consumer"

    class StatusCode(models.IntegerChoices):
        UNSET = 0, "unset"
        OK = 1, "ok"
        ERROR = 2, "error"

    # The key's first column finds a whole trace.
    pk = models.CompositePrimaryKey("trace_id", "span_id", "start_ns")
    trace_id = models.CharField(max_length=32, help_text="32 hex digits.")
    span_id = models.CharField(max_length=16, help_text="16 hex digits.")
    parent_span_id = models.CharField(max_length=16, blank=True)
    service = models.CharField(max_length=200)
    name = models.CharField(max_length=300)
    kind = models.SmallIntegerField(choices=Kind.choices, default=Kind.UNSPECIFIED)
    start_ns = models.BigIntegerField()
    duration_ns = models.BigIntegerField()
    status_code = models.SmallIntegerField(choices=StatusCode.choices, default=StatusCode.UNSET)
    status_message = models.TextField(blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    # The SpanResource's key: the resource is stored once, not on every span.
    resource_key = models.BigIntegerField(default=0)
    events = models.JSONField(default=list, blank=True)
    links = models.JSONField(default=list, blank=True)
    # The token's team, kept as a record: no constraint or index to maintain on every insert.
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_constraint=False, db_index=False,
    )  # fmt: skip

    class Meta:
        indexes = [
            models.Index(fields=["service", "start_ns"], name="span_service_start"),
            # A BRIN index on PostgreSQL (spans arrive roughly in start order), a B-tree on SQLite.
            models.Index(fields=["start_ns"], name="span_start"),
        ]

    def __str__(self) -> str:
        return f"{self.service}: {self.name} ({self.trace_id}/{self.span_id})"

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.duration_ns


class SpanResource(models.Model):
    """A resource spans came from (service.name, host, SDK, ...), stored once for each UTC day
    it has spans on, so that retention removes it with the last of them. `key` is a hash of
    the attributes (`metrics.traces.store.resource_key`)."""

    pk = models.CompositePrimaryKey("key", "day")
    key = models.BigIntegerField()
    day = models.IntegerField()
    attributes = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"{self.attributes.get('service.name', 'resource')} ({self.key:x}, day {self.day})"


class SpanMetricsBatch(models.Model):
    """The span metric counts of one stored batch of spans, written in the same transaction
    as the spans and folded into the metric store by beat (`fold_span_metrics`): the intake
    appends a row instead of locking the shared counter series on every request."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # [[service, span name, kind, status, calls, seconds, [count per bucket]], ...]
    # (batches queued by earlier versions hold [[metric, {labels}, increment], ...])
    increments = models.JSONField()

    def __str__(self) -> str:
        return f"span metrics batch {self.pk}"
