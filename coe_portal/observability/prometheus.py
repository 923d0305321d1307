"""The portal's own Prometheus metrics and the `/metrics` exposition.

With PROMETHEUS_MULTIPROC_DIR set (gunicorn with several workers, Celery's prefork pool), every
process writes its values to files there and `/metrics` adds them up; the variable has to be set
before prometheus_client is first imported, which gunicorn's config and the Makefile do.
"""

from __future__ import annotations

import os
import struct
import time

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

HTTP_REQUESTS = Counter(
    "coe_portal_http_requests_total",
    "HTTP requests answered, by view, method and status code.",
    ["view", "method", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "coe_portal_http_request_duration_seconds",
    "Time from request to response, by view and method.",
    ["view", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
CELERY_TASKS = Counter(
    "coe_portal_celery_tasks_total",
    "Celery tasks run to an end, by task name and final state.",
    ["task", "state"],
)


# Collectors that read the database when scraped (the same figures from every process), added
# by the apps: see `register_store_collector`.
STORE_COLLECTORS: list[Collector] = []


def register_store_collector(collector: Collector) -> None:
    if collector not in STORE_COLLECTORS:
        STORE_COLLECTORS.append(collector)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition(accept: str) -> tuple[bytes, str]:
    """Every metric, summed over processes in multiprocess mode, in the format the scraper
    asks for: OpenMetrics or text 1.0.0 when its Accept header says so, else text 0.0.4."""
    encoder, content_type = choose_encoder(accept)
    if multiprocess_dir():
        registry = multiprocess_registry()
    else:
        registry = CollectorRegistry()
        registry.register(REGISTRY)  # a registry is a collector too
    for collector in STORE_COLLECTORS:
        registry.register(collector)
    return encoder(registry), content_type


def multiprocess_registry(path: str | None = None, attempts: int = 5) -> CollectorRegistry:
    """A registry summing every process's files, read once up front.

    A process creates its file empty and sizes it a moment later; a reader that lands in that
    moment gets `struct.error` from prometheus_client. Reading again shortly after succeeds.
    """
    for attempt in range(attempts):
        collector = multiprocess.MultiProcessCollector(None, path=path)
        try:
            families = list(collector.collect())
        except struct.error:
            if attempt == attempts - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
            continue
        registry = CollectorRegistry()
        registry.register(_Collected(families))
        return registry
    raise AssertionError("unreachable")


class _Collected:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def mark_process_dead(pid: int) -> None:
    """Drop a finished process's live gauges (counters and histograms stay summed)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)
