"""Where the evaluator gets samples: the metric store, or anything with the same `select`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np
from django.conf import settings

from metrics.promql.errors import ExecutionError
from metrics.promql.values import FloatArray, IntArray
from metrics.storage.matchers import Matcher

if TYPE_CHECKING:
    from metrics.storage.reader import SeriesRef

Loaded = list[tuple[dict[str, str], IntArray, FloatArray]]


class SampleSource(Protocol):
    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> Loaded: ...


def new_source() -> SampleSource:
    """A source for one evaluation pass (or one page's charts) of the portal's own rules: the
    embedded store, or raw samples read from the external backend."""
    from metrics.backends import remote

    backend = remote()
    return StoreSource() if backend is None else backend.source()


class StoreSource:
    """Reads the portal's metric store, remembering what it read for the life of one query (or
    one SLO evaluation):

    - a selector is resolved to series once;
    - a series' samples are read once per range, even when two selectors share the series
      (`x{code="500"}` and `x` in an error ratio);
    - a range inside one already read is sliced from it (an SLO reads its 30-day window, then
      its 3-day, 1-day ... 5-minute windows come from memory).
    """

    def __init__(self) -> None:
        self._series: dict[tuple[Matcher, ...], list[SeriesRef]] = {}
        self._samples: dict[int, tuple[int, int, IntArray, FloatArray]] = {}

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> Loaded:
        from metrics.storage.reader import read_samples, select_series

        key = tuple(matchers)
        refs = self._series.get(key)
        if refs is None:
            refs = select_series(matchers)
            limit = settings.PROMQL_MAX_SERIES
            if len(refs) > limit:
                raise ExecutionError(
                    f"the selector {{{', '.join(map(str, matchers))}}} matches {len(refs)} series, "
                    f"more than the limit of {limit}"
                )
            # Sorted by labels, as Prometheus orders series (it decides topk's ties).
            refs.sort(key=lambda ref: sorted(ref.all_labels().items()))
            self._series[key] = refs
        missing = [ref.id for ref in refs if not self._covers(ref.id, start_ms, end_ms)]
        if missing:
            fresh = read_samples(missing, start_ms, end_ms)
            for series_id in missing:
                timestamps, values = fresh.get(series_id, (_NO_TIMES, _NO_VALUES))
                self._samples[series_id] = (start_ms, end_ms, timestamps, values)
        loaded: Loaded = []
        for ref in refs:
            timestamps, values = self._slice(ref.id, start_ms, end_ms)
            if len(timestamps):
                loaded.append((ref.all_labels(), timestamps, values))
        return loaded

    def _covers(self, series_id: int, start_ms: int, end_ms: int) -> bool:
        known = self._samples.get(series_id)
        return known is not None and known[0] <= start_ms and end_ms <= known[1]

    def _slice(self, series_id: int, start_ms: int, end_ms: int) -> tuple[IntArray, FloatArray]:
        low_ms, high_ms, timestamps, values = self._samples[series_id]
        if low_ms == start_ms and high_ms == end_ms:
            return timestamps, values
        low = int(np.searchsorted(timestamps, start_ms, side="left"))
        high = int(np.searchsorted(timestamps, end_ms, side="right"))
        return timestamps[low:high], values[low:high]


_NO_TIMES: IntArray = np.zeros(0, dtype=np.int64)
_NO_VALUES: FloatArray = np.zeros(0, dtype=np.float64)
