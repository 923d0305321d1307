"""Action item pages: mine, the list with filters and CSV, the board, an item, the calendar."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.urls import reverse

from incidents.action_items.models import ActionItem
from incidents.reminders.models import Notification
from tests.incidents.coe_support import resolved_incident, written_coe

TODAY = datetime(2026, 12, 12, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(TODAY, tick=False):
        yield


def add_item(coe, org, title: str, due: date, **fields) -> ActionItem:
    values = {"owner": org.teammate, "team": org.checkout, "priority": "medium"}
    values.update(fields)
    return ActionItem.objects.create(coe=coe, title=title, due_date=due, **values)


def test_my_items_are_grouped_by_when_they_are_due(client, org):
    coe = written_coe(org)  # "Add pool size to the canary checks", due 2026-12-15
    add_item(coe, org, "Late one", date(2026, 12, 1))
    add_item(coe, org, "Far one", date(2027, 2, 1))
    add_item(coe, org, "Finished", date(2026, 12, 1), status="done")
    add_item(coe, org, "Olivia's", date(2026, 12, 13), owner=org.owner)
    client.force_login(org.teammate)
    groups = client.get(reverse("incidents:action-item-list")).context["groups"]
    titles = {name: [i.title for i in items] for name, items in groups.items()}
    assert titles == {
        "overdue": ["Late one"],
        "this_week": ["Add pool size to the canary checks"],
        "later": ["Far one"],
    }


def test_the_list_filters_and_exports_csv(client, org):
    coe = written_coe(org)
    add_item(coe, org, "Late high", date(2026, 12, 1), priority="high")
    add_item(coe, org, "Search's", date(2026, 12, 2), owner=org.outsider, team=org.search)
    client.force_login(org.reviewer)
    overdue = client.get(reverse("incidents:action-item-overdue"))
    assert [i.title for i in overdue.context["items"]] == ["Late high", "Search's"]
    filtered = client.get(reverse("incidents:action-item-overdue"), {"team": "checkout"})
    assert [i.title for i in filtered.context["items"]] == ["Late high"]
    export = client.get(reverse("incidents:action-item-all"), {"priority": "high", "format": "csv"})
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert rows[0][:8] == ["id", "title", "status", "priority", "kind", "owner", "team", "due_date"]
    assert [row[1] for row in rows[1:]] == ["Late high", "Add pool size to the canary checks"]
    ranged = client.get(
        reverse("incidents:action-item-all"), {"due_from": "2026-12-10", "due_to": "2026-12-31"}
    )
    assert [i.title for i in ranged.context["items"]] == ["Add pool size to the canary checks"]


def test_restricted_items_are_invisible_to_other_teams(client, org):
    coe = written_coe(org, resolved_incident(org, restricted=True))
    item = coe.action_items.get()
    client.force_login(org.outsider)
    assert client.get(reverse("incidents:action-item-detail", args=[item.pk])).status_code == 404
    listing = client.get(reverse("incidents:action-item-all"))
    assert list(listing.context["items"]) == []
    assert (
        client.post(
            reverse("incidents:action-status", args=[item.pk]), {"status": "in_progress"}
        ).status_code
        == 404
    )


def test_the_board_moves_an_item_and_the_item_page_needs_reasons(client, org):
    item = written_coe(org).action_items.get()
    client.force_login(org.teammate)
    board = reverse("incidents:action-board", args=["checkout"])
    response = client.post(
        reverse("incidents:action-status", args=[item.pk]), {"status": "in_progress", "next": board}
    )
    assert response["Location"] == board
    columns = {
        c["status"]: [i.title for i in c["items"]] for c in client.get(board).context["columns"]
    }
    assert columns["in_progress"] == ["Add pool size to the canary checks"]
    detail = reverse("incidents:action-item-detail", args=[item.pk])
    page = client.post(
        reverse("incidents:action-status", args=[item.pk]), {"status": "wont_do"}, follow=True
    )
    assert "Say why it won&#x27;t be done." in page.content.decode()
    client.post(
        reverse("incidents:action-due", args=[item.pk]),
        {"due_date": "2027-01-10", "reason": "After the freeze"},
    )
    client.post(
        reverse("incidents:action-snooze", args=[item.pk]),
        {"until": "2026-12-20", "reason": "On call week"},
    )
    html = client.get(detail).content.decode()
    assert "After the freeze" in html
    assert "until 2026-12-20: On call week" in html


def test_the_calendar_feed_needs_its_key(client, org):
    written_coe(org)
    client.force_login(org.teammate)
    url = client.get(reverse("incidents:action-item-list")).context["calendar_url"]
    client.logout()
    feed = client.get(url.replace("http://testserver", ""))
    assert feed["Content-Type"] == "text/calendar; charset=utf-8"
    text = feed.content.decode()
    assert "DTSTART;VALUE=DATE:20261215\r\n" in text
    assert "SUMMARY:Due: Add pool size to the canary checks\r\n" in text
    assert client.get(reverse("incidents:action-item-ics"), {"key": "forged"}).status_code == 403


def test_notifications_show_an_unread_count(client, org):
    Notification.objects.create(user=org.teammate, text="Overdue by 1 days: x", url="/")
    client.force_login(org.teammate)
    page = client.get(reverse("incidents:notifications")).content.decode()
    assert 'aria-label="1 unread"' in page
    client.post(reverse("incidents:notifications"))
    assert "unread-count" not in client.get(reverse("incidents:notifications")).content.decode()


def test_reminder_preferences_are_checked(client, org):
    client.force_login(org.teammate)
    url = reverse("incidents:reminder-preferences")
    bad = client.post(url, {"time_zone": "Mars/Olympus", "work_start_hour": 17, "work_end_hour": 9})
    assert bad.status_code == 400
    assert bad.context["form"].errors == {
        "time_zone": ["Unknown time zone 'Mars/Olympus'."],
        "work_end_hour": ["Working hours end after they start."],
    }
    good = client.post(
        url, {"time_zone": "Europe/Berlin", "work_start_hour": 8, "work_end_hour": 16}
    )
    assert good.status_code == 302
    assert org.teammate.reminder_preference.time_zone == "Europe/Berlin"
