from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from metrics.models import (
    SLO,
    Alarm,
    AlarmTransition,
    Delivery,
    NotificationChannel,
    ScrapeTarget,
    Silence,
    SLOAlertTransition,
)


@admin.register(ScrapeTarget)
class ScrapeTargetAdmin(admin.ModelAdmin):
    list_display = [
        "url",
        "service",
        "job",
        "interval_seconds",
        "enabled",
        "health",
        "last_scrape_at",
        "last_duration_seconds",
        "last_samples",
        "short_error",
    ]
    list_filter = ["enabled", "service__team", "job"]
    search_fields = ["url", "job", "service__name"]
    list_select_related = ["service"]
    autocomplete_fields = ["service"]
    readonly_fields = [
        "last_scrape_at",
        "last_duration_seconds",
        "last_samples",
        "last_error",
        "next_scrape_at",
    ]
    fields = [
        "service",
        "url",
        "job",
        "interval_seconds",
        "timeout_seconds",
        "labels",
        "enabled",
        *readonly_fields,
    ]

    @admin.display(description="health")
    def health(self, target: ScrapeTarget) -> str:
        return target.health

    @admin.display(description="last error")
    def short_error(self, target: ScrapeTarget) -> str:
        return target.last_error[:80]


@admin.register(SLO)
class SLOAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "service",
        "team",
        "objective_percent",
        "window",
        "alert_state",
        "enabled",
    ]
    list_filter = ["alert_state", "window", "team", "enabled"]
    search_fields = ["name", "service__name", "description"]
    list_select_related = ["service", "team"]
    readonly_fields = [
        "alert_state",
        "alert_since",
        "last_evaluated_at",
        "last_data_at",
        "last_figures",
        "last_error",
    ]


@admin.register(SLOAlertTransition)
class SLOAlertTransitionAdmin(admin.ModelAdmin):
    list_display = ["slo", "at", "old_state", "new_state"]
    list_filter = ["new_state"]
    list_select_related = ["slo", "slo__service"]


@admin.register(Alarm)
class AlarmAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "kind", "state", "state_changed_at", "enabled"]
    list_filter = ["kind", "state", "team", "enabled"]
    search_fields = ["name", "expression", "rule"]
    list_select_related = ["team"]
    readonly_fields = [
        "state",
        "state_reason",
        "state_changed_at",
        "last_evaluated_at",
        "last_datapoints",
        "last_error",
        "acknowledged_by",
        "acknowledged_at",
        "external_fingerprint",
        "external_labels",
        "external_last_event",
    ]


@admin.register(AlarmTransition)
class AlarmTransitionAdmin(admin.ModelAdmin):
    list_display = ["alarm", "at", "old_state", "new_state"]
    list_filter = ["new_state"]
    list_select_related = ["alarm", "alarm__team"]


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "kind", "target", "enabled"]
    list_filter = ["kind", "team", "enabled"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["subject", "channel", "status", "attempts", "last_status_code", "created_at"]
    list_filter = ["status", "channel__team"]
    search_fields = ["subject", "idempotency_key"]
    list_select_related = ["channel", "channel__team"]
    readonly_fields = [field.name for field in Delivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):
    list_display = ["__str__", "starts_at", "ends_at", "reason", "created_by"]
