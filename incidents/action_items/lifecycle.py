"""Action item writes: status moves (with the reasons they need), due date changes, snoozes and
handing an owner's items to someone else. Each change is an event in the item's history, and a
finished last item closes its COE (a reopened one brings it back to approved)."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from coe_portal.accounts.models import Team
from coe_portal.accounts.policy import Action, require
from incidents.action_items.models import FINISHED_STATUSES, ActionItem, ActionItemEvent
from incidents.coe.models import Coe
from incidents.coe.workflow import close_if_finished

Status = ActionItem.Status
ALLOWED_MOVES: dict[str, set[str]] = {
    Status.OPEN: {Status.IN_PROGRESS, Status.BLOCKED, Status.DONE, Status.WONT_DO},
    Status.IN_PROGRESS: {Status.OPEN, Status.BLOCKED, Status.DONE, Status.WONT_DO},
    Status.BLOCKED: {Status.OPEN, Status.IN_PROGRESS, Status.DONE, Status.WONT_DO},
    Status.DONE: {Status.OPEN, Status.IN_PROGRESS},  # reopening
    Status.WONT_DO: {Status.OPEN, Status.IN_PROGRESS},
}
NEEDS_NOTE: dict[str, str] = {
    Status.DONE: "Say what was done (a completion note).",
    Status.WONT_DO: "Say why it won't be done.",
    Status.BLOCKED: "Say what blocks it.",
}


def _locked(item: ActionItem, user: User) -> ActionItem:
    locked = ActionItem.objects.select_for_update().select_related("coe").get(pk=item.pk)
    require(user, Action.UPDATE_ACTION_ITEM, locked)
    return locked


def _event(item: ActionItem, kind: str, old: str, new: str, reason: str, user: User | None) -> None:
    ActionItemEvent.objects.create(
        item=item, kind=kind, old=old[:200], new=new[:200], reason=reason, user=user
    )


@transaction.atomic
def item_set_status(
    *, item: ActionItem, user: User, status: str, note: str = "", verification_url: str = ""
) -> ActionItem:
    locked = _locked(item, user)
    if status not in ALLOWED_MOVES.get(locked.status, set()):
        wanted = Status(status).label if status in Status.values else repr(status)
        raise ValidationError(
            {"status": f"An item cannot go from {locked.get_status_display()} to {wanted}."}
        )
    note = note.strip()
    if status in NEEDS_NOTE and not note:
        raise ValidationError({"note": NEEDS_NOTE[status]})
    old = locked.get_status_display()
    locked.status = status
    locked.status_note = note
    if status == Status.DONE:
        locked.verification_url = verification_url.strip()
    if status in FINISHED_STATUSES:
        locked.completed_at = timezone.now()
    else:
        locked.completed_at = None
    locked.full_clean(exclude=["coe", "owner", "team"])
    locked.save()
    _event(locked, ActionItemEvent.Kind.STATUS, old, locked.get_status_display(), note, user)
    coe = Coe.objects.select_for_update().get(pk=locked.coe_id)
    close_if_finished(coe, user=user)
    return locked


@transaction.atomic
def item_change_due(*, item: ActionItem, user: User, due_date: date, reason: str) -> ActionItem:
    locked = _locked(item, user)
    if not reason.strip():
        raise ValidationError({"reason": "Say why the due date moves."})
    if due_date == locked.due_date:
        return locked
    old = locked.due_date.isoformat()
    locked.due_date = due_date
    locked.save(update_fields=["due_date", "updated_at"])
    _event(locked, ActionItemEvent.Kind.DUE_DATE, old, due_date.isoformat(), reason.strip(), user)
    return locked


@transaction.atomic
def item_snooze(*, item: ActionItem, user: User, until: date, reason: str) -> ActionItem:
    """No reminders about the item up to and including `until`; the reason shows on the item."""
    locked = _locked(item, user)
    if not reason.strip():
        raise ValidationError({"reason": "Say why the reminders pause."})
    if until < timezone.now().date():
        raise ValidationError({"until": "Snooze until today or a later day."})
    old = locked.snoozed_until.isoformat() if locked.snoozed_until else ""
    locked.snoozed_until = until
    locked.snooze_reason = reason.strip()
    locked.save(update_fields=["snoozed_until", "snooze_reason", "updated_at"])
    _event(locked, ActionItemEvent.Kind.SNOOZE, old, until.isoformat(), reason.strip(), user)
    return locked


@transaction.atomic
def items_reassign(*, team: Team, from_user: User, to_user: User, user: User) -> int:
    """Hand every unfinished item `from_user` owns in `team` to `to_user` (someone leaving the
    team): team leads only. Returns how many items moved."""
    require(user, Action.MANAGE_TEAM, team)
    if from_user == to_user:
        raise ValidationError({"to_user": "Choose someone else."})
    if not to_user.is_active:
        raise ValidationError({"to_user": "That account is inactive."})
    items = list(
        ActionItem.objects.select_for_update()
        .filter(team=team, owner=from_user)
        .exclude(status__in=FINISHED_STATUSES)
    )
    for item in items:
        item.owner = to_user
        item.save(update_fields=["owner", "updated_at"])
        _event(
            item, ActionItemEvent.Kind.OWNER, from_user.get_username(), to_user.get_username(),
            "Reassigned by a team lead.", user,
        )  # fmt: skip
    return len(items)
