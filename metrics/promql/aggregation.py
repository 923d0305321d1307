"""Aggregation operators (sum, avg, min, max, count, group, stddev, stdvar, topk, bottomk,
quantile) with by/without, evaluated at every step at once."""

from __future__ import annotations

import numpy as np

from metrics.promql.errors import ExecutionError
from metrics.promql.functions import LABEL_NAME
from metrics.promql.numbers import format_value
from metrics.promql.values import FloatArray, InstantSeries, Vector, label_key
from metrics.promql.windows import quantile_of
from metrics.storage.matchers import NAME


def group_labels(
    labels: dict[str, str], grouping: tuple[str, ...], without: bool
) -> dict[str, str]:
    if without:
        dropped = set(grouping) | {NAME}
        return {key: value for key, value in labels.items() if key not in dropped}
    return {key: labels[key] for key in grouping if key in labels}


def aggregate(
    op: str,
    vector: Vector,
    grouping: tuple[str, ...],
    without: bool,
    param: FloatArray | str | None,
    step_count: int,
) -> Vector:
    if op == "count_values":
        assert isinstance(param, str)
        return count_values(param, vector, grouping, without, step_count)
    assert not isinstance(param, str)
    if op in ("topk", "bottomk"):
        assert param is not None
        _check_k(param)
    groups: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], list[InstantSeries]]] = {}
    for series in vector.series:
        labels = group_labels(series.labels, grouping, without)
        groups.setdefault(label_key(labels), (labels, []))[1].append(series)

    out = Vector()
    for labels, members in groups.values():
        values = np.vstack([member.values for member in members])
        present = np.vstack([member.present for member in members])
        if op in ("topk", "bottomk"):
            assert param is not None
            out.series.extend(_top(op, members, values, present, param))
            continue
        any_present = np.asarray(present.any(axis=0), dtype=bool)
        if not any_present.any():
            continue
        count = present.sum(axis=0).astype(np.float64)
        masked = np.where(present, values, np.nan)
        with np.errstate(all="ignore"):
            if op == "sum":
                result = np.where(present, values, 0.0).sum(axis=0)
            elif op == "avg":
                result = np.where(present, values, 0.0).sum(axis=0) / count
            elif op == "count":
                result = count
            elif op == "group":
                result = np.ones(step_count)
            elif op == "min":
                result = _nan_reduce(np.fmin, masked)
            elif op == "max":
                result = _nan_reduce(np.fmax, masked)
            elif op in ("stddev", "stdvar"):
                mean = np.where(present, values, 0.0).sum(axis=0) / count
                variance = np.where(present, (values - mean) ** 2, 0.0).sum(axis=0) / count
                result = np.sqrt(variance) if op == "stddev" else variance
            elif op == "quantile":
                assert param is not None
                result = np.full(step_count, np.nan)
                for step in np.flatnonzero(any_present):
                    result[step] = quantile_nan_first(
                        float(param[step]), values[present[:, step], step]
                    )
            else:
                raise AssertionError(op)
        out.series.append(InstantSeries(labels, result, any_present))
    return out


MAX_INT64 = 2.0**63


def _check_k(param: FloatArray) -> None:
    for k in param:
        if not -MAX_INT64 <= k <= MAX_INT64:  # NaN too
            text = "NaN" if np.isnan(k) else ("+Inf" if k > 0 else "-Inf") if np.isinf(k) else k
            raise ExecutionError(f"Scalar value {text} overflows int64")


def quantile_nan_first(q: float, values: FloatArray) -> float:
    """The quantile aggregation sorts NaN before every number (Prometheus's vectorByValueHeap),
    so NaN inputs take the lowest ranks."""
    nan = np.isnan(values)
    ordered = np.concatenate((values[nan], np.sort(values[~nan])))
    if not nan.any():
        return quantile_of(q, values)
    return _interpolate(q, ordered)


