"""The traces feature as a user meets it: the demo shop sends traces with the real SDK over
OTLP/HTTP, one checkout is slow (payments latency injected), and in Chromium the user finds it
by duration, opens its waterfall, then sees the service map and the span-metric charts."""

from __future__ import annotations

import time

import numpy as np
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from coe_portal.accounts.services import api_token_create
from metrics.loadgen.journeys import JOURNEYS, Conditions, plan_trace
from metrics.loadgen.shop import SERVICES, parse_incident
from metrics.loadgen.traces import ShopTracing
from metrics.traces.span_metrics import fold_span_metrics
from tests.browser.test_traces import log_in

pytestmark = pytest.mark.integration


def send_shop_traces(url: str, secret: str) -> None:
    """Two rounds of every journey, their span metrics folded after each as beat folds them
    every 10 s (a rate needs two samples); one checkout waits 1.5 s for payments."""
    tracing = ShopTracing(
        lambda: OTLPSpanExporter(
            endpoint=f"{url}/v1/traces", headers={"Authorization": f"Bearer {secret}"}, timeout=30
        )
    )
    rng = np.random.default_rng(11)
    now_ms = int(time.time() * 1000)
    quiet = Conditions({s: 0.0 for s in SERVICES}, {s: 0.0 for s in SERVICES})
    slow = Conditions.at(now_ms, [parse_incident("payments:latency=+1500ms", now_ms)])
    checkout = next(j for j in JOURNEYS if j.name == "checkout")
    for round_ in range(2):
        for number, journey in enumerate(JOURNEYS * 2):
            start_ns = (now_ms - 120_000 + round_ * 30_000 + number * 1_000) * 1_000_000
            tracing.send(plan_trace(journey, start_ns, quiet, rng))
        if round_:
            tracing.send(plan_trace(checkout, (now_ms - 30_000) * 1_000_000, slow, rng))
        assert tracing.force_flush()
        assert fold_span_metrics() > 0
        time.sleep(0.05)  # the next fold's increments get a later timestamp
    tracing.shutdown()


@pytest.mark.django_db(transaction=True)
def test_find_a_slow_trace_open_it_and_see_the_map_and_span_metrics(page, portal_server, org):
    from playwright.sync_api import expect

    token = api_token_create(team=org.platform, name="shop", scopes=["ingest"])
    send_shop_traces(portal_server.url, token.secret)

    log_in(page, portal_server, "theo")
    page.goto(f"{portal_server.url}/traces/?service=frontend&min_duration=1s&range=1h")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(1)  # only the checkout that waited for payments
    expect(rows.first).to_contain_text("POST /checkout")
    with page.expect_navigation():
        rows.first.locator("a").first.click()
    waterfall = page.locator("#wf-body .wf-row")
    expect(waterfall.filter(has_text="payments")).not_to_have_count(0)
    expect(page.locator('[data-fact="services"]')).to_have_text("4")

    page.goto(f"{portal_server.url}/traces/map/?range=1h")
    edges = page.locator("#map-edges tbody tr")
    for call in ("frontend", "checkout"):
        expect(edges.filter(has_text=call)).not_to_have_count(0)
    expect(page.locator("#service-map .main-svg").first).to_be_visible()

    page.locator("#map-services a", has_text="payments").click()
    for chart in ("requests", "errors", "duration"):
        expect(page.locator(f'[data-red-chart="{chart}"] .main-svg').first).to_be_visible()
    expect(page.locator("#red-operations")).to_contain_text("POST /payments/authorize")
    assert page.console_errors == []
