"""The trace JSON API: a trace's spans, trace search with its parameters, 400s and 404s.

Spans arrive the way exporters send them: OTLP protobuf posted to /v1/traces."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

from coe_portal.accounts.services import api_token_create

START = 1_764_000_000_000_000_000  # 2025-11-24 16:00 UTC, in ns
START_RFC3339 = "2025-11-24T16:00:00Z"
START_SECONDS = START // 10**9
MS = 1_000_000
CHECKOUT = "5b8efff798038103d269b633813fc60c"
SLOW = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def read_token(org):
    return api_token_create(team=org.checkout, name="grafana", scopes=["read"])


@pytest.fixture
def traces(client, org):
    """A checkout trace (frontend → cart, the cart span failing) and a slow cart trace."""
    ingest = api_token_create(team=org.checkout, name="otel", scopes=["ingest"])
    export = ExportTraceServiceRequest()
    root = span(CHECKOUT, "a000000000000001", "GET /checkout", 0, 100)
    call = span(CHECKOUT, "b000000000000002", "POST cart", 5, 80, parent="a000000000000001")
    call.kind = ProtoSpan.SPAN_KIND_CLIENT
    served = span(CHECKOUT, "c000000000000003", "POST /cart", 10, 50, parent="b000000000000002")
    served.status.code, served.status.message = 2, "out of stock"
    attribute = served.attributes.add()
    attribute.key, attribute.value.int_value = "http.status_code", 409
    event = served.events.add()
    event.name, event.time_unix_nano = "retry", START + 12 * MS
    slow = span(SLOW, "d000000000000004", "GET /cart", 60_000, 1_500)
    add_service(export, "frontend", root, call)
    add_service(export, "cart", served, slow)
    response = client.post(
        "/v1/traces",
        data=export.SerializeToString(),
        content_type="application/x-protobuf",
        HTTP_AUTHORIZATION=f"Bearer {ingest.secret}",
    )
    assert response.status_code == 200, response.content


def span(
    trace: str, span_id: str, name: str, start_ms: int, ms: int, parent: str = ""
) -> ProtoSpan:
    proto = ProtoSpan(
        trace_id=bytes.fromhex(trace), span_id=bytes.fromhex(span_id), name=name,
        kind=ProtoSpan.SPAN_KIND_SERVER, start_time_unix_nano=START + start_ms * MS,
        end_time_unix_nano=START + (start_ms + ms) * MS,
    )  # fmt: skip
    if parent:
        proto.parent_span_id = bytes.fromhex(parent)
    return proto


def add_service(export: ExportTraceServiceRequest, service: str, *spans: ProtoSpan) -> None:
    resource_spans = export.resource_spans.add()
    attribute = resource_spans.resource.attributes.add()
    attribute.key, attribute.value.string_value = "service.name", service
    resource_spans.scope_spans.add().spans.extend(spans)


def get(client, token, url: str, **params: object):
    return client.get(url, params, HTTP_AUTHORIZATION=f"Bearer {token.secret}")


def found(client, token, **params: object) -> list[str]:
    params = {"start": START_SECONDS, "end": START_SECONDS + 3600, **params}
    response = get(client, token, "/api/v1/traces", **params)
    assert response.status_code == 200, response.content
    return [summary["trace_id"] for summary in response.json()["data"]]


def error(response, status: int) -> str:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == "error"
    return body["error"]


# --- one trace ----------------------------------------------------------------------------


def test_a_trace_answers_its_spans_by_start(client, read_token, traces):
    response = get(client, read_token, f"/api/v1/traces/{CHECKOUT.upper()}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "success"
    assert body["data"]["trace_id"] == CHECKOUT
    spans = body["data"]["spans"]
    assert [s["span_id"] for s in spans] == [
        "a000000000000001", "b000000000000002", "c000000000000003",
    ]  # fmt: skip
    assert spans[2] == {
        "trace_id": CHECKOUT,
        "span_id": "c000000000000003",
        "parent_span_id": "b000000000000002",
        "service": "cart",
        "name": "POST /cart",
        "kind": "server",
        "start_time_unix_nano": str(START + 10 * MS),
        "end_time_unix_nano": str(START + 60 * MS),
        "duration_ns": 50 * MS,
        "status": {"code": "error", "message": "out of stock"},
        "attributes": {"http.status_code": 409},
        "resource": {"service.name": "cart"},
        "events": [{"time_ns": START + 12 * MS, "name": "retry", "attributes": {}}],
        "links": [],
    }
    assert (spans[0]["parent_span_id"], spans[1]["kind"], spans[1]["status"]) == (
        "", "client", {"code": "unset", "message": ""},
    )  # fmt: skip


def test_an_unknown_trace_is_404_and_a_malformed_id_is_400(client, read_token, traces):
    assert error(get(client, read_token, "/api/v1/traces/" + "0" * 31 + "1"), 404) == (
        "no trace with id 00000000000000000000000000000001"
    )
    assert error(get(client, read_token, "/api/v1/traces/5b8efff7"), 400) == (
        'trace_id "5b8efff7" must be 32 hex digits'
    )
    assert "trace_id" in error(get(client, read_token, "/api/v1/traces/" + "g" * 32), 400)


def test_the_api_needs_a_read_token(client, org, traces):
    assert client.get(f"/api/v1/traces/{CHECKOUT}").status_code == 401
    assert client.get("/api/v1/traces").status_code == 401
    ingest_only = api_token_create(team=org.checkout, name="collector", scopes=["ingest"])
    assert get(client, ingest_only, "/api/v1/traces").status_code == 403


# --- search -------------------------------------------------------------------------------


def test_search_answers_summaries_newest_first(client, read_token, traces):
    params = {"start": START_SECONDS, "end": START_SECONDS + 3600}
    response = get(client, read_token, "/api/v1/traces", **params)
    assert response.json() == {
        "status": "success",
        "data": [
            {
                "trace_id": SLOW, "root_service": "cart", "root_name": "GET /cart",
                "start_time_unix_nano": str(START + 60_000 * MS), "duration_ns": 1_500 * MS,
                "span_count": 1, "error_count": 0, "services": ["cart"],
            },
            {
                "trace_id": CHECKOUT, "root_service": "frontend", "root_name": "GET /checkout",
                "start_time_unix_nano": str(START), "duration_ns": 100 * MS,
                "span_count": 3, "error_count": 1, "services": ["cart", "frontend"],
            },
        ],
    }  # fmt: skip


def test_search_filters_by_each_parameter(client, read_token, traces):
    assert found(client, read_token, service="frontend") == [CHECKOUT]
    assert found(client, read_token, service="cart", operation="GET /cart") == [SLOW]
    assert found(client, read_token, operation="nothing") == []
    assert found(client, read_token, errors="true") == [CHECKOUT]
    assert found(client, read_token, errors="false") == [SLOW, CHECKOUT]
    assert found(client, read_token, tags="http.status_code=409") == [CHECKOUT]
    assert found(client, read_token, tags=["http.status_code=409", "service=x"]) == []
    assert found(client, read_token, min_duration="1.5s") == [SLOW]
    assert found(client, read_token, min_duration="1501ms") == []
    assert found(client, read_token, max_duration="50") == [CHECKOUT]  # plain numbers are ms
    assert found(client, read_token, max_duration="49.9") == []
    assert found(client, read_token, min_duration="80ms", max_duration="100ms") == [CHECKOUT]
    assert found(client, read_token, min_duration="2m") == []
    assert found(client, read_token, limit=1) == [SLOW]


def test_start_and_end_take_rfc3339_or_unix_seconds(client, read_token, traces):
    assert found(client, read_token, start=START_RFC3339, end="2025-11-24T16:00:30Z") == [CHECKOUT]
    assert found(client, read_token, start=START_SECONDS + 30, end=START_SECONDS + 61) == [SLOW]
    # The start is inclusive, the end exclusive: the slow trace starts at +60 s.
    assert found(client, read_token, start=START_SECONDS + 60) == [SLOW]
    assert found(client, read_token, start=START_SECONDS + 30, end=START_SECONDS + 60) == []


def test_search_defaults_to_the_last_hour(client, read_token, traces):
    def latest() -> list[str]:
        response = get(client, read_token, "/api/v1/traces")
        return [summary["trace_id"] for summary in response.json()["data"]]

    with time_machine.travel(datetime(2025, 11, 24, 16, 30, tzinfo=UTC), tick=False):
        assert latest() == [SLOW, CHECKOUT]
    with time_machine.travel(datetime(2025, 11, 24, 17, 0, 30, tzinfo=UTC), tick=False):
        assert latest() == [SLOW]  # the checkout trace started an hour and 30 s ago
    with time_machine.travel(datetime(2025, 11, 24, 15, 0, tzinfo=UTC), tick=False):
        assert latest() == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"min_duration": "fast"}, 'min_duration: "fast" is not a duration: write a number of'),
        ({"max_duration": "-5"}, 'max_duration: "-5" is not a duration: write a number of'),
        ({"min_duration": "2s", "max_duration": "1s"}, "min_duration: must not be above"),
        ({"start": "yesterday"}, 'start: cannot parse "yesterday" to a valid timestamp'),
        ({"end": "nan"}, 'end: cannot parse "nan" to a valid timestamp'),
        ({"start": "100", "end": "50"}, "end: must not be before start"),
        ({"limit": "ten"}, 'limit: "ten" must be a whole number from 1'),
        ({"limit": "0"}, 'limit: "0" must be a whole number from 1'),
        ({"errors": "maybe"}, 'errors: "maybe" must be true or false'),
        ({"tags": "http.status_code"}, 'tags: "http.status_code" must be key=value'),
        ({"tags": "=5"}, 'tags: "=5" must be key=value'),
        ({"tags": ["a=1", "a=2"]}, 'tags: "a" is given twice with different values'),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(client, read_token, params, message):
    response = get(client, read_token, "/api/v1/traces", **params)
    assert response.json()["errorType"] == "bad_data"
    assert error(response, 400).startswith(message), response.json()


def test_a_huge_limit_is_capped_not_refused(client, read_token, traces):
    assert found(client, read_token, limit=100_000) == [SLOW, CHECKOUT]
