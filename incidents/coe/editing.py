"""COE writes: start a COE from an incident, save fields with conflict detection and history,
5 Whys, action items. Who may write is in `permissions`; findings and comments have their own
modules."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from coe_portal.accounts.policy import Action, require
from incidents.action_items.models import ActionItem
from incidents.coe.impact import incident_impact
from incidents.coe.models import (
    SECTION_TITLES,
    Coe,
    CoeAnswer,
    CoeFieldRevision,
    CoeReviewPolicy,
    IncidentQuestion,
    Why,
)
from incidents.coe.permissions import require_edit
from incidents.incident.models import Incident

NUMBER_FIELDS = {
    "customers_affected": "Customers affected",
    "impact_minutes": "Impact duration (minutes)",
    "failed_requests": "Failed requests",
    "budget_consumed_percent": "SLO budget consumed (%)",
}


class EditConflict(Exception):
    """Someone saved the field after this edit began: both versions go back to the editor."""

    def __init__(self, field: str, label: str, theirs: str, yours: str, version: int) -> None:
        super().__init__(f"{label} was changed by someone else while you were editing.")
        self.field = field
        self.label = label
        self.theirs = theirs
        self.yours = yours
        self.version = version


def timeline_markdown(incident: Incident) -> str:
    lines = []
    for entry in incident.timeline.select_related("author"):
        who = f" ({entry.author.get_username()})" if entry.author else ""
        text = " ".join(entry.text.split())
        lines.append(f"- **{entry.at:%Y-%m-%d %H:%M:%S}** {entry.get_kind_display()}{who}: {text}")
    return "\n".join(lines)


@transaction.atomic
def coe_start(*, incident: Incident, user: User, now: datetime | None = None) -> Coe:
    """The incident's COE, created on first call with its timeline, the impact numbers the
    metric store can tell, and the incident questions of the default set and the team."""
    # Locking the incident serialises two clicks on "Start COE": the second finds the first's.
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    existing = Coe.objects.filter(incident=incident).first()
    if existing is not None:
        return existing
    require(user, Action.START_COE, incident)
    impact = incident_impact(incident, now=now)
    coe = Coe.objects.create(
        incident=incident,
        title=incident.title,
        team=incident.team,
        summary=incident.summary,
        timeline=timeline_markdown(incident),
        customers_affected=None,
        impact_minutes=impact.minutes,
        failed_requests=impact.failed_requests,
        budget_consumed_percent=impact.budget_consumed_percent,
        created_by=user,
    )
    coe.services.set(incident.services.all())
    coe.authors.add(user)
    if incident.owner_id and incident.owner_id != user.pk:
        coe.authors.add(incident.owner_id)
    refresh_required_reviewers(coe)
    questions = IncidentQuestion.objects.filter(active=True).filter(
        team__isnull=True
    ) | IncidentQuestion.objects.filter(active=True, team=incident.team)
    CoeAnswer.objects.bulk_create(
        CoeAnswer(coe=coe, question=q, group=q.group, prompt=q.prompt, position=index)
        for index, q in enumerate(questions.order_by("position", "id"))
    )
    return coe


def refresh_required_reviewers(coe: Coe) -> list[User]:
    """Set the COE's required reviewers from its team's policy, leaving out its authors (they
    cannot review their own COE); returns the policy's reviewers who were left out."""
    policy = CoeReviewPolicy.objects.filter(team_id=coe.team_id).first()
    if policy is None:
        coe.required_reviewers.clear()
        return []
    authors = set(coe.authors.values_list("pk", flat=True))
    named = list(policy.required_reviewers.filter(is_active=True))
    coe.required_reviewers.set([u for u in named if u.pk not in authors])
    return [u for u in named if u.pk in authors]


def _field_label(coe: Coe, field: str) -> str:
    if field in SECTION_TITLES:
        return SECTION_TITLES[field]
    if field in NUMBER_FIELDS:
        return NUMBER_FIELDS[field]
    if field == "title":
        return "Title"
    if field.startswith("answer-"):
        answer = coe.answers.filter(pk=_answer_id(field)).first()
        if answer is not None:
            return answer.prompt
    raise ValidationError(f"A COE has no field {field!r}.")


def _answer_id(field: str) -> int:
    try:
        return int(field.removeprefix("answer-"))
    except ValueError:
        raise ValidationError(f"A COE has no field {field!r}.") from None


def _current(coe: Coe, field: str) -> str:
    if field.startswith("answer-"):
        return coe.answers.get(pk=_answer_id(field)).answer
    value = getattr(coe, field)
    return "" if value is None else str(value)


def _clean_number(field: str, value: str) -> int | float | None:
    text = value.strip()
    if not text:
        return None
    try:
        number = float(text) if field == "budget_consumed_percent" else int(text)
    except ValueError:
        raise ValidationError({field: "Enter a number, or leave it empty."}) from None
    if number < 0:
        raise ValidationError({field: "Enter a number of zero or more."})
    return number


