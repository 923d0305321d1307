"""Editing an incident in Chromium: the lead opens the Edit form, changes the severity and the
start, and the timeline shows one entry per change; a status move is recorded at a past time."""

from __future__ import annotations

import os
from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from incidents.incident.models import Incident
from incidents.incident.services import incident_open
from tests.browser.test_coe_flow import log_in

pytestmark = pytest.mark.integration


@pytest.mark.django_db(transaction=True)
def test_the_lead_edits_the_incident_and_the_timeline_shows_it(page, portal_server, org):
    started = (timezone.now() - timedelta(hours=1)).astimezone(UTC).replace(second=0, microsecond=0)
    incident = incident_open(
        title="Checkout errors", severity="SEV3", team=org.checkout, owner=org.owner,
        started_at=started, detected_at=started + timedelta(minutes=5), services=[org.cart],
        opened_by=org.owner,
    )  # fmt: skip
    base = portal_server.url
    log_in(page, base, org.owner.username)
    page.goto(f"{base}/incidents/{incident.pk}/")
    page.get_by_text("Edit", exact=True).click()
    page.select_option("#id_severity", "SEV1")
    earlier = started - timedelta(minutes=16)
    page.fill("#id_started_at", f"{earlier:%Y-%m-%dT%H:%M}")
    with page.expect_navigation():
        page.get_by_role("button", name="Save changes").click()
    mitigated = started + timedelta(minutes=30)
    page.select_option("#status", "mitigated")
    page.fill("#status-at", f"{mitigated:%Y-%m-%dT%H:%M}")
    with page.expect_navigation():
        page.get_by_role("button", name="Change status").click()
    timeline = page.locator("table.table").last.inner_text()
    assert "Severity: SEV3 → SEV1." in timeline
    assert f"Started: {started:%Y-%m-%d %H:%M} UTC → {earlier:%Y-%m-%d %H:%M} UTC." in timeline
    assert f"{mitigated:%Y-%m-%d %H:%M}:00\tStatus change\tStatus: Investigating → Mitigated." in (
        timeline
    )
    incident = Incident.objects.get(pk=incident.pk)
    assert (incident.severity, incident.started_at, incident.mitigated_at) == (
        "SEV1", earlier, mitigated,
    )  # fmt: skip
    page.get_by_text("Edit", exact=True).click()
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=f"{os.environ['SCREENSHOT_DIR']}/incident-edit.png", full_page=True)
    assert page.console_errors == []
