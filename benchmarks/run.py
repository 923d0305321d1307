"""`make bench`: the environment, then every benchmark in BENCHMARKS, one figure a line.

A benchmark is a function `(session) -> list[Figure]`; they share one portal and run in order,
so a later one (queries, say) finds the data the ingest benchmarks stored.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from benchmarks.backend import backend_victoriametrics
from benchmarks.capacity import intake_capacity
from benchmarks.common import Figure, environment, server_url
from benchmarks.evaluation import evaluation_pass
from benchmarks.ingest import otlp_throughput, remote_write_throughput
from benchmarks.query import query_latency
from benchmarks.reminders import reminder_pass_100k
from benchmarks.session import Session, open_session
from benchmarks.storage import bytes_per_sample
from benchmarks.traces import trace_fetch_1000, trace_intake, trace_search_5m

Benchmark = Callable[[Session], list[Figure]]

BENCHMARKS: list[Benchmark] = [
    remote_write_throughput,
    otlp_throughput,
    # Measures what the benchmarks above stored: keep it after them.
    bytes_per_sample,
    # Reads its own data, loaded and compacted before timing; after the rest, so the store is
    # not empty around it.
    query_latency,
    # Its own services, SLOs and alarms; the demo SLOs are disabled during its passes only.
    evaluation_pass,
    # Spans, and their span metrics: after the metrics benchmarks, so their figures stay as
    # they were. The bytes per span it prints count only what its intake stored.
    trace_intake,
    trace_fetch_1000,
    # 100 000 action items of its own, deleted afterwards; after the rest, so no other
    # benchmark sees them.
    reminder_pass_100k,
    # Where remote-write throughput stops rising with more clients (sets the bulkhead's slots).
    intake_capacity,
    # A portal of its own on VictoriaMetrics (METRICS_BACKEND=prometheus): forwarding, the
    # evaluation pass and the explorer, each next to VictoriaMetrics alone.
    backend_victoriametrics,
    # Tops the spans table up to 5 000 000 spans (about a minute, removed afterwards): last.
    trace_search_5m,
]


def main() -> int:
    began = time.perf_counter()
    for figure in environment(server_url()):
        print(figure.line(), flush=True)
    with open_session() as session:
        for benchmark in BENCHMARKS:
            for figure in benchmark(session):
                print(figure.line(), flush=True)
    print(Figure("run.duration", time.perf_counter() - began, "s").line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
