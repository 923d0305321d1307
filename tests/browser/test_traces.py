"""Trace pages in Chromium: a 5 000-span waterfall draws quickly under the CSP, a row opens its
span's details, the search scatter and the service map draw, and links lead on."""

from __future__ import annotations

import time

import pytest

from metrics.traces.models import Span
from tests.conftest import PASSWORD

pytestmark = pytest.mark.integration

MS = 1_000_000
SERVICES = ["frontend", "cart", "payments", "inventory", "search-api"]


def log_in(page, server, username: str) -> None:
    page.goto(f"{server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")


def big_trace(trace_id: str, start_ns: int) -> list[Span]:
    """5 000 spans: a root, 49 calls to other services with 101 database calls each, and one
    span whose parent was never stored."""
    spans = []
    counter = iter(range(1, 10_000))

    def add(parent: str, service: str, name: str, at_ms: float, ms: float, **fields) -> str:
        span_id = format(next(counter), "016x")
        spans.append(
            Span(
                trace_id=trace_id,
                span_id=span_id,
                parent_span_id=parent,
                service=service,
                name=name,
                start_ns=start_ns + int(at_ms * MS),
                duration_ns=int(ms * MS),
                kind=fields.pop("kind", Span.Kind.SERVER),
                **fields,
            )
        )
        return span_id

    root = add("", "frontend", "GET /checkout", 0, 5_000, attributes={"http.route": "/checkout"})
    for call in range(49):
        service = SERVICES[1 + call % 4]
        child = add(root, service, f"call {call}", call * 100, 95)
        for query in range(101):
            add(
                child, service, f"SELECT {query}", call * 100 + query * 0.9, 0.8,
                kind=Span.Kind.CLIENT, attributes={"db.statement": f"SELECT {call}.{query}"},
                status_code=Span.StatusCode.ERROR if query == 100 else Span.StatusCode.UNSET,
            )  # fmt: skip
    add("00000000deadbeef", "cart", "orphan", 4_000, 10, attributes={"lost": True})
    return spans


@pytest.mark.django_db(transaction=True)
def test_a_trace_of_5000_spans_draws_and_a_row_shows_its_span(page, portal_server, org):
    from playwright.sync_api import expect

    trace_id = "5b8efff798038103d269b633813fc60c"
    Span.objects.bulk_create(big_trace(trace_id, time.time_ns() - 60 * 10**9), batch_size=1_000)
    log_in(page, portal_server, "theo")

    began = time.monotonic()
    page.goto(f"{portal_server.url}/traces/{trace_id}/")
    expect(page.locator("#wf-body .wf-row")).to_have_count(5_000, timeout=5_000)
    assert time.monotonic() - began < 5, "the waterfall took too long"
    expect(page.locator('[data-fact="spans"]')).to_have_text("5000")
    expect(page.locator('[data-fact="missing-parents"]')).to_have_text("1")
    expect(page.locator(".wf-row.wf-error")).to_have_count(49)
    expect(page.locator(".wf-row .badge-warn")).to_have_text("missing parent")

    # A row deep in the list: its attributes in the panel.
    row = page.locator('.wf-row[data-span-id="0000000000000c00"]')
    row.click()
    panel = page.locator("#span-panel-content")
    expect(panel).to_be_visible()
    expect(panel.locator("h2")).to_contain_text("SELECT")
    expect(panel.locator(".span-attributes")).to_contain_text("db.statement")
    expect(row).to_have_class("wf-row wf-selected")
    assert page.url.endswith("#span-0000000000000c00")

    # Bars are placed through CSSOM, which the CSP allows: a real width, no violation.
    width = page.locator('.wf-row[data-span-id="0000000000000001"] .wf-bar').evaluate(
        "bar => bar.getBoundingClientRect().width"
    )
    assert width > 100

    # Hiding a call's children hides its 101 queries.
    page.locator('.wf-row[data-span-id="0000000000000002"] .wf-toggle').click()
    expect(page.locator(".wf-row:visible")).to_have_count(5_000 - 101)
    assert page.console_errors == []


