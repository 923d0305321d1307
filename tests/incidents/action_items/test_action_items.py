"""The life of an action item: status moves with their reasons, due dates, owners, history."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from incidents.action_items.lifecycle import (
    item_change_due,
    item_set_status,
    items_reassign,
)
from incidents.coe.models import Coe
from incidents.coe.workflow import coe_approve, coe_submit
from tests.incidents.coe_support import NOW, written_coe


@pytest.fixture
def approved(org) -> Coe:
    coe = coe_submit(coe=written_coe(org), user=org.owner, now=NOW)
    return coe_approve(coe=coe, user=org.reviewer)


def test_moves_need_their_reasons_and_are_kept_in_the_history(approved, org):
    item = approved.action_items.get()
    with pytest.raises(ValidationError, match="Say what blocks it"):
        item_set_status(item=item, user=org.teammate, status="blocked")
    item = item_set_status(item=item, user=org.teammate, status="blocked", note="Vendor API")
    item = item_set_status(item=item, user=org.teammate, status="in_progress")
    with pytest.raises(ValidationError, match="Say why it won't be done"):
        item_set_status(item=item, user=org.teammate, status="wont_do", note=" ")
    with pytest.raises(ValidationError, match="cannot go from In progress to 'later'"):
        item_set_status(item=item, user=org.teammate, status="later")
    history = list(item.events.values_list("kind", "old", "new", "reason", "user__username"))
    assert history == [
        ("status", "Open", "Blocked", "Vendor API", "theo"),
        ("status", "Blocked", "In progress", "", "theo"),
    ]


def test_the_last_finished_item_closes_the_coe_and_reopening_brings_it_back(approved, org):
    item = approved.action_items.get()
    item_set_status(
        item=item, user=org.teammate, status="done", note="Canary checks pool size.",
        verification_url="https://ci.example.com/canary/42",
    )  # fmt: skip
    approved.refresh_from_db()
    assert approved.state == "closed"
    item.refresh_from_db()
    assert (item.verification_url, item.completed_at is not None) == (
        "https://ci.example.com/canary/42", True,
    )  # fmt: skip
    item_set_status(item=item, user=org.owner, status="open")
    approved.refresh_from_db()
    assert approved.state == "approved"
    assert list(approved.reviews.values_list("action", flat=True))[-1] == "close"


def test_only_the_owner_and_the_teams_change_an_item(approved, org):
    item = approved.action_items.get()
    with pytest.raises(PermissionDenied):
        item_set_status(item=item, user=org.outsider, status="in_progress")
    with pytest.raises(ValidationError, match="Say why the due date moves"):
        item_change_due(item=item, user=org.teammate, due_date=date(2027, 1, 5), reason="")
    item = item_change_due(
        item=item, user=org.teammate, due_date=date(2027, 1, 5), reason="Needs the Q1 freeze"
    )
    event = item.events.get()
    assert (event.old, event.new, event.reason) == (
        "2026-12-15",
        "2027-01-05",
        "Needs the Q1 freeze",
    )


def test_a_lead_hands_a_leavers_open_items_to_someone_else(approved, org):
    item = approved.action_items.get()
    with pytest.raises(PermissionDenied):
        items_reassign(
            team=org.checkout, from_user=org.teammate, to_user=org.owner, user=org.teammate
        )
    moved = items_reassign(
        team=org.checkout, from_user=org.teammate, to_user=org.owner, user=org.owner
    )
    item.refresh_from_db()
    assert (moved, item.owner) == (1, org.owner)
    assert item.events.get().new == "olivia"
