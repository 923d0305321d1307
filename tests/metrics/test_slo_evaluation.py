from __future__ import annotations

from decimal import Decimal

import pytest

from metrics.slo.evaluate import evaluate_slo
from metrics.slo.queries import SLIError, check_threshold, event_queries, validate_queries
from metrics.slo.spec import LatencySLI, RatioSLI, SLOSpec
from metrics.storage.encoding import STALE_NAN
from metrics.storage.writer import SeriesSamples, write_samples

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.backend_suite,
    pytest.mark.usefixtures("metrics_backend"),
]

STEP = 15_000
NOW = 1_700_000_000_000 - 1_700_000_000_000 % 60_000
START = NOW - 24 * 3_600_000

RATIO = SLOSpec(
    name="checkout-availability",
    service="checkout",
    objective_percent=Decimal("99.9"),
    window="30d",
    sli=RatioSLI(
        bad_query='sum(rate(http_requests_total{service="checkout",code=~"5.."}[{{window}}]))',
        total_query='sum(rate(http_requests_total{service="checkout"}[{{window}}]))',
    ),
)


def load_traffic(*, failing_from: int, error_share: float) -> None:
    """10 requests/s for a day; from `failing_from` on, `error_share` of them fail."""
    times = list(range(START, NOW + 1, STEP))
    ok, bad = 0.0, 0.0
    ok_values, bad_values = [], []
    for t in times:
        share = error_share if t > failing_from else 0.0
        ok += 150 * (1 - share)
        bad += 150 * share
        ok_values.append(ok)
        bad_values.append(bad)
    write_samples(
        [
            SeriesSamples(
                "http_requests_total", {"service": "checkout", "code": "200"}, times, ok_values
            ),
            SeriesSamples(
                "http_requests_total", {"service": "checkout", "code": "500"}, times, bad_values
            ),
        ]
    )


def test_a_healthy_service_has_its_whole_budget():
    load_traffic(failing_from=NOW + 1, error_share=0.0)
    status = evaluate_slo(RATIO, at_ms=NOW)
    assert status.ratios["1h"] == 0.0
    assert status.burn_rates["5m"] == Decimal(0)
    assert status.budget.sli == 1.0
    assert status.budget.remaining_fraction == Decimal(1)
    assert status.severity is None
    assert status.events["5m"] == pytest.approx(3000.0)


def test_half_an_hour_of_ten_percent_errors_pages():
    load_traffic(failing_from=NOW - 30 * 60_000, error_share=0.10)
    status = evaluate_slo(RATIO, at_ms=NOW)
    assert status.ratios["5m"] == pytest.approx(0.10)
    assert status.ratios["1h"] == pytest.approx(0.05, rel=0.01)
    assert status.severity == "page"
    fired = [check for check in status.checks if check.firing]
    # Both page rows; of the ticket rows only 3d/6h (the store holds one day: 0.21 % over it
    # is a burn of 2.1, above 1 but below the 1d row's 3).
    assert [(c.window.long, c.window.short) for c in fired] == [
        ("1h", "5m"),
        ("6h", "30m"),
        ("3d", "6h"),
    ]
    # 30 minutes at 10 % of 36 000 requests/hour = 1 800 bad requests so far.
    assert status.budget.consumed_fraction is not None
    assert float(status.budget.consumed_fraction) == pytest.approx(
        1800 / (0.001 * 864_000), rel=0.01
    )


def test_an_sli_counting_good_events_gives_the_same_ratios():
    load_traffic(failing_from=NOW - 30 * 60_000, error_share=0.10)
    good = SLOSpec(
        name="checkout-availability",
        service="checkout",
        objective_percent=Decimal("99.9"),
        sli=RatioSLI(
            good_query='sum(rate(http_requests_total{service="checkout",code!~"5.."}[{{window}}]))',
            total_query='sum(rate(http_requests_total{service="checkout"}[{{window}}]))',
        ),
    )
    assert evaluate_slo(good, at_ms=NOW).ratios["5m"] == pytest.approx(0.10)


