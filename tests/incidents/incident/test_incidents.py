from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from incidents.incident.models import Incident, TimelineEntry
from incidents.incident.services import (
    incident_open,
    incident_set_status,
    timeline_entry_edit,
    timeline_note_add,
)
from metrics.alarms.models import Alarm
from metrics.alarms.services import alarm_evaluate
from metrics.storage.writer import SeriesSamples, write_samples

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.backend_suite,
    pytest.mark.usefixtures("metrics_backend"),
]

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


def open_one(org, **changes):
    fields = {"title": "Checkout errors", "severity": "SEV2", "team": org.checkout,
              "started_at": NOW - timedelta(minutes=10), "detected_at": NOW, **changes}  # fmt: skip
    return incident_open(**fields)


def test_the_status_flow_sets_times_and_writes_the_timeline(org):
    incident = open_one(org)
    incident = incident_set_status(
        incident=incident, status="mitigated", user=org.owner, at=NOW + timedelta(minutes=5)
    )
    incident = incident_set_status(
        incident=incident, status="resolved", user=org.owner, at=NOW + timedelta(minutes=20)
    )
    assert (incident.mitigated_at, incident.resolved_at) == (
        NOW + timedelta(minutes=5),
        NOW + timedelta(minutes=20),
    )
    texts = list(incident.timeline.values_list("text", flat=True))
    assert texts[-2:] == ["Status: Investigating → Mitigated.", "Status: Mitigated → Resolved."]
    reopened = incident_set_status(incident=incident, status="investigating", user=org.owner)
    assert reopened.resolved_at is None


def test_impossible_moves_are_refused(org):
    incident = incident_set_status(incident=open_one(org), status="resolved")
    with pytest.raises(ValidationError, match="cannot go from Resolved to Mitigated"):
        incident_set_status(incident=incident, status="mitigated")


def test_an_incident_cannot_be_detected_before_it_started(org):
    with pytest.raises(ValidationError):
        open_one(org, detected_at=NOW - timedelta(hours=1))


def test_only_the_author_edits_a_note_and_the_history_is_kept(org):
    incident = open_one(org)
    note = timeline_note_add(incident=incident, user=org.teammate, text="Rolled back build 41")
    with pytest.raises(PermissionDenied):
        timeline_entry_edit(entry=note, user=org.owner, text="something else")
    timeline_entry_edit(entry=note, user=org.teammate, text="Rolled back build 42")
    note.refresh_from_db()
    assert note.text == "Rolled back build 42"
    assert list(note.revisions.values_list("text", flat=True)) == ["Rolled back build 41"]


def test_restricted_incidents_are_invisible_to_other_teams(client, org):
    open_one(org, title="Credential leak", restricted=True, visible_to=[org.platform])
    public = open_one(org, title="Slow search")
    client.force_login(org.outsider)
    html = client.get("/incidents/").content.decode()
    assert "Slow search" in html
    assert "Credential leak" not in html
    secret = Incident.objects.get(title="Credential leak")
    assert client.get(f"/incidents/{secret.pk}/").status_code == 404
    client.force_login(org.reviewer)  # platform is named
    assert client.get(f"/incidents/{secret.pk}/").status_code == 200
    assert client.get(f"/incidents/{public.pk}/").status_code == 200


def test_incidents_are_opened_and_updated_from_the_page(client, org):
    client.force_login(org.teammate)
    response = client.post(
        "/incidents/new/",
        {
            "title": "Payments failing",
            "severity": "SEV1",
            "team": org.checkout.pk,
            "started_at": "2026-11-23T11:50",
            "detected_at": "2026-11-23T11:55",
        },
    )
    incident = Incident.objects.get()
    assert response["Location"] == f"/incidents/{incident.pk}/"
    client.post(f"/incidents/{incident.pk}/timeline", {"kind": "deploy", "text": "Deployed fix"})
    client.post(f"/incidents/{incident.pk}/status", {"status": "mitigated"})
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Deployed fix" in html
    assert "Status: Investigating → Mitigated." in html


