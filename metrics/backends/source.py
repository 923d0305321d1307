"""Raw samples from an external backend for the portal's own evaluation, with the same
promises as the embedded store's `StoreSource`: a selector is read once per range, a range
inside one already read is sliced from memory, and after the backend failed once in a pass
the rest of the pass fails at once instead of waiting out a timeout per selector."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from metrics.backends.errors import BackendUnavailable
from metrics.promql.values import FloatArray, IntArray
from metrics.storage.matchers import Matcher

Loaded = list[tuple[dict[str, str], IntArray, FloatArray]]


class RawReader(Protocol):
    def raw(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> Loaded: ...


class RemoteSource:
    def __init__(self, backend: RawReader) -> None:
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
        if known is None or end_ms < known[0] or start_ms > known[1]:
            loaded = self._raw(matchers, start_ms, end_ms)
            self._read[key] = (start_ms, end_ms, loaded)
            return loaded
        # A wider range than the one read: only the missing ends are read (an SLO pass reads
        # its 7-day window, then a 28-day SLO's on the same series adds 21 days, not 28).
        low, high, loaded = known
        parts = [loaded]
        if start_ms < low:
            parts.insert(0, self._raw(matchers, start_ms, low - 1))
        if end_ms > high:
            parts.append(self._raw(matchers, high + 1, end_ms))
        merged = _joined(parts)
        self._read[key] = (min(start_ms, low), max(end_ms, high), merged)
        return _sliced(merged, start_ms, end_ms)

    def _raw(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> Loaded:
        if self._outage is not None:
            raise BackendUnavailable(self._outage.reason)
        self.requests += 1
        try:
            return self.backend.raw(matchers, start_ms, end_ms)
        except BackendUnavailable as exc:
            self._outage = exc
            raise


def _joined(parts: list[Loaded]) -> Loaded:
    """Series read over adjacent ranges, oldest part first, as one read: each series' samples
    concatenated, in label order as `raw` returns them."""
    by_labels: dict[tuple[tuple[str, str], ...], Loaded] = {}
    for part in parts:
        for item in part:
            by_labels.setdefault(tuple(sorted(item[0].items())), []).append(item)
    joined: Loaded = []
    for key in sorted(by_labels):
        pieces = by_labels[key]
        if len(pieces) == 1:
            joined.append(pieces[0])
            continue
        timestamps = np.concatenate([piece[1] for piece in pieces])
        values = np.concatenate([piece[2] for piece in pieces])
        joined.append((pieces[0][0], timestamps, values))
    return joined


def _sliced(loaded: Loaded, start_ms: int, end_ms: int) -> Loaded:
    out: Loaded = []
    for labels, timestamps, values in loaded:
        low = int(np.searchsorted(timestamps, start_ms, side="left"))
        high = int(np.searchsorted(timestamps, end_ms, side="right"))
        if high > low:
            out.append((labels, timestamps[low:high], values[low:high]))
    return out
