from __future__ import annotations

from django.contrib import admin

from incidents.action_items.models import ActionItem
from incidents.coe.models import Coe, CoeReviewPolicy, IncidentQuestion
from incidents.incident.models import Incident, TimelineEntry


class TimelineInline(admin.TabularInline):
    model = TimelineEntry
    extra = 0
    fields = ["at", "kind", "text", "author"]


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "severity", "status", "team", "started_at", "restricted"]
    list_filter = ["severity", "status", "team", "restricted"]
    search_fields = ["title"]
    inlines = [TimelineInline]


@admin.register(IncidentQuestion)
class IncidentQuestionAdmin(admin.ModelAdmin):
    list_display = ["prompt", "group", "team", "position", "active"]
    list_filter = ["group", "team", "active"]


@admin.register(CoeReviewPolicy)
class CoeReviewPolicyAdmin(admin.ModelAdmin):
    list_display = ["team"]
    filter_horizontal = ["required_reviewers"]


class ActionItemInline(admin.TabularInline):
    model = ActionItem
    extra = 0
    fields = ["title", "owner", "team", "priority", "kind", "due_date", "status"]


@admin.register(Coe)
class CoeAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "state", "team", "revision", "created_at"]
    list_filter = ["state", "team"]
    search_fields = ["title"]
    readonly_fields = ["metrics_snapshot", "versions"]
    inlines = [ActionItemInline]


@admin.register(ActionItem)
class ActionItemAdmin(admin.ModelAdmin):
    list_display = ["title", "coe", "owner", "team", "priority", "status", "due_date"]
    list_filter = ["status", "priority", "kind", "team"]
