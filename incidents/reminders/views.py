"""The in-app notifications page and a user's reminder preferences (working hours, time zone,
digest only, away and delegate)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from coe_portal.accounts.auth import request_user
from coe_portal.pagination import paginate
from incidents.reminders.forms import ReminderPreferenceForm
from incidents.reminders.models import Notification, ReminderPreference


@require_http_methods(["GET", "POST"])
def notifications(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if request.method == "POST":
        Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
        return redirect("incidents:notifications")
    page = paginate(request, Notification.objects.filter(user=user))
    return render(
        request, "incidents/reminders/notifications.html", {"notifications": page, "page": page}
    )


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
    return render(request, "incidents/reminders/preferences.html", {"form": form}, status=status)
