"""Notification channels and deliveries (an outbox: a delivery row is written in the same
transaction as the state change it announces, then sent by a Celery task)."""

from __future__ import annotations

from django.db import models

from coe_portal.accounts.models import Team


class NotificationChannel(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook (JSON)"
        SLACK = "slack", "Slack-compatible incoming webhook"
        ALERTMANAGER = "alertmanager", "Alertmanager webhook payload (version 4)"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="channels")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    target = models.TextField(help_text="The URL, or email addresses separated by commas.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="channel_unique_team_name")
        ]

    def __str__(self) -> str:
        return f"{self.team.name}/{self.name} ({self.kind})"


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        RETRYING = "retrying", "Waiting to retry"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        SILENCED = "silenced", "Held back by a silence"

    channel = models.ForeignKey(
        NotificationChannel, on_delete=models.CASCADE, related_name="deliveries"
    )
    # One delivery per (state change, channel): the unique key is what makes it exactly once.
    idempotency_key = models.CharField(max_length=200, unique=True)
    # The state change announced, e.g. "alarm-transition:12": the delivery log of an alarm.
    source_key = models.CharField(max_length=100, db_index=True, default="")
    subject = models.CharField(max_length=300)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="delivery_status_created")]

    def __str__(self) -> str:
        return f"{self.subject} → {self.channel} ({self.status})"
