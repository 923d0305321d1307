from __future__ import annotations

import time

import pytest

from metrics.storage.writer import SeriesSamples, write_samples
from tests.conftest import PASSWORD

pytestmark = pytest.mark.integration


def log_in(page, server, username: str) -> None:
    page.goto(f"{server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")


@pytest.mark.django_db(transaction=True)
def test_the_explorer_draws_a_query_and_keeps_it_in_the_url(page, portal_server, org):
    from playwright.sync_api import expect

    now = int(time.time() * 1000)
    times = [now - 30 * 60_000 + i * 15_000 for i in range(121)]
    write_samples(
        [
            SeriesSamples(
                "http_requests_total",
                {"service": s, "code": "200"},
                times,
                [float(i * (n + 1)) for i in range(121)],
            )
            for n, s in enumerate(["cart", "search"])
        ]
    )
    log_in(page, portal_server, "theo")
    page.goto(f"{portal_server.url}/explore/")
    page.fill("#query", "sum by (service) (rate(http_requests_total[5m]))")
    page.click("text=Run query")
    expect(page.locator("#summary")).to_contain_text("2 series")
    expect(page.locator("#chart .main-svg").first).to_be_visible()
    expect(page.locator("#chart .scatterlayer .trace")).to_have_count(2)
    expect(page.locator("#result-table tbody tr")).to_have_count(2)
    assert "query=sum+by+%28service%29" in page.url
    assert "range=1h" in page.url

    page.reload()
    expect(page.locator("#query")).to_have_value("sum by (service) (rate(http_requests_total[5m]))")
    expect(page.locator("#chart .scatterlayer .trace")).to_have_count(2)

    # No Content-Security-Policy violation or missing file while drawing.
    assert page.console_errors == []

    page.fill("#query", "sum(rate(http_requests_total[5m])")
    page.click("text=Run query")
    expect(page.locator("#query-error")).to_contain_text("expected ')' but found end of query")


@pytest.mark.django_db(transaction=True)
def test_the_explorer_offers_metric_and_label_names(page, portal_server, org):
    from playwright.sync_api import expect

    now = int(time.time() * 1000)
    write_samples(
        [SeriesSamples("http_requests_total", {"service": "cart", "code": "200"}, [now], [1.0])]
    )
    log_in(page, portal_server, "theo")
    page.goto(f"{portal_server.url}/explore/")
    page.locator("#query").press_sequentially("http_req")
    expect(page.locator("#metric-names option")).to_have_attribute("value", "http_requests_total")
    page.fill("#query", "")
    page.locator("#query").press_sequentially("http_requests_total{ser")
    expect(page.locator("#metric-names option")).to_have_attribute(
        "value", 'http_requests_total{service="'
    )


@pytest.mark.django_db(transaction=True)
def test_the_slo_page_draws_its_three_charts(page, portal_server, org):
    from decimal import Decimal

    from playwright.sync_api import expect

    from metrics.slo.models import SLO

    now = int(time.time() * 1000)
    times = [now - 3 * 3_600_000 + i * 15_000 for i in range(3 * 240 + 1)]
    write_samples(
        [
            SeriesSamples(
                "http_requests_total",
                {"code": "200"},
                times,
                [150.0 * i for i in range(len(times))],
            ),
            SeriesSamples(
                "http_requests_total",
                {"code": "500"},
                times,
                [float(i // 10) for i in range(len(times))],
            ),
        ]
    )
    slo = SLO.objects.create(
        name="availability",
        service=org.cart,
        team=org.checkout,
        objective_percent=Decimal("99.9"),
        bad_query='sum(rate(http_requests_total{code="500"}[{{window}}]))',
        total_query="sum(rate(http_requests_total[{{window}}]))",
    )
    log_in(page, portal_server, "theo")
    page.goto(f"{portal_server.url}/slos/{slo.pk}/")
    for chart in ("#chart-sli", "#chart-burn-down", "#chart-burn-rates"):
        expect(page.locator(f"{chart} .main-svg").first).to_be_visible()
    expect(page.locator("#chart-burn-rates .scatterlayer .trace")).to_have_count(4)
    assert page.console_errors == []
