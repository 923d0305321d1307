from __future__ import annotations

import re
from pathlib import Path

import pytest

from incidents.coe.blameless import Finding, Rule, find_blameful_language, load_rules

PEOPLE = ["Dana", "Bob", "Dana Scully"]


def check(text: str, *, people: list[str] | None = None) -> list[tuple[str, str]]:
    findings = find_blameful_language({"analysis": text}, people=people or [])
    return [(finding.rule, finding.excerpt) for finding in findings]


@pytest.mark.parametrize(
    ("text", "rule", "excerpt"),
    [
        ("Bob failed to check the config", "failed-to", "Bob failed to check"),
        (
            "The engineer failed to follow the runbook",
            "failed-to",
            "The engineer failed to follow",
        ),
        ("We failed to review the change before the deploy.", "failed-to", "failed to review"),
        ("The on-call neglected to run the canary.", "failed-to", "The on-call neglected to run"),
        ("It was his fault", "fault", "his fault"),
        ("Alice's fault", "fault", "Alice's fault"),
        ("The release team was at fault.", "fault", "release team was at fault"),
        (
            "the outage was caused by human error",
            "human-error",
            "caused by human error",
        ),
        ("Root cause: human error", "human-error", "Root cause: human error"),
        ("## Root cause\n\nHuman error.\n", "human-error", "Human error"),
        ("The operator was careless", "careless", "careless"),
        ("negligent", "negligent", "negligent"),
        ("It was gross negligence.", "negligent", "negligence"),
        (
            "He should have known the flag was on",
            "should-have-known",
            "He should have known",
        ),
        (
            "The engineer should have been more careful.",
            "should-have-been-careful",
            "The engineer should have been more careful",
        ),
        (
            "The on-call should have rolled back sooner.",
            "person-should-have",
            "The on-call should have rolled back",
        ),
        ("this was a stupid mistake", "stupid", "stupid"),
        ("an incompetent change", "incompetent", "incompetent"),
        ("we blame the release team", "blame", "blame"),
        ("she forgot to update the DNS record", "forgot-to", "she forgot to update"),
        (
            "The on-call engineer didn't escalate for 40 minutes.",
            "person-did-not",
            "The on-call engineer didn't escalate",
        ),
        ("The outage was caused by the intern.", "person-caused", "caused by the intern"),
        (
            "The reviewer approved the broken change.",
            "person-bad-change",
            "The reviewer approved the broken change",
        ),
        ("Classic operator error.", "operator-error", "operator error"),
        ("Someone fat-fingered the CIDR block.", "operator-error", "fat-fingered"),
        ("The migration script was sloppy.", "sloppy", "sloppy"),
        ("A lazy fix was shipped.", "lazy", "lazy"),
    ],
)
def test_it_flags_blameful_language(text: str, rule: str, excerpt: str) -> None:
    assert check(text, people=PEOPLE) == [(rule, excerpt)]


@pytest.mark.parametrize(
    "text",
    [
        "the circuit breaker failed to open",
        "Postgres failed to start",
        "Kubernetes failed to reschedule the pods",
        "We ran fault injection against the cache tier.",
        "The queue is fault-tolerant.",
        "It's fault tolerant by design.",
        "a faulty disk",
        "blameless",
        "we ran a blameless review",
        "This review is blame-free; we do not assign blame.",
        "We want to avoid a blame culture.",
        "It was nobody's fault.",
        "No one was at fault.",
        "the health check failed to detect the hung process",
        "the deploy failed to roll back",
        "The service failed to respond to health checks.",
        "The client failed to verify the TLS certificate.",
        "The resolver failed to look up the host.",
        "The pipeline failed to validate the config.",
        "The alerting system failed to notify the on-call.",
        "The canary failed to catch the regression.",
        "The on-call should have been paged at 10:02.",
        "The root cause was not human error but a missing validation.",
        "Lazy loading of the module hid the import error.",
        "The impact was negligible.",
        "The resolver returned an unqualified hostname.",
        "He deployed the fix at 10:40 and the error rate dropped.",
        "Dana paged the database team.",
    ],
)
def test_it_leaves_system_language_alone(text: str) -> None:
    assert check(text, people=PEOPLE) == []


def test_known_people_are_matched_case_sensitively() -> None:
    # A human act after "failed to" is flagged even when the subject is not a known name.
    assert check("Bob failed to check the config") == [("failed-to", "failed to check")]
    assert check("Dana pushed the bad config") == []
    assert check("Dana pushed the bad config", people=PEOPLE) == [
        ("person-bad-change", "Dana pushed the bad config")
    ]
    assert check("Then dana pushed the bad config", people=PEOPLE) == []
    assert check("Dana Scully pushed the bad config", people=PEOPLE) == [
        ("person-bad-change", "Dana Scully pushed the bad config")
    ]


def test_short_names_are_ignored_and_names_are_escaped() -> None:
    assert check("Al pushed the bad config", people=["Al"]) == []
    assert check("Jo (SRE) broke prod.", people=["Jo (SRE)"]) == [
        ("person-caused", "Jo (SRE) broke")
    ]


def test_code_spans_and_fenced_blocks_are_skipped() -> None:
    text = (
        "The worker logged `fault: careless retry` twice.\n"
        "\n"
        "```\n"
        "ERROR human error detected; blame=ops\n"
        "```\n"
        "~~~~ text\n"
        "negligent\n"
        "~~~~\n"
        "After that the operator was careless.\n"
    )
    findings = find_blameful_language({"timeline": text})
    assert [(f.rule, f.excerpt, f.start) for f in findings] == [
        ("careless", "careless", text.rindex("careless"))
    ]


