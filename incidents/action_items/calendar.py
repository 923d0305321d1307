"""The iCalendar feed of a user's open action items: calendar apps fetch it with a signed key in
the URL instead of a session."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import User
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from incidents.action_items.models import FINISHED_STATUSES
from incidents.action_items.selectors import items_visible_to

CALENDAR_SALT = "incidents.action-item-calendar"


def calendar_url(request: HttpRequest, user: User) -> str:
    token = signing.dumps(user.pk, salt=CALENDAR_SALT)
    return request.build_absolute_uri(f"/action-items/calendar.ics?key={token}")


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
