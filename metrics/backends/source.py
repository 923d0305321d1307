"""Raw samples from an external backend for the portal's own evaluation, with the same
promises as the embedded store's `StoreSource`: a selector is read once per range, a range
inside one already read is sliced from memory, and after the backend failed once in a pass
the rest of the pass fails at once instead of waiting out a timeout per selector."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from metrics.backends.errors import BackendUnavailable
from metrics.storage.matchers import Matcher

if TYPE_CHECKING:
    from metrics.backends.prometheus import Loaded, PrometheusBackend


class RemoteSource:
    def __init__(self, backend: PrometheusBackend) -> None:
        self.backend = backend
        self._read: dict[tuple[Matcher, ...], tuple[int, int, Loaded]] = {}
        self._outage: BackendUnavailable | None = None
        self.requests = 0

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> Loaded:
        key = tuple(matchers)
        known = self._read.get(key)
        if known is not None and known[0] <= start_ms and end_ms <= known[1]:
            if known[:2] == (start_ms, end_ms):
                return known[2]
            return _sliced(known[2], start_ms, end_ms)
        if self._outage is not None:
            raise BackendUnavailable(self._outage.reason)
        self.requests += 1
        try:
            loaded = self.backend.raw(matchers, start_ms, end_ms)
        except BackendUnavailable as exc:
            self._outage = exc
            raise
        self._read[key] = (start_ms, end_ms, loaded)
        return loaded


def _sliced(loaded: Loaded, start_ms: int, end_ms: int) -> Loaded:
    out: Loaded = []
    for labels, timestamps, values in loaded:
        low = int(np.searchsorted(timestamps, start_ms, side="left"))
        high = int(np.searchsorted(timestamps, end_ms, side="right"))
        if high > low:
            out.append((labels, timestamps[low:high], values[low:high]))
    return out
