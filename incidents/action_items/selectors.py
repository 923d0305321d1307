"""Reads of action items, following the visibility of their incidents."""

from __future__ import annotations

from contextlib import suppress
from datetime import date, timedelta
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from coe_portal.accounts.models import Team
from incidents.action_items.models import FINISHED_STATUSES, ActionItem
from incidents.incident.selectors import incidents_visible_to, incidents_visible_to_team


def items_visible_to(user: User | AnonymousUser) -> QuerySet[ActionItem]:
    return ActionItem.objects.filter(
        coe__incident__in=incidents_visible_to(user).values("pk")
    ).select_related("owner", "team", "coe", "coe__incident")


def filter_items(items: QuerySet[ActionItem], params: dict[str, str], today: date) -> Any:
    """The list filters: team, service, priority, kind, status (or `open`), COE, due range,
    overdue."""
    if params.get("team"):
        items = items.filter(team__name=params["team"])
    if params.get("service"):
        items = items.filter(coe__services__name=params["service"])
    for key in ("priority", "kind"):
        if params.get(key):
            items = items.filter(**{key: params[key]})
    status = params.get("status", "")
    if status == "open":
        items = items.exclude(status__in=FINISHED_STATUSES)
    elif status:
        items = items.filter(status=status)
    if params.get("coe", "").isdigit():
        items = items.filter(coe_id=int(params["coe"]))
    for key, lookup in (("due_from", "due_date__gte"), ("due_to", "due_date__lte")):
        with suppress(ValueError):  # no date, or not one: no bound
            items = items.filter(**{lookup: date.fromisoformat(params.get(key, ""))})
    if params.get("overdue"):
        items = items.exclude(status__in=FINISHED_STATUSES).filter(due_date__lt=today)
    return items.distinct()


def my_items_grouped(user: User, today: date) -> dict[str, list[ActionItem]]:
    """The user's unfinished items: overdue, due this week (next 7 days), later."""
    groups: dict[str, list[ActionItem]] = {"overdue": [], "this_week": [], "later": []}
    week_end = today + timedelta(days=7)
    for item in items_visible_to(user).filter(owner=user).exclude(status__in=FINISHED_STATUSES):
        if item.due_date < today:
            groups["overdue"].append(item)
        elif item.due_date <= week_end:
            groups["this_week"].append(item)
        else:
            groups["later"].append(item)
    return groups


def items_visible_to_team(team: Team) -> QuerySet[ActionItem]:
    """What an API token of `team` sees: the items of the COEs of the incidents it sees."""
    return ActionItem.objects.filter(
        coe__incident__in=incidents_visible_to_team(team).values("pk")
    ).select_related("owner", "team")
