"""The weekly digest of each team's action items: open, overdue and done this week, sent on
Mondays (UTC) to the team's active members who are not away, once per team and ISO week (the
unique (team, week) of `TeamDigest` decides, as for reminders)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from coe_portal.accounts.models import Membership, Team
from incidents.action_items.models import FINISHED_STATUSES, ActionItem
from incidents.reminders.mail import send_claimed
from incidents.reminders.models import Notification, Reminder, TeamDigest


def _week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def digest_content(team: Team, today: date) -> dict[str, object]:
    items = ActionItem.objects.filter(team=team).select_related("owner", "coe")
    open_items = list(items.exclude(status__in=FINISHED_STATUSES).order_by("due_date", "id"))
    since = timezone.make_aware(datetime.combine(today - timedelta(days=7), datetime.min.time()))
    return {
        "team": team,
        "today": today,
        "open": open_items,
        "overdue": [item for item in open_items if item.due_date < today],
        "done": list(items.filter(status__in=FINISHED_STATUSES, completed_at__gte=since)),
        "site_url": settings.SITE_URL,
    }


def digest_pass(*, now: datetime | None = None) -> list[int]:
    """On Mondays, claim the week's digest of every team that has open or recently finished
    items; returns the new digests' ids."""
    moment = now or timezone.now()
    today = moment.date()
    if today.weekday() != 0:
        return []
    week = _week_of(today)
    created = []
    for team in Team.objects.exclude(digests__week=week):
        content = digest_content(team, today)
        if not content["open"] and not content["done"]:
            continue
        members = [
            m.user for m in Membership.objects.filter(team=team).select_related(
                "user", "user__reminder_preference"
            )
            if m.user.is_active and not _away(m.user, today)
        ]  # fmt: skip
        open_count = len(content["open"])  # type: ignore[arg-type]
        items = "action item" if open_count == 1 else "action items"
        subject = f"{team}: {open_count} open {items}, {len(content['overdue'])} overdue"  # type: ignore[arg-type]
        body = render_to_string("incidents/reminders/email/digest.txt", content)
        try:
            with transaction.atomic():
                digest = TeamDigest.objects.create(
                    team=team, week=week, subject=subject, body=body,
                    recipients=sorted({m.email for m in members if m.email}),
                )  # fmt: skip
                Notification.objects.bulk_create(
                    Notification(user=m, text=subject, url="/action-items/") for m in members
                )
        except IntegrityError:
            continue  # another worker claimed it
        created.append(digest.pk)
    return created


def _away(user: object, today: date) -> bool:
    pref = getattr(user, "reminder_preference", None)
    return pref is not None and pref.away_until is not None and today <= pref.away_until


def digest_send(*, digest_id: int) -> str:
    return send_claimed(TeamDigest, digest_id)


def digests_to_send() -> list[int]:
    cutoff = timezone.now() - timedelta(seconds=30)
    return list(
        TeamDigest.objects.filter(
            status=Reminder.Status.PENDING, attempts=0, created_at__lt=cutoff
        ).values_list("pk", flat=True)[:100]
    )