def test_an_unclosed_fence_hides_the_rest_of_the_section() -> None:
    assert check("Logs:\n```\nstupid driver fault\nhis fault\n") == []


def test_findings_follow_section_order_then_position() -> None:
    findings = find_blameful_language(
        {
            "summary": "It was his fault. Root cause: human error",
            "lessons": "Sloppy review. Bob failed to check the config.",
        },
        people=PEOPLE,
    )
    assert [(f.section, f.rule, f.excerpt) for f in findings] == [
        ("summary", "fault", "his fault"),
        ("summary", "human-error", "Root cause: human error"),
        ("lessons", "sloppy", "Sloppy"),
        ("lessons", "failed-to", "Bob failed to check"),
    ]


def test_a_finding_carries_offsets_sentence_and_key() -> None:
    text = "We rolled back at 10:40, e.g. via the console. Bob failed to check the config.\n"
    [finding] = find_blameful_language({"root_cause": text}, people=PEOPLE)
    assert finding == Finding(
        section="root_cause",
        rule="failed-to",
        excerpt="Bob failed to check",
        start=47,
        end=66,
        message=finding.message,
        suggestion=finding.suggestion,
        sentence="Bob failed to check the config.",
    )
    assert text[finding.start : finding.end] == finding.excerpt
    assert finding.key == "root_cause:failed-to:bob failed to check"
    assert finding.suggestion.startswith("Describe the system condition")


def test_the_sentence_is_the_list_item_without_its_marker() -> None:
    text = "## Timeline\n- 10:02 Deploy started\n- 10:05 The operator was careless\n"
    [finding] = find_blameful_language({"timeline": text})
    assert finding.sentence == "10:05 The operator was careless"


def test_identical_spans_keep_the_first_rule_only() -> None:
    rules = [
        Rule(id="first", pattern=r"\bcareless\b", message="m1", suggestion="s1"),
        Rule(id="second", pattern=r"careless", message="m2", suggestion="s2"),
        Rule(id="wider", pattern=r"was careless", message="m3", suggestion="s3"),
    ]
    findings = find_blameful_language({"s": "The operator was careless."}, rules=rules)
    assert [(f.rule, f.excerpt) for f in findings] == [
        ("wider", "was careless"),
        ("first", "careless"),
    ]


def test_custom_rules_can_use_the_person_placeholder() -> None:
    rules = [Rule(id="paged", pattern=r"{person}\s+was\s+paged", message="m", suggestion="s")]
    findings = find_blameful_language(
        {"s": "Bob was paged. The on-call was paged. The service was paged."},
        people=["Bob"],
        rules=rules,
    )
    assert [f.excerpt for f in findings] == ["Bob was paged", "The on-call was paged"]


def test_the_default_rules_load_once_and_in_order() -> None:
    rules = load_rules()
    assert [rule.id for rule in rules] == [
        "person-caused",
        "person-bad-change",
        "failed-to",
        "forgot-to",
        "person-did-not",
        "should-have-known",
        "should-have-been-careful",
        "person-should-have",
        "fault",
        "blame",
        "human-error",
        "operator-error",
        "careless",
        "negligent",
        "sloppy",
        "lazy",
        "stupid",
        "incompetent",
    ]
    rules.clear()
    assert len(load_rules()) == 18


def write_rules(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("yaml_text", "error"),
    [
        (
            "- id: broken-regex\n  pattern: '(unclosed'\n  message: m\n  suggestion: s\n",
            "blameless rule 'broken-regex': invalid pattern",
        ),
        (
            "- id: no-suggestion\n  pattern: 'x'\n  message: m\n",
            "blameless rule 'no-suggestion': missing or empty field 'suggestion'",
        ),
        (
            "- pattern: 'x'\n  message: m\n  suggestion: s\n",
            "blameless rule #0: missing or empty field 'id'",
        ),
        (
            "- id: typo\n  pattern: 'x'\n  message: m\n  suggestion: s\n  sugestion: s\n",
            "blameless rule 'typo': unknown field(s) sugestion",
        ),
        (
            "- {id: twice, pattern: x, message: m, suggestion: s}\n"
            "- {id: twice, pattern: y, message: m, suggestion: s}\n",
            "blameless rule 'twice': duplicate id",
        ),
        (
            "- id: Not A Slug\n  pattern: 'x'\n  message: m\n  suggestion: s\n",
            "blameless rule 'Not A Slug': id must be a lowercase slug",
        ),
        ("id: not-a-list\n", "expected a list of rules"),
    ],
)
def test_a_bad_rule_file_raises_value_error(tmp_path: Path, yaml_text: str, error: str) -> None:
    path = write_rules(tmp_path, yaml_text)
    with pytest.raises(ValueError, match=re.escape(error)):
        load_rules(path)


def test_a_good_rule_file_loads(tmp_path: Path) -> None:
    path = write_rules(
        tmp_path,
        "- id: no-heroes\n  pattern: 'hero'\n  message: Praises one person.\n"
        "  suggestion: Credit the process.\n",
    )
    assert load_rules(path) == [
        Rule(
            id="no-heroes",
            pattern="hero",
            message="Praises one person.",
            suggestion="Credit the process.",
        )
    ]


def test_a_bad_pattern_passed_in_raises_value_error() -> None:
    rules = [Rule(id="oops", pattern="[a-", message="m", suggestion="s")]
    with pytest.raises(ValueError, match="blameless rule 'oops'"):
        find_blameful_language({"s": "text"}, rules=rules)
