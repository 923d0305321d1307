"""Choosing a query step for a chart: about as many points as a chart has room for, rounded
to a familiar interval."""

from __future__ import annotations

import math

TARGET_POINTS = 400
MIN_STEP_MS = 15_000
NICE_STEPS_S = [15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400]


def choose_step(range_ms: int) -> int:
    """A step that gives about TARGET_POINTS points, rounded up to a familiar interval."""
    wanted = max(MIN_STEP_MS, math.ceil(range_ms / TARGET_POINTS))
    for seconds in NICE_STEPS_S:
        if seconds * 1000 >= wanted:
            return seconds * 1000
    return wanted
