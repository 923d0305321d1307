"""CloudWatch M out of N alarm evaluation, checked against the documented examples."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from metrics.alarms.evaluation import (
    AlarmEvaluation,
    AlarmState,
    Comparison,
    default_evaluation_range,
    evaluate_alarm,
)

OK = AlarmState.OK
ALARM = AlarmState.ALARM
INSUFFICIENT = AlarmState.INSUFFICIENT_DATA
UNCHANGED = None  # treat_missing_data=ignore keeps whatever state the alarm was in

THRESHOLD = 5.0
VALUES = {"0": 1.0, "X": 10.0, "-": None}  # with ">" 5.0: 0 is within, X breaches, - is missing
POLICIES = ("missing", "ignore", "breaching", "notBreaching")

# Source: AWS CloudWatch user guide, "Configuring how CloudWatch alarms treat missing data",
# section "How alarm state is evaluated when data is missing", both example tables (as kept in
# github.com/awsdocs/amazon-cloudwatch-user-guide, doc_source/AlarmThatSendsEmail.md). CloudWatch
# reads the 5 most recent periods there. Oldest first: 0 within, X breaching, - missing.
DOCS_3_OUT_OF_3 = [
    # datapoints   missing       ignore     breaching  notBreaching
    ("0-X-X", OK, OK, OK, OK),
    ("0----", OK, OK, OK, OK),
    ("-----", INSUFFICIENT, UNCHANGED, ALARM, OK),
    ("0XX-X", ALARM, ALARM, ALARM, ALARM),
    ("----X", INSUFFICIENT, UNCHANGED, ALARM, OK),
    ("X----", ALARM, UNCHANGED, ALARM, OK),
]
DOCS_2_OUT_OF_3 = [
    # datapoints   missing       ignore     breaching  notBreaching
    ("0-X-X", ALARM, ALARM, ALARM, ALARM),
    ("00X0X", ALARM, ALARM, ALARM, ALARM),
    ("0-X--", OK, OK, ALARM, OK),
    ("----0", OK, OK, ALARM, OK),
    ("----X", INSUFFICIENT, UNCHANGED, ALARM, OK),
]
# Not in the docs' tables: rows that follow from the AWS Knowledge Center article "Why did my
# CloudWatch alarm send me a notification after a single breached data point?" (a lone breaching
# datapoint at least M periods old gives ALARM even with missing data treated as missing).
KNOWLEDGE_CENTER_3_OUT_OF_3 = [
    ("-X---", ALARM, UNCHANGED, ALARM, OK),
    ("--X--", ALARM, UNCHANGED, ALARM, OK),
    ("---X-", INSUFFICIENT, UNCHANGED, ALARM, OK),
    ("X-X--", ALARM, UNCHANGED, ALARM, OK),
]
KNOWLEDGE_CENTER_2_OUT_OF_3 = [
    ("---X-", ALARM, UNCHANGED, ALARM, OK),
]


def table_cases(datapoints_to_alarm: int, rows: list[tuple[str, ...]]) -> list[object]:
    """One test per row and treat-missing-data column, named like `2of3 0-X-- breaching`."""
    cases = []
    for pattern, *expected_states in rows:
        for policy, expected in zip(POLICIES, expected_states, strict=True):
            cases.append(
                pytest.param(
                    pattern,
                    datapoints_to_alarm,
                    policy,
                    expected,
                    id=f"{datapoints_to_alarm}of3 {pattern} {policy}",
                )
            )
    return cases


def evaluate_pattern(
    pattern: str,
    *,
    datapoints_to_alarm: int = 3,
    treat_missing_data: str = "missing",
    current_state: AlarmState = OK,
    evaluation_range: int | None = None,
) -> AlarmEvaluation:
    return evaluate_alarm(
        [VALUES[symbol] for symbol in pattern],
        evaluation_periods=3,
        datapoints_to_alarm=datapoints_to_alarm,
        comparison=">",
        threshold=THRESHOLD,
        treat_missing_data=treat_missing_data,
        current_state=current_state,
        evaluation_range=evaluation_range,
    )


@pytest.mark.parametrize(
    ("pattern", "datapoints_to_alarm", "policy", "expected"),
    table_cases(3, DOCS_3_OUT_OF_3) + table_cases(2, DOCS_2_OUT_OF_3),
)
def test_it_matches_the_documented_table(
    pattern: str, datapoints_to_alarm: int, policy: str, expected: AlarmState | None
) -> None:
    result = evaluate_pattern(
        pattern, datapoints_to_alarm=datapoints_to_alarm, treat_missing_data=policy
    )
    assert result.state == expected


@pytest.mark.parametrize(
    ("pattern", "datapoints_to_alarm", "policy", "expected"),
    table_cases(3, KNOWLEDGE_CENTER_3_OUT_OF_3) + table_cases(2, KNOWLEDGE_CENTER_2_OUT_OF_3),
)
def test_a_lone_breach_alarms_under_missing_once_it_is_m_periods_old(
    pattern: str, datapoints_to_alarm: int, policy: str, expected: AlarmState | None
) -> None:
    result = evaluate_pattern(
        pattern, datapoints_to_alarm=datapoints_to_alarm, treat_missing_data=policy
    )
    assert result.state == expected


@pytest.mark.parametrize("current_state", [OK, ALARM, INSUFFICIENT])
def test_ignore_keeps_whatever_state_the_alarm_is_in(current_state: AlarmState) -> None:
    result = evaluate_pattern("-----", treat_missing_data="ignore", current_state=current_state)

    assert result.unchanged
    assert result.next_state == current_state
    assert not result.is_transition


def test_it_alarms_once_the_old_good_datapoint_leaves_the_range() -> None:
    # The docs' note on row `0----`: still OK with missing data as breaching, but ALARM at the
    # next evaluation once the non-breaching datapoint is no longer among the 5 read.
    assert evaluate_pattern("0----", treat_missing_data="breaching").state == OK
    assert evaluate_pattern("0-----", treat_missing_data="breaching").state == ALARM


def test_it_uses_only_the_newest_datapoints_of_the_evaluation_range() -> None:
    assert evaluate_pattern("0---", treat_missing_data="breaching", evaluation_range=4).state == OK
    assert (
        evaluate_pattern("0---", treat_missing_data="breaching", evaluation_range=3).state == ALARM
    )
    assert default_evaluation_range(3) == 5


def test_it_treats_periods_before_a_short_series_as_missing() -> None:
    assert evaluate_pattern("X", treat_missing_data="breaching").state == ALARM
    assert evaluate_pattern("X", treat_missing_data="notBreaching").state == OK
    assert evaluate_pattern("X", treat_missing_data="missing").state == INSUFFICIENT


def test_nan_counts_as_missing() -> None:
    nan = math.nan
    with_nans = [1.0, nan, 10.0, nan, 10.0]

    for policy in POLICIES:
        expected = evaluate_pattern("0-X-X", datapoints_to_alarm=2, treat_missing_data=policy)
        result = evaluate_alarm(
            with_nans,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            comparison=">",
            threshold=THRESHOLD,
            treat_missing_data=policy,
        )
        assert result.state == expected.state == ALARM
    all_nan = evaluate_alarm(
        [nan] * 5, evaluation_periods=3, datapoints_to_alarm=3, comparison=">", threshold=1.0
    )
    assert all_nan.state == INSUFFICIENT


@pytest.mark.parametrize(
    ("comparison", "breaching_values"),
    [
        (">", [5.0]),
        ("GreaterThanThreshold", [5.0]),
        (">=", [4.0, 5.0]),
        ("GreaterThanOrEqualToThreshold", [4.0, 5.0]),
        ("<", [3.0]),
        ("LessThanThreshold", [3.0]),
        ("<=", [3.0, 4.0]),
        ("LessThanOrEqualToThreshold", [3.0, 4.0]),
    ],
)
def test_each_comparison_breaches_on_its_side_of_the_threshold(
    comparison: str, breaching_values: list[float]
) -> None:
    for value in (3.0, 4.0, 5.0):
        result = evaluate_alarm(
            [value],
            evaluation_periods=1,
            datapoints_to_alarm=1,
            comparison=comparison,
            threshold=4.0,
        )
        assert result.state == (ALARM if value in breaching_values else OK), value


def test_comparison_names_and_symbols_are_the_same_operator() -> None:
    assert Comparison.parse("GreaterThanOrEqualToThreshold") is Comparison.parse(">=")
    with pytest.raises(ValueError, match="unknown comparison '=='"):
        Comparison.parse("==")


def test_the_reason_names_the_breaching_datapoints_newest_first() -> None:
    start = datetime(2024, 3, 12, 10, 0, tzinfo=UTC)
    result = evaluate_alarm(
        [3.0, 5.0, 7.0],
        timestamps=[start + timedelta(minutes=5 * index) for index in range(3)],
        evaluation_periods=3,
        datapoints_to_alarm=2,
        comparison="GreaterThanThreshold",
        threshold=4.0,
    )

    assert result.state == ALARM
    assert result.reason == (
        "Threshold Crossed: 2 out of the last 3 datapoints "
        "[7.0 (12/03/24 10:10:00), 5.0 (12/03/24 10:05:00)] were greater than the threshold (4.0)."
    )
    assert [point.value for point in result.deciding_datapoints] == [5.0, 7.0]
    assert [point.value for point in result.datapoints] == [3.0, 5.0, 7.0]


def test_the_ok_reason_names_the_datapoints_within_the_threshold() -> None:
    result = evaluate_pattern("0-X-X")

    assert result.reason == (
        "Threshold Crossed: 1 out of the last 3 datapoints [1.0 (t-4)] "
        "was not greater than the threshold (5.0)."
    )


def test_the_reason_says_how_many_missing_datapoints_were_filled() -> None:
    result = evaluate_pattern("----X", treat_missing_data="breaching")

    assert result.reason == (
        "Threshold Crossed: 3 out of the last 3 datapoints [10.0 (t-0)] were greater than "
        "the threshold (5.0), including 2 missing datapoints treated as [Breaching]."
    )
    assert [(point.periods_ago, point.filled) for point in result.datapoints] == [
        (2, True),
        (1, True),
        (0, False),
    ]


def test_the_reason_explains_insufficient_and_unchanged() -> None:
    missing = evaluate_pattern("----X")
    ignored = evaluate_pattern("----X", treat_missing_data="ignore")

    assert missing.reason == (
        "Insufficient Data: 1 of the last 5 datapoints reported [10.0 (t-0)], 3 needed."
    )
    assert ignored.reason == (
        "Unchanged: 1 of the last 5 datapoints reported [10.0 (t-0)], 3 needed; "
        "missing data is ignored, so the state is kept."
    )


def test_the_reason_explains_a_lone_old_breach() -> None:
    result = evaluate_pattern("X----")

    assert result.reason == (
        "Threshold Crossed: 1 out of 1 reported datapoints [10.0 (t-4)] was greater than the "
        "threshold (5.0); the oldest began 5 periods ago, at least the 3 datapoints to alarm, "
        "and no datapoint since was within the threshold."
    )


def test_a_transition_is_reported_against_the_current_state() -> None:
    result = evaluate_pattern("XXX", current_state=OK)

    assert result.state == ALARM
    assert result.is_transition
    assert not evaluate_pattern("XXX", current_state=ALARM).is_transition


@pytest.mark.parametrize("datapoints_to_alarm", [0, 4])
def test_datapoints_to_alarm_must_be_between_1_and_n(datapoints_to_alarm: int) -> None:
    message = (
        r"datapoints_to_alarm must be between 1 and evaluation_periods \(3\), "
        f"got {datapoints_to_alarm}"
    )
    with pytest.raises(ValueError, match=message):
        evaluate_pattern("XXX", datapoints_to_alarm=datapoints_to_alarm)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"evaluation_periods": 0}, "evaluation_periods must be at least 1, got 0"),
        ({"treat_missing_data": "zero"}, "unknown treat_missing_data 'zero'"),
        ({"current_state": "PENDING"}, "unknown alarm state 'PENDING'"),
        ({"evaluation_range": 2}, r"evaluation_range must be at least evaluation_periods \(3\)"),
        ({"threshold": math.nan}, "threshold must be a number, got NaN"),
    ],
)
def test_it_rejects_invalid_settings(settings: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "evaluation_periods": 3,
        "datapoints_to_alarm": 1,
        "comparison": ">",
        "threshold": 1.0,
        **settings,
    }
    with pytest.raises(ValueError, match=message):
        evaluate_alarm([1.0, 2.0, 3.0], **arguments)  # type: ignore[arg-type]
