"""The portal as it runs for real: gunicorn with several workers, and a Celery worker on Redis."""

from __future__ import annotations

import os
import signal
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from celery import Celery
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client.parser import text_string_to_metric_families

from coe_portal.observability.prometheus import multiprocess_registry
from tests.support import BIN, free_port, process_env, require_redis, running, wait_for_http

pytestmark = pytest.mark.integration


class OtlpTraceReceiver(ThreadingHTTPServer):
    """A minimal OTLP/HTTP collector: keeps every ExportTraceServiceRequest it is sent."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/v1/traces":
                    receiver.requests.append(ExportTraceServiceRequest.FromString(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def spans(self) -> list[tuple[str, str]]:
        """(service.name, span name) of every span received."""
        found = []
        for request in self.requests:
            for resource_spans in request.resource_spans:
                attributes = {
                    a.key: a.value.string_value for a in resource_spans.resource.attributes
                }
                for scope_spans in resource_spans.scope_spans:
                    found += [(attributes["service.name"], s.name) for s in scope_spans.spans]
        return found


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpTraceReceiver]:
    receiver = OtlpTraceReceiver()
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.shutdown()
    receiver.server_close()


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def wait_until_gone(pids: list[int], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    for pid in pids:
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            assert time.monotonic() < deadline, f"process {pid} did not stop"
            time.sleep(0.1)


def sample_total(text: str, name: str, labels: dict[str, str]) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_gunicorn_workers_share_metrics_and_export_traces(tmp_path, otlp_receiver):
    port = free_port()
    metrics_dir = tmp_path / "prometheus"
    env = process_env(
        tmp_path,
        PORT=str(port),
        WEB_CONCURRENCY="2",
        WEB_THREADS="1",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{otlp_receiver.server_port}",
        OTEL_SERVICE_NAME="coe-portal-under-test",
        OTEL_BSP_SCHEDULE_DELAY="200",
    )
    command = [str(BIN / "gunicorn"), "coe_portal.wsgi", "--config", "coe_portal/gunicorn_conf.py"]
    base = f"http://127.0.0.1:{port}"
    with running(command, env, tmp_path / "gunicorn.log"):
        # Not /healthz: on a busy machine the first answer can outlast the poll's timeout, and
        # the poll's retry would be one more /healthz request than the 40 counted below.
        wait_for_http(f"{base}/metrics")
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda _: fetch(f"{base}/healthz"), range(40)))
        fetch(f"{base}/login/")

        # Stop every worker that served a request: the scrape then comes from another process,
        # which must still report all 40 requests.
        served_by = [int(path.stem.split("_")[1]) for path in metrics_dir.glob("counter_*.db")]
        assert served_by
        for pid in served_by:
            os.kill(pid, signal.SIGTERM)
        wait_until_gone(served_by)
        wait_for_http(f"{base}/metrics")
        metrics = fetch(f"{base}/metrics")
        labels = {"view": "healthz", "method": "GET", "status": "200"}
        assert sample_total(metrics, "coe_portal_http_requests_total", labels) == 40

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not otlp_receiver.spans():
            time.sleep(0.2)
    spans = otlp_receiver.spans()
    assert ("coe-portal-under-test", "GET login/") in spans
    # Probes are excluded from tracing: they would drown everything else.
    assert not [name for _, name in spans if "healthz" in name]


def test_a_real_worker_on_redis_answers_ping_and_counts_the_task(tmp_path):
    redis_url = require_redis()
    queue = f"test-{uuid.uuid4().hex[:8]}"
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = process_env(
        tmp_path,
        CELERY_BROKER_URL=redis_url,
        CELERY_RESULT_BACKEND=redis_url,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    command = [
        str(BIN / "celery"), "--app", "coe_portal", "worker", "--loglevel", "INFO",
        "--concurrency", "1", "--queues", queue, "--hostname", f"{queue}@%h",
    ]  # fmt: skip
    client = Celery("test-client", broker=redis_url, backend=redis_url)
    with running(command, env, tmp_path / "worker.log"):
        result = client.send_task("coe_portal.ping", queue=queue)
        assert result.get(timeout=60) == "pong"

        labels = {"task": "coe_portal.ping", "state": "SUCCESS"}
        deadline = time.monotonic() + 10
        while (
            multiprocess_registry(str(metrics_dir)).get_sample_value(
                "coe_portal_celery_tasks_total", labels
            )
            != 1.0
        ):
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.2)
    client.close()
