"""JSON API for COEs (`read` tokens): the COEs of the incidents the token's team sees."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from coe_portal.accounts.auth import token_required
from incidents.action_items.api import action_item_json
from incidents.action_items.models import ActionItem
from incidents.coe.models import SECTIONS, Coe
from incidents.coe.selectors import coes_visible_to_team
from incidents.incident.api import LIMIT, api_error, iso, request_token


def with_related(coes: QuerySet[Coe]) -> QuerySet[Coe]:
    """What `coe_json` reads, in a fixed number of queries however many COEs there are."""
    items = ActionItem.objects.select_related("owner", "team")
    return coes.select_related("incident", "team").prefetch_related(
        "services", "authors", Prefetch("action_items", queryset=items)
    )


def coe_json(coe: Coe, *, full: bool = False) -> dict[str, Any]:
    items = list(coe.action_items.all())
    data: dict[str, Any] = {
        "id": coe.pk,
        "title": coe.title,
        "state": coe.state,
        "revision": coe.revision,
        "incident": coe.incident_id,
        "severity": coe.incident.severity,
        "team": coe.team.name,
        "services": [s.name for s in coe.services.all()],
        "authors": [u.get_username() for u in coe.authors.all()],
        "created_at": iso(coe.created_at),
        "submitted_at": iso(coe.submitted_at),
        "approved_at": iso(coe.approved_at),
        "closed_at": iso(coe.closed_at),
        "action_items_done": sum(1 for item in items if item.is_finished),
        "action_items_total": len(items),
    }
    if full:
        data["sections"] = {field: getattr(coe, field) for field, _, _ in SECTIONS}
        data["impact"] = {
            "customers_affected": coe.customers_affected,
            "impact_minutes": coe.impact_minutes,
            "failed_requests": coe.failed_requests,
            "budget_consumed_percent": coe.budget_consumed_percent,
        }
        data["questions"] = [
            {"group": a.group, "question": a.prompt, "answer": a.answer} for a in coe.answers.all()
        ]
        data["whys"] = [
            {"chain": w.chain, "position": w.position, "why": w.question, "because": w.answer}
            for w in coe.whys.all()
        ]
        data["action_items"] = [action_item_json(item) for item in items]
        data["reviews"] = [
            {
                "action": r.action,
                "user": r.user.get_username() if r.user else None,
                "note": r.note,
                "at": iso(r.at),
                "revision": r.coe_revision,
            }
            for r in coe.reviews.select_related("user")
        ]
    return data


@require_GET
@token_required("read")
def coe_list_api(request: HttpRequest) -> JsonResponse:
    coes = with_related(coes_visible_to_team(request_token(request).team))
    if request.GET.get("state"):
        coes = coes.filter(state=request.GET["state"])
    if request.GET.get("team"):
        coes = coes.filter(team__name=request.GET["team"])
    return JsonResponse({"status": "success", "data": [coe_json(c) for c in coes[:LIMIT]]})


@require_GET
@token_required("read")
def coe_detail_api(request: HttpRequest, pk: int) -> JsonResponse:
    coe = with_related(coes_visible_to_team(request_token(request).team)).filter(pk=pk).first()
    if coe is None:
        return api_error(404, f"no COE with id {pk}")
    return JsonResponse({"status": "success", "data": coe_json(coe, full=True)})
