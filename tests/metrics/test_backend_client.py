"""What the portal makes of a backend's answers, over real sockets: a small HTTP server plays
a Prometheus API that fails in each way a real one does."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from metrics.backends import remote
from metrics.backends.client import parse_headers
from metrics.backends.errors import BackendQueryError, BackendRejectedWrite, BackendUnavailable
from metrics.promql.engine import instant_query, range_query
from tests.support import free_port


class FakeAnswer:
    """What the server answers next: status, body, delay; and what it was sent."""

    def __init__(self) -> None:
        self.status = 200
        self.body: bytes = b""
        self.delay = 0.0
        self.requests: list[dict[str, Any]] = []


@pytest.fixture
def api(settings: Any) -> Iterator[FakeAnswer]:
    answer = FakeAnswer()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            answer.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": self.rfile.read(length),
                }
            )
            time.sleep(answer.delay)
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.METRICS_BACKEND = "prometheus"
    settings.METRICS_QUERY_URL = url
    settings.METRICS_REMOTE_WRITE_URL = f"{url}/api/v1/write"
    settings.METRICS_QUERY_TIMEOUT_SECONDS = 0.5
    settings.METRICS_REMOTE_WRITE_TIMEOUT_SECONDS = 0.5
    settings.METRICS_BACKEND_HEADERS = "X-Scope-OrgID=team-a; X-Other = b"
    settings.METRICS_BACKEND_USERNAME = "portal"
    settings.METRICS_BACKEND_PASSWORD = "s3cret"
    try:
        yield answer
    finally:
        server.shutdown()
        server.server_close()


def success(data: Any) -> bytes:
    return json.dumps({"status": "success", "data": data}).encode()


def test_an_instant_vector_comes_back_as_the_engines_own_values(api):
    api.body = success(
        {
            "resultType": "vector",
            "result": [{"metric": {"job": "api"}, "value": [1700000000, "0.25"]}],
        }
    )
    result = instant_query("sum by (job) (rate(x[5m]))", 1_700_000_000_000)
    [series] = result.value.series
    assert series.labels == {"job": "api"}
    assert series.values.tolist() == [0.25]
    sent = api.requests[0]
    assert sent["path"] == "/api/v1/query"
    assert b"time=1700000000" in sent["body"]
    assert b"nocache=1" in sent["body"]
    # Credentials and the tenant header go with every request.
    assert sent["headers"]["X-Scope-OrgID"] == "team-a"
    assert sent["headers"]["X-Other"] == "b"
    assert sent["headers"]["Authorization"] == "Basic cG9ydGFsOnMzY3JldA=="


def test_a_range_matrix_is_placed_on_the_steps_and_specials_survive(api):
    api.body = success(
        {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {"code": "500"},
                    "values": [[1700000000, "1"], [1700000120, "+Inf"], [1700000150, "7"]],
                },
                {"metric": {"code": "200"}, "values": [[1700000060, "NaN"]]},
            ],
        }
    )
    result = range_query("x", 1_700_000_000_000, 1_700_000_120_000, 60_000)
    five, two = result.value.series
    assert five.labels == {"code": "500"}
    assert five.present.tolist() == [True, False, True]  # 1700000150 is off the grid: dropped
    assert five.values[0] == 1
    assert five.values[2] == float("inf")
    assert two.present.tolist() == [False, True, False]
    assert two.values[1] != two.values[1]  # NaN
    assert b"step=60" in api.requests[0]["body"]


@pytest.mark.parametrize(("status", "error_type"), [(400, "bad_data"), (422, "execution")])
def test_a_query_the_backend_refuses_is_the_users_error(api, status, error_type):
    api.status = status
    api.body = json.dumps(
        {"status": "error", "errorType": error_type, "error": 'unexpected token ")"'}
    ).encode()
    with pytest.raises(BackendQueryError) as caught:
        instant_query("sum(x))", 1_700_000_000_000)
    assert str(caught.value) == 'unexpected token ")"'
    assert (caught.value.status, caught.value.error_type) == (status, error_type)


WHERE_CREDENTIALS = "check METRICS_BACKEND_USERNAME/PASSWORD or METRICS_BACKEND_BEARER_TOKEN"
WHERE_URL = "check the URL: METRICS_QUERY_URL is the API root, without /api/v1"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (503, b'{"status":"error","error":"overloaded"}', "HTTP 503: overloaded"),
        (500, b"<html>oops</html>", "HTTP 500: <html>oops</html>"),
        (401, b"", f"HTTP 401 ({WHERE_CREDENTIALS})"),
        (404, b"404 page not found", f"HTTP 404 ({WHERE_URL}): 404 page not found"),
        (200, b"not json", "without a Prometheus API success"),
    ],
)  # fmt: skip
def test_a_backend_failing_on_its_side_is_unavailable_not_the_users_fault(
    api, status, body, expected
):
    api.status, api.body = status, body
    with pytest.raises(BackendUnavailable) as caught:
        instant_query("up", 1_700_000_000_000)
    assert str(caught.value).startswith("metrics backend unavailable: ")
    assert expected in str(caught.value)


def test_a_backend_slower_than_the_timeout_is_unavailable(api):
    api.delay = 1.0
    api.body = success({"resultType": "vector", "result": []})
    started = time.monotonic()
    with pytest.raises(
        BackendUnavailable,
        match=r"no answer from http://127\.0\.0\.1:\d+/api/v1/query within 0\.5 s",
    ):
        instant_query("up", 1_700_000_000_000)
    assert time.monotonic() - started < 0.95  # not retried on a read timeout


def test_a_backend_that_is_not_listening_is_unavailable(settings):
    settings.METRICS_BACKEND = "prometheus"
    settings.METRICS_QUERY_URL = f"http://127.0.0.1:{free_port()}"
    refused = r"cannot reach http://127\.0\.0\.1:\d+/api/v1/query: .*Connection refused"
    with pytest.raises(BackendUnavailable, match=refused):
        instant_query("up", 1_700_000_000_000)


def test_remote_write_is_snappy_protobuf_and_a_4xx_is_the_senders_fault(api):
    api.status, api.body = 204, b""
    backend = remote()
    assert backend is not None
    requests = backend.write([({"__name__": "x", "a": "1"}, [1, 2, 3], [1.0, 2.0, 3.0])])
    assert requests == 1
    sent = api.requests[0]
    assert sent["path"] == "/api/v1/write"
    assert sent["headers"]["Content-Encoding"] == "snappy"
    assert sent["headers"]["X-Prometheus-Remote-Write-Version"] == "0.1.0"
    api.status, api.body = 400, b"out of order sample"
    with pytest.raises(BackendRejectedWrite, match=r"HTTP 400\): out of order sample"):
        backend.write([({"__name__": "x"}, [1], [1.0])])
    api.status = 429
    with pytest.raises(BackendUnavailable, match="HTTP 429"):
        backend.write([({"__name__": "x"}, [1], [1.0])])


def test_writes_are_split_into_requests_of_the_configured_size(api, settings):
    settings.METRICS_REMOTE_WRITE_MAX_SAMPLES_PER_SEND = 4
    api.status = 204
    backend = remote()
    assert backend is not None
    sent = backend.write(
        [({"__name__": "x", "a": str(i)}, list(range(3)), [1.0, 2.0, 3.0]) for i in range(3)]
    )
    assert sent == 3  # 9 samples in requests of at most 4


def test_header_setting_syntax():
    assert parse_headers("X-Scope-OrgID=a=b; Y=") == {"X-Scope-OrgID": "a=b", "Y": ""}
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="is not Name=value"):
        parse_headers("X-Scope-OrgID")


def test_requests_to_the_backend_are_counted_by_outcome(api):
    from prometheus_client import REGISTRY

    def count(outcome: str) -> float:
        value = REGISTRY.get_sample_value(
            "coe_portal_metrics_backend_request_seconds_count",
            {"kind": "query", "outcome": outcome},
        )
        return value or 0.0

    before_ok, before_bad = count("2xx"), count("5xx")
    api.body = success({"resultType": "vector", "result": []})
    instant_query("up", 1_700_000_000_000)
    api.status = 503
    with pytest.raises(BackendUnavailable):
        instant_query("up", 1_700_000_000_000)
    assert (count("2xx") - before_ok, count("5xx") - before_bad) == (1, 1)
