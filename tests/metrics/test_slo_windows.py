from __future__ import annotations

from datetime import UTC, datetime

import pytest

from metrics.slo.windows import period_start, window_range


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_rolling_windows_reach_back_a_fixed_time():
    assert window_range("28d", ms(datetime(2026, 11, 23, tzinfo=UTC))) == "28d"


def test_a_month_starts_at_midnight_on_the_first_in_the_slos_time_zone():
    at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    start = period_start(ms(at), "month", "Europe/Berlin")
    assert start.isoformat() == "2026-11-01T00:00:00+01:00"
    # 22 days and 12 hours in UTC, plus the hour Berlin is ahead.
    assert window_range("month", ms(at), "Europe/Berlin") == f"{(22 * 24 + 13) * 3600}s"


def test_a_quarter_starts_on_the_first_of_its_first_month():
    at = datetime(2026, 11, 23, tzinfo=UTC)
    assert period_start(ms(at), "quarter", "UTC").isoformat() == "2026-10-01T00:00:00+00:00"


def test_the_budget_resets_when_the_period_starts():
    just_after = datetime(2026, 12, 1, 0, 0, 10, tzinfo=UTC)
    assert window_range("month", ms(just_after), "UTC") == "60s"


def test_unknown_time_zones_are_named():
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        window_range("month", 0, "Mars/Olympus")
