"""OTLP/HTTP trace intake: protobuf and JSON, bad spans, duplicates, and span metrics."""

from __future__ import annotations

import json

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

from coe_portal.accounts.services import api_token_create
from metrics.storage.reader import Matcher, read_samples, select_series
from metrics.traces.convert import MAX_VALUE_CHARS
from metrics.traces.models import NANOS_PER_DAY, Span, SpanMetricsBatch, SpanResource
from metrics.traces.span_metrics import fold_span_metrics

URL = "/v1/traces"
PROTOBUF = "application/x-protobuf"
TRACE = bytes.fromhex("5b8efff798038103d269b633813fc60c")
START = 1_764_000_000_000_000_000  # 2025-11-24 16:00 UTC, in ns


@pytest.fixture
def token(org):
    return api_token_create(team=org.checkout, name="otel", scopes=["ingest"])


def post(client, token, body, content_type=PROTOBUF):
    return client.post(
        URL, data=body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {token.secret}"
    )


def request_with(*spans: ProtoSpan, service: str = "cart") -> bytes:
    export = ExportTraceServiceRequest()
    resource_spans = export.resource_spans.add()
    attribute = resource_spans.resource.attributes.add()
    attribute.key, attribute.value.string_value = "service.name", service
    resource_spans.scope_spans.add().spans.extend(spans)
    return export.SerializeToString()


def span(span_id: str, *, parent: str = "", ms: int = 20, **fields) -> ProtoSpan:
    proto = ProtoSpan(
        trace_id=TRACE, span_id=bytes.fromhex(span_id), name=fields.pop("name", "GET /cart"),
        kind=fields.pop("kind", ProtoSpan.SPAN_KIND_SERVER), start_time_unix_nano=START,
        end_time_unix_nano=START + ms * 1_000_000, **fields,
    )  # fmt: skip
    if parent:
        proto.parent_span_id = bytes.fromhex(parent)
    return proto


def answer(response) -> ExportTraceServiceResponse:
    assert response.status_code == 200, response.content
    return ExportTraceServiceResponse.FromString(response.content)


def total(name: str, **labels: str) -> float:
    found = select_series(
        [Matcher("__name__", "=", name), *(Matcher(k, "=", v) for k, v in labels.items())]
    )
    assert len(found) == 1, [s.all_labels() for s in found]
    return float(read_samples([found[0].id], 0, 2**62)[found[0].id][1][-1])


