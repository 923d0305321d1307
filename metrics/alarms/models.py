"""Alarms as stored (threshold and composite), their state, and their state changes."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse

from coe_portal.accounts.models import Service, Team
from metrics.alarms import validation
from metrics.evaluated import EvaluatedRule


class Alarm(EvaluatedRule):
    class Kind(models.TextChoices):
        THRESHOLD = validation.THRESHOLD, "Threshold on a PromQL expression"
        COMPOSITE = validation.COMPOSITE, "Composite: a rule over other alarms"
        EXTERNAL = validation.EXTERNAL, "External: an alert sent by Alertmanager"

    class State(models.TextChoices):
        OK = "OK", "OK"
        ALARM = "ALARM", "In alarm"
        INSUFFICIENT_DATA = "INSUFFICIENT_DATA", "Insufficient data"

    class Comparison(models.TextChoices):
        GT = ">", "greater than"
        GE = ">=", "greater than or equal to"
        LT = "<", "less than"
        LE = "<=", "less than or equal to"

    class MissingData(models.TextChoices):
        MISSING = "missing", "missing: not enough data makes the state INSUFFICIENT_DATA"
        NOT_BREACHING = "notBreaching", "notBreaching: missing points are good"
        BREACHING = "breaching", "breaching: missing points are bad"
        IGNORE = "ignore", "ignore: keep the current state"

    name = models.SlugField(max_length=100)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="alarms")
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.SET_NULL, related_name="alarms"
    )
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.THRESHOLD)
    expression = models.TextField(
        blank=True, help_text="PromQL returning one series, evaluated at the end of each period."
    )
    period_seconds = models.PositiveIntegerField(default=60, validators=[MinValueValidator(10)])
    evaluation_periods = models.PositiveIntegerField(default=3, validators=[MinValueValidator(1)])
    datapoints_to_alarm = models.PositiveIntegerField(default=3, validators=[MinValueValidator(1)])
    comparison = models.CharField(max_length=2, choices=Comparison.choices, default=Comparison.GT)
    threshold = models.FloatField(default=0.0)
    treat_missing_data = models.CharField(
        max_length=16, choices=MissingData.choices, default=MissingData.MISSING
    )
    rule = models.TextField(
        blank=True, help_text="Composite alarms: e.g. ALARM(a) AND (ALARM(b) OR NOT OK(c))."
    )
    # External alarms: the sender's identity of the alert, its labels, and the last event seen.
    external_fingerprint = models.CharField(max_length=64, blank=True)
    external_labels = models.JSONField(default=dict, blank=True)
    external_last_event = models.CharField(max_length=100, blank=True)
    notification_channels = models.ManyToManyField(
        "metrics.NotificationChannel",
        blank=True,
        related_name="+",
        help_text="Where this alarm's changes go; none chosen: all of the team's channels.",
    )

    state = models.CharField(max_length=20, choices=State.choices, default=State.INSUFFICIENT_DATA)
    state_reason = models.TextField(blank=True, default="Not evaluated yet.")
    state_changed_at = models.DateTimeField(null=True, blank=True)
    last_datapoints = models.JSONField(default=list, blank=True)
    # Someone is on it: set while in ALARM, cleared by the next state change.
    acknowledged_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["team__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="alarm_unique_team_name")
        ]

    def __str__(self) -> str:
        return f"{self.team.name}/{self.name}"

    def get_absolute_url(self) -> str:
        return reverse("metrics:alarm-detail", args=[self.pk])

    def problems(self) -> dict[str, str]:
        """What is wrong with the settings, by field (`validation.alarm_problems`)."""
        siblings: dict[str, str] = {}
        if self.kind == self.Kind.COMPOSITE:
            others = Alarm.objects.filter(team_id=self.team_id).exclude(pk=self.pk)
            siblings = {
                name: rule if kind == self.Kind.COMPOSITE else ""
                for name, kind, rule in others.values_list("name", "kind", "rule")
            }
        return validation.alarm_problems(self, siblings)

    def clean(self) -> None:
        problems = self.problems()
        if problems:
            raise ValidationError(problems)


class AlarmTransition(models.Model):
    alarm = models.ForeignKey(Alarm, on_delete=models.CASCADE, related_name="transitions")
    at = models.DateTimeField()
    old_state = models.CharField(max_length=20, choices=Alarm.State.choices)
    new_state = models.CharField(max_length=20, choices=Alarm.State.choices)
    reason = models.TextField()
    datapoints = models.JSONField(default=list)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["alarm", "-at"], name="alarmtransition_alarm_at")]

    def __str__(self) -> str:
        return f"{self.alarm}: {self.old_state} → {self.new_state} at {self.at:%Y-%m-%d %H:%M}"
