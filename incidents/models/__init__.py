"""Incidents, COE reports and their action items."""

from incidents.models.action_items import ActionItem
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

__all__ = [
    "ActionItem",
    "Coe",
    "CoeAnswer",
    "CoeComment",
    "CoeFieldRevision",
    "CoeReview",
    "CoeReviewPolicy",
    "FindingAcknowledgement",
    "Incident",
    "IncidentQuestion",
    "QuestionGroup",
    "Severity",
    "TimelineEntry",
    "TimelineRevision",
    "Why",
]
