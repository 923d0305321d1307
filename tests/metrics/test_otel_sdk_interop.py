"""Real OpenTelemetry clients against the portal under gunicorn, over real HTTP."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from tests.support import REPO_ROOT, PortalProcess, portal_process, skip_or_fail

pytestmark = pytest.mark.integration

STORED = """
import json
from metrics.models import Series
from metrics.storage.reader import read_samples
rows = []
for series in Series.objects.filter(metric_name__in=%r):
    values = read_samples([series.id], 0, 2**62).get(series.id, (None, []))[1]
    rows.append([series.metric_name, series.labels, list(map(float, values))])
print(json.dumps(sorted(rows, key=str)))
"""


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalProcess]:
    with portal_process(tmp_path_factory.mktemp("otel-portal")) as running_portal:
        yield running_portal


def stored(portal: PortalProcess, *names: str) -> list[list[object]]:
    return json.loads(portal.shell(STORED % (list(names),)))


def test_the_sdk_exporter_works_with_nothing_but_environment_variables(portal, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", portal.base_url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer%20{portal.token}")
    exporter = OTLPMetricExporter()
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(
        resource=Resource.create({"service.name": "checkout", "service.instance.id": "co-1"}),
        metric_readers=[reader],
    )
    meter = provider.get_meter("shop")
    meter.create_counter("checkout.orders").add(7, {"payment": "card"})
    meter.create_histogram("checkout.latency", unit="ms").record(12.5)
    assert provider.force_flush(timeout_millis=20_000)

    rows = stored(portal, "checkout_orders_total", "checkout_latency_milliseconds_count")
    provider.shutdown()
    assert rows == [
        ["checkout_latency_milliseconds_count", {"service": "checkout", "instance": "co-1"}, [1.0]],
        [
            "checkout_orders_total",
            {"service": "checkout", "instance": "co-1", "payment": "card"},
            [7.0],
        ],
    ]


def test_a_chunked_json_body_without_content_length_is_stored_not_dropped(portal):
    document = {
        "resourceMetrics": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "frontend"}}]
                },
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": "page.views",
                                "gauge": {
                                    "dataPoints": [
                                        {"timeUnixNano": "1700000000000000000", "asDouble": 12}
                                    ]
                                },
                            }
                        ]
                    }
                ],
            }
        ]
    }
    body = json.dumps(document).encode()
    host = portal.base_url.removeprefix("http://")
    connection = http.client.HTTPConnection(host, timeout=30)
    # Sent as two chunks with Transfer-Encoding: chunked and no Content-Length, the way the
    # JavaScript OTLP/JSON exporters send.
    connection.request(
        "POST",
        "/v1/metrics",
        body=iter([body[:40], body[40:]]),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {portal.token}",
        },
        encode_chunked=True,
    )
    response = connection.getresponse()
    assert response.status == 200
    assert json.loads(response.read()) == {}
    assert stored(portal, "page_views") == [["page_views", {"service": "frontend"}, [12.0]]]


NODE_CLIENT = REPO_ROOT / "tests" / "interop" / "node"


def test_the_javascript_otlp_json_exporter_is_stored(portal):
    node = shutil.which("node")
    if node is None:
        skip_or_fail("Node.js is not installed")
    if not (
        NODE_CLIENT / "node_modules" / "@opentelemetry" / "exporter-metrics-otlp-http"
    ).exists():
        skip_or_fail(
            f"the JavaScript OpenTelemetry packages are missing: npm ci --prefix {NODE_CLIENT}"
        )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "OTEL_EXPORTER_OTLP_ENDPOINT": portal.base_url,
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer {portal.token}",
    }
    result = subprocess.run(
        [node, "send_metrics.js"], cwd=NODE_CLIENT, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    rows = stored(portal, "page_loads_total", "page_render_duration_milliseconds_count")
    labels = {"service": "web-frontend", "instance": "web-1", "page": "/home"}
    assert rows == [
        ["page_loads_total", labels, [5.0]],
        ["page_render_duration_milliseconds_count", labels, [1.0]],
    ]


SPANS = """
import json
from metrics.traces.models import Span
rows = Span.objects.filter(trace_id=%r).order_by("start_ns", "kind", "span_id")
print(json.dumps([[s.service, s.name, s.kind, s.status_code, s.parent_span_id, s.attributes]
                  for s in rows]))
"""


def spans_of(portal: PortalProcess, trace_id: str) -> list[list[object]]:
    return json.loads(portal.shell(SPANS % (trace_id,)))


def test_the_sdk_span_exporter_works_with_nothing_but_environment_variables(portal, monkeypatch):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind, Status, StatusCode

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", portal.base_url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer%20{portal.token}")
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    tracer = provider.get_tracer("shop")
    with (
        tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER) as parent,
        tracer.start_as_current_span("charge card", kind=SpanKind.CLIENT) as child,
    ):
        child.set_attribute("payment.method", "card")
        child.set_status(Status(StatusCode.ERROR, "declined"))
    assert provider.force_flush(timeout_millis=20_000)
    provider.shutdown()
    trace_id = format(parent.get_span_context().trace_id, "032x")
    parent_id = format(parent.get_span_context().span_id, "016x")
    assert spans_of(portal, trace_id) == [
        ["checkout", "POST /checkout", 2, 0, "", {}],
        ["checkout", "charge card", 3, 2, parent_id, {"payment.method": "card"}],
    ]


def test_the_javascript_otlp_json_trace_exporter_is_stored(portal):
    node = shutil.which("node")
    if node is None:
        skip_or_fail("Node.js is not installed")
    if not (NODE_CLIENT / "node_modules" / "@opentelemetry" / "exporter-trace-otlp-http").exists():
        skip_or_fail(
            f"the JavaScript OpenTelemetry packages are missing: npm ci --prefix {NODE_CLIENT}"
        )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "OTEL_EXPORTER_OTLP_ENDPOINT": portal.base_url,
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer {portal.token}",
    }
    result = subprocess.run(
        [node, "send_traces.js"], cwd=NODE_CLIENT, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    trace_id = result.stdout.strip().splitlines()[-1]
    rows = spans_of(portal, trace_id)
    assert [row[:4] for row in rows] == [
        ["web-frontend", "GET /home", 2, 0],
        ["web-frontend", "GET /api/cart", 3, 2],
    ]
    assert rows[1][5] == {"http.response.status_code": 503}


def test_the_sdk_zipkin_json_exporter_is_stored(portal):
    """OpenTelemetry's Zipkin exporter (Zipkin v2 JSON, `"kind": null` for internal spans),
    pointed at /api/v2/spans with the token on its HTTP session."""
    import requests
    from opentelemetry.exporter.zipkin.json import ZipkinExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import SpanKind, Status, StatusCode

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {portal.token}"
    exporter = ZipkinExporter(endpoint=f"{portal.base_url}/api/v2/spans", session=session)
    provider = TracerProvider(resource=Resource.create({"service.name": "inventory"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("shop")
    with (
        tracer.start_as_current_span("GET /stock", kind=SpanKind.SERVER) as parent,
        tracer.start_as_current_span("recount") as child,
    ):
        child.set_attribute("sku", "A-17")
        child.set_status(Status(StatusCode.ERROR, "shelf missing"))
    provider.shutdown()
    trace_id = format(parent.get_span_context().trace_id, "032x")
    parent_id = format(parent.get_span_context().span_id, "016x")
    rows = spans_of(portal, trace_id)
    assert [row[:5] for row in rows] == [
        ["inventory", "GET /stock", 2, 0, ""],
        ["inventory", "recount", 1, 2, parent_id],
    ]
    assert rows[1][5]["sku"] == "A-17"
