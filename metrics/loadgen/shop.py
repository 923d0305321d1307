"""The simulated shop: routes with a baseline of traffic, errors and latency, plus scripted
incidents. Pure simulation (numpy random numbers), no I/O."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from metrics.promql.lexer import parse_duration


@dataclass(frozen=True)
class Route:
    service: str
    route: str
    method: str
    rps: float
    median_ms: float


ROUTES = [
    Route("frontend", "/", "GET", 20.0, 35.0),
    Route("frontend", "/product/{id}", "GET", 14.0, 55.0),
    Route("cart", "/cart", "GET", 6.0, 22.0),
    Route("cart", "/cart/items", "POST", 3.0, 30.0),
    Route("checkout", "/checkout", "POST", 1.5, 160.0),
    Route("payments", "/payments/authorize", "POST", 1.5, 220.0),
    Route("search", "/search", "GET", 9.0, 70.0),
]
SERVICES = sorted({route.service for route in ROUTES})
# The OpenTelemetry semantic conventions' advice for http.server.request.duration (seconds).
BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
BASELINE_ERROR_RATE = 0.0003  # well inside the demo SLOs (99.9 % and 99.95 %)
LATENCY_SIGMA = 0.45


@dataclass(frozen=True)
class Incident:
    service: str
    error_rate: float | None = None
    extra_latency_ms: float = 0.0
    start_ms: int = 0
    end_ms: int | None = None

    def active(self, at_ms: int) -> bool:
        return self.start_ms <= at_ms and (self.end_ms is None or at_ms < self.end_ms)


_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")
_MS = re.compile(r"^\+(\d+(?:\.\d+)?)ms$")


def parse_incident(text: str, now_ms: int) -> Incident:
    """`checkout:errors=5%:for=20m[:at=-1h]` or `search:latency=+800ms`."""
    service, *parts = text.split(":")
    if service not in SERVICES:
        raise ValueError(
            f"unknown service {service!r} in incident {text!r} (services: {', '.join(SERVICES)})"
        )
    error_rate: float | None = None
    extra = 0.0
    start, duration = now_ms, None
    for part in parts:
        key, _, value = part.partition("=")
        if key == "errors" and (match := _PERCENT.match(value)):
            error_rate = float(match.group(1)) / 100
        elif key == "latency" and (match := _MS.match(value)):
            extra = float(match.group(1))
        elif key == "for":
            duration = parse_duration(value)
        elif key == "at":
            offset = parse_duration(value.lstrip("-+"))
            start = now_ms - offset if value.startswith("-") else now_ms + offset
        else:
            raise ValueError(
                f"cannot read {part!r} in incident {text!r}: use errors=5%, latency=+800ms, "
                "for=20m or at=-1h"
            )
    if error_rate is None and not extra:
        raise ValueError(f"incident {text!r} changes nothing: give errors=…% or latency=+…ms")
    return Incident(
        service, error_rate, extra, start, None if duration is None else start + duration
    )


def daily_factor(at_ms: int) -> float:
    """Traffic follows the day: busiest around 14:00 UTC, a third of that at night."""
    hour = (at_ms / 3_600_000) % 24
    return 0.66 + 0.34 * math.cos((hour - 14) / 24 * 2 * math.pi)


def service_conditions(service: str, at_ms: int, incidents: list[Incident]) -> tuple[float, float]:
    """The service's error rate and extra latency (ms) at that time, incidents included."""
    active = [i for i in incidents if i.service == service and i.active(at_ms)]
    error_rate = max([BASELINE_ERROR_RATE, *(i.error_rate or 0.0 for i in active)])
    return error_rate, sum(i.extra_latency_ms for i in active)


@dataclass
class Traffic:
    """Requests of one route in one interval, by status code, with their latencies (s)."""

    route: Route
    latencies_by_status: dict[str, np.ndarray] = field(default_factory=dict)


def simulate(
    seconds: float, at_ms: int, incidents: list[Incident], rng: np.random.Generator
) -> list[Traffic]:
    out = []
    for route in ROUTES:
        error_rate, extra_ms = service_conditions(route.service, at_ms, incidents)
        count = int(rng.poisson(route.rps * seconds * daily_factor(at_ms)))
        errors = int(rng.binomial(count, error_rate)) if count else 0
        latencies = rng.lognormal(math.log(route.median_ms), LATENCY_SIGMA, count) + extra_ms
        traffic = Traffic(route)
        traffic.latencies_by_status["200"] = latencies[errors:] / 1000
        if errors:
            split = errors // 5  # one in five failures is an overload 503, the rest 500s
            traffic.latencies_by_status["500"] = latencies[split:errors] / 1000
            if split:
                traffic.latencies_by_status["503"] = latencies[:split] / 1000
        out.append(traffic)
    return out


def bucket_counts(latencies: np.ndarray) -> list[int]:
    """Counts per bucket (not cumulative), the last one for +Inf, as OTLP carries them."""
    indices = np.searchsorted(np.asarray(BUCKETS_S), latencies, side="left")
    return np.bincount(indices, minlength=len(BUCKETS_S) + 1).tolist()
