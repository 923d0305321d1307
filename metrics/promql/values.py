"""Values the evaluator passes around. Every instant value is evaluated at all steps at once:
a series holds one value per step and a mask saying at which steps it exists."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from metrics.storage.matchers import NAME

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass
class InstantSeries:
    labels: dict[str, str]
    values: FloatArray
    present: BoolArray


@dataclass
class Vector:
    series: list[InstantSeries] = field(default_factory=list)


@dataclass
class Scalar:
    values: FloatArray


@dataclass
class StringValue:
    value: str


@dataclass
class RawSeries:
    """Stored samples of one series (stale markers already removed)."""

    labels: dict[str, str]
    timestamps: IntArray
    values: FloatArray


@dataclass
class Matrix:
    series: list[RawSeries]
    range_ms: int
    offset_ms: int
    # The @ modifier: every step's window ends here (less the offset) instead of at the step.
    at_ms: int | None = None

    def window_ends(self, steps: IntArray) -> IntArray:
        """The steps the windows are anchored at (before the offset)."""
        return steps if self.at_ms is None else np.full(len(steps), self.at_ms, dtype=np.int64)


Value = Vector | Scalar | StringValue | Matrix


def without_name(labels: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in labels.items() if key != NAME}


def labels_text(labels: dict[str, str]) -> str:
    """A label set as PromQL prints it: `{code="500", job="api"}`."""
    import json

    inner = ", ".join(
        f"{name}={json.dumps(value, ensure_ascii=False)}" for name, value in sorted(labels.items())
    )
    return "{" + inner + "}"


def label_key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def summed_per_step(value: Value, steps: int) -> FloatArray:
    """One number per step: a scalar's values, or the sum of a vector's series at each step
    (NaN where no series has a value)."""
    if isinstance(value, Scalar):
        return value.values
    if not isinstance(value, Vector):
        raise TypeError(f"expected a scalar or an instant vector, got {type(value).__name__}")
    total = np.zeros(steps)
    seen = np.zeros(steps, dtype=bool)
    for series in value.series:
        total += np.where(series.present, series.values, 0.0)
        seen |= series.present
    return np.where(seen, total, np.nan)
