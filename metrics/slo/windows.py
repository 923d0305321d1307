"""How far back an SLO's window reaches at a given moment.

Rolling windows reach back a fixed time. Calendar windows (month, quarter) start at midnight on
the first day of the period in the SLO's time zone: the budget resets at each period start.
Pure functions."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from metrics.promql.lexer import parse_duration

ROLLING = {"7d": "7d", "28d": "28d", "30d": "30d"}
MINIMUM_SECONDS = 60  # just after a period starts, still look at the last minute


def period_start(at_ms: int, window: str, time_zone: str) -> datetime:
    try:
        zone = ZoneInfo(time_zone or "UTC")
    except ZoneInfoNotFoundError as exc:
        raise ValueError(f"unknown time zone {time_zone!r}") from exc
    local = datetime.fromtimestamp(at_ms / 1000, tz=UTC).astimezone(zone)
    month = local.month if window == "month" else 3 * ((local.month - 1) // 3) + 1
    return local.replace(month=month, day=1, hour=0, minute=0, second=0, microsecond=0)


def window_range(window: str, at_ms: int, time_zone: str = "UTC") -> str:
    """The PromQL range covering the SLO window that ends at `at_ms`: `30d`, or for a calendar
    window the seconds since the period started, e.g. `1234567s`."""
    if window in ROLLING:
        return ROLLING[window]
    if window not in ("month", "quarter"):
        raise ValueError(f"unsupported SLO window {window!r}")
    started_ms = int(period_start(at_ms, window, time_zone).timestamp() * 1000)
    return f"{max(MINIMUM_SECONDS, (at_ms - started_ms) // 1000)}s"


def window_ms(window: str, at_ms: int, time_zone: str = "UTC") -> int:
    return parse_duration(window_range(window, at_ms, time_zone))
