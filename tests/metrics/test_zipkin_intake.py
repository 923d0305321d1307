"""Zipkin v2 JSON at POST /api/v2/spans: what is stored, and what is refused whole."""

from __future__ import annotations

import gzip
import json

import pytest

from coe_portal.accounts.services import api_token_create
from metrics.traces.convert import MAX_VALUE_CHARS
from metrics.traces.models import Span, SpanResource

URL = "/api/v2/spans"
START_US = 1_764_000_000_000_000  # 2025-11-24 16:00 UTC


@pytest.fixture
def token(org):
    return api_token_create(team=org.checkout, name="zipkin", scopes=["ingest"])


def post(client, token, body, content_type="application/json", **headers):
    return client.post(
        URL, data=body, content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {token.secret}", **headers,
    )  # fmt: skip


def zipkin_span(span_id: str, **fields) -> dict:
    return {
        "traceId": "463ac35c9f6413ad", "id": span_id, "name": "get /stock",
        "timestamp": START_US, "duration": 2_500, "kind": "SERVER",
        "localEndpoint": {"serviceName": "inventory", "ipv4": "10.0.0.7"},
        "tags": {"http.method": "GET"}, **fields,
    }  # fmt: skip


def test_spans_are_stored_with_their_ids_kinds_times_and_status(client, token):
    body = [
        zipkin_span("a2fb4a1d1a96d312"),
        zipkin_span(
            "0020000000000001", parentId="a2fb4a1d1a96d312", name="recount", kind=None,
            duration=700, tags={"sku": "A-17", "otel.status_code": "ERROR", "error": "no shelf"},
            remoteEndpoint={"serviceName": "warehouse"},
            annotations=[{"timestamp": START_US + 100, "value": "retry"}],
        ),
    ]  # fmt: skip
    response = post(client, token, json.dumps(body))
    assert (response.status_code, response.content) == (202, b"")
    root, child = Span.objects.order_by("-duration_ns")
    assert (root.trace_id, root.span_id, root.kind, root.start_ns, root.duration_ns) == (
        "0000000000000000463ac35c9f6413ad", "a2fb4a1d1a96d312", Span.Kind.SERVER,
        START_US * 1000, 2_500_000,
    )  # fmt: skip
    assert (child.parent_span_id, child.kind, child.status_code, child.status_message) == (
        "a2fb4a1d1a96d312", Span.Kind.INTERNAL, Span.StatusCode.ERROR, "no shelf",
    )  # fmt: skip
    assert child.attributes == {"sku": "A-17", "peer.service": "warehouse"}
    assert child.events == [{"time_ns": (START_US + 100) * 1000, "name": "retry", "attributes": {}}]
    resource = SpanResource.objects.get(key=root.resource_key)
    assert resource.attributes == {"service.name": "inventory"}
    assert root.team.name == "checkout"


def test_a_body_with_one_unreadable_span_is_refused_whole(client, token):
    body = [
        zipkin_span("a2fb4a1d1a96d312"),
        zipkin_span("xyz"),
        zipkin_span("a2fb4a1d1a96d313", kind="SIDEWAYS"),
        zipkin_span("a2fb4a1d1a96d314", timestamp=None),
    ]
    response = post(client, token, json.dumps(body))
    assert response.status_code == 400
    assert response.content.decode() == (
        "3 span(s) could not be read, none stored: span 1: id must be 16 hex digits, not 'xyz'; "
        "span 2: unknown kind 'SIDEWAYS'; span 3: timestamp must be a non-negative integer of "
        "microseconds, not None\n"
    )
    assert Span.objects.count() == 0


def test_the_same_spans_twice_are_stored_once(client, token):
    body = json.dumps([zipkin_span("a2fb4a1d1a96d312")])
    assert post(client, token, body).status_code == 202
    assert post(client, token, body).status_code == 202
    assert Span.objects.count() == 1


def test_gzip_bodies_and_oversized_tags(client, token):
    body = [zipkin_span("a2fb4a1d1a96d312", tags={"payload": "x" * 10_000})]
    response = post(
        client, token, gzip.compress(json.dumps(body).encode()), HTTP_CONTENT_ENCODING="gzip"
    )
    assert response.status_code == 202
    assert response.content.decode().startswith("1 span(s) kept with tags, events or links cut")
    assert len(Span.objects.get().attributes["payload"]) == MAX_VALUE_CHARS


def test_bad_requests_get_the_status_the_protocol_defines(client, token):
    assert post(client, token, b"[{").status_code == 400
    assert post(client, token, b'{"traceId": "1"}').content == (
        b"the body must be a JSON array of Zipkin v2 spans\n"
    )
    assert post(client, token, b"[]", content_type="application/x-thrift").status_code == 415
    assert client.post(URL, data=b"[]", content_type="application/json").status_code == 401