def _interpolate(q: float, ordered: FloatArray) -> float:
    if len(ordered) == 0 or np.isnan(q):
        return float("nan")
    if q < 0:
        return float("-inf")
    if q > 1:
        return float("inf")
    rank = q * (len(ordered) - 1)
    lower = int(np.floor(rank))
    upper = min(lower + 1, len(ordered) - 1)
    weight = rank - lower
    return float(ordered[lower] * (1 - weight) + ordered[upper] * weight)


def count_values(
    label: str, vector: Vector, grouping: tuple[str, ...], without: bool, step_count: int
) -> Vector:
    """count_values: per group, how many series have each value, the value (as Prometheus
    writes it) in `label`; with `by` the label joins the grouping."""

    if not LABEL_NAME.match(label):
        raise ExecutionError(f"invalid label name {label!r}".replace("'", '"'))
    keep = grouping if without else (*grouping, label)
    counts: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], FloatArray]] = {}
    for series in vector.series:
        values = series.values[series.present]
        nan = np.isnan(values)
        distinct = list(np.unique(values[~nan]))
        if nan.any():
            distinct.append(np.nan)
        for value in distinct:
            if np.isnan(value):
                at = series.present & np.isnan(series.values)
            else:
                at = series.present & (series.values == value)
            labels = dict(series.labels)
            labels[label] = format_value(float(value))
            grouped = group_labels(labels, keep, without)
            entry = counts.setdefault(label_key(grouped), (grouped, np.zeros(step_count)))
            entry[1][at] += 1
    return Vector([InstantSeries(labels, count, count > 0) for labels, count in counts.values()])


def _nan_reduce(ufunc: np.ufunc, masked: FloatArray) -> FloatArray:
    """fmin/fmax over series: NaN only where every present value is NaN (as Prometheus)."""
    result = masked[0].copy()
    for row in masked[1:]:
        result = ufunc(result, row)
    return result


def _top(
    op: str,
    members: list[InstantSeries],
    values: FloatArray,
    present: np.ndarray,
    param: FloatArray,
) -> list[InstantSeries]:
    """topk/bottomk exactly as Prometheus picks them, ties included: a bounded heap fed in
    series order, replacing its top only with a strictly better value."""
    chosen = np.zeros(present.shape, dtype=bool)
    for step in range(present.shape[1]):
        if np.isnan(param[step]) or param[step] < 1:
            continue
        k = int(param[step])
        heap: list[int] = []
        for index in np.flatnonzero(present[:, step]):
            value = values[index, step]
            if len(heap) < k:
                heap.append(int(index))
                _heap_up(heap, len(heap) - 1, values[:, step], op)
                continue
            top = values[heap[0], step]
            better = top < value if op == "topk" else top > value
            if better or (np.isnan(top) and not np.isnan(value)):
                heap[0] = int(index)
                if k > 1 and not _heap_down(heap, 0, values[:, step], op):
                    _heap_up(heap, 0, values[:, step], op)
        chosen[heap, step] = True
    return [
        InstantSeries(member.labels, member.values, chosen[index])
        for index, member in enumerate(members)
        if chosen[index].any()
    ]


def _less(values: FloatArray, a: int, b: int, op: str) -> bool:
    if np.isnan(values[a]):
        return True
    return bool(values[a] < values[b]) if op == "topk" else bool(values[a] > values[b])


def _heap_up(heap: list[int], j: int, values: FloatArray, op: str) -> None:
    # Go's container/heap "up", so that ties resolve as in Prometheus.
    while True:
        i = (j - 1) // 2
        if j <= 0 or i == j or not _less(values, heap[j], heap[i], op):
            break
        heap[i], heap[j] = heap[j], heap[i]
        j = i


def _heap_down(heap: list[int], i0: int, values: FloatArray, op: str) -> bool:
    i, n = i0, len(heap)
    while True:
        j1 = 2 * i + 1
        if j1 >= n:
            break
        j = j1
        j2 = j1 + 1
        if j2 < n and _less(values, heap[j2], heap[j1], op):
            j = j2
        if not _less(values, heap[j], heap[i], op):
            break
        heap[i], heap[j] = heap[j], heap[i]
        i = j
    return i > i0
