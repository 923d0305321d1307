"""Binary operators: arithmetic, comparisons (filtering or `bool`) and set operators, between
scalars and vectors, with on/ignoring and group_left/group_right matching."""

from __future__ import annotations

import numpy as np

from metrics.promql.ast import VectorMatching
from metrics.promql.errors import ExecutionError
from metrics.promql.functions import check_unique_per_step, present_anywhere
from metrics.promql.signatures import COMPARISONS
from metrics.promql.values import (
    BoolArray,
    FloatArray,
    InstantSeries,
    Vector,
    label_key,
    labels_text,
    without_name,
)
from metrics.storage.matchers import NAME


def elementwise(op: str, lhs: FloatArray, rhs: FloatArray) -> FloatArray:
    with np.errstate(all="ignore"):
        if op == "+":
            return lhs + rhs
        if op == "-":
            return lhs - rhs
        if op == "*":
            return lhs * rhs
        if op == "/":
            return lhs / rhs
        if op == "%":
            return np.fmod(lhs, rhs)
        if op == "^":
            return np.power(lhs, rhs)
        if op == "atan2":
            return np.arctan2(lhs, rhs)
        if op == "==":
            return (lhs == rhs).astype(np.float64)
        if op == "!=":
            return (lhs != rhs).astype(np.float64)
        if op == ">":
            return (lhs > rhs).astype(np.float64)
        if op == "<":
            return (lhs < rhs).astype(np.float64)
        if op == ">=":
            return (lhs >= rhs).astype(np.float64)
        if op == "<=":
            return (lhs <= rhs).astype(np.float64)
    raise AssertionError(op)


def scalar_vector(
    op: str, vector: Vector, scalar: FloatArray, *, scalar_on_left: bool, return_bool: bool
) -> Vector:
    out = Vector()
    for series in vector.series:
        lhs, rhs = (scalar, series.values) if scalar_on_left else (series.values, scalar)
        result = elementwise(op, lhs, rhs)
        if op in COMPARISONS and not return_bool:
            present = series.present & (result == 1.0)
            out.series.append(InstantSeries(series.labels, series.values, present))
        else:
            labels = without_name(series.labels) if _drops_name(op, return_bool) else series.labels
            out.series.append(InstantSeries(labels, result, series.present.copy()))
    return check_unique_per_step(out)


def _drops_name(op: str, return_bool: bool) -> bool:
    """Arithmetic (but not atan2) and `bool` comparisons drop the metric name."""
    return return_bool or op in ("+", "-", "*", "/", "%", "^")


def _signature(labels: dict[str, str], matching: VectorMatching) -> tuple[tuple[str, str], ...]:
    if matching.on:
        return tuple(sorted((k, labels[k]) for k in matching.labels if k in labels))
    ignored = set(matching.labels) | {NAME}
    return tuple(sorted((k, v) for k, v in labels.items() if k not in ignored))


def _group_by_signature(
    vector: Vector, matching: VectorMatching, side: str, active: BoolArray
) -> dict[tuple[tuple[str, str], ...], list[InstantSeries]]:
    """The "one" side's series by signature. Several may share one only if they never have a
    value at the same step where both sides have some (else the matching is many-to-many)."""
    grouped: dict[tuple[tuple[str, str], ...], list[InstantSeries]] = {}
    for series in vector.series:
        key = _signature(series.labels, matching)
        members = grouped.setdefault(key, [])
        for other in members:
            if (other.present & series.present & active).any():
                raise ExecutionError(
                    f"found duplicate series for the match group {labels_text(dict(key))} on "
                    f"the {side} hand-side of the operation: [{labels_text(series.labels)}, "
                    f"{labels_text(other.labels)}];many-to-many matching not allowed: "
                    "matching labels must be unique on one side"
                )
        members.append(series)
    return grouped


def _presence_by_signature(
    vector: Vector, matching: VectorMatching, steps: int
) -> dict[tuple[tuple[str, str], ...], BoolArray]:
    seen: dict[tuple[tuple[str, str], ...], BoolArray] = {}
    for series in vector.series:
        key = _signature(series.labels, matching)
        seen[key] = seen.get(key, np.zeros(steps, dtype=bool)) | series.present
    return seen


