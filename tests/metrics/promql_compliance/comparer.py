"""Comparison of range-query answers, as the compliance tester's `comparer/comparer.go` does.

A port of github.com/prometheus/compliance (promql/comparer/comparer.go, Apache-2.0), with the
reference target's configuration (no query tweaks):
- the reference must fail exactly when the case says `should_fail`; otherwise the harness, not
  the implementation under test, is wrong (upstream stops the whole run);
- the test target failing when it should not is an unexpected failure ("unsupported" when the
  error names HTTP 501); succeeding when it should fail is an unexpected success;
- `should_fail` and `skip_comparison` cases pass once both sides agree on failing or not;
- otherwise the test target's matrix is sorted as client_golang's `model.Matrix` sorts (fewer
  labels first, then the first differing label pair) and compared with the reference's, in
  the reference's order, like `cmp.Diff` with `EquateApprox(0.00001, 0)` and `EquateNaNs`:
  label sets and timestamps exactly, finite values within a fraction 1e-5 of the smaller
  magnitude, infinities by sign, NaN equal to NaN only.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.metrics.promql_compliance.expansion import TestCase

FRACTION = 0.00001
MARGIN = 0.0

Labels = dict[str, str]
Points = list[tuple[int, float]]


@dataclass
class Series:
    metric: Labels
    values: Points


@dataclass
class Answer:
    """One target's answer: an error text (as client_golang reports it) or a matrix."""

    error: str | None = None
    result_type: str = "matrix"
    matrix: list[Series] = field(default_factory=list)


@dataclass
class Result:
    case: TestCase
    diff: str = ""
    unexpected_failure: str = ""
    unexpected_success: bool = False
    unsupported: bool = False
    expected: Answer | None = None
    got: Answer | None = None

    def success(self) -> bool:
        return not self.diff and not self.unexpected_success and not self.unexpected_failure


class ReferenceDisagrees(Exception):
    """The reference failed on a case that should succeed, or the other way round."""


QueryRange = Callable[[str], Answer]


def before(left: Labels, right: Labels) -> bool:
    """client_golang's `LabelSet.Before`."""
    if len(left) != len(right):
        return len(left) < len(right)
    for name in sorted([*left, *right]):
        if name not in left:
            return True
        if name not in right:
            return False
        if left[name] != right[name]:
            return left[name] < right[name]
    return False


def sort_matrix(matrix: list[Series]) -> list[Series]:
    def order(a: Series, b: Series) -> int:
        return -1 if before(a.metric, b.metric) else (1 if before(b.metric, a.metric) else 0)

    return sorted(matrix, key=functools.cmp_to_key(order))


def same_value(expected: float, got: float) -> bool:
    if math.isnan(expected) or math.isnan(got):
        return math.isnan(expected) and math.isnan(got)
    if math.isinf(expected) or math.isinf(got):
        return expected == got
    return abs(expected - got) <= max(MARGIN, FRACTION * min(abs(expected), abs(got)))


def first_difference(expected: list[Series], got: list[Series]) -> str:
    """'' when the matrices are equal as the comparer sees them, else the first difference."""
    want = {tuple(sorted(s.metric.items())): s for s in expected}
    have = {tuple(sorted(s.metric.items())): s for s in got}
    if len(expected) != len(got) or set(want) != set(have):
        missing = [dict(k) for k in want if k not in have]
        extra = [dict(k) for k in have if k not in want]
        return (
            f"{len(expected)} series expected, {len(got)} got; "
            f"missing {missing[:3]}{' ...' if len(missing) > 3 else ''}, "
            f"unexpected {extra[:3]}{' ...' if len(extra) > 3 else ''}"
        )
    for index, (ours, theirs) in enumerate(zip(expected, got, strict=True)):
        if ours.metric != theirs.metric:
            return f"series order differs at {index}: expected {ours.metric}, got {theirs.metric}"
        if len(ours.values) != len(theirs.values):
            times_expected = {t for t, _ in ours.values}
            times_got = {t for t, _ in theirs.values}
            return (
                f"{ours.metric}: {len(ours.values)} points expected, {len(theirs.values)} got; "
                f"missing at {sorted(times_expected - times_got)[:3]}, "
                f"unexpected at {sorted(times_got - times_expected)[:3]}"
            )
        for (t_expected, v_expected), (t_got, v_got) in zip(
            ours.values, theirs.values, strict=True
        ):
            if t_expected != t_got:
                return f"{ours.metric}: point at {t_expected} expected, at {t_got} got"
            if not same_value(v_expected, v_got):
                return f"{ours.metric} at {t_expected}: {v_expected!r} expected, {v_got!r} got"
    return ""


def compare(case: TestCase, reference: Answer, test: Answer) -> Result:
    if (reference.error is not None) != case.should_fail:
        if reference.error is not None:
            raise ReferenceDisagrees(f"the reference failed on {case.query!r}: {reference.error}")
        raise ReferenceDisagrees(f"the reference should have failed on {case.query!r}")
    result = Result(case=case, expected=reference, got=test)
    if (test.error is not None) != case.should_fail:
        if test.error is not None:
            result.unexpected_failure = test.error
            result.unsupported = "501" in test.error
        else:
            result.unexpected_success = True
        return result
    if case.skip_comparison or case.should_fail:
        return result
    if test.result_type != "matrix":
        result.diff = f"result type {test.result_type!r}, not 'matrix'"
        return result
    result.diff = first_difference(reference.matrix, sort_matrix(test.matrix))
    return result
