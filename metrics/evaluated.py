"""What alarms and SLOs have in common: each is a rule the evaluator runs on a schedule, that
records how its last run went and may open an incident when it fires."""

from __future__ import annotations

from django.db import models

SEVERITY_CHOICES = [("SEV1", "SEV1"), ("SEV2", "SEV2"), ("SEV3", "SEV3"), ("SEV4", "SEV4")]


class EvaluatedRule(models.Model):
    open_incident_severity = models.CharField(
        max_length=4,
        blank=True,
        choices=SEVERITY_CHOICES,
        help_text="Open an incident of this severity when it fires (blank: do not).",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # How the latest evaluation went: when it ran, and what stopped it (blank: nothing).
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        abstract = True
