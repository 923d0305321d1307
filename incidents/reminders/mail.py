"""Sending a claimed mail row (a reminder or a digest) at most once.

A row moves pending → sending (only one worker wins that update) → sent. A failure to hand the
mail over puts it back to pending for a retry, or marks it failed after MAX_ATTEMPTS. Every
write after the claim is guarded by the row still being *sending*, so a row the sweep has given
up on is never revived."""

from __future__ import annotations

from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import F, Model
from django.template.loader import render_to_string
from django.utils import timezone

MAX_ATTEMPTS = 5
SENT, RETRY, DONE = "sent", "retry", "done"
PENDING, SENDING, FAILED = "pending", "sending", "failed"


class MailRow(Protocol):
    pk: int
    subject: str
    body: str
    recipients: list[str]
    attempts: int


def send_claimed(model: type[Model], pk: int, *, headers: dict[str, str] | None = None) -> str:
    """Claim row `pk` of `model` and send it: "sent", "retry" (a transient failure with
    attempts left) or "done" (nothing to do: sent already, failed for good, or taken)."""
    rows = model._default_manager.filter(pk=pk)
    claimed = rows.filter(status=PENDING).update(
        status=SENDING, claimed_at=timezone.now(), attempts=F("attempts") + 1
    )
    if claimed != 1:
        return DONE
    row: MailRow = rows.get()  # type: ignore[assignment]
    try:
        _send(row, headers or {})
    except Exception as exc:  # any failure to hand the mail over: try again later
        final = row.attempts >= MAX_ATTEMPTS
        rows.filter(status=SENDING).update(
            status=FAILED if final else PENDING, last_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        return DONE if final else RETRY
    rows.filter(status=SENDING).update(status=SENT, sent_at=timezone.now(), last_error="")
    return SENT


def _send(row: MailRow, headers: dict[str, str]) -> None:
    if not row.recipients:
        return  # in-app only (nobody with an e-mail address)
    message = EmailMultiAlternatives(
        subject=row.subject,
        body=row.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(row.recipients),
        headers=headers,
    )
    html = render_to_string(
        "incidents/reminders/email/reminder.html", {"reminder": row, "body": row.body}
    )
    message.attach_alternative(html, "text/html")
    message.send()
