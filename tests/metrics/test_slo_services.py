from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from metrics.slo.models import SLO, SLOAlertTransition
from metrics.slo.services import evaluate_all_slos, slo_evaluate
from metrics.storage.writer import SeriesSamples, write_samples

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.backend_suite,
    pytest.mark.usefixtures("metrics_backend"),
]

STEP = 15_000
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


@pytest.fixture
def slo(org):
    return SLO.objects.create(
        name="availability",
        service=org.payments,
        team=org.checkout,
        objective_percent=Decimal("99.9"),
        bad_query='sum(rate(http_requests_total{service="payments",code=~"5.."}[{{window}}]))',
        total_query='sum(rate(http_requests_total{service="payments"}[{{window}}]))',
    )


def traffic(until_ms: int, *, failing_after_ms: int, share: float = 0.1) -> None:
    times = list(range(NOW_MS - 6 * 3_600_000, until_ms + 1, STEP))
    ok = bad = 0.0
    ok_values, bad_values = [], []
    for t in times:
        current = share if t > failing_after_ms else 0.0
        ok += 150 * (1 - current)
        bad += 150 * current
        ok_values.append(ok)
        bad_values.append(bad)
    write_samples(
        [
            SeriesSamples(
                "http_requests_total", {"service": "payments", "code": "200"}, times, ok_values
            ),
            SeriesSamples(
                "http_requests_total", {"service": "payments", "code": "500"}, times, bad_values
            ),
        ]
    )


def test_a_burning_slo_pages_and_records_the_transition(slo):
    traffic(NOW_MS, failing_after_ms=NOW_MS - 30 * 60_000)
    assert slo_evaluate(slo=slo, now=NOW) is not None
    slo.refresh_from_db()
    assert slo.alert_state == "page"
    assert slo.alert_since == NOW
    [transition] = SLOAlertTransition.objects.all()
    assert (transition.old_state, transition.new_state) == ("ok", "page")
    assert transition.reason.startswith("page: burn rate ")
    assert transition.reason.endswith("over 1h and 100 over 5m, above 14.4")
    assert slo.last_figures["burn_rates"]["5m"] == "100"
    assert slo.last_figures["alerts"][0]["firing"] is True


def test_evaluating_twice_in_a_minute_changes_nothing(slo):
    traffic(NOW_MS, failing_after_ms=NOW_MS - 30 * 60_000)
    assert slo_evaluate(slo=slo, now=NOW) is not None
    assert slo_evaluate(slo=slo, now=NOW + timedelta(seconds=30)) is None
    assert evaluate_all_slos(now=NOW) == 0
    assert SLOAlertTransition.objects.count() == 1


def test_a_page_steps_down_to_a_ticket_once_the_failure_stops(slo):
    # 10 % errors from -70 min to -40 min.
    times = list(range(NOW_MS - 6 * 3_600_000, NOW_MS + 1, STEP))
    ok = bad = 0.0
    ok_values, bad_values = [], []
    for t in times:
        current = 0.1 if NOW_MS - 70 * 60_000 < t <= NOW_MS - 40 * 60_000 else 0.0
        ok += 150 * (1 - current)
        bad += 150 * current
        ok_values.append(ok)
        bad_values.append(bad)
    labels = {"service": "payments"}
    write_samples(
        [
            SeriesSamples("http_requests_total", labels | {"code": "200"}, times, ok_values),
            SeriesSamples("http_requests_total", labels | {"code": "500"}, times, bad_values),
        ]
    )
    slo_evaluate(slo=slo, now=NOW - timedelta(minutes=45))
    slo.refresh_from_db()
    assert slo.alert_state == "page"
    # Now the last 30 minutes are clean, so neither page row fires; the 2 h and 1 d windows
    # still burn above 3: a ticket.
    slo_evaluate(slo=slo, now=NOW)
    slo.refresh_from_db()
    assert slo.alert_state == "ticket"
    states = list(SLOAlertTransition.objects.order_by("at").values_list("old_state", "new_state"))
    assert states == [("ok", "page"), ("page", "ticket")]


def test_an_slo_without_data_alerts_after_the_set_time(slo):
    slo.no_data_after_minutes = 15
    slo.save()
    slo_evaluate(slo=slo, now=NOW)
    slo.refresh_from_db()
    assert slo.alert_state == "no_data"
    assert SLOAlertTransition.objects.get().reason == "no data for the SLI's series (never)"


def test_a_broken_query_is_recorded_and_does_not_stop_the_others(slo, org):
    SLO.objects.filter(pk=slo.pk).update(total_query="sum(rate(x[{{window}}])")
    other = SLO.objects.create(
        name="other",
        service=org.cart,
        team=org.checkout,
        objective_percent=Decimal("99"),
        bad_query="errors_total",
        total_query="requests_total",
    )
    assert evaluate_all_slos(now=NOW) == 1
    slo.refresh_from_db()
    assert slo.last_error.startswith("ParseError: ")
    other.refresh_from_db()
    assert other.last_error == ""


def test_the_slo_charts_show_sli_burn_down_and_burn_rates(slo, client, org):
    from metrics.slo.charts import slo_charts

    traffic(NOW_MS, failing_after_ms=NOW_MS - 30 * 60_000)
    slo_evaluate(slo=slo, now=NOW)
    charts = slo_charts(slo, now_ms=NOW_MS)
    assert set(charts) == {"sli", "burn_down", "burn_rates"}
    burn_down = [y for y in charts["burn_down"]["data"][0]["y"] if y is not None]
    # 1 800 bad requests of 216 000 in six hours, against 0.1 % of them: 100 - 833 % left.
    assert burn_down[0] == pytest.approx(100.0)
    assert burn_down[-1] == pytest.approx(100 - 100 * 1800 / (0.001 * 216_000), rel=0.02)
    names = [trace["name"] for trace in charts["burn_rates"]["data"]]
    assert names == [
        "1h burn (page above 14.4)",
        "6h burn (page above 6)",
        "1d burn (ticket above 3)",
        "3d burn (ticket above 1)",
    ]
    shapes = charts["burn_rates"]["layout"]["shapes"]
    assert any(shape.get("fillcolor") == "#b42318" for shape in shapes)  # the page period
    client.force_login(org.outsider)
    assert client.get(f"/slos/{slo.pk}/charts").status_code == 200
