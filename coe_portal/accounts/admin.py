from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from coe_portal.accounts.models import ApiToken, Membership, Service, Team
from coe_portal.accounts.services import api_token_revoke


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


class ServiceInline(admin.TabularInline):
    model = Service
    extra = 0
    fields = ["name", "tier", "runbook_url"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "display_name", "email", "created_at"]
    search_fields = ["name", "display_name"]
    inlines = [MembershipInline, ServiceInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["team", "user", "role", "joined_at"]
    list_filter = ["role", "team"]
    search_fields = ["user__username", "team__name"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "tier", "runbook_url"]
    list_filter = ["tier", "team"]
    search_fields = ["name", "description"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created from the team's token page or `create_token`: only there is the
    secret shown. Here they can be inspected and revoked."""

    list_display = ["prefix", "name", "team", "scopes", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["team"]
    search_fields = ["name", "prefix"]
    readonly_fields = [
        "team", "name", "prefix", "token_hash", "scopes", "created_by",
        "created_at", "last_used_at", "revoked_at",
    ]  # fmt: skip
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            api_token_revoke(token=token)
        messages.success(request, f"Revoked {queryset.count()} token(s).")
