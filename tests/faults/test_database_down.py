"""With the database really unreachable (the test's own cluster stopped), the token-protected
APIs and the intake answer 503 + Retry-After in their own shapes, never a 500 page, /readyz says
which check failed, and everything answers again once the database is back, without a restart."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator

import pytest

from tests.faults.cluster import Portal, portal_on
from tests.metrics.helpers import snappy, write_request
from tests.support import manage

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


SIGNED_IN = (
    "from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY\n"
    "from django.contrib.auth.models import User\n"
    "from django.contrib.sessions.backends.db import SessionStore\n"
    "user = User.objects.create_user('olivia', password='correct horse battery staple')\n"
    "session = SessionStore()\n"
    "session[SESSION_KEY] = str(user.pk)\n"
    "session[BACKEND_SESSION_KEY] = 'django.contrib.auth.backends.ModelBackend'\n"
    "session[HASH_SESSION_KEY] = user.get_session_auth_hash()\n"
    "session.create()\n"
    "print(session.session_key)"
)


def call(
    portal: Portal, method: str, path: str, body: bytes | None = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    headers.setdefault("Authorization", f"Bearer {portal.token}")
    if not headers["Authorization"]:  # a page, signed in by its session cookie
        del headers["Authorization"]
    conn = http.client.HTTPConnection("127.0.0.1", portal.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        conn.close()


def test_reads_and_writes_answer_503_while_the_database_is_down_and_recover(portal, cluster):
    session_key = manage(portal.env, "shell", "--no-imports", "-c", SIGNED_IN).strip()
    session = {"Cookie": f"sessionid={session_key}"}
    for path in READ_APIS:
        assert call(portal, "GET", path)[0] == 200, path  # connections made before the outage
    assert call(portal, "GET", "/", Authorization="", **session)[0] == 200
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

        now_ms = int(time.time() * 1000)
        write = snappy(write_request([({"__name__": "up", "job": "cart"}, [(now_ms, 1.0)])]))
        status, headers, body = call(
            portal, "POST", "/api/v1/write", write,
            **{"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"},
        )  # fmt: skip
        assert (status, headers.get("Retry-After")) == (503, "5")
        assert body == b"the metric store is unavailable; retry later\n"

        # A page: the signed-in user is looked up (in middleware) before the view runs.
        status, headers, body = call(portal, "GET", "/", Authorization="", **session)
        assert (status, headers.get("Retry-After")) == (503, "5")
        assert headers["Content-Type"] == "text/plain"
        assert body == b"the database is unavailable; retry later\n"

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
    assert call(portal, "GET", "/", Authorization="", **session)[0] == 200
    status, _, body = call(portal, "GET", "/readyz")
    assert (status, json.loads(body)["status"]) == (200, "ok")
    status, _, body = call(
        portal, "POST", "/api/v1/write", write,
        **{"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"},
    )  # fmt: skip
    assert (status, body) == (204, b"")
