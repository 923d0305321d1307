"""Incidents, COE reports and their action items."""

from incidents.models.action_items import FINISHED_STATUSES, ActionItem, ActionItemEvent
from incidents.models.coe import (
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
from incidents.models.incident import Incident, Severity, TimelineEntry, TimelineRevision
from incidents.models.reminders import (
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