@transaction.atomic
def coe_save_field(
    *, coe: Coe, user: User, field: str, value: str, base_version: int | None
) -> Coe:
    """Save one field. `base_version` is the version the editor loaded: if the field moved on
    since, nothing is written and EditConflict carries both texts."""
    locked = Coe.objects.select_for_update().get(pk=coe.pk)
    require_edit(locked, user)
    label = _field_label(locked, field)
    old = _current(locked, field)
    version = locked.version_of(field)
    if base_version is not None and base_version != version and value != old:
        raise EditConflict(field, label, old, value, version)
    if field in NUMBER_FIELDS:
        number = _clean_number(field, value)
        new = "" if number is None else str(number)
        setattr(locked, field, number)
    elif field == "title":
        new = value.strip()
        if not new:
            raise ValidationError({"title": "A COE needs a title."})
        locked.title = new[:200]
    else:
        new = value.replace("\r\n", "\n")
        if field.startswith("answer-"):
            CoeAnswer.objects.filter(pk=_answer_id(field), coe=locked).update(answer=new)
        else:
            setattr(locked, field, new)
    if new == old:
        return locked
    locked.versions = {**locked.versions, field: version + 1}
    locked.save()
    locked.authors.add(user)  # whoever writes the COE is an author: they cannot approve it
    CoeFieldRevision.objects.create(
        coe=locked, field=field, label=label[:200], old=old, new=new, author=user,
        coe_revision=locked.revision,
    )  # fmt: skip
    return locked


@dataclass(frozen=True)
class WhyRow:
    chain: int
    question: str
    answer: str


def whys_text(rows: Iterable[WhyRow] | Iterable[Why]) -> str:
    lines = []
    for row in rows:
        lines.append(f"[{row.chain}] Why? {row.question}\n    Because: {row.answer}")
    return "\n".join(lines)


@transaction.atomic
def coe_save_whys(*, coe: Coe, user: User, rows: Sequence[WhyRow], base_version: int | None) -> Coe:
    """Replace the 5 Whys with `rows` (blank rows dropped; a row needs both halves)."""
    locked = Coe.objects.select_for_update().get(pk=coe.pk)
    require_edit(locked, user)
    kept = []
    for index, row in enumerate(rows, start=1):
        question, answer = row.question.strip(), row.answer.strip()
        if not question and not answer:
            continue
        if not question or not answer:
            raise ValidationError(
                {"whys": f"Row {index}: write both the why and the because, or clear both."}
            )
        kept.append(WhyRow(row.chain, question, answer))
    kept.sort(key=lambda row: row.chain)  # stable: the order within a chain is kept
    old = whys_text(locked.whys.all())
    new = whys_text(kept)
    version = locked.version_of("whys")
    if base_version is not None and base_version != version and new != old:
        raise EditConflict("whys", "5 Whys", old, new, version)
    if new == old:
        return locked
    locked.whys.all().delete()
    positions: dict[int, int] = {}
    for row in kept:
        positions[row.chain] = positions.get(row.chain, 0) + 1
        Why.objects.create(
            coe=locked, chain=row.chain, position=positions[row.chain],
            question=row.question, answer=row.answer,
        )  # fmt: skip
    locked.versions = {**locked.versions, "whys": version + 1}
    locked.save()
    locked.authors.add(user)
    CoeFieldRevision.objects.create(
        coe=locked, field="whys", label="5 Whys", old=old, new=new, author=user,
        coe_revision=locked.revision,
    )  # fmt: skip
    return locked


def _item_text(item: ActionItem) -> str:
    return json.dumps(
        {
            "title": item.title,
            "owner": item.owner.get_username(),
            "team": item.team.name,
            "priority": item.priority,
            "kind": item.kind,
            "due_date": item.due_date.isoformat(),
            "tracker_url": item.tracker_url,
            "status": item.status,
        },
        indent=1,
    )


@transaction.atomic
def action_item_save(
    *,
    coe: Coe,
    user: User,
    title: str,
    owner: User,
    priority: str,
    kind: str,
    due_date: date,
    tracker_url: str = "",
    item: ActionItem | None = None,
) -> ActionItem:
    """Add an action item to a COE being written, or change one; the owner's team (or the
    COE's, if the owner is in several or none) owns it."""
    locked = Coe.objects.select_for_update().get(pk=coe.pk)
    require_edit(locked, user)
    if not title.strip():
        raise ValidationError({"title": "Say what will be done."})
    old = _item_text(item) if item is not None else ""
    teams = list(owner.memberships.values_list("team_id", flat=True))
    team_id = locked.team_id if locked.team_id in teams or len(teams) != 1 else teams[0]
    if item is None:
        item = ActionItem(coe=locked)
    item.title = title.strip()
    item.owner = owner
    item.team_id = team_id
    item.priority = priority
    item.kind = kind
    item.due_date = due_date
    item.tracker_url = tracker_url
    item.full_clean(exclude=["coe"])
    item.save()
    locked.authors.add(user)
    CoeFieldRevision.objects.create(
        coe=locked, field=f"action-item-{item.pk}", label=f"Action item: {item.title}"[:200],
        old=old, new=_item_text(item), author=user, coe_revision=locked.revision,
    )  # fmt: skip
    return item


@transaction.atomic
def action_item_remove(*, coe: Coe, user: User, item: ActionItem) -> None:
    locked = Coe.objects.select_for_update().get(pk=coe.pk)
    require_edit(locked, user)
    CoeFieldRevision.objects.create(
        coe=locked, field=f"action-item-{item.pk}", label=f"Action item: {item.title}"[:200],
        old=_item_text(item), new="", author=user, coe_revision=locked.revision,
    )  # fmt: skip
    item.delete()
