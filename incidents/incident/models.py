"""Incidents and their timelines."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from coe_portal.accounts.models import Service, Team


class Severity(models.TextChoices):
    SEV1 = "SEV1", "SEV1: critical, customers broadly affected, all hands"
    SEV2 = "SEV2", "SEV2: major, a key feature down or many customers affected"
    SEV3 = "SEV3", "SEV3: minor, degraded for some customers, a workaround exists"
    SEV4 = "SEV4", "SEV4: low, no customer impact yet, needs attention"


COE_REQUIRED_SEVERITIES = (Severity.SEV1, Severity.SEV2)


class Incident(models.Model):
    class Status(models.TextChoices):
        INVESTIGATING = "investigating", "Investigating"
        IDENTIFIED = "identified", "Identified"
        MITIGATED = "mitigated", "Mitigated"
        RESOLVED = "resolved", "Resolved"

    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=4, choices=Severity.choices, default=Severity.SEV3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INVESTIGATING)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="incidents")
    services = models.ManyToManyField(Service, blank=True, related_name="incidents")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="led_incidents", help_text="The incident lead.",
    )  # fmt: skip
    summary = models.TextField(blank=True, help_text="Customer-facing summary.")
    started_at = models.DateTimeField()
    detected_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    alarms = models.ManyToManyField("metrics.Alarm", blank=True, related_name="incidents")
    slos = models.ManyToManyField("metrics.SLO", blank=True, related_name="incidents")
    restricted = models.BooleanField(
        default=False, help_text="Visible only to the owning team and the teams named below."
    )
    visible_to = models.ManyToManyField(Team, blank=True, related_name="restricted_incidents")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("incidents:incident-detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.RESOLVED

    @property
    def coe_required(self) -> bool:
        """SEV1 and SEV2 incidents need a COE once resolved."""
        return self.severity in COE_REQUIRED_SEVERITIES and not self.is_open


class TimelineEntry(models.Model):
    class Kind(models.TextChoices):
        ALARM = "alarm", "Alarm transition"
        STATUS = "status", "Status change"
        NOTE = "note", "Note"
        DEPLOY = "deploy", "Deploy"
        ACTION = "action", "Action"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    text = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}: {self.text[:60]}"


class TimelineRevision(models.Model):
    """The text an entry had before an edit: the history is kept."""

    entry = models.ForeignKey(TimelineEntry, on_delete=models.CASCADE, related_name="revisions")
    text = models.TextField()
    replaced_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["replaced_at", "id"]

    def __str__(self) -> str:
        return f"revision of entry {self.entry_id} at {self.replaced_at:%Y-%m-%d %H:%M}"
