"""JSON API for action items (`read` tokens): the items of the COEs the token's team sees."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from coe_portal.accounts.auth import token_required
from incidents.action_items.models import ActionItem
from incidents.action_items.selectors import items_visible_to_team
from incidents.incident.api import LIMIT, request_token


def action_item_json(item: ActionItem) -> dict[str, Any]:
    return {
        "id": item.pk,
        "coe": item.coe_id,
        "title": item.title,
        "owner": item.owner.get_username(),
        "team": item.team.name,
        "priority": item.priority,
        "kind": item.kind,
        "due_date": item.due_date.isoformat(),
        "tracker_url": item.tracker_url or None,
        "status": item.status,
    }


@require_GET
@token_required("read")
def action_item_list_api(request: HttpRequest) -> JsonResponse:
    items = items_visible_to_team(request_token(request).team)
    for key in ("status", "priority", "kind"):
        if request.GET.get(key):
            items = items.filter(**{key: request.GET[key]})
    if request.GET.get("team"):
        items = items.filter(team__name=request.GET["team"])
    if request.GET.get("owner"):
        items = items.filter(owner__username=request.GET["owner"])
    data = [action_item_json(item) for item in items[:LIMIT]]
    return JsonResponse({"status": "success", "data": data})
