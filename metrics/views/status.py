"""`/api/v1/status/tsdb`: how many series the store holds, by metric name and label, as
Prometheus answers it, plus each token's active series against its limit."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods

from coe_portal.accounts.models import ApiToken
from coe_portal.accounts.selectors import teams_for_user
from metrics.storage.cardinality import TokenUsage, token_usage, tsdb_status
from metrics.views.api import BadRequest, query_api, success

MAX_LIMIT = 10_000


def usage_json(usage: TokenUsage) -> dict[str, object]:
    return {
        "token": f"{usage.token.prefix}…",
        "name": usage.token.name,
        "team": usage.token.team.name,
        "activeSeries": usage.active,
        "limit": usage.limit,
    }


@require_http_methods(["GET"])
@query_api
def tsdb_status_view(request: HttpRequest) -> HttpResponse:
    text = request.GET.get("limit", "10")
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    data = tsdb_status(int(text))
    token = getattr(request, "api_token", None)
    if isinstance(token, ApiToken):
        tokens = ApiToken.objects.filter(team_id=token.team_id)
    else:
        tokens = ApiToken.objects.filter(team__in=teams_for_user(user=request.user))
    tokens = tokens.filter(revoked_at__isnull=True).select_related("team").order_by("team", "name")
    data["seriesLimits"] = [usage_json(usage) for usage in token_usage(tokens)]
    return success(data)