@pytest.mark.django_db(transaction=True)
def test_search_draws_the_scatter_and_the_table_opens_a_trace(page, portal_server, org):
    from playwright.sync_api import expect

    now = time.time_ns()
    Span.objects.bulk_create(
        [
            Span(trace_id=f"{n:032x}", span_id="0000000000000001", service="cart",
                 name="GET /cart", kind=Span.Kind.SERVER, start_ns=now - n * 60 * 10**9,
                 duration_ns=n * 10 * MS,
                 status_code=Span.StatusCode.ERROR if n == 3 else Span.StatusCode.UNSET)
            for n in range(1, 6)
        ]
    )  # fmt: skip
    log_in(page, portal_server, "theo")
    page.goto(f"{portal_server.url}/traces/?service=cart&range=1h")
    expect(page.locator("#trace-scatter .main-svg").first).to_be_visible()
    expect(page.locator("#trace-scatter .scatterlayer .trace")).to_have_count(2)  # ok, errors
    expect(page.locator("#trace-scatter .scatterlayer .point")).to_have_count(5)
    expect(page.locator("#trace-results tbody tr")).to_have_count(5)
    expect(page.locator("#id_service")).to_have_value("cart")

    # Hovering a point names its trace; clicking it opens the trace.
    box = page.locator("#trace-scatter .scatterlayer .point").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.locator("#trace-scatter .hoverlayer")).to_contain_text("cart: GET /cart")
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url(f"{portal_server.url}/traces/*/")
    expect(page.locator("#wf-body .wf-row")).to_have_count(1)
    page.go_back()

    # The custom range fields show only for a custom range.
    expect(page.locator("[data-custom-range]")).to_be_hidden()
    page.select_option("#id_range", "custom")
    expect(page.locator("[data-custom-range]")).to_be_visible()

    # The form puts only the filters in use into the URL.
    page.select_option("#id_range", "1h")
    page.fill("#id_min_duration", "25ms")
    page.click("text=Find traces")
    page.wait_for_url(
        f"{portal_server.url}/traces/?service=cart&min_duration=25ms&range=1h&limit=20"
    )
    expect(page.locator("#trace-results tbody tr")).to_have_count(3)

    page.locator("#trace-results a.trace-link").first.click()
    page.wait_for_url(f"{portal_server.url}/traces/{3:032x}/")
    expect(page.locator("#wf-body .wf-row")).to_have_count(1)
    expect(page.locator('[data-fact="errors"]')).to_have_text("1")
    assert page.console_errors == []


@pytest.mark.django_db(transaction=True)
def test_the_service_map_draws_and_leads_to_a_red_dashboard(page, portal_server, org):
    from playwright.sync_api import expect

    now = time.time_ns() - 60 * 10**9
    trace = "ab" * 16
    Span.objects.bulk_create(
        [
            Span(trace_id=trace, span_id="0000000000000001", service="frontend", name="GET /",
                 kind=Span.Kind.SERVER, start_ns=now, duration_ns=50 * MS),
            Span(trace_id=trace, span_id="0000000000000002", parent_span_id="0000000000000001",
                 service="cart", name="GET /cart", kind=Span.Kind.SERVER, start_ns=now + MS,
                 duration_ns=20 * MS,
                 status_code=Span.StatusCode.ERROR),
        ]
    )  # fmt: skip
    log_in(page, portal_server, "theo")
    page.goto(f"{portal_server.url}/traces/map/")
    expect(page.locator("#service-map .main-svg").first).to_be_visible()
    expect(page.locator("#service-map .scatterlayer .trace")).to_have_count(2)  # calls, services
    expect(page.locator("#service-map .scatterlayer .point")).to_have_count(3)  # 1 call, 2 nodes
    expect(page.locator("#service-map .annotation")).to_have_count(1)  # the arrow
    expect(page.locator("#map-edges tbody tr")).to_have_count(1)
    call = page.locator("#service-map .scatterlayer .trace").first.locator(".point").bounding_box()
    page.mouse.move(call["x"] + call["width"] / 2, call["y"] + call["height"] / 2)
    expect(page.locator("#service-map .hoverlayer")).to_contain_text("frontend → cart")

    page.locator("#map-services a", has_text="cart").click()
    page.wait_for_url(f"{portal_server.url}/traces/services/cart/?range=1h")
    for chart in ("requests", "errors", "duration"):
        expect(page.locator(f'[data-red-chart="{chart}"] .main-svg').first).to_be_visible()
    expect(page.locator("#red-search-link")).to_have_attribute(
        "href", "/traces/?service=cart&range=1h"
    )
    assert page.console_errors == []