def test_a_firing_alarm_set_to_opens_one_incident_and_then_adds_to_it(org):
    write_samples(
        [SeriesSamples("queue_depth", {}, [NOW_MS - m * 60_000 for m in (2, 1, 0)], [150.0] * 3)]
    )
    alarm = Alarm.objects.create(
        name="backlog", team=org.checkout, service=org.cart, expression="max(queue_depth)",
        threshold=100, open_incident_severity="SEV2",
    )  # fmt: skip
    alarm_evaluate(alarm=alarm, now=NOW)
    incident = Incident.objects.get()
    # It started at the first breaching datapoint, two minutes before the alarm detected it.
    assert (incident.title, incident.severity, incident.started_at, incident.detected_at) == (
        "backlog is firing",
        "SEV2",
        NOW - timedelta(minutes=2),
        NOW,
    )
    assert list(incident.alarms.all()) == [alarm]
    # The recovery goes to the same incident's timeline; no second incident.
    write_samples(
        [SeriesSamples("queue_depth", {}, [NOW_MS + m * 60_000 for m in (1, 2, 3)], [5.0] * 3)]
    )
    alarm_evaluate(alarm=alarm, now=NOW + timedelta(minutes=3))
    assert Incident.objects.count() == 1
    kinds = list(incident.timeline.values_list("kind", flat=True))
    assert kinds.count(TimelineEntry.Kind.ALARM) == 2


def test_alarms_without_the_setting_open_nothing(org):
    write_samples(
        [SeriesSamples("queue_depth", {}, [NOW_MS - m * 60_000 for m in (2, 1, 0)], [150.0] * 3)]
    )
    alarm = Alarm.objects.create(
        name="backlog", team=org.checkout, expression="max(queue_depth)", threshold=100
    )
    alarm_evaluate(alarm=alarm, now=NOW)
    assert not Incident.objects.exists()


def test_the_slo_page_links_its_incidents(client, org):
    from decimal import Decimal

    from metrics.slo.models import SLO

    slo = SLO.objects.create(
        name="availability",
        service=org.cart,
        team=org.checkout,
        objective_percent=Decimal("99.9"),
        bad_query="errors_total",
        total_query="requests_total",
    )
    incident = open_one(org, title="Cart errors")
    incident.slos.add(slo)
    open_one(org, title="Hidden", restricted=True).slos.add(slo)
    client.force_login(org.outsider)
    html = client.get(f"/slos/{slo.pk}/").content.decode()
    assert f"#{incident.pk} Cart errors" in html
    assert "Hidden" not in html


def test_a_burning_slo_opens_an_incident_that_started_with_its_shortest_firing_window(org):
    from decimal import Decimal

    from metrics.slo.models import SLO
    from metrics.slo.services import slo_evaluate
    from tests.metrics.test_slo_services import NOW as SLO_NOW
    from tests.metrics.test_slo_services import NOW_MS as SLO_NOW_MS
    from tests.metrics.test_slo_services import traffic

    # 10 % errors for the last 30 minutes: the 1h/5m and 6h/30m page alerts fire.
    traffic(SLO_NOW_MS, failing_after_ms=SLO_NOW_MS - 30 * 60_000)
    slo = SLO.objects.create(
        name="availability", service=org.payments, team=org.checkout,
        objective_percent=Decimal("99.9"), open_incident_severity="SEV2",
        bad_query='sum(rate(http_requests_total{service="payments",code=~"5.."}[{{window}}]))',
        total_query='sum(rate(http_requests_total{service="payments"}[{{window}}]))',
    )  # fmt: skip
    slo_evaluate(slo=slo, now=SLO_NOW)
    incident = Incident.objects.get()
    firing = [a["long_window"] for a in SLO.objects.get().last_figures["alerts"] if a["firing"]]
    assert firing[0] == "1h"  # the shortest firing long window decides
    assert (incident.started_at, incident.detected_at) == (SLO_NOW - timedelta(hours=1), SLO_NOW)
