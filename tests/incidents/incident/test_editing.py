"""Editing an incident after opening it: one timeline entry per changed field, validation,
the page's edit and status forms, and the API's PATCH and timeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client

from coe_portal.accounts.services import api_token_create
from incidents.incident.models import Incident, TimelineEntry
from incidents.incident.services import incident_edit, incident_open, incident_set_status
from metrics.alarms.models import Alarm
from metrics.slo.models import SLO

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 14, 18, 0, tzinfo=UTC)
STARTED = datetime(2026, 11, 14, 17, 21, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def open_one(org, **changes):
    fields = {
        "title": "Checkout errors", "severity": "SEV3", "team": org.checkout, "owner": org.owner,
        "started_at": STARTED, "detected_at": STARTED + timedelta(minutes=4),
        "services": [org.cart], "opened_by": org.owner, **changes,
    }  # fmt: skip
    return incident_open(**fields)


def edit_texts(incident: Incident) -> list[str]:
    return list(
        incident.timeline.filter(kind=TimelineEntry.Kind.ACTION)
        .exclude(text__startswith="Incident opened")
        .values_list("text", flat=True)
    )


def _alarm(org) -> Alarm:
    return Alarm.objects.create(
        name="emails-backlog", team=org.checkout, expression="max(queue_depth)",
        period_seconds=60, evaluation_periods=3, datapoints_to_alarm=2, comparison=">",
        threshold=100,
    )  # fmt: skip


def _slo(org) -> SLO:
    return SLO.objects.create(
        name="availability", service=org.cart, team=org.checkout,
        objective_percent=Decimal("99.9"),
        bad_query='sum(rate(http_requests_total{code=~"5.."}[{{window}}]))',
        total_query="sum(rate(http_requests_total[{{window}}]))",
    )  # fmt: skip


def test_each_changed_field_gets_one_entry_with_old_and_new(org):
    incident = open_one(org)
    alarm, slo = _alarm(org), _slo(org)
    incident_set_status(incident=incident, status="mitigated", at=STARTED + timedelta(minutes=30))
    incident.refresh_from_db()
    incident_edit(
        incident=incident, user=org.teammate,
        changes={
            "title": "Checkout 500s", "severity": "SEV1", "services": [org.cart, org.payments],
            "summary": "Card payments failed.", "owner": org.teammate,
            "started_at": datetime(2026, 11, 14, 17, 5, tzinfo=UTC),
            "detected_at": datetime(2026, 11, 14, 17, 20, tzinfo=UTC),
            "mitigated_at": datetime(2026, 11, 14, 17, 40, tzinfo=UTC),
            "alarms": [alarm], "slos": [slo], "restricted": True,
            "visible_to": [org.search],
        },
    )  # fmt: skip
    assert edit_texts(incident) == [
        "Title: Checkout errors → Checkout 500s.",
        "Severity: SEV3 → SEV1.",
        "Services: cart → cart, payments.",
        "Summary: empty → Card payments failed.",
        "Lead: olivia → theo.",
        "Started: 2026-11-14 17:21 UTC → 2026-11-14 17:05 UTC.",
        "Detected: 2026-11-14 17:25 UTC → 2026-11-14 17:20 UTC.",
        "Mitigated: 2026-11-14 17:51 UTC → 2026-11-14 17:40 UTC.",
        "Alarms: none → emails-backlog.",
        "SLOs: none → availability.",
        "Restricted: no → yes.",
        "Visible to: none → Search.",
    ]
    entries = incident.timeline.exclude(text__startswith="Incident opened").filter(kind="action")
    assert {(e.author_id, e.at) for e in entries} == {(org.teammate.pk, NOW)}
    incident.refresh_from_db()
    assert (incident.title, incident.severity, incident.owner_id) == (
        "Checkout 500s", "SEV1", org.teammate.pk,
    )  # fmt: skip
    assert list(incident.alarms.all()) == [alarm]
    assert list(incident.slos.all()) == [slo]


def test_links_are_removed_too(org):
    alarm = _alarm(org)
    incident = open_one(org)
    incident.alarms.add(alarm)
    incident_edit(incident=incident, user=org.owner, changes={"alarms": [], "owner": None})
    assert edit_texts(incident) == ["Lead: olivia → nobody.", "Alarms: emails-backlog → none."]
    assert incident.alarms.count() == 0


def test_a_no_op_edit_changes_nothing(org):
    incident = open_one(org)
    before = incident.timeline.count()
    incident_edit(
        incident=incident, user=org.owner,
        changes={"title": "  Checkout errors ", "severity": "SEV3", "services": [org.cart],
                 "started_at": STARTED, "owner": org.owner, "restricted": False},
    )  # fmt: skip
    assert incident.timeline.count() == before


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"title": "  "}, {"title": ["Give the incident a title."]}),
        ({"severity": "SEV9"}, {"severity": ["One of SEV1, SEV2, SEV3, SEV4."]}),
        (
            {"detected_at": STARTED - timedelta(minutes=1)},
            {"detected_at": ["An incident cannot be detected before it started."]},
        ),
        (
            {"started_at": NOW + timedelta(minutes=6)},
            {"started_at": ["This time is in the future."],
             "detected_at": ["An incident cannot be detected before it started."]},
        ),
        (
            {"detected_at": NOW + timedelta(minutes=10)},
            {"detected_at": ["This time is in the future."]},
        ),
        (
            {"mitigated_at": STARTED + timedelta(minutes=5)},
            {"mitigated_at": [
                "The incident is Investigating, not mitigated: move its status instead."
            ]},
        ),
        (
            {"resolved_at": STARTED + timedelta(minutes=5)},
            {"resolved_at": [
                "The incident is Investigating, not resolved: move its status instead."
            ]},
        ),
        ({"team": "search"}, {"team": ["This field cannot be edited."]}),
    ],
)  # fmt: skip
def test_invalid_edits_are_refused_and_change_nothing(org, changes, errors):
    incident = open_one(org)
    before = incident.timeline.count()
    with pytest.raises(ValidationError) as raised:
        incident_edit(incident=incident, user=org.owner, changes=changes)
    assert raised.value.message_dict == errors
    assert incident.timeline.count() == before
    assert Incident.objects.get(pk=incident.pk).title == "Checkout errors"


def test_a_small_clock_difference_is_tolerated(org):
    incident = open_one(org)
    incident_edit(
        incident=incident, user=org.owner, changes={"detected_at": NOW + timedelta(minutes=4)}
    )
    assert edit_texts(incident) == ["Detected: 2026-11-14 17:25 UTC → 2026-11-14 18:04 UTC."]


def test_times_of_a_resolved_incident_stay_consistent(org):
    incident = open_one(org)
    incident_set_status(incident=incident, status="resolved", at=STARTED + timedelta(minutes=30))
    with pytest.raises(ValidationError) as raised:
        incident_edit(
            incident=incident, user=org.owner,
            changes={"mitigated_at": None, "resolved_at": STARTED + timedelta(minutes=10)},
        )  # fmt: skip
    assert raised.value.message_dict == {
        "mitigated_at": ["A resolved incident has a mitigation time."],
    }
    with pytest.raises(ValidationError) as raised:
        incident_edit(
            incident=incident, user=org.owner,
            changes={"mitigated_at": STARTED + timedelta(minutes=20),
                     "resolved_at": STARTED + timedelta(minutes=10)},
        )  # fmt: skip
    assert raised.value.message_dict == {
        "resolved_at": ["An incident cannot be resolved before it was mitigated."],
    }


# The status moved at a past time


def test_a_status_move_is_recorded_at_the_time_given(org):
    incident = open_one(org)
    at = datetime(2026, 11, 14, 17, 50, tzinfo=UTC)
    incident = incident_set_status(incident=incident, status="mitigated", user=org.owner, at=at)
    assert incident.mitigated_at == at
    entry = incident.timeline.get(kind=TimelineEntry.Kind.STATUS)
    assert (entry.at, entry.text) == (at, "Status: Investigating → Mitigated.")


@pytest.mark.parametrize(
    ("at", "error"),
    [
        (STARTED - timedelta(minutes=1), "A status cannot change before the incident started."),
        (NOW + timedelta(minutes=6), "This time is in the future."),
    ],
)
def test_a_status_move_before_the_start_or_in_the_future_is_refused(org, at, error):
    incident = open_one(org)
    with pytest.raises(ValidationError) as raised:
        incident_set_status(incident=incident, status="mitigated", at=at)
    assert raised.value.message_dict == {"at": [error]}
    assert Incident.objects.get(pk=incident.pk).status == "investigating"


def test_the_page_moves_the_status_at_a_past_time(client, org):
    incident = open_one(org)
    client.force_login(org.teammate)
    response = client.post(
        f"/incidents/{incident.pk}/status", {"status": "mitigated", "at": "2026-11-14T17:50"}
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.mitigated_at == datetime(2026, 11, 14, 17, 50, tzinfo=UTC)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "<td>2026-11-14 17:50:00</td><td>Status change</td>" in page


def test_the_page_refuses_a_status_time_before_the_start(client, org):
    incident = open_one(org)
    client.force_login(org.teammate)
    response = client.post(
        f"/incidents/{incident.pk}/status",
        {"status": "mitigated", "at": "2026-11-14T17:00"},
        follow=True,
    )
    assert "A status cannot change before the incident started." in response.content.decode()
    assert Incident.objects.get(pk=incident.pk).status == "investigating"


# The page's edit form


def page_form(incident: Incident, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "title": incident.title, "severity": incident.severity,
        "services": [s.pk for s in incident.services.all()],
        "owner": incident.owner_id or "", "summary": incident.summary,
        "started_at": f"{incident.started_at:%Y-%m-%dT%H:%M}",
        "detected_at": f"{incident.detected_at:%Y-%m-%dT%H:%M}",
        "mitigated_at": "", "resolved_at": "",
    }  # fmt: skip
    return {**data, **changes}


def test_the_edit_form_saves_and_the_timeline_shows_it(client, org):
    incident = open_one(org)
    client.force_login(org.teammate)
    response = client.post(
        f"/incidents/{incident.pk}/edit",
        page_form(incident, severity="SEV1", started_at="2026-11-14T17:05"),
    )
    assert response.status_code == 302
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Severity: SEV3 → SEV1." in page
    assert "Started: 2026-11-14 17:21 UTC → 2026-11-14 17:05 UTC." in page
    assert edit_texts(incident) == [
        "Severity: SEV3 → SEV1.",
        "Started: 2026-11-14 17:21 UTC → 2026-11-14 17:05 UTC.",
    ]


def test_saving_the_form_unchanged_keeps_the_seconds_and_writes_nothing(client, org):
    incident = open_one(org, summary="")
    Incident.objects.filter(pk=incident.pk).update(started_at=STARTED + timedelta(seconds=42))
    incident.refresh_from_db()
    client.force_login(org.owner)
    assert client.post(f"/incidents/{incident.pk}/edit", page_form(incident)).status_code == 302
    assert edit_texts(incident) == []
    assert Incident.objects.get(pk=incident.pk).started_at == STARTED + timedelta(seconds=42)


def test_the_edit_form_shows_field_errors(client, org):
    incident = open_one(org)
    client.force_login(org.teammate)
    response = client.post(
        f"/incidents/{incident.pk}/edit", page_form(incident, detected_at="2026-11-14T17:00")
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert '<p class="field-error">An incident cannot be detected before it started.</p>' in page
    assert '<details class="card" id="edit" open>' in page
    assert edit_texts(incident) == []


def test_another_team_cannot_edit_or_move_it_and_sees_no_form(client, org):
    incident = open_one(org)
    client.force_login(org.outsider)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f'action="/incidents/{incident.pk}/edit"' not in page
    assert f'action="/incidents/{incident.pk}/status"' not in page
    edit = client.post(f"/incidents/{incident.pk}/edit", page_form(incident, severity="SEV1"))
    status = client.post(f"/incidents/{incident.pk}/status", {"status": "resolved"})
    assert (edit.status_code, status.status_code) == (403, 403)
    assert "Only members of Checkout, the teams it is shared with and its lead change this " \
        "incident." in edit.content.decode()  # fmt: skip
    incident.refresh_from_db()
    assert (incident.severity, incident.status) == ("SEV3", "investigating")


def test_the_lead_from_another_team_may_edit(client, org):
    incident = open_one(org, owner=org.outsider)
    client.force_login(org.outsider)
    response = client.post(f"/incidents/{incident.pk}/edit", page_form(incident, title="Cart"))
    assert response.status_code == 302
    assert edit_texts(incident) == ["Title: Checkout errors → Cart."]
    moved = client.post(f"/incidents/{incident.pk}/status", {"status": "identified"})
    assert moved.status_code == 302
    assert Incident.objects.get(pk=incident.pk).status == "identified"


# The API


def bearer(team, *scopes: str) -> dict[str, str]:
    issued = api_token_create(team=team, name=f"api-{team.name}", scopes=list(scopes))
    return {"HTTP_AUTHORIZATION": f"Bearer {issued.secret}"}


def patch(url: str, body: object, headers: dict[str, str]):
    return Client().patch(url, json.dumps(body), content_type="application/json", **headers)


def test_patch_then_read_the_timeline(org):
    incident = open_one(org)
    alarm = _alarm(org)
    write = bearer(org.checkout, "read", "write")
    response = patch(
        f"/api/v1/incidents/{incident.pk}",
        {"severity": "SEV1", "started_at": "2026-11-14T17:05:00Z", "alarms": ["emails-backlog"],
         "owner": "theo"},
        write,
    )  # fmt: skip
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert (data["severity"], data["started_at"], data["alarms"], data["owner"]) == (
        "SEV1", "2026-11-14T17:05:00Z", ["emails-backlog"], "theo",
    )  # fmt: skip
    assert list(incident.alarms.all()) == [alarm]
    timeline = Client().get(f"/api/v1/incidents/{incident.pk}/timeline", **write)
    assert timeline.status_code == 200
    assert timeline.json() == {
        "status": "success",
        "data": [
            {"kind": "action", "at": "2026-11-14T17:25:00Z",
             "text": "Incident opened by olivia (SEV3).", "author": "olivia"},
            {"kind": "action", "at": "2026-11-14T18:00:00Z", "text": "Severity: SEV3 → SEV1.",
             "author": None},
            {"kind": "action", "at": "2026-11-14T18:00:00Z", "text": "Lead: olivia → theo.",
             "author": None},
            {"kind": "action", "at": "2026-11-14T18:00:00Z",
             "text": "Started: 2026-11-14 17:21 UTC → 2026-11-14 17:05 UTC.", "author": None},
            {"kind": "action", "at": "2026-11-14T18:00:00Z",
             "text": "Alarms: none → emails-backlog.", "author": None},
        ],
    }  # fmt: skip


def test_a_read_token_reads_the_timeline_but_cannot_patch(org):
    incident = open_one(org)
    read = bearer(org.checkout, "read")
    assert Client().get(f"/api/v1/incidents/{incident.pk}/timeline", **read).status_code == 200
    assert patch(f"/api/v1/incidents/{incident.pk}", {"title": "x"}, read).status_code == 403


def test_patch_answers_400_with_field_errors(org):
    incident = open_one(org)
    write = bearer(org.checkout, "write")
    cases = [
        ({"title": ""}, {"title": ["required: a non-empty string"]}),
        ({"severity": "SEV0"}, {"severity": ["one of SEV1, SEV2, SEV3, SEV4"]}),
        ({"started_at": "yesterday"},
         {"started_at": ["give an ISO 8601 time with a zone, e.g. 2026-11-23T10:00Z"]}),
        ({"detected_at": "2026-11-14T17:00:00Z"},
         {"detected_at": ["An incident cannot be detected before it started."]}),
        ({"services": ["nope"]}, {"services": ["unknown: nope"]}),
        ({"owner": "nobody"}, {"owner": ["no user named nobody"]}),
        ({"restricted": "yes"}, {"restricted": ["must be true or false"]}),
        ({"status": "resolved"}, {"status": ["not an editable field"]}),
    ]  # fmt: skip
    for body, errors in cases:
        response = patch(f"/api/v1/incidents/{incident.pk}", body, write)
        assert response.status_code == 400, body
        assert response.json() == {"status": "error", "error": "invalid fields", "errors": errors}
    assert edit_texts(incident) == []


def test_another_teams_token_cannot_patch_or_move_it(org):
    incident = open_one(org)
    other = bearer(org.search, "read", "write")
    response = patch(f"/api/v1/incidents/{incident.pk}", {"severity": "SEV1"}, other)
    assert response.status_code == 403
    assert response.json()["error"] == (
        "This token acts for search only; this belongs to Checkout."
    )
    moved = Client().post(
        f"/api/v1/incidents/{incident.pk}/status", json.dumps({"status": "resolved"}),
        content_type="application/json", **other,
    )  # fmt: skip
    assert moved.status_code == 403
    assert Incident.objects.get(pk=incident.pk).severity == "SEV3"


def test_the_api_moves_the_status_at_a_past_time(org):
    incident = open_one(org)
    write = bearer(org.checkout, "write")
    response = Client().post(
        f"/api/v1/incidents/{incident.pk}/status",
        json.dumps({"status": "mitigated", "at": "2026-11-14T17:50:00Z"}),
        content_type="application/json", **write,
    )  # fmt: skip
    assert response.status_code == 200
    assert response.json()["data"]["mitigated_at"] == "2026-11-14T17:50:00Z"
    early = Client().post(
        f"/api/v1/incidents/{incident.pk}/status",
        json.dumps({"status": "resolved", "at": "2026-11-14T17:00:00Z"}),
        content_type="application/json", **write,
    )  # fmt: skip
    assert early.status_code == 400
    assert early.json()["errors"] == {"at": ["A status cannot change before the incident started."]}
