"""Celery tasks for action item reminders: each only calls a service."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from incidents.reminders.digests import digest_pass, digest_send, digests_to_send
from incidents.reminders.models import Reminder
from incidents.reminders.sending import reminder_pass, reminder_send, reminders_to_send
from metrics.notify.delivery import retry_delay


@shared_task(name="incidents.reminders.pass")
def run_reminder_pass() -> int:
    """Claim today's reminders, then hand each to a sender (a lost task is swept up later)."""
    result = reminder_pass()
    for reminder_id in result.created:
        send_reminder.delay(reminder_id)
    return len(result.created)


@shared_task(name="incidents.reminders.send", bind=True, acks_late=True, max_retries=None)
def send_reminder(self: Any, reminder_id: int) -> str:
    outcome = reminder_send(reminder_id=reminder_id)
    if outcome == "retry":
        attempts = Reminder.objects.values_list("attempts", flat=True).get(pk=reminder_id)
        raise self.retry(countdown=retry_delay(attempts))
    return outcome


@shared_task(name="incidents.reminders.sweep")
def sweep_reminders() -> int:
    pending = reminders_to_send()
    for reminder_id in pending:
        send_reminder.delay(reminder_id)
    digests = digests_to_send()
    for digest_id in digests:
        send_digest.delay(digest_id)
    return len(pending) + len(digests)


@shared_task(name="incidents.digests.pass")
def run_digest_pass() -> int:
    created = digest_pass()
    for digest_id in created:
        send_digest.delay(digest_id)
    return len(created)


@shared_task(name="incidents.digests.send", bind=True, acks_late=True, max_retries=None)
def send_digest(self: Any, digest_id: int) -> str:
    outcome = digest_send(digest_id=digest_id)
    if outcome == "retry":
        raise self.retry(countdown=retry_delay(1))
    return outcome