def test_a_restarted_target_keeps_the_exact_error_ratio():
    # 1 in 1 600 of 10 requests/s fail all day (a burn of 0.625); 20 minutes ago the target went
    # away (a stale marker ends both series) and came back a minute later with its counters at
    # zero. Per-step counts exact in binary and with few digits, as every store keeps them.
    down, back = NOW - 20 * 60_000, NOW - 19 * 60_000
    times = list(range(START, NOW + 1, STEP))
    series = []
    for code, per_step in (("200", 149.90625), ("500", 0.09375)):
        kept, values, count = [], [], 0.0
        for t in times:
            if down < t < back:
                continue
            if t == down:
                kept.append(t + 1)
                values.append(STALE_NAN)
                count = 0.0
                continue
            count += per_step
            kept.append(t)
            values.append(count)
        series.append(
            SeriesSamples(
                "http_requests_total", {"service": "checkout", "code": code}, kept, values
            )
        )
    write_samples(series)
    status = evaluate_slo(RATIO, at_ms=NOW)
    for window in ("5m", "30m", "1h", "6h"):
        assert status.ratios[window] == pytest.approx(1 / 1600, rel=1e-9), window
    assert status.severity is None


def test_plain_counter_selectors_are_wrapped_in_increase():
    spec = SLOSpec(
        name="x",
        service="checkout",
        objective_percent=Decimal("99"),
        sli=RatioSLI(
            bad_query='http_requests_total{code="500"}', total_query="http_requests_total"
        ),
    )
    queries = event_queries(spec, "1h")
    assert queries.bad == 'sum(increase(http_requests_total{code="500"}[1h]))'
    assert queries.bad_scale == 1.0


def test_a_computed_query_without_window_is_refused():
    spec = SLOSpec(
        name="x",
        service="checkout",
        objective_percent=Decimal("99"),
        sli=RatioSLI(bad_query="sum(errors_total)", total_query="requests_total"),
    )
    with pytest.raises(SLIError, match="must be a plain counter selector"):
        validate_queries(spec)


def test_latency_slis_use_the_bucket_at_the_threshold():
    spec = SLOSpec(
        name="fast-checkout",
        service="checkout",
        objective_percent=Decimal("99"),
        sli=LatencySLI(
            "http_server_request_duration_seconds", Decimal("0.5"), 'service="checkout"'
        ),
    )
    queries = event_queries(spec, "5m")
    assert queries.bad == (
        'sum(increase(http_server_request_duration_seconds_bucket{service="checkout",le="0.5"}[5m]))'
    )
    assert queries.bad_is_good


def test_a_latency_threshold_between_buckets_is_refused():
    sli = LatencySLI("http_server_request_duration_seconds", Decimal("0.3"))
    with pytest.raises(SLIError) as error:
        check_threshold(sli, {"0.1", "0.25", "0.5", "+Inf"})
    assert str(error.value) == (
        "latency threshold 0.3 s is not a bucket boundary of http_server_request_duration_seconds "
        "(boundaries: 0.1, 0.25, 0.5)"
    )
    check_threshold(LatencySLI("h", Decimal("0.25")), {"0.1", "0.25", "+Inf"})


def test_timeslices_count_bad_minutes_not_bad_requests():
    # Ten minutes at 10 % errors in a quiet day: few bad requests, but ten bad minutes.
    load_traffic(failing_from=NOW - 10 * 60_000, error_share=0.10)
    spec = SLOSpec(
        name="checkout-minutes",
        service="checkout",
        objective_percent=Decimal("99"),
        budgeting="Timeslices",
        timeslice_target_percent=Decimal("95"),
        window="7d",
        sli=RATIO.sli,
    )
    status = evaluate_slo(spec, at_ms=NOW)
    # The day holds 1 441 minutes with traffic (the store starts a day back), 10 of them bad.
    assert status.ratios["1h"] == pytest.approx(10 / 60)
    assert status.ratios["5m"] == 1.0
    assert status.budget.sli == pytest.approx(1 - 10 / 1441, abs=1e-3)
    assert status.severity == "page"
