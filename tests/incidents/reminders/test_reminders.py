"""Reminder passes over simulated weeks: who is told what, on which day, exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import mail

from coe_portal.accounts.models import Membership
from incidents.action_items.lifecycle import item_set_status, item_snooze
from incidents.action_items.models import ActionItem
from incidents.reminders.models import (
    Notification,
    Reminder,
    ReminderPreference,
    TeamReminderSettings,
)
from incidents.reminders.sending import reminder_pass, reminder_send, reminders_to_send
from tests.incidents.coe_support import written_coe

START = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
DUE = date(2026, 12, 10)


def hours(days: int) -> Iterator[datetime]:
    for hour in range(days * 24):
        yield START + timedelta(hours=hour)


def run(days: int) -> None:
    """One pass an hour, sending what each pass claims, as beat and the workers would."""
    for moment in hours(days):
        with time_machine.travel(moment, tick=False):
            for reminder_id in reminder_pass().created:
                reminder_send(reminder_id=reminder_id)


def sequence(item: ActionItem) -> list[tuple[str, str, list[str]]]:
    return [
        (str(r.day), r.kind, r.recipients)
        for r in Reminder.objects.filter(item=item).order_by("day", "id")
    ]


@pytest.fixture
def item(org):
    coe = written_coe(org)
    item = coe.action_items.get()  # owner theo, checkout; COE authors olivia (lead) and theo
    item.priority = "medium"
    item.due_date = DUE
    item.save()
    return item


def test_three_weeks_of_reminders_for_a_medium_item(item, org):
    TeamReminderSettings.objects.create(
        team=org.checkout, second_escalation_email="eng-director@example.com"
    )
    run(days=26)
    assert sequence(item) == [
        ("2026-12-07", "due_soon", ["theo@example.com"]),
        ("2026-12-11", "overdue", ["theo@example.com"]),
        ("2026-12-17", "escalation", ["olivia@example.com", "theo@example.com"]),
        ("2026-12-18", "overdue", ["theo@example.com"]),
        ("2026-12-24", "escalation_2",
         ["eng-director@example.com", "olivia@example.com", "theo@example.com"]),
        ("2026-12-25", "overdue", ["theo@example.com"]),
    ]  # fmt: skip
    assert [m.subject for m in mail.outbox] == [
        "Due in 3 days: Add pool size to the canary checks",
        "Overdue by 1 day: Add pool size to the canary checks",
        "Escalation, overdue by 7 days: Add pool size to the canary checks",
        "Overdue by 8 days: Add pool size to the canary checks",
        "Second escalation, overdue by 14 days: Add pool size to the canary checks",
        "Overdue by 15 days: Add pool size to the canary checks",
    ]
    first = mail.outbox[0]
    assert first.to == ["theo@example.com"]
    assert "This action item is due in 3 days (2026-12-10)." in first.body
    html, kind = first.alternatives[0]
    assert kind == "text/html"
    # The link is a real link, not text in a <pre>.
    link = f'<a href="{settings.SITE_URL}/action-items/{item.pk}/"'
    assert link in html
    escalation = mail.outbox[2]
    assert "Its owner, the leads of its team and the authors of its COE are told." in (
        escalation.body
    )
    assert "You are told as a lead" not in escalation.body
    # In-app: one notification per person told.
    assert Notification.objects.filter(user=org.teammate).count() == 6
    assert Notification.objects.filter(user=org.owner).count() == 2


def test_reminders_continue_after_the_coe_is_approved_and_stop_when_done(item, org):
    from incidents.coe.workflow import coe_approve, coe_submit

    coe_approve(coe=coe_submit(coe=item.coe, user=org.owner), user=org.reviewer)
    run(days=12)
    assert [kind for _, kind, _ in sequence(item)] == ["due_soon", "overdue"]
    with time_machine.travel(START + timedelta(days=12), tick=False):
        item_set_status(item=item, user=org.teammate, status="done", note="Canary checks it.")
    count = Reminder.objects.count()
    run(days=20)
    assert Reminder.objects.count() == count


def test_beat_firing_twice_sends_once(item):
    moment = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    with time_machine.travel(moment, tick=False):
        first = reminder_pass().created
        second = reminder_pass().created
        for reminder_id in first + first:
            reminder_send(reminder_id=reminder_id)
    assert (len(first), second, len(mail.outbox)) == (1, [], 1)


def test_a_snoozed_item_waits_and_the_reason_is_kept(item, org):
    with time_machine.travel(START, tick=False):
        item_snooze(item=item, user=org.teammate, until=date(2026, 12, 12), reason="Vendor fix")
    run(days=18)
    # Nothing until the snooze ends; the due-soon and first overdue days have passed by then.
    assert [(day, kind) for day, kind, _ in sequence(item)] == [
        ("2026-12-17", "escalation"), ("2026-12-18", "overdue"),
    ]  # fmt: skip
    item.refresh_from_db()
    assert item.snooze_reason == "Vendor fix"
    assert item.events.get().reason == "Vendor fix"


def test_the_owner_on_leave_is_replaced_by_the_delegate(item, org):
    ReminderPreference.objects.create(
        user=org.teammate, away_until=date(2026, 12, 9), delegate=org.outsider
    )
    run(days=11)
    assert [(d, r) for d, _, r in sequence(item)] == [
        ("2026-12-07", ["oscar@example.com"]),
        ("2026-12-11", ["theo@example.com"]),
    ]


def test_digest_only_and_inactive_people_get_no_reminder_mail(item, org):
    ReminderPreference.objects.create(user=org.teammate, digest_only=True)
    org.owner.is_active = False
    org.owner.save()
    Membership.objects.create(team=org.checkout, user=org.reviewer, role="lead")
    run(days=18)
    # Only the escalation reaches anyone: the other lead, not the digest-only owner.
    assert [(d, k, r) for d, k, r in sequence(item)] == [
        ("2026-12-17", "escalation", ["rita@example.com"])
    ]


def test_reminders_wait_for_the_owners_working_hours(item, org):
    ReminderPreference.objects.create(
        user=org.teammate, time_zone="Asia/Tokyo", work_start_hour=9, work_end_hour=17
    )
    sent_at = []
    for moment in hours(8):
        with time_machine.travel(moment, tick=False):
            if reminder_pass().created:
                sent_at.append(moment)
    # 09:00 in Tokyo is 00:00 UTC: the first pass of 7 December in working hours.
    assert sent_at == [datetime(2026, 12, 7, 0, 30, tzinfo=UTC)]


def test_a_lost_send_task_is_swept_up_and_a_stuck_one_is_not_resent(item):
    with time_machine.travel(datetime(2026, 12, 7, 9, 0, tzinfo=UTC), tick=False):
        reminder = Reminder.objects.get(pk=reminder_pass().created[0])
    with time_machine.travel(datetime(2026, 12, 7, 9, 5, tzinfo=UTC), tick=False):
        assert reminders_to_send() == [reminder.pk]
        Reminder.objects.filter(pk=reminder.pk).update(
            status="sending", claimed_at=datetime(2026, 12, 7, 9, 1, tzinfo=UTC)
        )
    with time_machine.travel(datetime(2026, 12, 7, 9, 20, tzinfo=UTC), tick=False):
        assert reminders_to_send() == []
        assert reminder_send(reminder_id=reminder.pk) == "done"
    reminder.refresh_from_db()
    assert reminder.status == "failed"
    assert "not sent again" in reminder.last_error
    assert mail.outbox == []


def test_the_sweep_leaves_a_scheduled_retry_alone(item):
    with time_machine.travel(datetime(2026, 12, 7, 9, 0, tzinfo=UTC), tick=False):
        reminder = Reminder.objects.get(pk=reminder_pass().created[0])
    # A first attempt failed at 09:01 and scheduled its own retry.
    Reminder.objects.filter(pk=reminder.pk).update(
        attempts=1, claimed_at=datetime(2026, 12, 7, 9, 1, tzinfo=UTC)
    )
    with time_machine.travel(datetime(2026, 12, 7, 9, 10, tzinfo=UTC), tick=False):
        assert reminders_to_send() == []
    with time_machine.travel(datetime(2026, 12, 7, 9, 30, tzinfo=UTC), tick=False):
        assert reminders_to_send() == [reminder.pk]  # that retry never ran: send it now
