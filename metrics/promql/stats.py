"""`stats=all` on the query API: how long a query took and how many samples it read, in the
shape of Prometheus's `data.stats` (Grafana's query inspector shows it)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from metrics.promql.engine import QueryResult
from metrics.promql.source import Loaded, StoreSource
from metrics.storage.matchers import Matcher


class CountingSource(StoreSource):
    """The store, counting the samples each selector hands the evaluator."""

    def __init__(self) -> None:
        super().__init__()
        self.samples = 0

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> Loaded:
        loaded = super().select(matchers, start_ms, end_ms)
        self.samples += sum(len(timestamps) for _, timestamps, _ in loaded)
        return loaded


def with_stats(
    run: Callable[[CountingSource], QueryResult], present: Callable[[QueryResult], Any]
) -> dict[str, Any]:
    """Run the query on a counting source; its data with `stats` added."""
    source = CountingSource()
    started = time.perf_counter()
    result = run(source)
    evaluated = time.perf_counter()
    data = present(result)
    finished = time.perf_counter()
    points = _points(data)
    data["stats"] = {
        "timings": {
            "evalTotalTime": round(finished - started, 6),
            "resultSortTime": round(finished - evaluated, 6),
            "queryPreparationTime": 0,
            "innerEvalTime": round(evaluated - started, 6),
            "execQueueTime": 0,
            "execTotalTime": round(finished - started, 6),
        },
        "samples": {
            "totalQueryableSamples": source.samples,
            # The portal evaluates every step at once: what it holds at its peak is what it
            # read plus what it answers.
            "peakSamples": source.samples + points,
        },
    }
    return data


def _points(data: dict[str, Any]) -> int:
    result = data.get("result")
    if data.get("resultType") == "matrix":
        return sum(len(item.get("values") or ()) for item in result or ())
    if data.get("resultType") == "vector":
        return len(result or ())
    return 1
