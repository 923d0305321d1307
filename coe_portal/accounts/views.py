"""Team, service and API token pages, and the `whoami` API call."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from coe_portal.accounts.auth import request_user, token_required
from coe_portal.accounts.forms import ApiTokenForm
from coe_portal.accounts.models import ApiToken, Membership, Service, Team
from coe_portal.accounts.policy import Action, allowed, require
from coe_portal.accounts.services import api_token_create, api_token_revoke
from metrics.storage.cardinality import token_usage


def get_team_for_member(request: HttpRequest, name: str) -> Team:
    team = get_object_or_404(Team, name=name)
    require(request_user(request), Action.SEE_TEAM_TOKENS, team)
    return team


@require_GET
def team_list(request: HttpRequest) -> HttpResponse:
    teams = Team.objects.annotate(
        service_count=Count("services", distinct=True),
        member_count=Count("memberships", distinct=True),
    )
    return render(request, "accounts/team_list.html", {"teams": teams})


@require_GET
def team_detail(request: HttpRequest, name: str) -> HttpResponse:
    team = get_object_or_404(Team, name=name)
    memberships = Membership.objects.filter(team=team).select_related("user")
    context = {
        "team": team,
        "memberships": memberships,
        "services": team.services.all(),
        "is_member": allowed(request_user(request), Action.SEE_TEAM_TOKENS, team),
    }
    return render(request, "accounts/team_detail.html", context)


@require_GET
def service_list(request: HttpRequest) -> HttpResponse:
    services = Service.objects.select_related("team")
    team_filter = request.GET.get("team", "")
    if team_filter:
        services = services.filter(team__name=team_filter)
    context = {"services": services, "teams": Team.objects.all(), "team_filter": team_filter}
    return render(request, "accounts/service_list.html", context)


@require_GET
def service_detail(request: HttpRequest, name: str) -> HttpResponse:
    service = get_object_or_404(Service.objects.select_related("team"), name=name)
    return render(request, "accounts/service_detail.html", {"service": service})


@never_cache
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest, name: str) -> HttpResponse:
    team = get_team_for_member(request, name)
    can_manage = allowed(request_user(request), Action.MANAGE_TEAM, team)
    issued = None
    form = ApiTokenForm()
    if request.method == "POST":
        require(request_user(request), Action.MANAGE_TEAM, team)
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            issued = api_token_create(
                team=team,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                created_by=request_user(request),
            )
            form = ApiTokenForm()
    tokens = team.api_tokens.select_related("created_by")
    usage = {entry.token.pk: entry for entry in token_usage(tokens.filter(revoked_at__isnull=True))}
    context = {
        "team": team,
        "tokens": [(token, usage.get(token.pk)) for token in tokens],
        "near_limit": [entry for entry in usage.values() if entry.near_limit],
        "active_minutes": settings.METRICS_ACTIVE_SERIES_MINUTES,
        "form": form,
        "can_manage": can_manage,
        # The secret is in this one response only; it is never stored or shown again.
        "issued": issued,
    }
    status = 201 if issued else (400 if form.errors else 200)
    return render(request, "accounts/token_list.html", context, status=status)


@require_POST
def token_revoke(request: HttpRequest, name: str, token_id: int) -> HttpResponse:
    team = get_team_for_member(request, name)
    require(request_user(request), Action.MANAGE_TEAM, team)
    token = get_object_or_404(ApiToken, pk=token_id, team=team)
    api_token_revoke(token=token)
    messages.success(request, f"Token {token.prefix}… ({token.name}) is revoked.")
    return redirect("accounts:token-list", name=team.name)


@require_GET
@token_required("read")
def whoami(request: HttpRequest) -> JsonResponse:
    """Which team and scopes a token has: lets scripts check their credentials."""
    token: ApiToken = request.api_token  # type: ignore[attr-defined]
    return JsonResponse(
        {
            "team": token.team.name,
            "token": token.name,
            "prefix": token.prefix,
            "scopes": token.scopes,
        }
    )
