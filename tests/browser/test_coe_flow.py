"""The whole COE flow in Chromium: an alarm opens an incident, it is resolved, a COE is written
(a blameless finding shown and fixed), submitted, sent back with a comment, fixed, approved, and
exported as Markdown."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.coe.models import SECTIONS, Coe
from incidents.incident.models import Incident
from metrics.alarms.models import Alarm
from metrics.alarms.services import alarm_evaluate
from metrics.storage.writer import SeriesSamples, write_samples
from tests.conftest import PASSWORD

pytestmark = pytest.mark.integration


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    if page.get_by_role("button", name="Log out").count():
        page.get_by_role("button", name="Log out").click()
        page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def alarm_opened_incident(org) -> Incident:
    now = timezone.now()
    now_ms = int(now.timestamp() * 1000)
    minutes = list(range(30, -1, -1))
    write_samples([
        SeriesSamples(
            "checkout_errors", {"service": "cart"}, [now_ms - m * 60_000 for m in minutes],
            [2.0 if m > 10 else 40.0 for m in minutes],
        )
    ])  # fmt: skip
    alarm = Alarm.objects.create(
        name="checkout errors", team=org.checkout, service=org.cart,
        expression="sum(checkout_errors)", threshold=10, open_incident_severity="SEV2",
    )  # fmt: skip
    alarm_evaluate(alarm=alarm, now=now - timedelta(minutes=5))
    return Incident.objects.get()


def save_field(page, key: str, text: str) -> None:
    form = page.locator(f"#field-{key}")
    form.locator("textarea").fill(text)
    with page.expect_navigation():
        form.get_by_role("button").click()


@pytest.mark.django_db(transaction=True)
def test_an_alarm_opened_incident_goes_through_the_coe_flow(page, portal_server, org):
    from playwright.sync_api import expect

    base = portal_server.url
    incident = alarm_opened_incident(org)
    log_in(page, base, "olivia")

    # The incident: resolve it, see its chart, start the COE.
    page.goto(f"{base}{incident.get_absolute_url()}")
    expect(page.locator("h1")).to_contain_text("checkout errors is firing")
    expect(page.locator(".incident-charts .main-svg").first).to_be_visible()
    page.select_option("#status", "resolved")
    page.get_by_role("button", name="Change status").click()
    expect(page.locator("h1")).to_contain_text("Resolved")
    expect(page.locator(".coe-due")).to_be_visible()
    page.get_by_role("button", name="Start COE").click()
    expect(page.locator("h1")).to_contain_text("Edit COE-")
    coe = Coe.objects.get(incident=incident)
    edit_url = f"{base}/coes/{coe.pk}/edit"

    # Live preview, and unsaved text survives a reload.
    summary = page.locator("#input-summary")
    summary.fill("Checkout **failed** for 20 minutes.")
    expect(page.locator("#preview-summary strong")).to_have_text("failed")
    page.reload()
    expect(summary).to_have_value("Checkout **failed** for 20 minutes.")
    expect(page.locator("#field-summary .autosave-note")).to_contain_text("Restored what you had")
    with page.expect_navigation():
        page.locator("#field-summary").get_by_role("button").click()
    expect(page.locator(".messages")).to_contain_text("Saved.")
    page.reload()  # the saved copy is gone: nothing is restored over the saved text
    expect(page.locator("#field-summary .autosave-note")).to_be_hidden()

    # A blameful sentence is flagged inline, then reworded.
    save_field(page, "contributing_factors", "Theo failed to check the pool size.")
    expect(page.locator("#field-contributing_factors .finding-inline")).to_contain_text(
        "Theo failed to check"
    )
    findings = page.locator("#findings")
    expect(findings).to_contain_text("Theo failed to check")
    expect(findings).to_contain_text("Describe the system condition")
    expect(page.locator("#submit button")).to_be_disabled()
    save_field(page, "contributing_factors", "The pipeline had no check of the pool size.")
    expect(findings).to_contain_text("No blameful language found.")

    # Every other section and question.
    for field, title, _ in SECTIONS:
        if field not in ("summary", "contributing_factors", "timeline", "related_items"):
            save_field(page, field, f"Our notes on {title.lower()}.")
    for key in page.locator("#questions form[data-autosave-key]").evaluate_all(
        "forms => forms.map(form => form.id.replace('field-', ''))"
    ):
        save_field(page, key, "Answered after the review meeting.")

    whys = page.locator("#field-whys")
    for row, (question, answer) in enumerate([
        ("Why did checkout fail?", "Payment calls timed out."),
        ("Why did they time out?", "The pool had one connection."),
        ("Why one connection?", "A client upgrade changed the default."),
    ]):  # fmt: skip
        whys.locator("textarea[name=why]").nth(row).fill(question)
        whys.locator("textarea[name=because]").nth(row).fill(answer)
    with page.expect_navigation():
        whys.get_by_role("button", name="Save the whys").click()

    item = page.locator("#action-item-form")
    item.locator("#id_title").fill("Canary check for pool settings")
    item.locator("#id_owner").select_option(label="theo")
    item.locator("#id_priority").select_option("high")
    with page.expect_navigation():
        item.get_by_role("button", name="Add action item").click()
    expect(page.locator("#field-action-items table")).to_contain_text(
        "Canary check for pool settings"
    )

    expect(page.locator("#submit")).to_contain_text("Everything is in place.")
    with page.expect_navigation():
        page.locator("#submit").get_by_role("button", name="Submit for review").click()
    expect(page.locator("#coe-state")).to_have_text("In review")

    # The reviewer comments on the timeline and sends it back.
    log_in(page, base, "rita")
    page.goto(f"{base}/coes/{coe.pk}/")
    timeline = page.locator("#section-timeline")
    timeline.locator("summary").click()
    timeline.locator("textarea[name=body]").fill("When was the on-call paged?")
    with page.expect_navigation():
        timeline.get_by_role("button", name="Comment").click()
    expect(page.locator("#section-timeline .comment-body")).to_contain_text("on-call paged")
    page.fill("#review-note", "Add the page time to the timeline.")
    with page.expect_navigation():
        page.get_by_role("button", name="Request changes").click()
    expect(page.locator("#coe-state")).to_have_text("Changes requested")

    # The author fixes it and submits again.
    log_in(page, base, "olivia")
    page.goto(edit_url)
    timeline_text = page.locator("#input-timeline").input_value()
    save_field(page, "timeline", timeline_text + "\n- The on-call was paged by the alarm.")
    with page.expect_navigation():
        page.locator("#submit").get_by_role("button", name="Submit for review").click()
    expect(page.locator("#coe-state")).to_have_text("In review")
    # An author cannot approve: the page offers no button and says why.
    expect(page.locator("#review")).to_contain_text("someone else reviews it")

    log_in(page, base, "rita")
    page.goto(f"{base}/coes/{coe.pk}/")
    with page.expect_navigation():
        page.get_by_role("button", name="Approve").click()
    expect(page.locator("#coe-state")).to_have_text("Approved")

    export = page.request.get(f"{base}/coes/{coe.pk}/export.md")
    assert export.ok
    text = export.text()
    for _, title, _ in SECTIONS:
        assert f"\n## {title}\n" in text
    assert "Checkout **failed** for 20 minutes." in text
    assert "The on-call was paged by the alarm." in text
    assert "| Canary check for pool settings | theo | checkout | High |" in text
    assert "3. **Why?** Why one connection?" in text
    assert "Requested changes by rita: Add the page time to the timeline." in text
    assert "Approved by rita" in text
    time.sleep(0.2)  # let late console messages arrive
    assert page.console_errors == []


@pytest.mark.django_db(transaction=True)
def test_unsaved_text_never_overwrites_a_newer_save(page, portal_server, org):
    from playwright.sync_api import expect

    from incidents.coe.editing import coe_save_field, coe_start
    from tests.incidents.coe_support import resolved_incident

    base = portal_server.url
    coe = coe_start(incident=resolved_incident(org), user=org.owner)
    log_in(page, base, "olivia")
    page.goto(f"{base}/coes/{coe.pk}/edit")
    page.locator("#input-summary").fill("Olivia's draft, not saved yet")
    # Meanwhile a teammate saves the same section.
    coe_save_field(coe=coe, user=org.teammate, field="summary", value="Theo's", base_version=0)
    page.reload()
    summary = page.locator("#field-summary")
    expect(summary.locator("textarea")).to_have_value("Theo's")
    expect(summary.locator(".autosave-note")).to_contain_text("before someone else changed")
    summary.get_by_role("button", name="Use my text").click()
    expect(summary.locator("textarea")).to_have_value("Olivia's draft, not saved yet")
    with page.expect_navigation():
        summary.get_by_role("button", name="Save Summary").click()
    conflict = page.locator("#conflict")
    expect(conflict).to_contain_text("Summary changed while you were editing")
    expect(conflict.locator(".theirs")).to_have_text("Theo's")
    conflict.locator("textarea").fill("Theo's, and Olivia's draft")
    with page.expect_navigation():
        conflict.get_by_role("button").click()
    expect(page.locator("#input-summary")).to_have_value("Theo's, and Olivia's draft")
    page.reload()
    expect(page.locator("#field-summary .autosave-note")).to_be_hidden()
    expect(page.locator("#input-summary")).to_have_value("Theo's, and Olivia's draft")
    # The conflict page's own 409 is the only thing the console reports.
    assert [e for e in page.console_errors if "409 (Conflict)" not in e] == []
