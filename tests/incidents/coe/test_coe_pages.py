"""COE pages as a browser sees them: permissions, conflicts, "COE due", restricted COEs, XSS."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from incidents.coe.editing import coe_start
from incidents.coe.markdown import render_markdown
from incidents.coe.models import Coe
from incidents.coe.workflow import coe_submit
from tests.incidents.coe_support import NOW, resolved_incident, save, written_coe

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<a href="javascript:alert(1)">x</a>',
    '<iframe src="https://evil.example"></iframe>',
    "<div style=\"background:url('javascript:alert(1)')\">x</div>",
    '<details open ontoggle="alert(1)">',
    '![x](x" onerror="alert(1))',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "[x](vbscript:msgbox(1))",
    '<form action="javascript:alert(1)"><button>go</button></form>',
]


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_markdown_neutralises_script(payload):
    html = render_markdown(f"Before {payload} after")
    lowered = html.lower()
    assert "<script" not in lowered
    assert not re.search(r"<[^>]+\son\w+\s*=", lowered), html  # no event handler attribute
    assert not re.search(r'<a[^>]+href="\s*(javascript|vbscript|data):', lowered), html
    for tag in ("<iframe", "<img", "<svg", "<form", "<style", "<details", "<math"):
        assert tag not in lowered
    assert "Before" in html  # the text around it is kept


def test_markdown_keeps_what_reports_need():
    html = render_markdown("**Bold** `code` [runbook](https://runbooks.example.com)\n\n- one\n")
    assert "<strong>Bold</strong>" in html
    assert "<code>code</code>" in html
    assert '<a href="https://runbooks.example.com" rel="noopener noreferrer nofollow">' in html
    assert "<li>one</li>" in html
    assert render_markdown("the <service> flag") == "<p>the &lt;service&gt; flag</p>"


def test_a_coe_page_shows_the_payload_as_text(client, org):
    coe = coe_start(incident=resolved_incident(org), user=org.owner, now=NOW)
    save(coe, org.owner, "summary", '<script>alert("x")</script> and <b onclick=1>b</b>')
    client.force_login(org.teammate)
    page = client.get(coe.get_absolute_url()).content.decode()
    assert '<script>alert("x")</script>' not in page
    assert '&lt;script&gt;alert("x")&lt;/script&gt; and &lt;b onclick=1&gt;b&lt;/b&gt;' in page


def test_the_incident_list_shows_coe_due_until_a_coe_exists(client, org):
    sev2 = resolved_incident(org)
    resolved_incident(org, severity="SEV3")
    client.force_login(org.teammate)
    listing = client.get(reverse("incidents:incident-list")).content.decode()
    assert listing.count("COE due") == 2  # the filter option and the SEV2 row
    due = client.get(reverse("incidents:incident-list"), {"status": "coe_due"}).context
    assert [i.pk for i in due["incidents"]] == [sev2.pk]
    response = client.post(reverse("incidents:coe-start", args=[sev2.pk]))
    coe = Coe.objects.get(incident=sev2)
    assert response["Location"] == reverse("incidents:coe-edit", args=[coe.pk])
    listing = client.get(reverse("incidents:incident-list")).content.decode()
    assert listing.count("COE due") == 1
    page = client.get(sev2.get_absolute_url()).content.decode()
    assert f"COE-{coe.pk} (Draft)" in page


def test_another_teams_draft_is_read_only_to_outsiders(client, org):
    coe = coe_start(incident=resolved_incident(org), user=org.owner, now=NOW)
    client.force_login(org.outsider)
    assert client.get(coe.get_absolute_url()).status_code == 200
    assert client.get(reverse("incidents:coe-edit", args=[coe.pk])).status_code == 403
    field = reverse("incidents:coe-field", args=[coe.pk, "summary"])
    assert client.post(field, {"value": "mine now", "version": "0"}).status_code == 403
    coe.refresh_from_db()
    assert coe.summary == "Payments failed for some customers."


def test_approving_your_own_coe_is_refused(client, org):
    coe = coe_submit(coe=written_coe(org), user=org.owner, now=NOW)
    client.force_login(org.owner)
    review = reverse("incidents:coe-review", args=[coe.pk])
    response = client.post(review, {"action": "approve"})
    assert response.status_code == 403
    assert Coe.objects.get(pk=coe.pk).state == Coe.State.IN_REVIEW
    client.force_login(org.reviewer)
    client.post(review, {"action": "request_changes", "note": "Add the page time."})
    assert Coe.objects.get(pk=coe.pk).state == Coe.State.CHANGES_REQUESTED


def test_a_stale_save_shows_both_versions_and_overwrites_nothing(client, org):
    coe = coe_start(incident=resolved_incident(org), user=org.owner, now=NOW)
    field = reverse("incidents:coe-field", args=[coe.pk, "summary"])
    client.force_login(org.teammate)
    assert client.post(field, {"value": "Theo's summary", "version": "0"}).status_code == 302
    client.force_login(org.owner)
    response = client.post(field, {"value": "Olivia's summary", "version": "0"})
    assert response.status_code == 409
    page = response.content.decode()
    assert "Summary changed while you were editing" in page
    assert "Theo&#x27;s summary" in page
    assert "Olivia&#x27;s summary" in page
    assert Coe.objects.get(pk=coe.pk).summary == "Theo's summary"
    # Saving again from the conflict form (which carries the new version) goes through.
    assert client.post(field, {"value": "Merged", "version": "1"}).status_code == 302
    assert Coe.objects.get(pk=coe.pk).summary == "Merged"


def test_restricted_incidents_hide_their_coes(client, org):
    incident = resolved_incident(org, restricted=True)
    coe = coe_start(incident=incident, user=org.owner, now=NOW)
    client.force_login(org.outsider)
    assert client.get(coe.get_absolute_url()).status_code == 404
    assert client.get(reverse("incidents:coe-export", args=[coe.pk])).status_code == 404
    assert "Checkout errors" not in client.get(reverse("incidents:coe-list")).content.decode()
    client.force_login(org.teammate)
    assert "Checkout errors" in client.get(reverse("incidents:coe-list")).content.decode()


def test_the_coe_list_filters_and_shows_progress(client, org):
    coe = written_coe(org)
    coe_start(incident=resolved_incident(org, severity="SEV4"), user=org.owner, now=NOW)
    client.force_login(org.reviewer)
    listing = client.get(reverse("incidents:coe-list"), {"severity": "SEV2"})
    assert [c.pk for c in listing.context["coes"]] == [coe.pk]
    assert '<progress max="1" value="0"' in listing.content.decode()
    assert not client.get(reverse("incidents:coe-list"), {"team": "search"}).context["coes"]
    assert (
        len(client.get(reverse("incidents:coe-list"), {"until": "2026-11-22"}).context["coes"]) == 0
    )


def test_the_export_and_history_pages(client, org):
    coe = written_coe(org)
    client.force_login(org.outsider)
    export = client.get(reverse("incidents:coe-export", args=[coe.pk]))
    assert export["Content-Type"] == "text/markdown; charset=utf-8"
    assert export["Content-Disposition"] == f'attachment; filename="COE-{coe.pk}.md"'
    assert "## Action items" in export.content.decode()
    history = client.get(reverse("incidents:coe-history", args=[coe.pk])).content.decode()
    assert "+The summary of this incident." in history
    assert "-Payments failed for some customers." in history


def test_the_preview_renders_sanitised_markdown(client, org):
    coe = coe_start(incident=resolved_incident(org), user=org.owner, now=NOW)
    client.force_login(org.owner)
    preview = reverse("incidents:coe-preview", args=[coe.pk])
    answer = client.post(preview, {"text": "**x** <script>y</script>"}).json()
    assert answer == {"html": "<p><strong>x</strong> &lt;script&gt;y&lt;/script&gt;</p>"}


def test_a_lead_adds_team_questions_and_required_reviewers(client, org):
    url = reverse("incidents:coe-settings", args=["checkout"])
    client.force_login(org.teammate)  # a member, not a lead
    assert client.get(url).status_code == 200
    assert (
        client.post(
            url, {"action": "add-question", "group": "detection", "prompt": "x"}
        ).status_code
        == 403
    )
    client.force_login(org.owner)
    client.post(
        url,
        {
            "action": "add-question",
            "group": "prevention",
            "prompt": "Was the payments canary green?",
        },
    )
    client.post(url, {"action": "reviewers", "reviewers": ["rita"]})
    response = client.post(
        url, {"action": "add-question", "group": "nonsense", "prompt": "y"}, follow=True
    )
    assert "Choose the group the question belongs to." in response.content.decode()
    coe = coe_start(incident=resolved_incident(org), user=org.owner, now=NOW)
    assert coe.answers.last().prompt == "Was the payments canary green?"
    assert list(coe.required_reviewers.values_list("username", flat=True)) == ["rita"]
    question = coe.answers.last().question
    client.post(url, {"action": "retire-question", "question": question.pk})
    later = coe_start(incident=resolved_incident(org), user=org.owner, now=NOW)
    assert later.answers.count() == 15
    assert coe.answers.count() == 16  # a started COE keeps its questions


def test_an_outsider_sees_no_start_button_and_is_refused(client, org):
    incident = resolved_incident(org)
    client.force_login(org.outsider)
    assert "Start COE" not in client.get(incident.get_absolute_url()).content.decode()
    assert client.post(reverse("incidents:coe-start", args=[incident.pk])).status_code == 403


def test_long_lists_are_paged(client, org):
    for _ in range(51):
        resolved_incident(org, severity="SEV4")
    client.force_login(org.teammate)
    first = client.get(reverse("incidents:incident-list"), {"status": "resolved"})
    assert len(first.context["incidents"]) == 50
    assert "status=resolved&amp;page=2" in first.content.decode()
    assert (
        len(client.get(reverse("incidents:incident-list"), {"page": "2"}).context["incidents"]) == 1
    )


def test_a_lead_sets_the_reminder_schedule_and_reassigns_a_leavers_items(client, org):
    item = written_coe(org).action_items.get()  # owned by theo
    url = reverse("incidents:coe-settings", args=["checkout"])
    client.force_login(org.owner)
    response = client.post(
        url,
        {"action": "reminders", "due_soon_days": "5", "overdue_every_days_high": "1",
         "overdue_every_days": "3", "escalate_after_days_high": "2", "escalate_after_days": "6",
         "second_escalation_after_days": "10", "second_escalation_email": "eng@example.com"},
        follow=True,
    )  # fmt: skip
    assert "Saved." in response.content.decode()
    assert org.checkout.reminder_settings.overdue_every_days == 3
    client.post(url, {"action": "reassign", "from_user": "theo", "to_user": "rita"})
    item.refresh_from_db()
    assert item.owner == org.reviewer
    client.force_login(org.teammate)
    denied = client.post(url, {"action": "reassign", "from_user": "rita", "to_user": "theo"})
    assert denied.status_code == 403
