"""The COE review workflow: draft → in review → (changes requested ↔ in review) → approved →
closed. Every move is one function that checks who may make it and records a review entry."""

from __future__ import annotations

import logging
from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from coe_portal.accounts.policy import Action, require
from incidents.coe.editing import refresh_required_reviewers
from incidents.coe.findings import CoeFinding, coe_findings
from incidents.coe.models import (
    OPTIONAL_SECTIONS,
    SECTION_FIELDS,
    SECTION_TITLES,
    Coe,
    CoeReview,
    CoeReviewPolicy,
)
from incidents.coe.permissions import require_edit
from incidents.incident.selectors import incidents_visible_to
from metrics.backends.errors import UNAVAILABLE

logger = logging.getLogger(__name__)

State = Coe.State
MIN_WHYS = 3


def submission_problems(coe: Coe, findings: list[CoeFinding] | None = None) -> list[str]:
    """What stops the COE going to review, each said so the author knows what to do. A page
    that already has the COE's blameless findings passes them in."""
    problems = []
    for field in SECTION_FIELDS:
        if field not in OPTIONAL_SECTIONS and not getattr(coe, field).strip():
            problems.append(f"Write the “{SECTION_TITLES[field]}” section.")
    if coe.impact_minutes is None:
        problems.append("Fill in how long customers were affected (minutes).")
    unanswered = [a for a in coe.answers.all() if not a.answer.strip()]
    if unanswered:
        listed = "; ".join(f"“{a.prompt}”" for a in unanswered[:3])
        more = f" and {len(unanswered) - 3} more" if len(unanswered) > 3 else ""
        problems.append(f"Answer {len(unanswered)} incident question(s): {listed}{more}.")
    chains: dict[int, int] = {}
    for why in coe.whys.all():
        chains[why.chain] = chains.get(why.chain, 0) + 1
    if max(chains.values(), default=0) < MIN_WHYS:
        have = max(chains.values(), default=0)
        problems.append(f"Ask at least {MIN_WHYS} whys in a chain (the longest has {have}).")
    items = list(coe.action_items.all())
    if not any(item.owner_id and item.due_date for item in items):
        problems.append("Add at least one action item with an owner and a due date.")
    problems += _reviewer_problems(coe)
    if findings is None:
        findings = coe_findings(coe)
    open_findings = [f for f in findings if f.acknowledgement is None]
    if open_findings:
        problems.append(
            f"Resolve {len(open_findings)} blameless-language finding(s): reword them or "
            "acknowledge each with a reason."
        )
    return problems


def _reviewer_problems(coe: Coe) -> list[str]:
    """A team that requires reviewers needs one who did not write the COE and can see it."""
    policy = CoeReviewPolicy.objects.filter(team_id=coe.team_id).first()
    if policy is None:
        return []
    named = list(policy.required_reviewers.filter(is_active=True))
    if not named:
        return []
    authors = set(coe.authors.values_list("pk", flat=True))
    eligible = [
        user for user in named
        if user.pk not in authors
        and incidents_visible_to(user).filter(pk=coe.incident_id).exists()
    ]  # fmt: skip
    if eligible:
        return []
    names = ", ".join(user.get_username() for user in named)
    return [
        f"The team requires a review by {names}, who wrote this COE or cannot see its incident: "
        "a team lead names another reviewer on the team's COE settings page."
    ]


def _record(coe: Coe, action: str, user: User | None, note: str = "") -> None:
    CoeReview.objects.create(
        coe=coe, action=action, user=user, note=note.strip(), coe_revision=coe.revision
    )


def _lock(coe: Coe) -> Coe:
    return Coe.objects.select_for_update().get(pk=coe.pk)


@transaction.atomic
def coe_submit(*, coe: Coe, user: User, now: datetime | None = None) -> Coe:
    """Send to review. The metric charts are frozen now, the first time, so later retention or
    changes to the alarms don't alter the report."""
    locked = _lock(coe)
    require_edit(locked, user)
    problems = submission_problems(locked)
    if problems:
        raise ValidationError(problems)
    moment = now or timezone.now()
    refresh_required_reviewers(locked)
    _freeze_charts(locked, moment)
    locked.state = State.IN_REVIEW
    locked.submitted_at = moment
    locked.save()
    _record(locked, CoeReview.Action.SUBMIT, user)
    return locked


