"""Which reminder an action item is owed on a day: pure functions of its due date, priority,
the team's settings and what was sent before. The pass (`sending`) applies them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from incidents.action_items.models import ActionItem
from incidents.reminders.models import Reminder, TeamReminderSettings

Kind = Reminder.Kind
# Sent once per due date (a new due date starts them again); overdue reminders repeat.
ONCE_PER_DUE_DATE = (Kind.DUE_SOON, Kind.ESCALATION, Kind.ESCALATION_2)


@dataclass(frozen=True)
class Rules:
    due_soon_days: int = 3
    overdue_every_days_high: int = 1
    overdue_every_days: int = 7
    escalate_after_days_high: int = 3
    escalate_after_days: int = 7
    second_escalation_after_days: int = 14
    second_escalation_email: str = ""

    @classmethod
    def of(cls, team_settings: TeamReminderSettings | None) -> Rules:
        if team_settings is None:
            return cls()
        return cls(
            due_soon_days=team_settings.due_soon_days,
            overdue_every_days_high=max(1, team_settings.overdue_every_days_high),
            overdue_every_days=max(1, team_settings.overdue_every_days),
            escalate_after_days_high=team_settings.escalate_after_days_high,
            escalate_after_days=team_settings.escalate_after_days,
            second_escalation_after_days=team_settings.second_escalation_after_days,
            second_escalation_email=team_settings.second_escalation_email,
        )


def reminder_owed(
    *,
    priority: str,
    due_date: date,
    day: date,
    rules: Rules,
    sent: set[tuple[str, date]],
    sent_today: bool,
) -> str | None:
    """The one reminder (kind) owed on `day`, or None. At most one a day per item: a second
    escalation outranks the first, which outranks the day's overdue reminder (each escalation
    goes to the owner too).

    - due soon: once, on the first day within `due_soon_days` before the due date;
    - overdue: the day after the due date, then every 1 (high priority) or 7 days;
    - escalation: once, from 3 (high) or 7 days overdue, to the team's leads and COE authors;
    - second escalation: once, from 14 days overdue, also to the team's escalation address.
    `sent` holds the (kind, due date) of earlier reminders of the item."""
    if sent_today:
        return None
    high = priority == ActionItem.Priority.HIGH
    late = (day - due_date).days
    if late <= 0:
        soon = 0 < -late <= rules.due_soon_days
        return Kind.DUE_SOON if soon and (Kind.DUE_SOON, due_date) not in sent else None
    if (
        rules.second_escalation_email
        and late >= rules.second_escalation_after_days
        and (Kind.ESCALATION_2, due_date) not in sent
    ):
        return Kind.ESCALATION_2
    escalate = rules.escalate_after_days_high if high else rules.escalate_after_days
    if late >= escalate and (Kind.ESCALATION, due_date) not in sent:
        return Kind.ESCALATION
    every = rules.overdue_every_days_high if high else rules.overdue_every_days
    if (late - 1) % every == 0:
        return Kind.OVERDUE
    return None
