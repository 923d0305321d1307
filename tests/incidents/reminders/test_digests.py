"""The weekly team digest: Mondays, once per team and week, to members who are not away."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.core import mail

from incidents.action_items.models import ActionItem
from incidents.reminders.digests import digest_pass, digest_send
from incidents.reminders.models import ReminderPreference, TeamDigest
from tests.incidents.coe_support import written_coe

MONDAY = datetime(2026, 12, 14, 7, 0, tzinfo=UTC)


def test_a_digest_on_monday_once(org):
    coe = written_coe(org)  # one open item, due 2026-12-15
    ActionItem.objects.create(
        coe=coe, title="Late runbook fix", owner=org.owner, team=org.checkout,
        due_date=date(2026, 12, 1),
    )  # fmt: skip
    ActionItem.objects.create(
        coe=coe, title="Shipped canary", owner=org.owner, team=org.checkout,
        due_date=date(2026, 12, 1), status="done", completed_at=MONDAY - timedelta(days=2),
    )  # fmt: skip
    ReminderPreference.objects.create(user=org.teammate, away_until=date(2026, 12, 20))
    assert digest_pass(now=MONDAY - timedelta(days=1)) == []  # a Sunday
    created = digest_pass(now=MONDAY)
    assert digest_pass(now=MONDAY + timedelta(hours=1)) == []
    digest = TeamDigest.objects.get(pk=created[0])
    assert (digest.team, str(digest.week), digest.recipients) == (
        org.checkout, "2026-12-14", ["olivia@example.com"],
    )  # fmt: skip
    assert digest.subject == "Checkout: 2 open action items, 1 overdue"
    assert "  - Late runbook fix (olivia, due 2026-12-01, COE-" in digest.body
    assert "Finished this week:\n  - Shipped canary (Done)" in digest.body
    assert digest_send(digest_id=digest.pk) == "sent"
    assert digest_send(digest_id=digest.pk) == "done"
    assert [m.subject for m in mail.outbox] == ["Checkout: 2 open action items, 1 overdue"]
