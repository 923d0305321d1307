"""Action item pages: mine, the team board, the filtered list (CSV too), an item with its
status, due date and snooze forms."""

from __future__ import annotations

import csv
from datetime import date, timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from coe_portal.accounts.auth import request_user
from coe_portal.accounts.models import Service, Team
from coe_portal.accounts.policy import Action, allowed
from coe_portal.pagination import paginate
from incidents.action_items.calendar import calendar_url
from incidents.action_items.lifecycle import (
    ALLOWED_MOVES,
    item_change_due,
    item_set_status,
    item_snooze,
)
from incidents.action_items.models import FINISHED_STATUSES, ActionItem
from incidents.action_items.selectors import filter_items, items_visible_to, my_items_grouped

CSV_COLUMNS = [
    "id", "title", "status", "priority", "kind", "owner", "team", "due_date", "coe", "incident",
    "severity", "tracker_url", "completed_at",
]  # fmt: skip


def _today() -> date:
    return timezone.now().date()


@require_GET
def my_items(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    context = {
        "groups": my_items_grouped(user, _today()),
        "today": _today(),
        "teams": user.memberships.select_related("team"),
        "calendar_url": calendar_url(request, user),
    }
    return render(request, "incidents/action_items/mine.html", context)


@require_GET
def item_list(request: HttpRequest, overdue: bool = False) -> HttpResponse:
    params: dict[str, str] = {key: str(value) for key, value in request.GET.items()}
    if overdue:
        params["overdue"] = "1"
    items = filter_items(items_visible_to(request.user), params, _today())
    if request.GET.get("format") == "csv":
        return _csv(items)
    page = paginate(request, items.order_by("due_date", "id"))
    context = {
        "items": page,
        "page": page,
        "params": params,
        "overdue": overdue,
        "today": _today(),
        "teams": Team.objects.order_by("name"),
        "services": Service.objects.order_by("name"),
        "statuses": ActionItem.Status.choices,
        "priorities": ActionItem.Priority.choices,
        "kinds": ActionItem.Kind.choices,
        "query": request.GET.urlencode(),
    }
    return render(request, "incidents/action_items/list.html", context)


def _csv(items: object) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="action-items.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for item in items:  # type: ignore[attr-defined]
        writer.writerow([
            item.pk, item.title, item.status, item.priority, item.kind,
            item.owner.get_username(), item.team.name, item.due_date.isoformat(),
            f"COE-{item.coe_id}", f"#{item.coe.incident_id}", item.coe.incident.severity,
            item.tracker_url, item.completed_at.isoformat() if item.completed_at else "",
        ])  # fmt: skip
    return response


@require_GET
def team_board(request: HttpRequest, name: str) -> HttpResponse:
    team = get_object_or_404(Team, name=name)
    items = items_visible_to(request.user).filter(team=team)
    since = _today() - timedelta(days=14)
    columns = []
    for status, label in ActionItem.Status.choices:
        column = items.filter(status=status)
        if status in FINISHED_STATUSES:
            column = column.filter(completed_at__date__gte=since)  # recent ones only
        columns.append({"status": status, "label": label, "items": list(column)})
    context = {
        "team": team,
        "columns": columns,
        "moves": {status: sorted(moves) for status, moves in ALLOWED_MOVES.items()},
        "today": _today(),
        "user_teams": Team.objects.filter(memberships__user=request_user(request)).order_by("name"),
    }
    return render(request, "incidents/action_items/board.html", context)


def _item(request: HttpRequest, pk: int) -> ActionItem:
    item = items_visible_to(request.user).filter(pk=pk).first()
    if item is None:
        raise Http404("No such action item.")
    return item


@require_GET
def item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    item = _item(request, pk)
    context = {
        "item": item,
        "today": _today(),
        "can_update": allowed(request_user(request), Action.UPDATE_ACTION_ITEM, item),
        "moves": [
            (status, ActionItem.Status(status).label)
            for status in sorted(ALLOWED_MOVES.get(item.status, set()))
        ],
        "events": item.events.select_related("user"),
        "reminders": item.reminders.order_by("-day", "-id")[:50],
    }
    return render(request, "incidents/action_items/detail.html", context)


def _back(request: HttpRequest, item: ActionItem) -> HttpResponse:
    target = request.POST.get("next", "")
    if target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect("incidents:action-item-detail", pk=item.pk)


def _problems(request: HttpRequest, error: ValidationError) -> None:
    for problem in error.messages:
        messages.error(request, problem)


@require_POST
def item_status(request: HttpRequest, pk: int) -> HttpResponse:
    item = _item(request, pk)
    try:
        item_set_status(
            item=item, user=request_user(request), status=request.POST.get("status", ""),
            note=request.POST.get("note", ""),
            verification_url=request.POST.get("verification_url", ""),
        )  # fmt: skip
    except ValidationError as error:
        _problems(request, error)
        return redirect("incidents:action-item-detail", pk=item.pk)
    messages.success(request, "Status changed.")
    return _back(request, item)


def _date(request: HttpRequest, key: str) -> date:
    try:
        return date.fromisoformat(request.POST.get(key, ""))
    except ValueError:
        raise ValidationError({key: "Enter a date (YYYY-MM-DD)."}) from None


@require_POST
def item_due(request: HttpRequest, pk: int) -> HttpResponse:
    item = _item(request, pk)
    try:
        item_change_due(
            item=item, user=request_user(request), due_date=_date(request, "due_date"),
            reason=request.POST.get("reason", ""),
        )  # fmt: skip
    except ValidationError as error:
        _problems(request, error)
    else:
        messages.success(request, "Due date changed.")
    return redirect("incidents:action-item-detail", pk=item.pk)


@require_POST
def item_snooze_view(request: HttpRequest, pk: int) -> HttpResponse:
    item = _item(request, pk)
    try:
        item_snooze(
            item=item, user=request_user(request), until=_date(request, "until"),
            reason=request.POST.get("reason", ""),
        )  # fmt: skip
    except ValidationError as error:
        _problems(request, error)
    else:
        messages.success(request, "Reminders snoozed.")
    return redirect("incidents:action-item-detail", pk=item.pk)
