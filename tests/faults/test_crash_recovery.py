"""Nothing acknowledged is lost across crashes: a portal under gunicorn (two workers, on its own
cluster) takes a steady stream of remote writes and OTLP trace exports, sent once each as a
client without retries would, while one worker is killed with SIGKILL, PostgreSQL restarts, and
PostgreSQL is down for a few seconds. Afterwards every sample and span that got a 2xx is in the
store, every other answer was a 503 with Retry-After (or a connection cut while the worker
died), and the portal serves again without a restart."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import psycopg
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.faults.cluster import Cluster, Portal, portal_on
from tests.metrics.helpers import snappy, write_request

SERIES = 300
WRITES_PER_SECOND = 12
EXPORTS_PER_SECOND = 4
SPANS_PER_EXPORT = 20
DATABASE = "coe_crash"
# Seconds into the stream at which each fault happens.
KILL_WORKER_AT = 4.0
RESTART_AT = 10.0
STOP_AT = 17.0
DOWN_FOR = 4.0
STREAM_SECONDS = 30.0
# A connection cut counts as the killed worker's if it ended after the kill and the request
# went out no later than this after it.
CUT_WINDOW = 3.0

pytestmark = pytest.mark.integration


@dataclass
class Outcome:
    sent_at: float  # seconds into the stream
    done_at: float
    status: int | None  # None: no answer (the connection was cut)
    retry_after: str | None = None
    error: str = ""


@dataclass
class Stream:
    """One sender, one request at a time at a fixed rate, never retrying."""

    name: str
    per_second: float
    outcomes: list[Outcome] = field(default_factory=list)
    acknowledged: list[int] = field(default_factory=list)  # sequence numbers answered 2xx

    def run(
        self, portal: Portal, started: float, stop: threading.Event,
        request: Callable[[int], tuple[str, bytes, dict[str, str]]],
    ) -> None:  # fmt: skip
        sequence = 0
        while not stop.is_set():
            due = started + sequence / self.per_second
            time.sleep(max(0.0, due - time.monotonic()))
            path, body, headers = request(sequence)
            outcome = send(portal, path, body, headers, started)
            self.outcomes.append(outcome)
            if outcome.status is not None and 200 <= outcome.status < 300:
                self.acknowledged.append(sequence)
            sequence += 1


def send(
    portal: Portal, path: str, body: bytes, headers: dict[str, str], started: float
) -> Outcome:
    sent_at = time.monotonic() - started
    conn = http.client.HTTPConnection("127.0.0.1", portal.port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        status, retry_after, error = response.status, response.getheader("Retry-After"), ""
    except (OSError, http.client.HTTPException) as exc:
        status, retry_after, error = None, None, type(exc).__name__
    finally:
        conn.close()
    return Outcome(sent_at, time.monotonic() - started, status, retry_after, error)


@pytest.fixture
def portal(cluster: Cluster, tmp_path) -> Iterator[Portal]:
    with portal_on(cluster, tmp_path, DATABASE) as running:
        yield running


def test_no_acknowledged_sample_or_span_is_lost_across_crashes(portal, cluster, capsys):
    started_test = time.monotonic()
    auth = {"Authorization": f"Bearer {portal.token}"}
    base_ms = int(time.time() * 1000) - 60_000
    trace_ids: dict[int, str] = {}
    span_ids: dict[int, list[str]] = {}

    def remote_write(sequence: int) -> tuple[str, bytes, dict[str, str]]:
        # Sample `sequence` of every series, valued by its sequence number.
        series = [
            ({"__name__": "crash_test_value", "series": str(index)},
             [(base_ms + sequence * 100, float(sequence))])
            for index in range(SERIES)
        ]  # fmt: skip
        return "/api/v1/write", snappy(write_request(series)), {
            **auth, "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
        }  # fmt: skip

    def trace_export(sequence: int) -> tuple[str, bytes, dict[str, str]]:
        export = ExportTraceServiceRequest()
        resource = export.resource_spans.add()
        resource.resource.attributes.add(key="service.name").value.string_value = "crash-test"
        spans = resource.scope_spans.add()
        trace_ids[sequence] = secrets.token_hex(16)
        span_ids[sequence] = [secrets.token_hex(8) for _ in range(SPANS_PER_EXPORT)]
        start_ns = time.time_ns()
        for span_id in span_ids[sequence]:
            span = spans.spans.add(name="GET /crash", kind=2)
            span.trace_id = bytes.fromhex(trace_ids[sequence])
            span.span_id = bytes.fromhex(span_id)
            span.start_time_unix_nano = start_ns
            span.end_time_unix_nano = start_ns + 5_000_000
        return "/v1/traces", export.SerializeToString(), {
            **auth, "Content-Type": "application/x-protobuf",
        }  # fmt: skip

    writes = Stream("remote write", WRITES_PER_SECOND)
    exports = Stream("OTLP traces", EXPORTS_PER_SECOND)
    stop = threading.Event()
    started = time.monotonic()
    senders = [
        threading.Thread(target=writes.run, args=(portal, started, stop, remote_write)),
        threading.Thread(target=exports.run, args=(portal, started, stop, trace_export)),
    ]
    for sender in senders:
        sender.start()

    def at(seconds: float) -> None:
        time.sleep(max(0.0, started + seconds - time.monotonic()))

    try:
        at(KILL_WORKER_AT)
        killed = portal.worker_pids()[0]
        killed_at = time.monotonic() - started
        os.kill(killed, signal.SIGKILL)
        at(RESTART_AT)
        cluster.restart()
        at(STOP_AT)
        cluster.stop()
        time.sleep(DOWN_FOR)
        cluster.start()
        back_at = time.monotonic() - started
        at(STREAM_SECONDS)
    finally:
        stop.set()
        for sender in senders:
            sender.join(timeout=60)
        if not _running(cluster):
            cluster.start()  # the next test finds the shared cluster up

    # Every answer other than a 2xx is a 503 asking to retry, or the killed worker's cut.
    for stream in (writes, exports):
        for outcome in stream.outcomes:
            if outcome.status is None:  # in flight at the kill, or sent just after it
                assert outcome.done_at >= killed_at, (stream.name, outcome)
                assert outcome.sent_at <= killed_at + CUT_WINDOW, (stream.name, outcome)
            elif not 200 <= outcome.status < 300:
                assert (outcome.status, outcome.retry_after) == (503, "5"), (stream.name, outcome)

    # The portal recovered by itself: the last seconds of both streams were all stored.
    for stream in (writes, exports):
        last = [o for o in stream.outcomes if o.sent_at > back_at + 3.0]
        assert last, stream.name
        assert {o.status for o in last} == {204 if stream is writes else 200}, stream.name
    assert killed not in portal.worker_pids()
    assert len(portal.worker_pids()) == 2

    # 0 of the acknowledged samples and spans are missing, read back through the query API.
    stored = stored_samples(portal, time.time())
    assert set(stored) == {str(index) for index in range(SERIES)}
    missing_samples = sum(
        len(set(map(float, writes.acknowledged)) - values) for values in stored.values()
    )
    stored_spans = stored_span_ids(cluster, [trace_ids[s] for s in exports.acknowledged])
    missing_spans = sum(
        len(set(span_ids[sequence]) - stored_spans) for sequence in exports.acknowledged
    )

    with capsys.disabled():
        for stream, unit in ((writes, SERIES), (exports, SPANS_PER_EXPORT)):
            answers = Counter(str(o.status or o.error) for o in stream.outcomes)
            print(
                f"\n{stream.name}: {len(stream.outcomes)} requests, answers {dict(answers)}, "
                f"{len(stream.acknowledged) * unit} items acknowledged"
            )
        print(
            f"missing: {missing_samples} samples, {missing_spans} spans; "
            f"worker {killed} killed at {killed_at:.1f}s, PostgreSQL restarted at {RESTART_AT}s, "
            f"down {STOP_AT}-{back_at:.1f}s; test took {time.monotonic() - started_test:.1f}s"
        )
    assert (missing_samples, missing_spans) == (0, 0)
    assert sum(1 for o in writes.outcomes if o.status == 503) > 0  # the outage was seen


def _running(cluster: Cluster) -> bool:
    try:
        psycopg.connect(cluster.url(), connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


def stored_samples(portal: Portal, at: float) -> dict[str, set[float]]:
    query = urllib.parse.urlencode({"query": "crash_test_value[10m]", "time": f"{at:.3f}"})
    conn = http.client.HTTPConnection("127.0.0.1", portal.port, timeout=60)
    try:
        conn.request("GET", f"/api/v1/query?{query}", headers={
            "Authorization": f"Bearer {portal.token}",
        })  # fmt: skip
        response = conn.getresponse()
        body = json.loads(response.read())
    finally:
        conn.close()
    assert response.status == 200, body
    return {
        item["metric"]["series"]: {float(value) for _, value in item["values"]}
        for item in body["data"]["result"]
    }


def stored_span_ids(cluster: Cluster, trace_ids: list[str]) -> set[str]:
    with psycopg.connect(cluster.url(DATABASE)) as conn:
        rows = conn.execute(
            "SELECT span_id FROM metrics_span WHERE trace_id = ANY(%s)", [trace_ids]
        ).fetchall()
    return {row[0] for row in rows}
