"""Metric storage: series (identity and labels), their label index, and sample chunks."""

from __future__ import annotations

from django.db import models

from coe_portal.accounts.models import ApiToken, Team


class Series(models.Model):
    """One time series: a metric name and a label set, identified by their 64-bit hash."""

    id = models.BigAutoField(primary_key=True)
    metric_name = models.CharField(max_length=200, db_index=True)
    labels = models.JSONField(default=dict, help_text="Labels other than __name__.")
    labels_hash = models.BigIntegerField(unique=True)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="series"
    )
    created_by_token = models.ForeignKey(
        ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="series"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Newest sample written, to refuse out-of-order and conflicting duplicate samples.
    last_timestamp = models.BigIntegerField(null=True, blank=True)
    # Value of that sample (None for NaN); also the running total for OTLP delta sums.
    last_value = models.FloatField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "series"

    def __str__(self) -> str:
        inner = ",".join(f'{key}="{value}"' for key, value in sorted(self.labels.items()))
        return f"{self.metric_name}{{{inner}}}"


class SeriesLabel(models.Model):
    """The label index: one row per series and label, to select series by matchers."""

    id = models.BigAutoField(primary_key=True)
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="label_rows")
    name = models.CharField(max_length=128)
    value = models.CharField(max_length=2048)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["series", "name"], name="serieslabel_unique_name")
        ]
        indexes = [models.Index(fields=["name", "value"], name="serieslabel_name_value")]

    def __str__(self) -> str:
        return f'{self.name}="{self.value}"'


class Chunk(models.Model):
    """Samples of one series within one time block, packed by `storage.encoding`."""

    id = models.BigAutoField(primary_key=True)
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="chunks")
    block = models.BigIntegerField(help_text="Start of the time block (ms since the epoch).")
    min_time = models.BigIntegerField()
    max_time = models.BigIntegerField()
    count = models.IntegerField()
    data = models.BinaryField()

    class Meta:
        indexes = [
            models.Index(fields=["series", "max_time"], name="chunk_series_max_time"),
            models.Index(fields=["block"], name="chunk_block"),
        ]

    def __str__(self) -> str:
        return f"chunk of series {self.series_id}: {self.count} samples from {self.min_time}"


from metrics.alarms.models import Alarm, AlarmTransition  # noqa: E402,F401
from metrics.notify.models import Delivery, NotificationChannel  # noqa: E402,F401
from metrics.notify.silences import Silence  # noqa: E402,F401
from metrics.scrape_models import ScrapeTarget  # noqa: E402,F401
from metrics.slo.models import SLO, SLOAlertTransition  # noqa: E402,F401
from metrics.traces.models import Span, SpanMetricsBatch  # noqa: E402,F401
