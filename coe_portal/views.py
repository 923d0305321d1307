"""The home dashboard and the error pages."""

from __future__ import annotations

import sys

from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.http import require_GET
from django.views.defaults import page_not_found

from coe_portal.accounts.models import Service, Team
from coe_portal.accounts.selectors import teams_for_user
from coe_portal.db import is_retryable_database_error, unavailable_response


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    tiers = dict(Service.objects.values_list("tier").annotate(count=Count("id")).order_by("tier"))
    context = {
        "my_teams": teams_for_user(user=request.user).prefetch_related("services"),
        "team_count": Team.objects.count(),
        "service_count": sum(tiers.values()),
        "tier_counts": [(tier, label, tiers.get(tier, 0)) for tier, label in Service.Tier.choices],
    }
    return render(request, "home.html", context)


API_PREFIXES = ("/api/", "/v1/")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A styled page for people, a JSON body for API clients."""
    if request.path.startswith(API_PREFIXES):
        return JsonResponse(
            {
                "status": "error",
                "errorType": "not_found",
                "error": f"no endpoint at {request.path}",
            },
            status=404,
        )
    return page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this while handling the exception. A database that is away is not our bug:
    # 503 + Retry-After, as the views answer (the session's user is looked up in middleware).
    failure = sys.exc_info()[1]
    if failure is not None and is_retryable_database_error(failure):
        return unavailable_response(request, failure)
    # No context processors: the failure may be in them. Never a traceback (DEBUG is off).
    return HttpResponseServerError(loader.get_template("500.html").render())