def set_operation(
    op: str, lhs: Vector, rhs: Vector, matching: VectorMatching, steps: int
) -> Vector:
    out = Vector()
    rhs_seen = _presence_by_signature(rhs, matching, steps)
    none = np.zeros(steps, dtype=bool)
    if op == "and":
        for series in lhs.series:
            present = series.present & rhs_seen.get(_signature(series.labels, matching), none)
            out.series.append(InstantSeries(series.labels, series.values, present))
    elif op == "unless":
        for series in lhs.series:
            present = series.present & ~rhs_seen.get(_signature(series.labels, matching), none)
            out.series.append(InstantSeries(series.labels, series.values, present))
    else:  # or
        lhs_seen = _presence_by_signature(lhs, matching, steps)
        out.series.extend(lhs.series)
        for series in rhs.series:
            present = series.present & ~lhs_seen.get(_signature(series.labels, matching), none)
            out.series.append(InstantSeries(series.labels, series.values, present))
    return out


def vector_vector(
    op: str, lhs: Vector, rhs: Vector, matching: VectorMatching, return_bool: bool, steps: int
) -> Vector:
    filtering = op in COMPARISONS and not return_bool
    drop_name = _drops_name(op, return_bool)
    # Where either side has nothing, nothing matches and nothing can fail (as Prometheus).
    active = present_anywhere(lhs, steps) & present_anywhere(rhs, steps)
    if not active.any():
        return Vector()
    if matching.card == "one-to-many":
        many, one, one_side = rhs, lhs, "left"
    else:
        many, one, one_side = lhs, rhs, "right"
    ones = _group_by_signature(one, matching, one_side, active)

    out = Vector()
    # Steps at which a match group (one-to-one), or a result's labels within a match group
    # (many-to-one), already has a result: a second one there is an error.
    taken: dict[tuple, BoolArray] = {}
    for series in many.series:
        signature = _signature(series.labels, matching)
        for partner in ones.get(signature, ()):
            present = series.present & partner.present
            if not present.any():
                continue
            if matching.card == "one-to-many":
                left_values, right_values = partner.values, series.values
            else:
                left_values, right_values = series.values, partner.values
            result = elementwise(op, left_values, right_values)
            if filtering:
                present &= result == 1.0
                result = left_values
            labels = _result_labels(series.labels, partner.labels, matching, drop_name)
            if matching.card == "one-to-one":
                key: tuple = signature
                message = "many-to-one matching must be explicit (group_left/group_right)"
            else:
                key = (signature, label_key(labels))
                message = "grouping labels must ensure unique matches"
            before = taken.get(key)
            if before is not None and (before & present).any():
                raise ExecutionError(f"multiple matches for labels: {message}")
            taken[key] = present if before is None else before | present
            out.series.append(InstantSeries(labels, result, present))
    return check_unique_per_step(out)


def _result_labels(
    labels: dict[str, str], partner: dict[str, str], matching: VectorMatching, drop_name: bool
) -> dict[str, str]:
    result = without_name(labels) if drop_name else dict(labels)
    if matching.card == "one-to-one":
        if matching.on:
            result = {k: v for k, v in result.items() if k in matching.labels}
        else:
            result = {k: v for k, v in result.items() if k not in matching.labels}
    for name in matching.include:
        if name in partner:
            result[name] = partner[name]
        else:
            result.pop(name, None)
    return result


def deduplicate(vector: Vector) -> Vector:
    """Series with the same labels are merged; overlapping ones are an error, as in Prometheus."""
    merged: dict[tuple[tuple[str, str], ...], InstantSeries] = {}
    for series in vector.series:
        if not series.present.any():
            continue
        key = label_key(series.labels)
        existing = merged.get(key)
        if existing is None:
            merged[key] = series
            continue
        if (existing.present & series.present).any():
            raise ExecutionError("vector cannot contain metrics with the same labelset")
        merged[key] = InstantSeries(
            existing.labels,
            np.where(series.present, series.values, existing.values),
            existing.present | series.present,
        )
    return Vector(list(merged.values()))
