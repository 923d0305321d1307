from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.integration

NAV_LABELS = [
    "Services", "Dashboards", "SLOs", "Alarms", "Traces", "Incidents", "COEs", "Action items",
]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_log_in_see_the_navigation_and_log_out(page, portal_server, org):
    from playwright.sync_api import expect

    page.goto(f"{portal_server.url}/services/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/services/$"))

    page.fill("#id_username", "theo")
    page.fill("#id_password", "not the password")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text(
        "Please enter a correct username and password"
    )

    page.fill("#id_username", "theo")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{portal_server.url}/services/")
    navigation = page.get_by_role("navigation", name="Main")
    for label in NAV_LABELS:
        expect(navigation.get_by_role("link", name=label, exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="payments")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{portal_server.url}/login/")
    page.goto(f"{portal_server.url}/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))

    # A Content-Security-Policy violation or a missing file would show up here.
    assert page.console_errors == []
