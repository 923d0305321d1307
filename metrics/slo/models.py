"""SLOs as stored, their latest figures, and their alert state changes."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from coe_portal.accounts.models import Service, Team
from metrics.evaluated import EvaluatedRule
from metrics.slo.spec import LatencySLI, RatioSLI, SLOSpec


class SLO(EvaluatedRule):
    class SLIKind(models.TextChoices):
        RATIO = "ratio", "Ratio of events (good/total or bad/total)"
        LATENCY = "latency", "Latency: requests faster than a threshold"

    class Window(models.TextChoices):
        D7 = "7d", "7 days, rolling"
        D28 = "28d", "28 days, rolling"
        D30 = "30d", "30 days, rolling"
        MONTH = "month", "Calendar month"
        QUARTER = "quarter", "Calendar quarter"

    class Budgeting(models.TextChoices):
        OCCURRENCES = "Occurrences", "Occurrences (good events / all events)"
        TIMESLICES = "Timeslices", "Timeslices (good minutes / all minutes)"

    class AlertState(models.TextChoices):
        OK = "ok", "OK"
        TICKET = "ticket", "Ticket"
        PAGE = "page", "Page"
        NO_DATA = "no_data", "No data"

    name = models.SlugField(max_length=100)
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="slos")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="slos")
    description = models.TextField(blank=True)
    sli_kind = models.CharField(max_length=16, choices=SLIKind.choices, default=SLIKind.RATIO)
    good_query = models.TextField(blank=True)
    bad_query = models.TextField(blank=True)
    total_query = models.TextField(blank=True)
    latency_histogram = models.CharField(max_length=200, blank=True)
    latency_threshold_seconds = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True
    )
    latency_matchers = models.CharField(max_length=500, blank=True)
    objective_percent = models.DecimalField(
        max_digits=7, decimal_places=4,
        validators=[MinValueValidator(Decimal("0.0001")), MaxValueValidator(Decimal("99.9999"))],
    )  # fmt: skip
    window = models.CharField(max_length=8, choices=Window.choices, default=Window.D30)
    time_zone = models.CharField(max_length=64, default="UTC")
    budgeting_method = models.CharField(
        max_length=16, choices=Budgeting.choices, default=Budgeting.OCCURRENCES
    )
    timeslice_target_percent = models.DecimalField(
        max_digits=7, decimal_places=4, null=True, blank=True
    )
    min_events = models.PositiveIntegerField(
        default=0, help_text="Fewer events than this in the short alert window: no burn alert."
    )
    no_data_after_minutes = models.PositiveIntegerField(
        default=15, help_text="Alert when the SLI's series have been absent this long."
    )
    notification_channels = models.ManyToManyField(
        "metrics.NotificationChannel",
        blank=True,
        related_name="+",
        help_text="Where this SLO's alerts go; none chosen: all of the team's channels.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    # Figures of the latest evaluation, for lists and the API.
    alert_state = models.CharField(max_length=16, choices=AlertState.choices, default=AlertState.OK)
    alert_since = models.DateTimeField(null=True, blank=True)
    last_data_at = models.DateTimeField(null=True, blank=True)
    last_figures = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["service__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["service", "name"], name="slo_unique_service_name")
        ]
        verbose_name = "SLO"

    def __str__(self) -> str:
        return f"{self.service.name}/{self.name}"

    def get_absolute_url(self) -> str:
        return reverse("metrics:slo-detail", args=[self.pk])

    def to_spec(self) -> SLOSpec:
        sli: RatioSLI | LatencySLI
        if self.sli_kind == self.SLIKind.LATENCY:
            sli = LatencySLI(
                self.latency_histogram,
                self.latency_threshold_seconds or Decimal(0),
                self.latency_matchers,
            )
        else:
            sli = RatioSLI(
                total_query=self.total_query,
                good_query=self.good_query or None,
                bad_query=self.bad_query or None,
            )
        return SLOSpec(
            name=self.name,
            service=self.service.name,
            objective_percent=self.objective_percent.normalize(),
            sli=sli,
            window=self.window,
            description=self.description,
            time_zone=self.time_zone,
            budgeting=self.budgeting_method,
            timeslice_target_percent=self.timeslice_target_percent,
            min_events=self.min_events,
        )


class SLOAlertTransition(models.Model):
    """One change of an SLO's alert state, kept for history and notification."""

    slo = models.ForeignKey(SLO, on_delete=models.CASCADE, related_name="transitions")
    at = models.DateTimeField()
    old_state = models.CharField(max_length=16, choices=SLO.AlertState.choices)
    new_state = models.CharField(max_length=16, choices=SLO.AlertState.choices)
    reason = models.TextField()
    details = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["slo", "-at"], name="slotransition_slo_at")]

    def __str__(self) -> str:
        return f"{self.slo}: {self.old_state} → {self.new_state} at {self.at:%Y-%m-%d %H:%M}"
