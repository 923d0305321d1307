"""Which sample times the intakes accept, so that a 2xx means every accepted sample can be
queried: no older than the retention (`METRICS_RETENTION_DAYS`; retention would drop it within
the hour, and nothing queries before it) and no later than `METRICS_FUTURE_TOLERANCE_SECONDS`
ahead of this server's clock (clock skew; Mimir's default grace is ten minutes too).

Samples outside are refused by count and named, never stored: remote write answers 400 with an
"out of bounds" message after storing the rest (as Prometheus does), OTLP counts them in
`partial_success`. This module must never read the database: it runs before any write.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings

MS_PER_DAY = 86_400_000
MAX_NAMED = 10


def format_ms(timestamp_ms: int) -> str:
    try:
        moment = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return f"{timestamp_ms} ms"
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class SampleBounds:
    """The accepted window, inclusive, in ms since the epoch; and what fell outside it."""

    oldest_ms: int
    newest_ms: int
    refused: int = 0
    _series: dict[str, int] = field(default_factory=dict)

    def accepts(self, timestamp_ms: int) -> bool:
        return self.oldest_ms <= timestamp_ms <= self.newest_ms

    def refuse(self, series: str, count: int = 1) -> None:
        self.refused += count
        self._series[series] = self._series.get(series, 0) + count

    def problem(self, unit: str = "sample") -> str:
        """One message for everything refused ("" when nothing was)."""
        if not self.refused:
            return ""
        named = [
            f"{series} ({count} {unit}{'s' if count > 1 else ''})"
            for series, count in list(self._series.items())[:MAX_NAMED]
        ]
        more = len(self._series) - len(named)
        listing = ", ".join(named) + (f", and {more} more" if more > 0 else "")
        plural = "s" if self.refused > 1 else ""
        return (
            f"out of bounds: {self.refused} {unit}{plural} outside "
            f"{format_ms(self.oldest_ms)} .. {format_ms(self.newest_ms)} (the retention of "
            f"{settings.METRICS_RETENTION_DAYS} days, up to "
            f"{settings.METRICS_FUTURE_TOLERANCE_SECONDS} s ahead): {listing}"
        )


def sample_bounds(now_ms: int | None = None) -> SampleBounds:
    now = int(time.time() * 1000) if now_ms is None else now_ms
    return SampleBounds(
        oldest_ms=now - int(settings.METRICS_RETENTION_DAYS) * MS_PER_DAY,
        newest_ms=now + int(settings.METRICS_FUTURE_TOLERANCE_SECONDS) * 1000,
    )
