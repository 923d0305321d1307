"""Query results in the JSON shape of Prometheus's HTTP API (what Grafana expects)."""

from __future__ import annotations

from typing import Any

import numpy as np

from metrics.promql.engine import QueryResult
from metrics.promql.numbers import format_value, format_values
from metrics.promql.values import BoolArray, FloatArray, Matrix, Scalar, StringValue, Vector


def format_time(ms: int) -> float | int:
    return ms // 1000 if ms % 1000 == 0 else round(ms / 1000, 3)


def instant_data(result: QueryResult) -> dict[str, Any]:
    at = int(result.steps[0])
    value = result.value
    if isinstance(value, Scalar):
        return {"resultType": "scalar", "result": [format_time(at), format_value(value.values[0])]}
    if isinstance(value, StringValue):
        return {"resultType": "string", "result": [format_time(at), value.value]}
    if isinstance(value, Matrix):
        end = (at if value.at_ms is None else value.at_ms) - value.offset_ms
        return {
            "resultType": "matrix",
            "result": [
                {
                    "metric": series.labels,
                    "values": [
                        [format_time(int(t)), format_value(float(v))]
                        for t, v in zip(series.timestamps, series.values, strict=True)
                        if end - value.range_ms <= t <= end
                    ],
                }
                for series in value.series
                if len(series.timestamps)
            ],
        }
    assert isinstance(value, Vector)
    return {
        "resultType": "vector",
        "result": [
            {"metric": series.labels, "value": [format_time(at), format_value(series.values[0])]}
            for series in value.series
            if series.present[0]
        ],
    }


def range_data(result: QueryResult) -> dict[str, Any]:
    value = result.value
    steps = [format_time(int(step)) for step in result.steps]
    series_list: list[tuple[dict[str, str], FloatArray, BoolArray]]
    if isinstance(value, Scalar):
        series_list = [({}, value.values, np.ones(len(steps), dtype=bool))]
    else:
        assert isinstance(value, Vector)
        series_list = [(s.labels, s.values, s.present) for s in value.series]
    matrix: list[dict[str, Any]] = []
    for labels, values, present in series_list:
        # Plain Python floats and ints: indexing numpy arrays point by point is slow.
        indices = np.flatnonzero(present).tolist()
        texts = format_values(values[present].tolist())
        points = [[steps[index], text] for index, text in zip(indices, texts, strict=True)]
        if points:
            matrix.append({"metric": labels, "values": points})
    matrix.sort(key=lambda item: sorted(item["metric"].items()))
    return {"resultType": "matrix", "result": matrix}
