"""The SRE Workbook's numbers, exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from metrics.slo.burn import (
    ALERT_WINDOWS,
    PAGE,
    TICKET,
    budget_status,
    burn_rate,
    check_alerts,
    error_budget,
    error_ratio,
    firing_severity,
    hours_to_exhaustion,
)

OBJECTIVE = Decimal("99.9")


def page_checks(ratio_1h, ratio_5m, events_5m=1_000_000.0, min_events=0):
    ratios = {"1h": ratio_1h, "5m": ratio_5m, "6h": 0.0, "30m": 0.0, "1d": 0.0, "2h": 0.0,
              "3d": 0.0}  # fmt: skip
    events = dict.fromkeys(ratios, 1_000_000.0) | {"5m": events_5m}
    return check_alerts(
        ratios, events, objective_percent=OBJECTIVE, window="30d", min_events=min_events
    )


def test_the_budget_is_one_minus_the_objective():
    assert error_budget(Decimal("99.9")) == Decimal("0.001")
    assert error_budget(Decimal("99")) == Decimal("0.01")


@pytest.mark.parametrize("objective", [Decimal(0), Decimal(100), Decimal("120"), Decimal("-1")])
def test_objectives_outside_0_100_are_refused(objective):
    with pytest.raises(ValueError, match="must be between 0 and 100"):
        error_budget(objective)


def test_burn_rate_is_the_error_ratio_over_the_budget():
    assert burn_rate(0.0144, OBJECTIVE) == Decimal("14.4")
    assert burn_rate(0.02, OBJECTIVE) == Decimal("20")
    assert burn_rate(None, OBJECTIVE) is None


def test_thirty_day_factors_are_the_workbooks():
    assert [(w.severity, w.long, w.short, w.factor("30d")) for w in ALERT_WINDOWS] == [
        (PAGE, "1h", "5m", Decimal("14.4")),
        (PAGE, "6h", "30m", Decimal("6")),
        (TICKET, "1d", "2h", Decimal("3")),
        (TICKET, "3d", "6h", Decimal("1")),
    ]


def test_factors_scale_with_the_window_keeping_the_budget_fraction():
    factors = [window.factor("28d") for window in ALERT_WINDOWS]
    assert factors[:3] == [Decimal("13.44"), Decimal("5.6"), Decimal("2.8")]
    assert round(factors[3], 4) == Decimal("0.9333")
    assert ALERT_WINDOWS[0].factor("7d") == Decimal("3.36")


def test_exactly_the_threshold_does_not_page():
    # 1.44 % over 1 h is a burn of exactly 14.4 (not 14.400000000000001): not above it.
    checks = page_checks(0.0144, 0.02)
    assert checks[0].long_burn == Decimal("14.4")
    assert checks[0].short_burn == Decimal("20")
    assert not checks[0].firing
    assert firing_severity(checks) is None


def test_just_above_the_threshold_pages():
    checks = page_checks(0.0145, 0.02)
    assert checks[0].firing
    assert firing_severity(checks) == PAGE
    assert checks[0].reason == "burn rate 14.5 over 1h and 20 over 5m, above 14.4"


def test_a_recovered_short_window_stops_the_page():
    # The long window still remembers the outage; the short one shows it is over.
    checks = page_checks(0.015, 0.0005)
    assert not checks[0].firing
    assert checks[0].reason == "burn rate 15 over 1h and 0.5 over 5m, not both above 14.4"


def test_a_full_outage_trips_the_one_hour_row_after_52_seconds():
    # Steady traffic, then every request fails from second 0: after s seconds the 1 h window
    # holds s/3600 errors and the 5 m window s/300.
    first = next(
        seconds
        for seconds in range(1, 3600)
        if page_checks(seconds / 3600, min(1.0, seconds / 300))[0].firing
    )
    assert first == 52


def test_too_few_events_do_not_page():
    # 1 failure out of 10 requests is a 10 % error ratio, but not worth waking anyone.
    checks = page_checks(0.1, 0.1, events_5m=10.0, min_events=100)
    assert not checks[0].firing
    assert checks[0].reason == "only 10 events in 5m, fewer than the 100 needed to alert"


def test_no_traffic_is_no_data_not_zero_or_full():
    assert error_ratio(0.0, 0.0) is None
    assert error_ratio(None, None) is None
    checks = page_checks(None, None)
    assert [check.reason for check in checks[:1]] == ["no data"]


def test_a_missing_error_series_counts_as_no_errors():
    assert error_ratio(None, 1000.0) == 0.0


def test_time_to_exhaustion_is_the_window_over_the_burn():
    assert hours_to_exhaustion(Decimal("14.4"), window="30d") == Decimal(50)
    assert hours_to_exhaustion(
        Decimal("14.4"), window="30d", remaining_fraction=Decimal("0.5")
    ) == Decimal(25)
    assert hours_to_exhaustion(Decimal(0), window="30d") is None


def test_the_budget_is_weighted_by_events():
    status = budget_status(
        bad_events=500.0,
        total_events=1_000_000.0,
        objective_percent=OBJECTIVE,
        events_per_minute_now=1000.0,
    )
    assert status.sli == 0.9995
    assert status.consumed_fraction == Decimal("0.5")
    assert status.remaining_fraction == Decimal("0.5")
    assert status.allowed_bad_events == pytest.approx(1000.0)
    assert status.remaining_bad_events == pytest.approx(500.0)
    assert status.remaining_minutes_at_current_traffic == pytest.approx(0.5)


def test_an_overspent_budget_goes_negative():
    status = budget_status(bad_events=3000.0, total_events=1_000_000.0, objective_percent=OBJECTIVE)
    assert status.consumed_fraction == Decimal("3")
    assert status.remaining_fraction == Decimal("-2")


def test_unsupported_windows_are_named():
    with pytest.raises(ValueError, match="unsupported SLO window '45d'"):
        hours_to_exhaustion(Decimal(1), window="45d")
