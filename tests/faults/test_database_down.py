"""With the database really unreachable (the test's own cluster stopped), the token-protected
APIs and the intake answer 503 + Retry-After in their own shapes, never a 500 page, /readyz says
which check failed, and everything answers again once the database is back, without a restart."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest

from tests.faults.cluster import Portal, portal_on
from tests.metrics.helpers import snappy, write_request

# Every token-protected read API, with a query each accepts.
READ_APIS = [
    "/api/v1/query?query=up",
    "/api/v1/query_range?query=up&start=0&end=60&step=15",
    "/api/v1/series?match[]=up",
    "/api/v1/labels",
    "/api/v1/label/job/values",
    "/api/v1/metadata",
    "/api/v1/query_exemplars?query=up",
    "/api/v1/slos",
    "/api/v1/alarms",
    "/api/v1/traces",
    "/api/v1/incidents",
    "/api/v1/coes",
    "/api/v1/action-items",
    "/api/v1/whoami",
]
# The Prometheus-shaped API speaks of the metric store, the others of the database.
PROMETHEUS_API = set(READ_APIS[:7])

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def portal(cluster, tmp_path_factory) -> Iterator[Portal]:
    with portal_on(cluster, tmp_path_factory.mktemp("db-down"), "coe_db_down") as running:
        yield running


def call(
    portal: Portal, method: str, path: str, body: bytes | None = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", portal.port, timeout=30)
    try:
        conn.request(
            method, path, body=body,
            headers={"Authorization": f"Bearer {portal.token}", **headers},
        )  # fmt: skip
        response = conn.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        conn.close()


def test_reads_and_writes_answer_503_while_the_database_is_down_and_recover(portal, cluster):
    for path in READ_APIS:
        assert call(portal, "GET", path)[0] == 200, path  # connections made before the outage
    cluster.stop()
    try:
        for path in READ_APIS:
            status, headers, body = call(portal, "GET", path)
            what = "the metric store" if path in PROMETHEUS_API else "the database"
            assert (status, headers.get("Retry-After")) == (503, "5"), path
            assert headers["Content-Type"] == "application/json", path
            assert json.loads(body) == {
                "status": "error",
                "errorType": "unavailable",
                "error": f"{what} is unavailable; retry later",
            }, path

        write = snappy(write_request([({"__name__": "up", "job": "cart"}, [(1_000, 1.0)])]))
        status, headers, body = call(
            portal, "POST", "/api/v1/write", write,
            **{"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"},
        )  # fmt: skip
        assert (status, headers.get("Retry-After")) == (503, "5")
        assert body == b"the metric store is unavailable; retry later\n"

        status, _, body = call(portal, "GET", "/readyz")
        assert status == 503
        checks = json.loads(body)["checks"]
        assert checks["database"] == "unavailable: OperationalError"
        assert checks["storage"] == "unavailable: OperationalError"
        assert checks["broker"] == "ok"
    finally:
        cluster.start()

    for path in READ_APIS:
        assert call(portal, "GET", path)[0] == 200, path
    status, _, body = call(portal, "GET", "/readyz")
    assert (status, json.loads(body)["status"]) == (200, "ok")
    status, _, body = call(
        portal, "POST", "/api/v1/write", write,
        **{"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"},
    )  # fmt: skip
    assert (status, body) == (204, b"")
