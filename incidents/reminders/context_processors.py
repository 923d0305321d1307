"""The unread notification count in the navigation."""

from __future__ import annotations

from django.http import HttpRequest

from incidents.reminders.models import Notification


def notifications(request: HttpRequest) -> dict[str, int]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    unread = Notification.objects.filter(user=user, read_at__isnull=True).count()
    return {"unread_notifications": unread}
