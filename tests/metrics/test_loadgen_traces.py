"""The load generator's traces: the real OpenTelemetry SDK, W3C trace context between the
simulated services, the simulation's latencies and errors, and the portal's OTLP intake."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from coe_portal.accounts.services import api_token_create
from metrics.loadgen.journeys import (
    JOURNEYS,
    Conditions,
    Journey,
    PlannedSpan,
    plan_trace,
    traced_requests,
)
from metrics.loadgen.live import run_live
from metrics.loadgen.shop import SERVICES, daily_factor, parse_incident
from metrics.loadgen.traces import ShopTracing
from metrics.traces.models import Span, SpanResource

START_NS = 1_764_000_000_000_000_000  # 2025-11-24 16:00 UTC
START_MS = START_NS // 1_000_000
QUIET = Conditions({s: 0.0 for s in SERVICES}, {s: 0.0 for s in SERVICES})
CHECKOUT: Journey = next(j for j in JOURNEYS if j.name == "checkout")

SERVER, CLIENT = SpanKind.SERVER, SpanKind.CLIENT
# (service, span name, kind) of each span of a checkout, with its parent's.
CHECKOUT_TREE = {
    ("frontend", "POST /checkout", SERVER): None,
    ("frontend", "GET /cart", CLIENT): ("frontend", "POST /checkout", SERVER),
    ("cart", "GET /cart", SERVER): ("frontend", "GET /cart", CLIENT),
    ("cart", "SELECT cart_items", CLIENT): ("cart", "GET /cart", SERVER),
    ("frontend", "POST /checkout", CLIENT): ("frontend", "POST /checkout", SERVER),
    ("checkout", "POST /checkout", SERVER): ("frontend", "POST /checkout", CLIENT),
    ("checkout", "POST /payments/authorize", CLIENT): ("checkout", "POST /checkout", SERVER),
    ("payments", "POST /payments/authorize", SERVER): (
        "checkout", "POST /payments/authorize", CLIENT,
    ),
    ("payments", "POST /v1/authorizations", CLIENT): (
        "payments", "POST /payments/authorize", SERVER,
    ),
    ("checkout", "INSERT orders", CLIENT): ("checkout", "POST /checkout", SERVER),
}  # fmt: skip

Key = tuple[str, str, SpanKind]


def conditions(*specs: str) -> Conditions:
    return Conditions.at(START_MS, [parse_incident(spec, START_MS) for spec in specs])


def sent(root: PlannedSpan) -> dict[Key, ReadableSpan]:
    """The spans the SDK exports for one planned trace, by (service, name, kind)."""
    exporter = InMemorySpanExporter()
    tracing = ShopTracing(lambda: exporter)
    tracing.send(root)
    assert tracing.force_flush()
    tracing.shutdown()
    spans = exporter.get_finished_spans()
    by_key = {key(span): span for span in spans}
    assert len(by_key) == len(spans)
    return by_key


def key(span: ReadableSpan) -> Key:
    return (str(span.resource.attributes["service.name"]), span.name, span.kind)


def tree(spans: dict[Key, ReadableSpan]) -> dict[Key, Key | None]:
    by_id = {span.context.span_id: k for k, span in spans.items()}
    return {k: None if s.parent is None else by_id[s.parent.span_id] for k, s in spans.items()}


def duration_ms(span: ReadableSpan) -> float:
    assert span.start_time is not None
    assert span.end_time is not None
    return (span.end_time - span.start_time) / 1e6


def test_a_checkout_is_one_trace_from_the_frontend_to_payments():
    spans = sent(plan_trace(CHECKOUT, START_NS, QUIET, np.random.default_rng(1)))

    assert tree(spans) == CHECKOUT_TREE
    assert len({span.context.trace_id for span in spans.values()}) == 1
    # A service's server span has the caller's client span as a remote parent: the context came
    # in a traceparent header; spans inside one service have local parents.
    remote = {k for k, span in spans.items() if span.parent is not None and span.parent.is_remote}
    assert remote == {
        ("cart", "GET /cart", SERVER),
        ("checkout", "POST /checkout", SERVER),
        ("payments", "POST /payments/authorize", SERVER),
    }
    assert {span.status.status_code for span in spans.values()} == {StatusCode.UNSET}
    assert {str(s.resource.attributes["service.name"]) for s in spans.values()} == {
        "frontend", "cart", "checkout", "payments",
    }  # fmt: skip


def test_the_spans_look_like_http_and_database_instrumentation():
    spans = sent(plan_trace(CHECKOUT, START_NS, QUIET, np.random.default_rng(2)))

    server = spans[("payments", "POST /payments/authorize", SERVER)].attributes
    assert server["http.request.method"] == "POST"
    assert server["http.route"] == "/payments/authorize"
    assert server["http.response.status_code"] == 200
    client = spans[("checkout", "POST /payments/authorize", CLIENT)].attributes
    assert client["url.full"] == "http://payments:8080/payments/authorize"
    assert client["server.address"] == "payments"
    database = spans[("cart", "SELECT cart_items", CLIENT)].attributes
    assert database["db.system.name"] == "postgresql"
    assert database["db.collection.name"] == "cart_items"
    assert (
        database["db.query.text"] == "SELECT id, sku, quantity FROM cart_items WHERE cart_id = $1"
    )


def test_spans_keep_the_planned_times_and_nest_in_them():
    root = plan_trace(CHECKOUT, START_NS, QUIET, np.random.default_rng(3))
    spans = sent(root)

    planned = {
        (s.service, s.name, SERVER if s.kind == "server" else CLIENT): s for s in root.walk()
    }
    assert {k: (s.start_time, s.end_time) for k, s in spans.items()} == {
        k: (s.start_ns, s.end_ns) for k, s in planned.items()
    }
    times = {k: (span.start_time or 0, span.end_time or 0) for k, span in spans.items()}
    for k, parent_key in tree(spans).items():
        start, end = times[k]
        assert start < end
        if parent_key is not None:
            parent_start, parent_end = times[parent_key]
            assert parent_start <= start
            assert end <= parent_end
    # The frontend calls the cart, then checkout, one after the other.
    cart_call_end = times[("frontend", "GET /cart", CLIENT)][1]
    assert cart_call_end < times[("frontend", "POST /checkout", CLIENT)][0]


def test_a_payments_failure_is_an_error_on_every_caller_up_to_the_frontend():
    spans = sent(
        plan_trace(CHECKOUT, START_NS, conditions("payments:errors=100%"), np.random.default_rng(4))
    )

    payments = spans[("payments", "POST /payments/authorize", SERVER)]
    status = payments.attributes["http.response.status_code"]
    assert status in (500, 503)
    [event] = payments.events
    assert event.name == "exception"
    assert str(event.attributes["exception.type"]).startswith("metrics.loadgen.journeys.")
    assert event.attributes["exception.message"]
    assert event.timestamp == payments.end_time
    failed = {
        ("payments", "POST /payments/authorize", SERVER): status,
        ("checkout", "POST /payments/authorize", CLIENT): status,
        ("checkout", "POST /checkout", SERVER): 500,
        ("frontend", "POST /checkout", CLIENT): 500,
        ("frontend", "POST /checkout", SERVER): 500,
    }
    assert {
        k: span.attributes["http.response.status_code"]
        for k, span in spans.items()
        if span.status.status_code is StatusCode.ERROR
    } == failed
    assert (
        spans[("frontend", "POST /checkout", SERVER)].status.description == "checkout answered 500"
    )
    # Only the span where it started has the exception; checkout stops: no order is written.
    assert [k for k, span in spans.items() if span.events] == [key(payments)]
    assert ("checkout", "INSERT orders", CLIENT) not in spans
    assert spans[("cart", "GET /cart", SERVER)].status.status_code is StatusCode.UNSET


def test_a_cart_failure_stops_the_frontend_before_it_calls_checkout():
    spans = sent(
        plan_trace(CHECKOUT, START_NS, conditions("cart:errors=100%"), np.random.default_rng(5))
    )

    assert {k[0] for k in spans} == {"frontend", "cart"}
    assert spans[("cart", "GET /cart", SERVER)].status.status_code is StatusCode.ERROR
    assert spans[("frontend", "POST /checkout", SERVER)].status.status_code is StatusCode.ERROR


def test_incident_latency_is_in_the_slow_service_and_everything_that_waits_for_it():
    def durations(*specs: str) -> dict[Key, float]:
        root = plan_trace(CHECKOUT, START_NS, conditions(*specs), np.random.default_rng(6))
        return {k: duration_ms(span) for k, span in sent(root).items()}

    normal, slow = durations(), durations("payments:latency=+800ms")

    payments = ("payments", "POST /payments/authorize", SERVER)
    # The same random numbers: the difference is the incident's, on payments and its callers.
    assert slow[payments] - normal[payments] == pytest.approx(800, abs=0.01)
    for waiting in [
        ("checkout", "POST /checkout", SERVER),
        ("frontend", "POST /checkout", CLIENT),
        ("frontend", "POST /checkout", SERVER),
    ]:
        assert slow[waiting] - normal[waiting] == pytest.approx(800, abs=0.01)
    assert slow[("cart", "GET /cart", SERVER)] == normal[("cart", "GET /cart", SERVER)]
    # Most of it waiting for the card network.
    card = ("payments", "POST /v1/authorizations", CLIENT)
    assert slow[card] - normal[card] == pytest.approx(0.8 * 800, abs=0.01)


def test_each_kind_of_request_gets_an_equal_share_of_the_trace_rate():
    hour_s = 3600
    rng = np.random.default_rng(7)

    def per_second(trace_rate: float) -> dict[str, float]:
        counts = {j.name: 0 for j in JOURNEYS}
        for journey, offset in traced_requests(hour_s, START_MS, trace_rate, rng):
            assert 0 <= offset < hour_s
            counts[journey.name] += 1
        return {name: count / hour_s for name, count in counts.items()}

    share = 3.0 / len(JOURNEYS)
    assert per_second(3.0) == pytest.approx({j.name: share for j in JOURNEYS}, rel=0.1)
    # Never more than the traffic itself: a high rate traces every checkout, no more.
    capped = per_second(600.0)
    assert capped["checkout"] == pytest.approx(1.5 * daily_factor(START_MS), rel=0.1)
    assert traced_requests(10, START_MS, 0.0, rng) == []


def test_live_traffic_sends_traces_through_the_sdk():
    exporters: list[InMemorySpanExporter] = []

    def exporter() -> InMemorySpanExporter:  # one each: a processor shuts its exporter down
        exporters.append(InMemorySpanExporter())
        return exporters[-1]

    run_live(
        lambda: ConsoleMetricExporter(out=io.StringIO()),
        incidents=[],
        tick_seconds=0.5,
        export_seconds=60,
        duration_seconds=0.1,
        seed=1,
        span_exporter_factory=exporter,
        trace_rate=60.0,
    )

    # run_live's shutdown flushed them
    finished = [span for each in exporters for span in each.get_finished_spans()]
    roots = [span for span in finished if span.parent is None]
    assert roots
    assert {str(span.resource.attributes["service.name"]) for span in roots} == {"frontend"}
    assert {span.kind for span in roots} == {SERVER}
    assert {str(s.resource.attributes["service.name"]) for s in finished} <= set(SERVICES)
    assert len({span.context.trace_id for span in finished}) == len(roots)


def test_a_negative_trace_rate_is_refused():
    with pytest.raises(CommandError, match="--trace-rate cannot be negative"):
        call_command("loadgen", "--token", "unused", "--trace-rate", "-1")


@pytest.mark.django_db(transaction=True)
def test_traces_reach_the_portal_over_otlp_http(live_server, org):
    token = api_token_create(team=org.platform, name="loadgen", scopes=["ingest"])
    tracing = ShopTracing(
        lambda: OTLPSpanExporter(
            endpoint=f"{live_server.url}/v1/traces",
            headers={"Authorization": f"Bearer {token.secret}"},
            timeout=30,
        )
    )
    root = plan_trace(
        CHECKOUT, START_NS, conditions("payments:errors=100%"), np.random.default_rng(8)
    )
    tracing.send(root)
    assert tracing.force_flush()
    tracing.shutdown()

    stored = list(Span.objects.all())
    assert len({span.trace_id for span in stored}) == 1
    assert {span.team_id for span in stored} == {org.platform.pk}
    by_id = {span.span_id: span for span in stored}
    kinds = {Span.Kind.SERVER: SERVER, Span.Kind.CLIENT: CLIENT}

    def stored_key(span: Span) -> Key:
        return (span.service, span.name, kinds[Span.Kind(span.kind)])

    parents = {
        stored_key(span): stored_key(by_id[span.parent_span_id]) if span.parent_span_id else None
        for span in stored
    }
    expected = {k: v for k, v in CHECKOUT_TREE.items() if k[1] != "INSERT orders"}
    expected.pop(("payments", "POST /v1/authorizations", CLIENT))
    assert {k: v for k, v in parents.items() if k[1] != "POST /v1/authorizations"} == expected
    errors = {stored_key(span) for span in stored if span.status_code == Span.StatusCode.ERROR}
    assert errors == {
        ("payments", "POST /payments/authorize", SERVER),
        ("checkout", "POST /payments/authorize", CLIENT),
        ("checkout", "POST /checkout", SERVER),
        ("frontend", "POST /checkout", CLIENT),
        ("frontend", "POST /checkout", SERVER),
    }
    [payments] = [
        s for s in stored if stored_key(s) == ("payments", "POST /payments/authorize", SERVER)
    ]
    assert [event["name"] for event in payments.events] == ["exception"]
    resource = SpanResource.objects.filter(key=payments.resource_key).first()
    assert resource is not None
    assert resource.attributes["service.name"] == "payments"
    assert payments.start_ns == next(s.start_ns for s in root.walk() if s.service == "payments")
