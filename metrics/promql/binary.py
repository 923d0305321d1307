"""Binary operators: arithmetic, comparisons (filtering or `bool`) and set operators, between
scalars and vectors, with on/ignoring and group_left/group_right matching."""

from __future__ import annotations

import numpy as np

from metrics.promql.ast import VectorMatching
from metrics.promql.errors import ExecutionError
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
            out.series.append(
                InstantSeries(without_name(series.labels), result, series.present.copy())
            )
    return out


def _signature(labels: dict[str, str], matching: VectorMatching) -> tuple[tuple[str, str], ...]:
    if matching.on:
        return tuple(sorted((k, labels[k]) for k in matching.labels if k in labels))
    ignored = set(matching.labels) | {NAME}
    return tuple(sorted((k, v) for k, v in labels.items() if k not in ignored))


def _merge_by_signature(
    vector: Vector, matching: VectorMatching, side: str
) -> dict[tuple[tuple[str, str], ...], InstantSeries]:
    """One series per signature; several are merged when never present at the same step."""
    merged: dict[tuple[tuple[str, str], ...], InstantSeries] = {}
    for series in vector.series:
        key = _signature(series.labels, matching)
        existing = merged.get(key)
        if existing is None:
            merged[key] = InstantSeries(series.labels, series.values.copy(), series.present.copy())
            continue
        if (existing.present & series.present).any():
            group = labels_text(dict(key))
            raise ExecutionError(
                f"found duplicate series for the match group {group} on the {side} hand-side "
                "of the operation; many-to-many matching not allowed: matching labels must be "
                "unique on one side"
            )
        existing.values = np.where(series.present, series.values, existing.values)
        existing.present = existing.present | series.present
    return merged


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
    drop_name = not filtering
    if matching.card == "one-to-many":
        many, one, one_side = rhs, lhs, "left"
    else:
        many, one, one_side = lhs, rhs, "right"
    ones = _merge_by_signature(one, matching, one_side)
    if matching.card == "one-to-one":
        many_merged = _merge_by_signature(many, matching, "left")
        many_series = list(many_merged.values())
    else:
        many_series = many.series

    out = Vector()
    for series in many_series:
        partner = ones.get(_signature(series.labels, matching))
        if partner is None:
            continue
        if matching.card == "one-to-many":
            left_values, right_values = partner.values, series.values
        else:
            left_values, right_values = series.values, partner.values
        result = elementwise(op, left_values, right_values)
        present = series.present & partner.present
        if filtering:
            present &= result == 1.0
            result = left_values
        labels = _result_labels(series.labels, partner.labels, matching, drop_name)
        out.series.append(InstantSeries(labels, result, present))
    return out


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
