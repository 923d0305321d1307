"""The reminder pass and the sending of reminders, each at most once.

The pass walks unfinished action items in batches (a constant number of queries per batch).
For each item owed a reminder today (`reminder_rules`), it inserts a `Reminder` row and the
in-app notifications in one transaction; the row's unique (item, kind, day) is the arbiter when
beat fires twice or two workers run the pass: the loser's insert does nothing.

E-mail goes out after commit. Sending first moves the row from pending to sending (one worker
wins), then to sent. A row left in *sending* by a worker that died in the middle of the SMTP
exchange is not sent again: the mail may have left, and a reminder must not arrive twice. It is
marked failed with that reason after `SENDING_TIMEOUT`; its in-app notification was delivered
with the claim. Rows still *pending* (the broker lost the task, the worker died before sending)
are picked up by the sweep."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from coe_portal.accounts.models import Membership
from coe_portal.db import insert_new_rows
from incidents.action_items.models import FINISHED_STATUSES, ActionItem
from incidents.coe.models import Coe
from incidents.reminders.mail import DONE, send_claimed
from incidents.reminders.models import (
    Notification,
    Reminder,
    ReminderPreference,
    TeamReminderSettings,
)
from incidents.reminders.rules import ONCE_PER_DUE_DATE, Rules, reminder_owed

BATCH = 1000
SENDING_TIMEOUT = timedelta(minutes=10)
RETRY_LOST = timedelta(minutes=20)  # longer than the longest retry backoff (15 minutes)
SUBJECTS: dict[str, str] = {
    Reminder.Kind.DUE_SOON: "Due in {days}: {title}",
    Reminder.Kind.OVERDUE: "Overdue by {late}: {title}",
    Reminder.Kind.ESCALATION: "Escalation, overdue by {late}: {title}",
    Reminder.Kind.ESCALATION_2: "Second escalation, overdue by {late}: {title}",
}


def days_text(count: int) -> str:
    """`1 day`, `3 days`."""
    return f"{count} day" if count == 1 else f"{count} days"


@dataclass
class PassResult:
    items: int = 0
    created: list[int] = field(default_factory=list)
    batches: int = 0


@dataclass(frozen=True)
class _Context:
    day: date
    now: datetime
    rules: dict[int, Rules]
    leads: dict[int, list[User]]


def _in_working_hours(pref: ReminderPreference | None, now: datetime) -> bool:
    if pref is None or not pref.time_zone:
        return True
    try:
        local = now.astimezone(ZoneInfo(pref.time_zone))
    except (ZoneInfoNotFoundError, ValueError):
        return True  # an unknown zone never holds reminders back
    return pref.work_start_hour <= local.hour < pref.work_end_hour


def _away(pref: ReminderPreference | None, day: date) -> bool:
    return pref is not None and pref.away_until is not None and day <= pref.away_until


def _recipients(
    item: ActionItem,
    kind: str,
    ctx: _Context,
    prefs: dict[int, ReminderPreference],
    authors: dict[int, list[User]],
) -> list[User]:
    """The owner (or their delegate while they are away), plus the team's leads and the COE's
    authors for escalations; never inactive users or those who want the digest only."""
    owner = item.owner
    pref = prefs.get(owner.pk)
    people: list[User] = []
    if _away(pref, ctx.day):
        if pref is not None and pref.delegate is not None:
            people.append(pref.delegate)
    else:
        people.append(owner)
    if kind in (Reminder.Kind.ESCALATION, Reminder.Kind.ESCALATION_2):
        people += ctx.leads.get(item.team_id, []) + authors.get(item.coe_id, [])
    chosen: dict[int, User] = {}
    for person in people:
        person_pref = prefs.get(person.pk)
        if not person.is_active or (person_pref is not None and person_pref.digest_only):
            continue
        if person is not owner and _away(person_pref, ctx.day):
            continue
        chosen.setdefault(person.pk, person)
    return list(chosen.values())


def _text(item: ActionItem, kind: str, day: date, recipients: list[User]) -> tuple[str, str]:
    late = (day - item.due_date).days
    subject = SUBJECTS[kind].format(days=days_text(-late), late=days_text(late), title=item.title)[
        :300
    ]
    context = {
        "item": item,
        "kind": kind,
        "late": late,
        "days_left": -late,
        "recipients": recipients,
        "url": f"{settings.SITE_URL}/action-items/{item.pk}/",
    }
    return subject, render_to_string("incidents/reminders/email/reminder.txt", context)


REMINDER_COLUMNS = [
    "item_id", "kind", "day", "due_date", "recipients", "subject", "body", "status",
    "attempts", "last_error", "created_at",
]  # fmt: skip


def _insert(rows: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """(id, item id) of the reminders this call created; the unique (item, kind, day) skips
    the ones another pass claimed first."""
    ops = connection.ops
    now = ops.adapt_datetimefield_value(timezone.now())
    values = [
        (
            row["item_id"], row["kind"], ops.adapt_datefield_value(row["day"]),
            ops.adapt_datefield_value(row["due_date"]),
            ops.adapt_json_value(row["recipients"], None), row["subject"], row["body"],
            Reminder.Status.PENDING, 0, "", now,
        )
        for row in rows
    ]  # fmt: skip
    created = insert_new_rows(
        Reminder._meta.db_table, REMINDER_COLUMNS, values,
        conflict=["item_id", "kind", "day"], returning=["id", "item_id"],
    )  # fmt: skip
    return [(int(a), int(b)) for a, b in created]


def _batch(items: list[ActionItem], ctx: _Context) -> list[int]:
    ids = [item.pk for item in items]
    sent: dict[int, set[tuple[str, date]]] = defaultdict(set)
    sent_today: set[int] = set()
    for item_id, sent_kind, due, day in (
        Reminder.objects.filter(item_id__in=ids)
        .filter(Q(day=ctx.day) | Q(kind__in=ONCE_PER_DUE_DATE))
        .values_list("item_id", "kind", "due_date", "day")
    ):
        sent[item_id].add((sent_kind, due))
        if day == ctx.day:
            sent_today.add(item_id)
    authors: dict[int, list[User]] = defaultdict(list)
    through = Coe.authors.through.objects.filter(coe_id__in={i.coe_id for i in items})
    for link in through.select_related("user"):
        authors[link.coe_id].append(link.user)
    people = {item.owner_id for item in items}
    people |= {u.pk for users in authors.values() for u in users}
    people |= {u.pk for users in ctx.leads.values() for u in users}
    prefs = {
        pref.user_id: pref
        for pref in ReminderPreference.objects.filter(user_id__in=people).select_related("delegate")
    }
    rows: list[dict[str, Any]] = []
    notify: dict[int, tuple[list[User], str]] = {}
    for item in items:
        rules = ctx.rules.get(item.team_id, Rules())
        kind = reminder_owed(
            priority=item.priority, due_date=item.due_date, day=ctx.day, rules=rules,
            sent=sent[item.pk], sent_today=item.pk in sent_today,
        )  # fmt: skip
        if kind is None:
            continue
        owner_pref = prefs.get(item.owner_id)
        if not _in_working_hours(owner_pref, ctx.now):
            continue
        recipients = _recipients(item, kind, ctx, prefs, authors)
        emails = [person.email for person in recipients if person.email]
        if kind == Reminder.Kind.ESCALATION_2 and rules.second_escalation_email:
            emails.append(rules.second_escalation_email)
        if not recipients and not emails:
            continue
        subject, body = _text(item, kind, ctx.day, recipients)
        rows.append({
            "item_id": item.pk, "kind": kind, "day": ctx.day, "due_date": item.due_date,
            "recipients": sorted(set(emails)), "subject": subject, "body": body,
        })  # fmt: skip
        notify[item.pk] = (recipients, subject)
    created = _insert(rows)
    notifications = []
    for reminder_id, item_id in created:
        told, subject = notify[item_id]
        url = f"/action-items/{item_id}/"
        notifications += [
            Notification(user=person, text=subject[:500], url=url, reminder_id=reminder_id)
            for person in told
        ]
    Notification.objects.bulk_create(notifications)
    return [reminder_id for reminder_id, _ in created]


def reminder_pass(*, now: datetime | None = None, batch_size: int = BATCH) -> PassResult:
    """Claim today's reminders for every unfinished item; returns the new reminders' ids (to
    send after commit)."""
    moment = now or timezone.now()
    day = moment.astimezone(ZoneInfo("UTC")).date()
    rules = {s.team_id: Rules.of(s) for s in TeamReminderSettings.objects.all()}
    leads: dict[int, list[User]] = defaultdict(list)
    for membership in Membership.objects.filter(role=Membership.Role.LEAD).select_related("user"):
        leads[membership.team_id].append(membership.user)
    ctx = _Context(day=day, now=moment, rules=rules, leads=dict(leads))
    horizon = day + timedelta(days=max([r.due_soon_days for r in rules.values()] + [3]))
    result = PassResult()
    last_id = 0
    while True:
        with transaction.atomic():
            items = list(
                ActionItem.objects.filter(pk__gt=last_id, due_date__lte=horizon)
                .exclude(status__in=FINISHED_STATUSES)
                .exclude(snoozed_until__gte=day)
                .select_related("owner", "coe")
                .order_by("pk")[:batch_size]
            )
            if not items:
                break
            last_id = items[-1].pk
            result.items += len(items)
            result.batches += 1
            result.created += _batch(items, ctx)
    return result


def reminder_send(*, reminder_id: int) -> str:
    """Send one reminder if nobody has started to: "sent", "retry" or "done"."""
    key = Reminder.objects.filter(pk=reminder_id).values_list("item_id", "kind", "day").first()
    if key is None:
        return DONE
    header = {"X-COE-Portal-Reminder": f"{key[0]}/{key[1]}/{key[2]}"}
    return send_claimed(Reminder, reminder_id, headers=header)


def reminders_to_send(*, now: datetime | None = None) -> list[int]:
    """Pending reminders whose task was lost; rows stuck in *sending* past the timeout are
    marked failed (not resent: the mail may have gone)."""
    moment = now or timezone.now()
    Reminder.objects.filter(
        status=Reminder.Status.SENDING, claimed_at__lt=moment - SENDING_TIMEOUT
    ).update(
        status=Reminder.Status.FAILED,
        last_error="The worker stopped while sending; not sent again, so it cannot arrive "
        "twice. The in-app notification was delivered.",
    )
    never_tried = Q(attempts=0, created_at__lt=moment - timedelta(seconds=30))
    # A failed attempt schedules its own retry (with backoff, at most RETRY_LOST later); only
    # a retry that never ran is picked up here.
    retry_lost = Q(attempts__gt=0, claimed_at__lt=moment - RETRY_LOST)
    return list(
        Reminder.objects.filter(
            never_tried | retry_lost, status=Reminder.Status.PENDING
        ).values_list("pk", flat=True)[:1000]
    )
