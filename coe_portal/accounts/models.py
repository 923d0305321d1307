"""Teams own services and API tokens; users belong to teams as members or leads."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse


class Team(models.Model):
    name = models.SlugField(max_length=64, unique=True, help_text="Short, URL-safe name.")
    display_name = models.CharField(max_length=128, blank=True)
    description = models.TextField(blank=True)
    email = models.EmailField(blank=True, help_text="Where team-wide notices go.")
    members: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="teams"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.display_name or self.name

    def get_absolute_url(self) -> str:
        return reverse("accounts:team-detail", args=[self.name])


class Membership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        LEAD = "lead", "Lead"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="membership_unique_team_user")
        ]
        ordering = ["team__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class Service(models.Model):
    class Tier(models.IntegerChoices):
        TIER_1 = 1, "Tier 1: customer-facing, critical"
        TIER_2 = 2, "Tier 2: important, degraded experience if down"
        TIER_3 = 3, "Tier 3: internal or best effort"

    name = models.SlugField(max_length=64, unique=True)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="services")
    tier = models.PositiveSmallIntegerField(
        choices=Tier.choices,
        default=Tier.TIER_2,
        validators=[MinValueValidator(1), MaxValueValidator(3)],
    )
    description = models.TextField(blank=True)
    runbook_url = models.URLField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("accounts:service-detail", args=[self.name])


class ApiToken(models.Model):
    """A bearer token for the API and ingest endpoints. Only a SHA-256 of it is stored."""

    class Scope(models.TextChoices):
        INGEST = "ingest", "ingest: send telemetry"
        READ = "read", "read: query metrics, traces and reports"
        WRITE = "write", "write: change SLOs, alarms, incidents"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(
        max_length=100, help_text="What uses this token, e.g. 'otel-collector'."
    )
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise a token.")
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.team}: {self.name})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