def _freeze_charts(coe: Coe, moment: datetime) -> None:
    """Freeze the charts the first time they can be drawn. While the metrics backend is away
    they are not frozen (that would keep the outage's message forever): the COE keeps live
    charts and the next submission or the approval freezes them."""
    from incidents.incident.charts import build_incident_charts  # reads the metric store: only here

    if coe.metrics_snapshot is not None:
        return
    charts = build_incident_charts(coe.incident, now=moment)
    if any(UNAVAILABLE in (chart.get("error") or "") for chart in charts["charts"]):
        logger.warning("COE %s: charts not frozen, the metrics backend is unavailable", coe.pk)
        return
    coe.metrics_snapshot = charts
    coe.snapshot_taken_at = moment


def _require_reviewer(coe: Coe, user: User, verb: str) -> None:
    if coe.state != State.IN_REVIEW:
        raise ValidationError(f"Only a COE in review can be {verb}; this one is {coe.state}.")
    require(user, Action.REVIEW_COE, coe)


@transaction.atomic
def coe_request_changes(*, coe: Coe, user: User, note: str) -> Coe:
    locked = _lock(coe)
    _require_reviewer(locked, user, "sent back")
    if not note.strip():
        raise ValidationError({"note": "Say what needs to change."})
    locked.state = State.CHANGES_REQUESTED
    locked.save()
    _record(locked, CoeReview.Action.REQUEST_CHANGES, user, note)
    return locked


def pending_reviewers(coe: Coe) -> list[User]:
    """Required reviewers who have not approved the current revision since it was last sent."""
    last_submit = (
        coe.reviews.filter(action=CoeReview.Action.SUBMIT, coe_revision=coe.revision)
        .order_by("-at", "-id")
        .first()
    )
    approved = coe.reviews.filter(action=CoeReview.Action.APPROVE, coe_revision=coe.revision)
    if last_submit is not None:
        approved = approved.filter(id__gt=last_submit.pk)
    done = set(approved.values_list("user_id", flat=True))
    return [u for u in coe.required_reviewers.all() if u.pk not in done]


@transaction.atomic
def coe_approve(*, coe: Coe, user: User, note: str = "", now: datetime | None = None) -> Coe:
    """Record an approval. With required reviewers, the COE is approved once each of them has
    approved this submission; without, the first approval by a non-author approves it."""
    locked = _lock(coe)
    _require_reviewer(locked, user, "approved")
    _record(locked, CoeReview.Action.APPROVE, user, note)
    if pending_reviewers(locked):
        return locked
    locked.state = State.APPROVED
    locked.approved_at = now or timezone.now()
    _freeze_charts(locked, locked.approved_at)  # if the backend was away at submission
    locked.save()
    close_if_finished(locked, user=None)
    return locked


@transaction.atomic
def coe_reopen(*, coe: Coe, user: User, note: str) -> Coe:
    """Start a new revision of an approved COE; the approved one stays in the history."""
    locked = _lock(coe)
    if locked.state not in (State.APPROVED, State.CLOSED):
        raise ValidationError("Only an approved or closed COE is reopened for a new revision.")
    require(user, Action.EDIT_COE, locked)
    if not note.strip():
        raise ValidationError({"note": "Say why the COE needs a new revision."})
    locked.revision += 1
    locked.state = State.DRAFT
    locked.approved_at = None
    locked.closed_at = None
    locked.save()
    _record(locked, CoeReview.Action.REOPEN, user, note)
    return locked


def close_if_finished(coe: Coe, *, user: User | None) -> Coe:
    """An approved COE closes when every action item is done or won't-do; a closed one whose
    item is reopened goes back to approved."""
    items = list(coe.action_items.all())
    finished = bool(items) and all(item.is_finished for item in items)
    if coe.state == State.APPROVED and finished:
        coe.state = State.CLOSED
        coe.closed_at = timezone.now()
        coe.save()
        _record(coe, CoeReview.Action.CLOSE, user, "Every action item is done or won't-do.")
    elif coe.state == State.CLOSED and not finished:
        coe.state = State.APPROVED
        coe.closed_at = None
        coe.save()
    return coe
