"""Synthetic samples shaped like the PromLabs demo service, scraped every 5 s.

The compliance suite's queries were written against three instances of
julius/prometheus-demo-service scraped by job `demo`; this builds their series (counters with
restarts, gauges, cumulative histograms, a batch job's timestamps, a metric that comes and goes
with stale markers) from a fixed seed, so a run is repeatable up to where in time it lies.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from metrics.storage.encoding import STALE_NAN

SCRAPE_MS = 5_000
MINUTE = 60_000
INSTANCES = ("demo.promlabs.com:10000", "demo.promlabs.com:10001", "demo.promlabs.com:10002")
# Where in the 5 s interval each target is scraped, as Prometheus spreads its targets.
SCRAPE_OFFSETS_MS = (317, 1_822, 3_411)
NUM_CPUS = (4, 8, 4)
CPU_MODES = {"idle": 0.7, "user": 0.2, "system": 0.1}
MEMORY_TYPES = ("buffers", "cached", "free", "used")
MEMORY_TOTAL = 8 * 2**30
DISK_TOTAL = 100 * 10**9
API_ROUTES = (
    ("GET", "/api/foo", "200"),
    ("GET", "/api/foo", "500"),
    ("POST", "/api/foo", "200"),
    ("GET", "/api/bar", "200"),
    ("GET", "/api/nonexistent", "404"),
)
BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf")

Dataset = list[tuple[dict[str, str], list[tuple[int, float]]]]


@dataclass(frozen=True)
class Restart:
    """A process restart of one instance at a scrape index: its counters start from zero."""

    instance: int
    scrape: int


def build_dataset(start_ms: int, minutes: int, restarts: tuple[Restart, ...]) -> Dataset:
    rng = random.Random(20261204)
    scrapes = minutes * MINUTE // SCRAPE_MS
    dataset: Dataset = []

    for index, instance in enumerate(INSTANCES):
        times = [
            start_ms + SCRAPE_OFFSETS_MS[index] + k * SCRAPE_MS + rng.randint(-3, 3)
            for k in range(scrapes)
        ]
        restarted_at = {r.scrape for r in restarts if r.instance == index}
        base = {"instance": instance, "job": "demo"}

        def series(name: str, points: list[tuple[int, float]], /, **labels: str) -> None:
            dataset.append(({"__name__": name, **base, **labels}, points))  # noqa: B023

        def counter(rate_per_s: float, noise: float) -> list[tuple[int, float]]:
            value, points = 0.0, []
            for k, t in enumerate(times):  # noqa: B023
                if k in restarted_at:  # noqa: B023
                    value = 0.0
                value += max(0.0, rng.gauss(rate_per_s, rate_per_s * noise)) * SCRAPE_MS / 1000
                points.append((t, round(value, 3)))
            return points

        series("up", [(t, 1.0) for t in times])
        series("demo_num_cpus", [(t, float(NUM_CPUS[index])) for t in times])
        for mode, share in CPU_MODES.items():
            series("demo_cpu_usage_seconds_total", counter(NUM_CPUS[index] * share, 0.2), mode=mode)
        series("demo_items_shipped_total", counter(3.5 + index, 0.5))

        memory = {"buffers": 0.05, "cached": 0.25, "free": 0.3, "used": 0.4}
        memory_points: dict[str, list[tuple[int, float]]] = {kind: [] for kind in MEMORY_TYPES}
        for t in times:
            for kind in ("buffers", "cached", "used"):
                memory[kind] = min(0.6, max(0.01, memory[kind] + rng.gauss(0, 0.004)))
            memory["free"] = max(0.0, 1 - memory["buffers"] - memory["cached"] - memory["used"])
            for kind in MEMORY_TYPES:
                memory_points[kind].append((t, float(int(memory[kind] * MEMORY_TOTAL))))
        for kind in MEMORY_TYPES:
            series("demo_memory_usage_bytes", memory_points[kind], type=kind)

        used = DISK_TOTAL * (0.3 + 0.1 * index)
        disk = []
        for t in times:
            used += rng.gauss(20_000 * (index + 1), 50_000)
            disk.append((t, float(int(used))))
        series("demo_disk_usage_bytes", disk)
        series("demo_disk_total_bytes", [(t, float(DISK_TOTAL)) for t in times])

        # A batch job every 2 minutes that fails now and then: the last success stays put.
        last_run = last_success = (times[0] - 30_000) / 1000
        duration = processed = 0.0
        run_points, success_points, duration_points, processed_points = [], [], [], []
        for t in times:
            if t / 1000 - last_run >= 120:
                last_run = round(t / 1000 - rng.uniform(0, 4), 3)
                duration = round(rng.uniform(20, 40), 3)
                processed = float(rng.randint(10**6, 10**8))
                if rng.random() > 0.2:
                    last_success = last_run
            run_points.append((t, last_run))
            success_points.append((t, last_success))
            duration_points.append((t, duration))
            processed_points.append((t, processed))
        series("demo_batch_last_run_timestamp_seconds", run_points)
        series("demo_batch_last_success_timestamp_seconds", success_points)
        series("demo_batch_last_run_duration_seconds", duration_points)
        series("demo_batch_last_run_processed_bytes", processed_points)

        # Exposed for about two minutes out of five; a stale marker when it goes away.
        intermittent, present = [], True
        for k, t in enumerate(times):
            now_present = (k + 7 * index) % 60 < 25
            if now_present:
                intermittent.append((t, float(rng.randint(0, 10))))
            elif present:
                intermittent.append((t, STALE_NAN))
            present = now_present
        series("demo_intermittent_metric", intermittent)

        for method, path, status in API_ROUTES:
            labels = {"method": method, "path": path, "status": status}
            counts = [0.0] * len(BUCKETS)
            total = 0.0
            buckets: list[list[tuple[int, float]]] = [[] for _ in BUCKETS]
            sums, count_points = [], []
            scale = 0.02 if status == "200" else 0.3
            for k, t in enumerate(times):
                if k in restarted_at:
                    counts, total = [0.0] * len(BUCKETS), 0.0
                for _ in range(rng.randint(0, 12 if status == "200" else 3)):
                    latency = rng.lognormvariate(0, 1) * scale
                    total += latency
                    for b, bound in enumerate(BUCKETS):
                        if bound == "+Inf" or latency <= float(bound):
                            counts[b] += 1
                for b in range(len(BUCKETS)):
                    buckets[b].append((t, counts[b]))
                sums.append((t, round(total, 6)))
                count_points.append((t, counts[-1]))
            for bound, points in zip(BUCKETS, buckets, strict=True):
                series("demo_api_request_duration_seconds_bucket", points, **labels, le=bound)
            series("demo_api_request_duration_seconds_sum", sums, **labels)
            series("demo_api_request_duration_seconds_count", count_points, **labels)
    return dataset
