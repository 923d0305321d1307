"""The COE report and its review workflow, through the services a page calls."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from incidents.coe.editing import (
    EditConflict,
    WhyRow,
    action_item_save,
    coe_save_field,
    coe_save_whys,
    coe_start,
)
from incidents.coe.export import coe_markdown
from incidents.coe.findings import coe_findings, finding_acknowledge
from incidents.coe.models import SECTIONS, Coe, CoeReviewPolicy, IncidentQuestion
from incidents.coe.workflow import (
    close_if_finished,
    coe_approve,
    coe_reopen,
    coe_request_changes,
    coe_submit,
    submission_problems,
)
from metrics.alarms.models import Alarm
from metrics.storage.writer import SeriesSamples, write_samples
from tests.incidents.coe_support import NOW, WHYS, resolved_incident, save, written_coe

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.backend_suite,
    pytest.mark.usefixtures("metrics_backend"),
]


def test_starting_a_coe_imports_the_incident(org):
    incident = resolved_incident(org)
    coe = coe_start(incident=incident, user=org.teammate, now=NOW)
    assert coe.title == "Checkout errors"
    assert coe.summary == "Payments failed for some customers."
    assert coe.timeline.splitlines()[0].startswith("- **2026-11-23 11:25:00** Action: Incident")
    assert "Status: Mitigated → Resolved." in coe.timeline
    assert coe.impact_minutes == 30  # start to mitigation
    assert coe.state == Coe.State.DRAFT
    assert set(coe.authors.values_list("username", flat=True)) == {"theo", "olivia"}
    assert coe.answers.count() == 15
    assert [a.group for a in coe.answers.all()][:5] == ["detection"] * 4 + ["diagnosis"]
    # A second start returns the same COE: one per incident.
    assert coe_start(incident=incident, user=org.owner).pk == coe.pk


def test_team_questions_are_asked_and_answers_keep_the_question_they_answered(org):
    own = IncidentQuestion.objects.create(
        team=org.checkout, group="prevention", prompt="Did the payments canary run?", position=999
    )
    IncidentQuestion.objects.create(team=org.search, group="detection", prompt="Search only?")
    coe = coe_start(incident=resolved_incident(org), user=org.owner, now=NOW)
    prompts = list(coe.answers.values_list("prompt", flat=True))
    assert prompts[-1] == "Did the payments canary run?"
    assert "Search only?" not in prompts
    own.prompt = "Reworded later"
    own.save()
    assert coe.answers.last().prompt == "Did the payments canary run?"


def test_a_save_keeps_history_and_a_stale_save_is_refused_with_both_versions(org):
    coe = coe_start(incident=resolved_incident(org), user=org.owner, now=NOW)
    coe = coe_save_field(coe=coe, user=org.owner, field="summary", value="First", base_version=0)
    coe = coe_save_field(
        coe=coe, user=org.teammate, field="summary", value="Second", base_version=1
    )
    with pytest.raises(EditConflict) as conflict:
        coe_save_field(coe=coe, user=org.owner, field="summary", value="Mine", base_version=1)
    assert (conflict.value.theirs, conflict.value.yours, conflict.value.version) == (
        "Second", "Mine", 2,
    )  # fmt: skip
    # Another section saved from the same stale page is fine: versions are per field.
    coe_save_field(coe=coe, user=org.owner, field="went_well", value="Paging", base_version=0)
    coe.refresh_from_db()
    assert coe.summary == "Second"
    assert coe.went_well == "Paging"
    history = list(coe.field_revisions.filter(field="summary").order_by("id"))
    assert [(r.old, r.new, r.author.username) for r in history] == [
        ("Payments failed for some customers.", "First", "olivia"),
        ("First", "Second", "theo"),
    ]


def test_only_the_team_and_authors_edit_and_only_while_a_draft(org):
    coe = coe_start(incident=resolved_incident(org), user=org.owner, now=NOW)
    with pytest.raises(PermissionDenied):
        save(coe, org.outsider, "summary", "Not my team")
    coe = save(coe, org.teammate, "summary", "Team member edits")
    with pytest.raises(ValidationError, match="Enter a number"):
        save(coe, org.owner, "customers_affected", "lots")
    coe = save(coe, org.owner, "customers_affected", "1200")
    assert coe.customers_affected == 1200


def test_submission_checks_say_exactly_what_is_missing(org):
    coe = coe_start(incident=resolved_incident(org), user=org.owner, now=NOW)
    coe = save(coe, org.owner, "summary", "")
    coe = coe_save_whys(
        coe=coe, user=org.owner, rows=[WhyRow(1, q, a) for q, a in WHYS[:2]], base_version=None
    )
    problems = submission_problems(coe)
    titles = [title for field, title, _ in SECTIONS if field not in ("related_items", "timeline")]
    assert problems[: len(titles)] == [f"Write the “{title}” section." for title in titles]
    assert problems[len(titles) :] == [
        "Answer 15 incident question(s): “Was the incident detected within the expected time?”; "
        "“How was it detected: an alarm, a customer report, someone noticing?”; “How could the "
        "time to detect be cut in half?” and 12 more.",
        "Ask at least 3 whys in a chain (the longest has 2).",
        "Add at least one action item with an owner and a due date.",
    ]
    with pytest.raises(ValidationError):
        coe_submit(coe=coe, user=org.owner, now=NOW)
    assert submission_problems(written_coe(org, resolved_incident(org))) == []


def test_a_half_written_row_of_whys_is_refused(org):
    coe = coe_start(incident=resolved_incident(org), user=org.owner, now=NOW)
    with pytest.raises(ValidationError, match="Row 2: write both"):
        coe_save_whys(
            coe=coe, user=org.owner, base_version=None,
            rows=[WhyRow(1, "Why?", "Because."), WhyRow(1, "Why again?", ""), WhyRow(1, "", "")],
        )  # fmt: skip
    assert coe.whys.count() == 0


def test_blameful_language_blocks_submission_until_reworded_or_acknowledged(org):
    coe = written_coe(org)
    coe = save(coe, org.owner, "contributing_factors", "Theo failed to check the pool size.")
    coe = save(coe, org.owner, "went_wrong", "It was the release team's fault.")
    findings = coe_findings(coe)
    assert [(f.finding.section, f.finding.rule, f.finding.excerpt) for f in findings] == [
        ("contributing_factors", "failed-to", "Theo failed to check"),
        ("went_wrong", "fault", "team's fault"),
    ]
    assert findings[0].finding.suggestion.startswith("Describe the system condition")
    assert submission_problems(coe)[-1].startswith("Resolve 2 blameless-language finding(s)")
    with pytest.raises(ValidationError, match="Say why"):
        finding_acknowledge(coe=coe, user=org.owner, key=findings[1].finding.key, reason=" ")
    finding_acknowledge(
        coe=coe, user=org.owner, key=findings[1].finding.key, reason="Quoting a customer email."
    )
    coe = save(coe, org.owner, "contributing_factors", "The pool size had no canary check.")
    assert submission_problems(coe) == []
    assert coe_submit(coe=coe, user=org.owner, now=NOW).state == Coe.State.IN_REVIEW


def test_the_review_workflow_end_to_end(org):
    coe = coe_submit(coe=written_coe(org), user=org.owner, now=NOW)
    with pytest.raises(PermissionDenied, match="own COE"):
        coe_approve(coe=coe, user=org.owner)
    with pytest.raises(PermissionDenied):
        save(coe, org.owner, "summary", "Edit while in review")
    with pytest.raises(ValidationError, match="Say what needs to change"):
        coe_request_changes(coe=coe, user=org.reviewer, note="")
    coe = coe_request_changes(coe=coe, user=org.reviewer, note="Timeline lacks the page time.")
    assert coe.state == Coe.State.CHANGES_REQUESTED
    coe = save(coe, org.owner, "timeline", coe.timeline + "\n- 11:26 paged the on-call")
    coe = coe_submit(coe=coe, user=org.owner, now=NOW)
    coe = coe_approve(coe=coe, user=org.reviewer, note="Thorough.")
    assert coe.state == Coe.State.APPROVED
    with pytest.raises(PermissionDenied):
        save(coe, org.owner, "summary", "After approval")
    with pytest.raises(ValidationError, match="Say why"):
        coe_reopen(coe=coe, user=org.owner, note="")
    coe = coe_reopen(coe=coe, user=org.owner, note="New facts from the vendor.")
    assert (coe.state, coe.revision) == (Coe.State.DRAFT, 2)
    actions = list(coe.reviews.values_list("action", "user__username", "coe_revision"))
    assert actions == [
        ("submit", "olivia", 1), ("request_changes", "rita", 1), ("submit", "olivia", 1),
        ("approve", "rita", 1), ("reopen", "olivia", 2),
    ]  # fmt: skip


def test_required_reviewers_must_all_approve(org):
    policy = CoeReviewPolicy.objects.create(team=org.checkout)
    policy.required_reviewers.add(org.reviewer)
    coe = coe_submit(coe=written_coe(org), user=org.owner, now=NOW)
    coe = coe_approve(coe=coe, user=org.outsider)
    assert coe.state == Coe.State.IN_REVIEW  # the bar raiser has not approved yet
    coe = coe_approve(coe=coe, user=org.reviewer)
    assert coe.state == Coe.State.APPROVED


def test_the_metric_charts_are_frozen_at_submission(org):
    alarm = Alarm.objects.create(
        name="cart errors", team=org.checkout, service=org.cart,
        expression="sum(cart_errors)", comparison="gt", threshold=5,
    )  # fmt: skip
    incident = resolved_incident(org)
    incident.alarms.add(alarm)
    start_ms = int((NOW - timedelta(minutes=60)).timestamp() * 1000)
    times = [start_ms + i * 60_000 for i in range(60)]
    values = [float(i) for i in range(60)]
    write_samples([SeriesSamples("cart_errors", {"service": "cart"}, times, values)])
    coe = coe_submit(coe=written_coe(org, incident), user=org.owner, now=NOW)
    frozen = coe.metrics_snapshot
    assert coe.snapshot_taken_at == NOW
    assert frozen["charts"][0]["title"] == "Alarm checkout/cart errors: gt 5"
    assert frozen["charts"][0]["threshold"] == 5
    drawn = [v for v in frozen["charts"][0]["series"][0]["v"] if v is not None]
    assert max(drawn) == 59.0
    # New data in the window and a later submission leave the frozen copy alone.
    write_samples([SeriesSamples("cart_errors", {"service": "other"}, times, values)])
    coe = coe_request_changes(coe=coe, user=org.reviewer, note="More detail.")
    coe = coe_submit(coe=coe, user=org.owner, now=NOW + timedelta(days=1))
    assert coe.metrics_snapshot == frozen
    assert coe.snapshot_taken_at == NOW


def test_a_coe_closes_when_every_action_item_is_finished(org):
    coe = coe_approve(
        coe=coe_submit(coe=written_coe(org), user=org.owner, now=NOW), user=org.reviewer
    )
    item = coe.action_items.get()
    item.status = "done"
    item.save()
    assert close_if_finished(coe, user=None).state == Coe.State.CLOSED
    item.status = "in_progress"
    item.save()
    assert close_if_finished(coe, user=None).state == Coe.State.APPROVED


def test_an_action_item_needs_a_title_and_belongs_to_the_owners_team(org):
    coe = coe_start(incident=resolved_incident(org), user=org.owner, now=NOW)
    with pytest.raises(ValidationError):
        action_item_save(
            coe=coe, user=org.owner, title=" ", owner=org.teammate, priority="low",
            kind="detect", due_date=date(2026, 12, 1),
        )  # fmt: skip
    item = action_item_save(
        coe=coe, user=org.owner, title="Search alarm on p99", owner=org.outsider,
        priority="low", kind="detect", due_date=date(2026, 12, 1),
    )  # fmt: skip
    assert item.team == org.search
    with pytest.raises(ValidationError):
        action_item_save(
            coe=coe, user=org.owner, title="Bad kind", owner=org.teammate, priority="urgent",
            kind="detect", due_date=date(2026, 12, 1),
        )  # fmt: skip


def test_the_markdown_export_has_every_section_and_the_action_items(org):
    coe = written_coe(org)
    text = coe_markdown(coe)
    assert text.startswith(f"# COE-{coe.pk}: Checkout errors\n")
    for _, title, _ in SECTIONS:
        assert f"\n## {title}\n" in text
    for heading in ("## Incident questions", "### Detection", "### Prevention", "## 5 Whys"):
        assert heading in text
    assert "5. **Why?** Why is there no such canary?" in text
    assert (
        "| Add pool size to the canary checks | theo | checkout | High | Prevent | 2026-12-15 "
        "| Open | - |" in text
    )
    assert "| Impact duration (minutes) | 30 |" in text


def test_whoever_edits_a_coe_is_an_author_and_cannot_approve_it(org):
    coe = written_coe(org)
    coe = save(coe, org.teammate, "contributing_factors", "The pool size had no canary.")
    coe = coe_submit(coe=coe, user=org.owner, now=NOW)
    with pytest.raises(PermissionDenied, match="own COE"):
        coe_approve(coe=coe, user=org.teammate)


def test_a_required_reviewer_who_wrote_the_coe_blocks_submission_until_replaced(org):
    policy = CoeReviewPolicy.objects.create(team=org.checkout)
    policy.required_reviewers.add(org.owner)  # the incident lead is the team's bar raiser
    coe = written_coe(org)
    assert submission_problems(coe) == [
        "The team requires a review by olivia, who wrote this COE or cannot see its incident: "
        "a team lead names another reviewer on the team's COE settings page."
    ]
    policy.required_reviewers.set([org.reviewer])
    coe = coe_submit(coe=coe, user=org.owner, now=NOW)
    assert list(coe.required_reviewers.all()) == [org.reviewer]


def test_a_required_reviewer_who_cannot_see_a_restricted_incident_does_not_count(org):
    policy = CoeReviewPolicy.objects.create(team=org.checkout)
    policy.required_reviewers.add(org.outsider)
    coe = written_coe(org, resolved_incident(org, restricted=True))
    assert submission_problems(coe)[0].startswith("The team requires a review by oscar")


def test_only_the_incident_team_or_lead_starts_its_coe(org):
    incident = resolved_incident(org)
    with pytest.raises(PermissionDenied):
        coe_start(incident=incident, user=org.outsider, now=NOW)
    assert not Coe.objects.exists()


def test_saving_the_same_whys_again_changes_nothing(org):
    coe = coe_start(incident=resolved_incident(org), user=org.owner, now=NOW)
    rows = [WhyRow(2, "Why B?", "Because B."), WhyRow(1, "Why A?", "Because A.")]
    coe = coe_save_whys(coe=coe, user=org.owner, rows=rows, base_version=0)
    assert list(coe.whys.values_list("chain", "position", "question")) == [
        (1, 1, "Why A?"), (2, 1, "Why B?"),
    ]  # fmt: skip
    padded = [WhyRow(1, " Why A? ", "Because A.\n"), WhyRow(2, "Why B?", " Because B.")]
    coe = coe_save_whys(coe=coe, user=org.owner, rows=padded, base_version=0)  # stale, same text
    assert coe.field_revisions.filter(field="whys").count() == 1
