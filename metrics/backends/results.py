"""A Prometheus HTTP API result (`{"resultType": ..., "result": ...}`) as the evaluator's own
values, so callers of `instant_query` / `range_query` get the same types from any backend."""

from __future__ import annotations

from typing import Any

import numpy as np

from metrics.backends.errors import BackendUnavailable
from metrics.promql.values import (
    FloatArray,
    InstantSeries,
    IntArray,
    Matrix,
    RawSeries,
    Scalar,
    StringValue,
    Value,
    Vector,
)


def instant_value(data: Any, range_ms: int = 0) -> Value:
    kind, result = _unpack(data)
    if kind == "scalar":
        return Scalar(np.array([float(result[1])]))
    if kind == "string":
        return StringValue(str(result[1]))
    if kind == "vector":
        return Vector(
            [
                InstantSeries(
                    dict(item.get("metric") or {}),
                    np.array([float(item["value"][1])]),
                    np.ones(1, dtype=bool),
                )
                for item in result
            ]
        )
    if kind == "matrix":
        return Matrix([raw_series(item) for item in result], range_ms, 0)
    raise BackendUnavailable(f"the backend answered an unknown result type {kind!r}")


def range_value(data: Any, steps: IntArray, step: int) -> Vector:
    """A range query's matrix, one value per step. A point off the grid of steps (a backend
    that moved the steps) is dropped rather than shifted onto a step it was not computed for."""
    kind, result = _unpack(data)
    if kind != "matrix":
        raise BackendUnavailable(f"a range query answered {kind!r}, not a matrix")
    start, count = int(steps[0]), len(steps)
    out = Vector()
    for item in result:
        moments, numbers = _columns(item.get("values") or [])
        offsets = moments - start
        index, off_grid = np.divmod(offsets, step)
        keep = (off_grid == 0) & (index >= 0) & (index < count)
        values = np.full(count, np.nan)
        present = np.zeros(count, dtype=bool)
        values[index[keep]] = numbers[keep]
        present[index[keep]] = True
        if present.any():
            out.series.append(InstantSeries(dict(item.get("metric") or {}), values, present))
    return out


def raw_series(item: dict[str, Any]) -> RawSeries:
    """One series of raw samples (a range selector's answer), in time order, one sample per
    timestamp (a store that holds a sample twice answers it twice)."""
    timestamps, values = _columns(item.get("values") or [])
    if len(timestamps) > 1 and not (np.diff(timestamps) > 0).all():
        order = np.argsort(timestamps, kind="stable")
        timestamps, values = timestamps[order], values[order]
        last = np.ones(len(timestamps), dtype=bool)
        last[:-1] = timestamps[1:] != timestamps[:-1]
        timestamps, values = timestamps[last], values[last]
    return RawSeries(dict(item.get("metric") or {}), timestamps, values)


def _columns(points: list[list[Any]]) -> tuple[IntArray, FloatArray]:
    """`[[seconds, "value"], ...]` as millisecond and float arrays, converted by numpy in one
    go (a float's text such as "NaN" or "+Inf" included)."""
    if not points:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    seconds = np.array([point[0] for point in points], dtype=np.float64)
    values = np.array([point[1] for point in points], dtype=np.float64)
    return np.rint(seconds * 1000).astype(np.int64), values


def _unpack(data: Any) -> tuple[str, Any]:
    if not isinstance(data, dict) or "resultType" not in data:
        raise BackendUnavailable("the backend's answer has no resultType")
    return str(data["resultType"]), data.get("result")
