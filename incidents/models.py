"""Incidents, COE reports and their action items."""

from incidents.action_items.models import FINISHED_STATUSES, ActionItem, ActionItemEvent
from incidents.coe.models import (
    Coe,
    CoeAnswer,
    CoeComment,
    CoeFieldRevision,
    CoeReview,
    CoeReviewPolicy,
    FindingAcknowledgement,
    IncidentQuestion,
    QuestionGroup,
    Why,
)
from incidents.incident.models import Incident, Severity, TimelineEntry, TimelineRevision
from incidents.reminders.models import (
    Notification,
    Reminder,
    ReminderPreference,
    TeamDigest,
    TeamReminderSettings,
)

__all__ = [
    "FINISHED_STATUSES",
    "ActionItem",
    "ActionItemEvent",
    "Coe",
    "CoeAnswer",
    "CoeComment",
    "CoeFieldRevision",
    "CoeReview",
    "CoeReviewPolicy",
    "FindingAcknowledgement",
    "Incident",
    "IncidentQuestion",
    "Notification",
    "QuestionGroup",
    "Reminder",
    "ReminderPreference",
    "Severity",
    "TeamDigest",
    "TeamReminderSettings",
    "TimelineEntry",
    "TimelineRevision",
    "Why",
]
