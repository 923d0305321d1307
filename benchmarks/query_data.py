"""The data the query benchmarks read: a week of request counters and a day of a latency
histogram at one-minute resolution, as remote-write bodies (the same bytes go to the portal and
to Prometheus, so both hold exactly the same samples).

Values look like real traffic: counters grow by Poisson increments and restart (reset to zero)
once a week; histogram buckets are cumulative in `le` and in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import cramjam
import numpy as np

from metrics.ingest.remote_write_proto import WriteRequest

MINUTE_MS = 60_000
DAY_MS = 24 * 60 * MINUTE_MS
COUNTER_DAYS = 7
HISTOGRAM_DAYS = 1
SERVICES = ("checkout", "catalog", "payments", "search")
CODES = ("200", "201", "404", "500", "503")
HANDLERS = ("/api/a", "/api/b", "/api/c", "/api/d")  # 5 codes x 4 handlers = 20 per service
BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf")
# Fewer minutes per body keeps each under ~100k samples even where both metrics overlap.
MINUTES_PER_BODY = 800


@dataclass(frozen=True)
class SeriesData:
    labels: dict[str, str]  # with __name__
    timestamps: np.ndarray  # int64 ms
    values: np.ndarray  # float64


def minutes(end_ms: int, days: int) -> np.ndarray:
    """One timestamp a minute, the last at end_ms, spanning `days` (the first just after)."""
    count = days * DAY_MS // MINUTE_MS
    return end_ms - MINUTE_MS * np.arange(count - 1, -1, -1, dtype=np.int64)


def counters(end_ms: int) -> list[SeriesData]:
    rng = np.random.default_rng(7)
    times = minutes(end_ms, COUNTER_DAYS)
    out = []
    for service in SERVICES:
        for code in CODES:
            per_minute = {"200": 600.0, "201": 60.0, "404": 12.0, "500": 3.0, "503": 0.5}[code]
            for handler in HANDLERS:
                increments = rng.poisson(per_minute, size=len(times)).astype(np.float64)
                # A restart: the counter starts again from zero.
                restart = int(rng.integers(1, len(times)))
                values = np.cumsum(increments)
                values[restart:] -= values[restart - 1]
                labels = {
                    "__name__": "x_requests_total",
                    "service": service,
                    "code": code,
                    "handler": handler,
                }
                out.append(SeriesData(labels, times, values))
    return out


def histogram(end_ms: int) -> list[SeriesData]:
    rng = np.random.default_rng(11)
    times = minutes(end_ms, HISTOGRAM_DAYS)
    bounds = np.array([float(le) for le in BUCKETS[:-1]])
    out = []
    for index, service in enumerate(SERVICES):
        # Log-normal latencies, a different median per service: share of observations per bucket.
        cdf = _lognormal_cdf(bounds, median=0.04 * (index + 1), sigma=0.9)
        shares = np.diff(np.concatenate(([0.0], cdf, [1.0])))
        observed = rng.poisson(300.0, size=len(times))
        per_bucket = np.array([rng.multinomial(n, shares) for n in observed], dtype=np.float64)
        cumulative = np.cumsum(np.cumsum(per_bucket, axis=1), axis=0)  # in le, then in time
        for bucket, le in enumerate(BUCKETS):
            labels = {"__name__": "x_duration_seconds_bucket", "service": service, "le": le}
            out.append(SeriesData(labels, times, cumulative[:, bucket]))
    return out


def _lognormal_cdf(x: np.ndarray, *, median: float, sigma: float) -> np.ndarray:
    from math import erf, log, sqrt

    return np.array([0.5 * (1 + erf((log(v) - log(median)) / (sigma * sqrt(2)))) for v in x])


def dataset(end_ms: int) -> list[SeriesData]:
    return counters(end_ms) + histogram(end_ms)


def remote_write_bodies(series: list[SeriesData]) -> list[bytes]:
    """Snappy-compressed WriteRequests in time order, each MINUTES_PER_BODY of every series."""
    first = min(int(s.timestamps[0]) for s in series)
    last = max(int(s.timestamps[-1]) for s in series)
    span = MINUTES_PER_BODY * MINUTE_MS
    bodies = []
    for window_start in range(first, last + 1, span):
        request = WriteRequest()
        for data in series:
            lo, hi = np.searchsorted(data.timestamps, [window_start, window_start + span])
            if lo == hi:
                continue
            timeseries = request.timeseries.add()
            for name, value in sorted(data.labels.items()):
                timeseries.labels.add(name=name, value=value)
            for timestamp, value in zip(
                data.timestamps[lo:hi].tolist(), data.values[lo:hi].tolist(), strict=True
            ):
                timeseries.samples.add(timestamp=timestamp, value=value)
        bodies.append(bytes(cramjam.snappy.compress_raw(request.SerializeToString())))
    return bodies
