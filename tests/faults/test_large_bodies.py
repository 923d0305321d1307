"""A body over the limit gets its 413, which the client reads, instead of a connection reset
midway through sending: the portal under gunicorn reads the rest before it answers."""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import pytest
from google.rpc.status_pb2 import Status

from tests.faults.cluster import Portal, portal_on

LIMIT = 1 << 20
BODY = 4 * LIMIT  # over the limit, at the drain bound (4 x the limit)
BLOCK = 1 << 16

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def portal(cluster, tmp_path_factory) -> Iterator[Portal]:
    tmp_path = tmp_path_factory.mktemp("large-bodies")
    with portal_on(
        cluster, tmp_path, "coe_large_bodies", INGEST_MAX_BODY_BYTES=str(LIMIT)
    ) as running_portal:
        yield running_portal


def blocks(size: int) -> Iterator[bytes]:
    # Sent block by block, as an exporter streams a big batch; never all in one write.
    for _ in range(size // BLOCK):
        yield b"\x00" * BLOCK


def test_a_remote_write_over_the_limit_reads_413_and_the_connection_stays_usable(portal):
    conn = http.client.HTTPConnection("127.0.0.1", portal.port, timeout=30)
    conn.request(
        "POST", "/api/v1/write", body=blocks(BODY),
        headers={
            "Authorization": f"Bearer {portal.token}", "Content-Type": "application/x-protobuf",
            "Content-Encoding": "snappy", "Content-Length": str(BODY),
        },
    )  # fmt: skip
    response = conn.getresponse()
    assert response.status == 413
    assert "Retry-After" not in response.headers
    assert response.read().decode() == (
        f"body is at least {BODY} bytes, over the limit of {LIMIT} bytes\n"
    )
    # The whole body was read: the next request on the same connection is understood.
    conn.request("GET", "/healthz")
    follow_up = conn.getresponse()
    assert (follow_up.status, follow_up.read()) == (200, b'{"status": "ok"}')
    conn.close()


def test_a_chunked_otlp_trace_export_over_the_limit_reads_its_413_status(portal):
    conn = http.client.HTTPConnection("127.0.0.1", portal.port, timeout=30)
    conn.request(
        "POST", "/v1/traces", body=blocks(BODY), encode_chunked=True,
        headers={
            "Authorization": f"Bearer {portal.token}", "Content-Type": "application/x-protobuf",
        },
    )  # fmt: skip
    response = conn.getresponse()
    assert response.status == 413
    assert response.getheader("Content-Type") == "application/x-protobuf"
    status = Status.FromString(response.read())
    assert status.code == 8
    assert status.message == (
        f"body is at least {LIMIT + BLOCK} bytes, over the limit of {LIMIT} bytes"
    )
    conn.close()


def test_a_request_refused_before_its_body_is_read_still_reads_its_answer(portal):
    """A wrong token is answered before the body is looked at; the body is read anyway, so the
    client sending 1 MiB gets its 401 (a shed 503 and a 415 go the same way)."""
    conn = http.client.HTTPConnection("127.0.0.1", portal.port, timeout=30)
    conn.request(
        "POST", "/api/v1/write", body=blocks(LIMIT),
        headers={
            "Authorization": "Bearer coe_not-a-token", "Content-Type": "application/x-protobuf",
            "Content-Encoding": "snappy", "Content-Length": str(LIMIT),
        },
    )  # fmt: skip
    response = conn.getresponse()
    assert response.status == 401
    assert response.read().startswith(b'{"error": "invalid_token"')
    conn.request("GET", "/healthz")
    follow_up = conn.getresponse()
    assert (follow_up.status, follow_up.read()) == (200, b'{"status": "ok"}')
    conn.close()
