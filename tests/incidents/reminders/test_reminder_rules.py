"""The reminder schedule of one item, day by day: exact sequences."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from incidents.reminders.rules import Rules, reminder_owed

DUE = date(2026, 12, 10)


def schedule(priority: str, rules: Rules, days: range) -> dict[int, str]:
    """Offset from the due date → the reminder sent that day, simulating the record of sends."""
    sent: set[tuple[str, date]] = set()
    out = {}
    for offset in days:
        day = DUE + timedelta(days=offset)
        kind = reminder_owed(
            priority=priority, due_date=DUE, day=day, rules=rules, sent=sent, sent_today=False
        )
        if kind:
            sent.add((kind, DUE))
            out[offset] = str(kind)
    return out


def test_a_medium_item_with_the_default_rules():
    assert schedule("medium", Rules(), range(-10, 30)) == {
        -3: "due_soon",
        1: "overdue",
        7: "escalation",
        8: "overdue",
        15: "overdue",
        22: "overdue",
        29: "overdue",
    }


def test_a_high_priority_item_is_nagged_daily_and_escalated_after_three_days():
    assert schedule("high", Rules(), range(-4, 7)) == {
        -3: "due_soon", 1: "overdue", 2: "overdue", 3: "escalation", 4: "overdue",
        5: "overdue", 6: "overdue",
    }  # fmt: skip


def test_the_second_escalation_needs_an_address():
    rules = Rules(second_escalation_email="vp-eng@example.com")
    assert schedule("low", rules, range(0, 23)) == {
        1: "overdue", 7: "escalation", 8: "overdue", 14: "escalation_2", 15: "overdue",
        22: "overdue",
    }  # fmt: skip
    assert 14 not in schedule("low", Rules(), range(0, 23))


def test_team_settings_change_the_days():
    rules = Rules(due_soon_days=5, overdue_every_days=2, escalate_after_days=4)
    assert schedule("medium", rules, range(-6, 8)) == {
        -5: "due_soon", 1: "overdue", 3: "overdue", 4: "escalation", 5: "overdue",
        7: "overdue",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("created", "expected"),
    [(-2, {-2: "due_soon", 1: "overdue"}), (0, {1: "overdue"})],
)
def test_an_item_created_inside_the_due_soon_window_is_reminded_at_once(created, expected):
    assert schedule("medium", Rules(), range(created, 2)) == expected


def test_one_reminder_a_day_at_most():
    owed = reminder_owed(
        priority="high", due_date=DUE, day=DUE + timedelta(days=1), rules=Rules(), sent=set(),
        sent_today=True,
    )  # fmt: skip
    assert owed is None


def test_a_new_due_date_starts_the_once_only_reminders_again():
    sent = {("due_soon", DUE), ("escalation", DUE)}
    later = DUE + timedelta(days=20)
    owed = reminder_owed(
        priority="medium", due_date=later, day=later - timedelta(days=3), rules=Rules(),
        sent=sent, sent_today=False,
    )  # fmt: skip
    assert owed == "due_soon"