def test_spans_are_stored_with_hex_ids_and_their_service(client, token):
    child = span("00f067aa0ba902b7", parent="53995c3f42cd8ad8", name="SELECT carts")
    attribute = child.attributes.add()
    attribute.key, attribute.value.int_value = "db.rows", 3
    child.status.code = 2
    child.status.message = "timeout"
    event = child.events.add()
    event.name, event.time_unix_nano = "retry", START + 5
    result = answer(post(client, token, request_with(span("53995c3f42cd8ad8"), child)))
    assert not result.HasField("partial_success")
    stored = Span.objects.get(span_id="00f067aa0ba902b7")
    assert (stored.trace_id, stored.parent_span_id, stored.service, stored.name) == (
        "5b8efff798038103d269b633813fc60c", "53995c3f42cd8ad8", "cart", "SELECT carts",
    )  # fmt: skip
    assert (stored.duration_ns, stored.status_code, stored.status_message) == (
        20_000_000, 2, "timeout",
    )  # fmt: skip
    assert stored.attributes == {"db.rows": 3}
    resource = SpanResource.objects.get(key=stored.resource_key)
    assert (resource.attributes, resource.day) == ({"service.name": "cart"}, START // NANOS_PER_DAY)
    assert stored.events == [{"time_ns": START + 5, "name": "retry", "attributes": {}}]
    assert stored.team.name == "checkout"


def test_bad_spans_are_rejected_with_reasons_and_the_rest_kept(client, token):
    short = span("53995c3f42cd8ad8")
    short.trace_id = b"\x01" * 8
    backwards = span("0000000000000002")
    backwards.end_time_unix_nano = START - 1
    odd_kind = span("0000000000000003")
    odd_kind.kind = 9
    result = answer(
        post(client, token, request_with(short, backwards, odd_kind, span("0000000000000004")))
    )
    assert result.partial_success.rejected_spans == 3
    assert result.partial_success.error_message == (
        "1 span(s): trace_id must be 16 bytes (32 hex digits), not all zeros; "
        "1 span(s): end_time_unix_nano is before start_time_unix_nano; "
        "1 span(s): unknown span kind 9"
    )
    assert list(Span.objects.values_list("span_id", flat=True)) == ["0000000000000004"]


def test_an_absurd_attribute_is_cut_and_the_answer_says_so(client, token):
    big = span("0000000000000005")
    attribute = big.attributes.add()
    attribute.key, attribute.value.string_value = "http.request.body", "x" * 100_000
    result = answer(post(client, token, request_with(big)))
    assert result.partial_success.rejected_spans == 0
    assert "1 span(s) kept with attributes, events or links cut to the limits" in (
        result.partial_success.error_message
    )
    assert len(Span.objects.get().attributes["http.request.body"]) == MAX_VALUE_CHARS


def test_the_same_batch_twice_stores_and_counts_each_span_once(client, token):
    body = request_with(span("0000000000000006", ms=3), span("0000000000000007", ms=300))
    answer(post(client, token, body))
    answer(post(client, token, body))
    assert Span.objects.count() == 2
    assert fold_span_metrics() == 1  # the repeat added nothing to count
    labels = {"service": "cart", "span_name": "GET /cart", "span_kind": "SPAN_KIND_SERVER",
              "status_code": "STATUS_CODE_UNSET"}  # fmt: skip
    assert total("traces_spanmetrics_calls_total", **labels) == 2
    assert total("traces_spanmetrics_duration_seconds_bucket", le="0.004", **labels) == 1
    assert total("traces_spanmetrics_duration_seconds_bucket", le="0.2", **labels) == 1
    assert total("traces_spanmetrics_duration_seconds_bucket", le="0.4", **labels) == 2
    assert total("traces_spanmetrics_duration_seconds_bucket", le="+Inf", **labels) == 2
    assert total("traces_spanmetrics_duration_seconds_sum", **labels) == pytest.approx(0.303)
    # A later batch adds to the counters.
    answer(post(client, token, request_with(span("0000000000000008"))))
    assert total("traces_spanmetrics_calls_total", **labels) == 2  # not folded yet
    fold_span_metrics()
    assert total("traces_spanmetrics_calls_total", **labels) == 3
    assert fold_span_metrics() == 0


def test_json_with_hex_ids_and_int64_as_strings_or_numbers(client, token):
    document = {
        "resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": "checkout"}}
            ]},
            "scopeSpans": [{"spans": [
                {"traceId": TRACE.hex(), "spanId": "a1b2c3d4e5f60718", "name": "POST /checkout",
                 "kind": 2, "startTimeUnixNano": str(START), "endTimeUnixNano": START + 1000,
                 "attributes": [{"key": "http.status", "value": {"intValue": "200"}}],
                 "status": {"code": 1}, "someFutureField": True},
            ]}],
        }]
    }  # fmt: skip
    response = post(client, token, json.dumps(document), content_type="application/json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {}
    stored = Span.objects.get()
    assert (stored.trace_id, stored.span_id, stored.duration_ns) == (
        TRACE.hex(), "a1b2c3d4e5f60718", 1000,
    )  # fmt: skip
    assert stored.attributes == {"http.status": 200}


def test_bad_requests_get_the_status_the_protocol_defines(client, token):
    assert post(client, token, b"\xff\xff\xff").status_code == 400
    assert post(client, token, b"{}", content_type="text/plain").status_code == 415
    bad_id = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz", "spanId": "00"}]}]}]}
    response = post(client, token, json.dumps(bad_id), content_type="application/json")
    assert response.status_code == 400
    assert "traceId 'zz' is not a hex string" in response.content.decode()
    assert client.post(URL, data=b"", content_type=PROTOBUF).status_code == 401


def test_batches_queued_in_the_earlier_series_format_are_still_folded(db):
    labels = {"service": "cart", "span_name": "GET /cart", "span_kind": "SPAN_KIND_SERVER",
              "status_code": "STATUS_CODE_UNSET"}  # fmt: skip
    SpanMetricsBatch.objects.create(increments=[["traces_spanmetrics_calls_total", labels, 4]])
    SpanMetricsBatch.objects.create(
        increments=[["cart", "GET /cart", 2, 0, 3, 0.009, [3] + [0] * 16]]
    )
    assert fold_span_metrics() == 2
    assert total("traces_spanmetrics_calls_total", **labels) == 7
    assert total("traces_spanmetrics_duration_seconds_bucket", le="0.002", **labels) == 3


def test_non_finite_doubles_are_kept_as_otlp_json_writes_them(client, token):
    odd = span("0000000000000009")
    for key, number in (("ratio", float("nan")), ("limit", float("inf")), ("x", 0.5)):
        attribute = odd.attributes.add()
        attribute.key, attribute.value.double_value = key, number
    result = answer(post(client, token, request_with(odd)))
    assert not result.HasField("partial_success")
    assert Span.objects.get().attributes == {"ratio": "NaN", "limit": "Infinity", "x": 0.5}
