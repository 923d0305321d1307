"""histogram_quantile over classic buckets, interpolating like Prometheus's bucketQuantile."""

from __future__ import annotations

import math

import numpy as np

from metrics.promql.values import FloatArray, InstantSeries, Vector, label_key
from metrics.storage.matchers import NAME


def histogram_quantile(q: FloatArray, vector: Vector, step_count: int) -> Vector:
    groups: dict[
        tuple[tuple[str, str], ...], tuple[dict[str, str], list[tuple[float, InstantSeries]]]
    ] = {}
    for series in vector.series:
        try:
            bound = float(series.labels.get("le", ""))
        except ValueError:
            continue  # not a bucket: Prometheus ignores series without a valid le
        labels = {k: v for k, v in series.labels.items() if k not in ("le", NAME)}
        groups.setdefault(label_key(labels), (labels, []))[1].append((bound, series))

    out = Vector()
    for labels, buckets in groups.values():
        presence = buckets[0][1].present
        if all(np.array_equal(s.present, presence) for _, s in buckets):
            result = _vectorised(q, buckets)
            if result is not None:
                if presence.any():
                    out.series.append(InstantSeries(labels, result, presence.copy()))
                continue
        result = np.full(step_count, np.nan)
        present = np.zeros(step_count, dtype=bool)
        for step in range(step_count):
            at_step = [(b, s.values[step]) for b, s in buckets if s.present[step]]
            if not at_step:
                continue
            present[step] = True
            result[step] = bucket_quantile(float(q[step]), at_step)
        if present.any():
            out.series.append(InstantSeries(labels, result, present))
    return out


def _vectorised(q: FloatArray, buckets: list[tuple[float, InstantSeries]]) -> FloatArray | None:
    """bucket_quantile for every step at once, when each bucket exists at the same steps.
    None when the data needs the step-by-step path (NaN counts)."""
    ordered = sorted(buckets, key=lambda bucket: bucket[0])
    bounds_list: list[float] = []
    rows: list[FloatArray] = []
    for bound, series in ordered:
        if bounds_list and bounds_list[-1] == bound:
            rows[-1] = rows[-1] + series.values
        else:
            bounds_list.append(bound)
            rows.append(series.values.astype(np.float64))
    counts = np.vstack(rows)
    if np.isnan(counts).any():
        return None
    steps = counts.shape[1]
    if not math.isinf(bounds_list[-1]) or bounds_list[-1] < 0 or len(bounds_list) < 2:
        return np.full(steps, np.nan)
    bounds = np.asarray(bounds_list)
    counts = np.maximum.accumulate(counts, axis=0)
    observations = counts[-1]
    with np.errstate(all="ignore"):
        rank = q * observations
        reached = counts[:-1] >= rank
        index = np.where(reached.any(axis=0), reached.argmax(axis=0), len(bounds) - 1)
        columns = np.arange(steps)
        previous = np.maximum(index - 1, 0)
        below = np.where(index > 0, counts[previous, columns], 0.0)
        start = np.where(index > 0, bounds[previous], 0.0)
        end = bounds[np.minimum(index, len(bounds) - 1)]
        inside = (
            np.where(
                index < len(bounds) - 1, counts[np.minimum(index, len(bounds) - 1), columns], 1.0
            )
            - below
        )
        result = start + (end - start) * ((rank - below) / inside)
    result = np.where(index == len(bounds) - 1, bounds[-2], result)
    result = np.where((index == 0) & (bounds[0] <= 0), bounds[0], result)
    result = np.where((observations == 0) | np.isnan(observations), np.nan, result)
    result = np.where(q < 0, -np.inf, np.where(q > 1, np.inf, result))
    return np.where(np.isnan(q), np.nan, result)


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(buckets, key=lambda bucket: bucket[0])
    if not math.isinf(ordered[-1][0]) or ordered[-1][0] < 0:
        return math.nan
    # Buckets with the same bound are added up; counts are forced non-decreasing.
    merged: list[list[float]] = []
    for bound, count in ordered:
        if merged and merged[-1][0] == bound:
            merged[-1][1] += count
        else:
            merged.append([bound, count])
    highest = -math.inf
    for bucket in merged:
        highest = max(highest, bucket[1])
        bucket[1] = highest
    if len(merged) < 2:
        return math.nan
    observations = merged[-1][1]
    if observations == 0 or math.isnan(observations):
        return math.nan
    rank = q * observations
    index = next((i for i in range(len(merged) - 1) if merged[i][1] >= rank), len(merged) - 1)
    if index == len(merged) - 1:
        return merged[-2][0]
    if index == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start, end, count = 0.0, merged[index][0], merged[index][1]
    if index > 0:
        start = merged[index - 1][0]
        count -= merged[index - 1][1]
        rank -= merged[index - 1][1]
    return start + (end - start) * (rank / count)
