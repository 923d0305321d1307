"""Intake throughput, end to end: HTTP request to committed samples, as a sender sees it."""

from __future__ import annotations

import time
from collections.abc import Callable

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)

from benchmarks.common import Figure, percentile_ms
from benchmarks.load import Accepted, LoadResult, send_all
from benchmarks.payloads import (
    SAMPLES_PER_SERIES,
    SERIES_PER_REQUEST,
    otlp_bodies,
    remote_write_bodies,
    start_ms,
)
from benchmarks.session import Session

CLIENTS = 8
# Enough bodies to keep the target rate for the whole window; the deadline usually ends it first.
REQUESTS_PER_CLIENT = 60
SECONDS = 15.0
REMOTE_WRITE_TARGET = 150_000

BodyBuilder = Callable[[int, int, int], list[bytes]]
REMOTE_WRITE_HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}


def warm_then_time(
    session: Session,
    *,
    path: str,
    content_headers: dict[str, str],
    bodies: list[list[bytes]],
    accepted: Accepted,
    seconds: float,
) -> tuple[LoadResult, LoadResult]:
    """Each client's first body (it creates the client's series) untimed, then the rest for
    `seconds`: the steady state, appending. Returns the warm-up's and the timed part's results."""
    headers = {"Authorization": f"Bearer {session.token}", **content_headers}
    common = {"host": session.host, "port": session.port, "path": path, "headers": headers}
    warm_up = send_all(
        **common, bodies_per_client=[b[:1] for b in bodies], accepted=accepted, seconds=120
    )
    timed = send_all(
        **common, bodies_per_client=[b[1:] for b in bodies], accepted=accepted, seconds=seconds
    )
    return warm_up, timed


def remote_write_accepted(status: int, _answer: bytes) -> bool:
    return status == 204


def build_bodies(builder: BodyBuilder, clients: int, requests: int) -> list[list[bytes]]:
    first = start_ms(int(time.time() * 1000), requests)
    return [builder(client, requests, first) for client in range(clients)]


def measure_intake(
    session: Session,
    *,
    name: str,
    path: str,
    content_headers: dict[str, str],
    builder: BodyBuilder,
    accepted: Accepted,
    unit: str,
    target: int | None = None,
) -> list[Figure]:
    bodies = build_bodies(builder, CLIENTS, REQUESTS_PER_CLIENT + 1)
    warm_up, timed = warm_then_time(
        session, path=path, content_headers=content_headers, bodies=bodies, accepted=accepted,
        seconds=SECONDS,
    )  # fmt: skip
    per_request = SERIES_PER_REQUEST * SAMPLES_PER_SERIES
    rate = timed.accepted * per_request / timed.elapsed_s if timed.elapsed_s else 0.0
    sent = len(timed.latencies_s)
    shape = f"{SERIES_PER_REQUEST} series x {SAMPLES_PER_SERIES} {unit}/request"
    refused = f", refused: {timed.refusals()}" if timed.refused else ""
    warm_refused = f", warm-up refused: {warm_up.refusals()}" if warm_up.refused else ""
    goal = f", target >= {target}" if target else ""
    return [
        Figure(
            f"{name}.throughput",
            rate,
            f"{unit}/s",
            f"{timed.accepted}/{sent} requests accepted in {timed.elapsed_s:.1f} s, {shape}, "
            f"{CLIENTS} clients{goal}{refused}{warm_refused}",
        ),
        Figure(
            f"{name}.latency_p50", percentile_ms(timed.latencies_s, 50), "ms", f"{sent} requests"
        ),
        Figure(
            f"{name}.latency_p95", percentile_ms(timed.latencies_s, 95), "ms", f"{sent} requests"
        ),
    ]


def remote_write_throughput(session: Session) -> list[Figure]:
    return measure_intake(
        session,
        name="remote_write",
        path="/api/v1/write",
        content_headers=REMOTE_WRITE_HEADERS,
        builder=remote_write_bodies,
        accepted=remote_write_accepted,
        unit="samples",
        target=REMOTE_WRITE_TARGET,
    )


def _otlp_accepted(status: int, answer: bytes) -> bool:
    if status != 200:
        return False
    response = ExportMetricsServiceResponse.FromString(answer)
    return response.partial_success.rejected_data_points == 0


def otlp_throughput(session: Session) -> list[Figure]:
    return measure_intake(
        session,
        name="otlp",
        path="/v1/metrics",
        content_headers={"Content-Type": "application/x-protobuf"},
        builder=otlp_bodies,
        accepted=_otlp_accepted,
        unit="points",
    )
