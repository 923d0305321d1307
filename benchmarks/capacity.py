"""Where intake throughput stops rising: remote write with 1, 2, 4 and 8 concurrent clients, the
bulkhead out of the way, so the ingest bulkhead's slots (`INGEST_MAX_CONCURRENCY`) can be set
from a measurement instead of a guess.

More concurrent writers than the store can use add latency, not samples per second; the knee
is the fewest clients that reach 90 % of the best throughput, and the slots a process needs are
that knee over the web processes. `python -m benchmarks.capacity` runs it alone.
"""

from __future__ import annotations

import math
import time

from benchmarks.common import Figure, percentile_ms
from benchmarks.ingest import REMOTE_WRITE_HEADERS, remote_write_accepted, warm_then_time
from benchmarks.payloads import (
    SAMPLES_PER_SERIES,
    SERIES_PER_REQUEST,
    remote_write_bodies,
    start_ms,
)
from benchmarks.session import WEB_CONCURRENCY, Session, open_session

CLIENT_COUNTS = (1, 2, 4, 8)
SECONDS = 6.0
REQUESTS_PER_CLIENT = 40
KNEE = 0.9


def _step(session: Session, clients: int, first_client: int) -> tuple[float, float, str]:
    first = start_ms(int(time.time() * 1000), REQUESTS_PER_CLIENT + 1)
    bodies = [
        remote_write_bodies(first_client + n, REQUESTS_PER_CLIENT + 1, first)
        for n in range(clients)
    ]
    _, timed = warm_then_time(
        session, path="/api/v1/write", content_headers=REMOTE_WRITE_HEADERS, bodies=bodies,
        accepted=remote_write_accepted, seconds=SECONDS,
    )  # fmt: skip
    rate = timed.accepted * SERIES_PER_REQUEST * SAMPLES_PER_SERIES / timed.elapsed_s
    refused = f", refused: {timed.refusals()}" if timed.refused else ""
    return rate, percentile_ms(timed.latencies_s, 95), refused


def intake_capacity(session: Session) -> list[Figure]:
    figures, rates = [], {}
    for step, clients in enumerate(CLIENT_COUNTS):
        # Series of their own per step, so each step's samples are new, in time order.
        rate, p95, refused = _step(session, clients, first_client=1000 + 100 * step)
        rates[clients] = rate
        figures.append(
            Figure(
                f"capacity.remote_write.clients_{clients}",
                rate,
                "samples/s",
                f"p95 {p95:.0f} ms, {SERIES_PER_REQUEST} series x {SAMPLES_PER_SERIES} samples a "
                f"request, {SECONDS:.0f} s{refused}",
            )
        )
    best = max(rates.values())
    knee = min(clients for clients, rate in rates.items() if rate >= KNEE * best)
    slots = math.ceil(knee / WEB_CONCURRENCY)
    figures.append(
        Figure(
            "capacity.knee",
            knee,
            "clients",
            f"fewest clients reaching {KNEE:.0%} of the best {best:,.0f} samples/s; over "
            f"{WEB_CONCURRENCY} web processes: {slots} ingest slot(s) a process "
            "(INGEST_MAX_CONCURRENCY)",
        )
    )
    return figures


def main() -> int:
    with open_session() as session:
        for figure in intake_capacity(session):
            print(figure.line(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
