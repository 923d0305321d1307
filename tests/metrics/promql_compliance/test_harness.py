"""The compliance harness's own rules: expansion as upstream's expand.go, comparison as its
comparer.go (no Prometheus needed)."""

from __future__ import annotations

import math

import pytest

from tests.metrics.promql_compliance.answers import read_answer
from tests.metrics.promql_compliance.comparer import (
    Answer,
    ReferenceDisagrees,
    Series,
    compare,
    sort_matrix,
)
from tests.metrics.promql_compliance.expansion import TestCase, expand, load_cases

NAN = math.nan


def test_the_vendored_suite_expands_to_the_upstream_count():
    cases = load_cases()
    assert len(cases) == 539
    assert sum(case.should_fail for case in cases) == 5


def test_the_first_variant_arg_varies_slowest():
    cases = expand(
        [{"query": "{{.clampFunc}}(x[{{.range}}])", "variant_args": ["clampFunc", "range"]}]
    )
    queries = [case.query for case in cases]
    assert len(queries) == 12
    assert queries[:2] == ["clamp_min(x[1s])", "clamp_min(x[15s])"]
    assert queries[6] == "clamp_max(x[1s])"


def test_a_template_field_without_a_variant_renders_as_go_does():
    assert expand([{"query": "rate(x[{{.range}}])"}])[0].query == "rate(x[<no value>])"


def test_an_unknown_variant_arg_is_refused():
    with pytest.raises(ValueError, match="unknown variant arg"):
        expand([{"query": "{{.nope}}", "variant_args": ["nope"]}])


def matrix(*series: tuple[dict[str, str], list[tuple[int, float]]]) -> Answer:
    return Answer(matrix=[Series(dict(labels), list(points)) for labels, points in series])


CASE = TestCase("q")


def test_values_agree_within_the_upstream_fraction():
    reference = matrix(({"a": "1"}, [(1000, 100.0), (2000, NAN), (3000, math.inf)]))
    close = matrix(({"a": "1"}, [(1000, 100.0009), (2000, NAN), (3000, math.inf)]))
    far = matrix(({"a": "1"}, [(1000, 100.002), (2000, NAN), (3000, math.inf)]))
    assert compare(CASE, reference, close).success()
    assert "100.002" in compare(CASE, reference, far).diff


def test_nan_only_equals_nan_and_infinities_keep_their_sign():
    reference = matrix(({"a": "1"}, [(1000, NAN)]))
    assert not compare(CASE, reference, matrix(({"a": "1"}, [(1000, 0.0)]))).success()
    infinite = matrix(({"a": "1"}, [(1000, math.inf)]))
    assert not compare(CASE, infinite, matrix(({"a": "1"}, [(1000, -math.inf)]))).success()


def test_timestamps_and_labels_must_match_exactly():
    reference = matrix(({"a": "1"}, [(1000, 1.0)]))
    assert not compare(CASE, reference, matrix(({"a": "1"}, [(1001, 1.0)]))).success()
    assert not compare(CASE, reference, matrix(({"a": "2"}, [(1000, 1.0)]))).success()


def test_the_test_side_is_sorted_as_client_golang_sorts_a_matrix():
    unsorted = [
        Series({"b": "1", "c": "1"}, []),
        Series({"a": "2"}, []),
        Series({"a": "1", "c": "1"}, []),
        Series({"a": "1"}, []),
    ]
    # Fewer labels first; then, over both sets' names in order, the set lacking a name first.
    assert [s.metric for s in sort_matrix(unsorted)] == [
        {"a": "1"},
        {"a": "2"},
        {"b": "1", "c": "1"},
        {"a": "1", "c": "1"},
    ]
    reference = matrix(({"a": "1"}, [(1000, 1.0)]), ({"a": "2"}, [(1000, 2.0)]))
    reversed_answer = matrix(({"a": "2"}, [(1000, 2.0)]), ({"a": "1"}, [(1000, 1.0)]))
    assert compare(CASE, reference, reversed_answer).success()
    # The reference's own order is taken as it comes, as upstream does.
    assert not compare(CASE, reversed_answer, reference).success()


def test_failures_count_against_the_target_unless_the_case_should_fail():
    failing = Answer(error="bad_data: parse error")
    result = compare(CASE, matrix(), failing)
    assert result.unexpected_failure == "bad_data: parse error"
    assert compare(TestCase("q", should_fail=True), failing, failing).success()
    assert compare(TestCase("q", should_fail=True), failing, matrix()).unexpected_success
    assert "501" in read_answer(501, b"").error
    assert compare(CASE, matrix(), read_answer(501, b"")).unsupported


def test_skip_comparison_only_asks_that_both_succeed():
    case = TestCase("q", skip_comparison=True)
    assert compare(case, matrix(({"a": "1"}, [(1, 1.0)])), matrix()).success()


def test_the_reference_disagreeing_with_the_case_stops_the_harness():
    with pytest.raises(ReferenceDisagrees):
        compare(CASE, Answer(error="boom"), matrix())
    with pytest.raises(ReferenceDisagrees):
        compare(TestCase("q", should_fail=True), matrix(), matrix())


def test_answers_are_read_as_client_golang_reads_them():
    body = (
        b'{"status":"success","data":{"resultType":"matrix",'
        b'"result":[{"metric":{"a":"1"},"values":[[1.5,"+Inf"],[2,"NaN"]]}]}}'
    )
    answer = read_answer(200, body)
    assert answer.error is None
    assert answer.matrix[0].values[0] == (1500, math.inf)
    assert math.isnan(answer.matrix[0].values[1][1])
    unquoted = (
        b'{"status":"success","data":{"resultType":"matrix",'
        b'"result":[{"metric":{},"values":[[1,2]]}]}}'
    )
    assert "quoted string" in (read_answer(200, unquoted).error or "")
    error = b'{"status":"error","errorType":"bad_data","error":"parse error"}'
    assert read_answer(400, error).error == "bad_data: parse error"
    assert (read_answer(400, b'{"status":"success","data":{}}').error or "").startswith(
        "bad_response"
    )
    assert (
        read_answer(
            200, b'{"status":"success","data":{"resultType":"vector","result":[]}}'
        ).result_type
        == "vector"
    )
