"""Action item pages: mine, the team board, the filtered list (CSV too), an item with its
status, due date and snooze forms, the calendar feed, notifications and reminder preferences."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import User
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from coe_portal.accounts.auth import request_user
from coe_portal.accounts.models import Service, Team
from coe_portal.pagination import paginate
from incidents.action_items import (
    ALLOWED_MOVES,
    can_update,
    item_change_due,
    item_set_status,
    item_snooze,
)
from incidents.forms import ReminderPreferenceForm
from incidents.models import FINISHED_STATUSES, ActionItem, Notification, ReminderPreference
from incidents.selectors_items import filter_items, items_visible_to, my_items_grouped

CALENDAR_SALT = "incidents.action-item-calendar"
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


def calendar_url(request: HttpRequest, user: User) -> str:
    token = signing.dumps(user.pk, salt=CALENDAR_SALT)
    return request.build_absolute_uri(f"/action-items/calendar.ics?key={token}")


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
        "can_update": can_update(item, request_user(request)),
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


def _ics_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


@require_GET
@login_not_required
def calendar_feed(request: HttpRequest) -> HttpResponse:
    """An iCalendar feed of the user's unfinished items' due dates, for calendar apps: the URL
    carries a signed key instead of a session."""
    try:
        user_id = signing.loads(request.GET.get("key", ""), salt=CALENDAR_SALT)
    except signing.BadSignature:
        return HttpResponse("Unknown calendar key.", status=403, content_type="text/plain")
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return HttpResponse("Unknown calendar key.", status=403, content_type="text/plain")
    items = items_visible_to(user).filter(owner=user).exclude(status__in=FINISHED_STATUSES)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%SZ")
    host = request.get_host().split(":")[0]
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//COE Portal//Action items//EN",
        "CALSCALE:GREGORIAN", f"X-WR-CALNAME:Action items of {user.get_username()}",
    ]  # fmt: skip
    for item in items:
        due = item.due_date
        description = f"COE-{item.coe_id}, {item.get_priority_display()} priority"
        lines += [
            "BEGIN:VEVENT",
            f"UID:action-item-{item.pk}@{host}",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{due:%Y%m%d}",
            f"DTEND;VALUE=DATE:{due + timedelta(days=1):%Y%m%d}",
            f"SUMMARY:{_ics_text('Due: ' + item.title)}",
            f"DESCRIPTION:{_ics_text(description)}",
            f"URL:{settings.SITE_URL}/action-items/{item.pk}/",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return HttpResponse("\r\n".join(lines) + "\r\n", content_type="text/calendar; charset=utf-8")


@require_http_methods(["GET", "POST"])
def notifications(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if request.method == "POST":
        Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
        return redirect("incidents:notifications")
    page = paginate(request, Notification.objects.filter(user=user))
    return render(request, "incidents/notifications.html", {"notifications": page, "page": page})


@require_http_methods(["GET", "POST"])
def reminder_preferences(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    pref = ReminderPreference.objects.filter(user=user).first() or ReminderPreference(user=user)
    form = ReminderPreferenceForm(request.POST or None, instance=pref, user=user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Preferences saved.")
        return redirect("incidents:reminder-preferences")
    status = 400 if request.method == "POST" else 200
    return render(request, "incidents/preferences.html", {"form": form}, status=status)
