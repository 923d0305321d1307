"""The shop's requests as they cross its services: which service calls which, with the latencies,
errors and incidents of the simulation, planned as a tree of timed spans. Pure simulation
(numpy random numbers), no OpenTelemetry and no I/O: `metrics.loadgen.traces` sends the plans.

Timing model: a service's own time is its route's latency in the shop (incident latency
included); its database and outside calls take a share of that own time, and calls to other
services of the shop add to it, as a caller waits for its callee. A failing service answers 5xx
and stops there; each caller's client and server spans then fail with a 5xx too."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from metrics.loadgen.shop import (
    LATENCY_SIGMA,
    ROUTES,
    SERVICES,
    Incident,
    daily_factor,
    service_conditions,
)

Kind = Literal["server", "client"]
Attributes = dict[str, str | int]

PORT = 8080
PROXY_MEDIAN_MS = 6.0  # the frontend's own work when it passes a request on to another service
NETWORK_NS = (200_000, 900_000)  # one way between two services, uniformly in this range
OVERLOAD_SHARE = 0.2  # one in five failures is an overload 503, the rest 500s (as in the shop)


class ShopError(Exception):
    """A failure inside a simulated service, recorded on its span as an exception event."""


class Overloaded(ShopError):
    pass


class InternalError(ShopError):
    pass


INTERNAL_ERRORS = {
    "frontend": "template 'product.html' failed: the price is missing",
    "cart": "cart store connection reset by peer",
    "checkout": "order not saved: deadlock detected",
    "payments": "card network answered with an unreadable response",
    "search": "search index shard 3 is unavailable",
}


@dataclass(frozen=True)
class Query:
    """A call out of the shop (its database, the card network): a client span, no server span."""

    name: str
    share: float  # of the calling service's own time
    attributes: Mapping[str, str | int]


@dataclass(frozen=True)
class Endpoint:
    """A route of a service and what answering it does, in order."""

    service: str
    method: str
    route: str
    median_ms: float
    steps: tuple[Query | Endpoint, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.method} {self.route}"


@dataclass(frozen=True)
class Journey:
    """A kind of request a shopper makes: the frontend's endpoint and how often it comes."""

    name: str
    entry: Endpoint
    rps: float


def _median_ms(service: str, route: str) -> float:
    [found] = [r.median_ms for r in ROUTES if r.service == service and r.route == route]
    return found


def _rps(service: str, route: str) -> float:
    [found] = [r.rps for r in ROUTES if r.service == service and r.route == route]
    return found


_TABLE = re.compile(r"\b(?:FROM|INTO) (\w+)")


def _sql(database: str, statement: str, share: float) -> Query:
    """A PostgreSQL query, named `<operation> <table>` as database instrumentations name it."""
    operation = statement.split()[0]
    [table] = _TABLE.findall(statement)
    return Query(
        f"{operation} {table}",
        share,
        {
            "db.system.name": "postgresql",
            "db.namespace": database,
            "db.operation.name": operation,
            "db.collection.name": table,
            "db.query.text": statement,
            "server.address": f"{database}-db",
            "server.port": 5432,
        },
    )


def _endpoint(service: str, method: str, route: str, *steps: Query | Endpoint) -> Endpoint:
    return Endpoint(service, method, route, _median_ms(service, route), steps)


def _proxy(route: str, method: str, *steps: Endpoint) -> Endpoint:
    return Endpoint("frontend", method, route, PROXY_MEDIAN_MS, steps)


CART = _endpoint(
    "cart",
    "GET",
    "/cart",
    _sql("cart", "SELECT id, sku, quantity FROM cart_items WHERE cart_id = $1", 0.5),
)
CART_ADD = _endpoint(
    "cart",
    "POST",
    "/cart/items",
    _sql("cart", "INSERT INTO cart_items (cart_id, sku, quantity) VALUES ($1, $2, $3)", 0.4),
)
PAYMENTS = _endpoint(
    "payments",
    "POST",
    "/payments/authorize",
    Query(
        "POST /v1/authorizations",
        0.8,
        {
            "http.request.method": "POST",
            "url.full": "https://api.cardnetwork.example/v1/authorizations",
            "url.template": "/v1/authorizations",
            "server.address": "api.cardnetwork.example",
            "server.port": 443,
            "http.response.status_code": 201,
        },
    ),
)
CHECKOUT = _endpoint(
    "checkout",
    "POST",
    "/checkout",
    PAYMENTS,
    _sql("orders", "INSERT INTO orders (cart_id, total, payment_id) VALUES ($1, $2, $3)", 0.15),
)
SEARCH = _endpoint(
    "search",
    "GET",
    "/search",
    _sql("search", "SELECT id, name FROM products WHERE document @@ $1 LIMIT 20", 0.6),
)
PRODUCTS = _sql("catalog", "SELECT id, name, price FROM products WHERE id = ANY($1)", 0.3)

JOURNEYS = (
    Journey("home", _endpoint("frontend", "GET", "/", PRODUCTS), _rps("frontend", "/")),
    Journey(
        "product",
        _endpoint("frontend", "GET", "/product/{id}", PRODUCTS),
        _rps("frontend", "/product/{id}"),
    ),
    Journey("search", _proxy("/search", "GET", SEARCH), _rps("search", "/search")),
    Journey("view cart", _proxy("/cart", "GET", CART), _rps("cart", "/cart")),
    Journey("add to cart", _proxy("/cart/items", "POST", CART_ADD), _rps("cart", "/cart/items")),
    # The order page: the frontend reads the cart, then asks checkout, which charges the card.
    Journey("checkout", _proxy("/checkout", "POST", CART, CHECKOUT), _rps("checkout", "/checkout")),
)


@dataclass(frozen=True)
class Failure:
    error: ShopError
    at_ns: int


@dataclass
class PlannedSpan:
    """One span of a planned trace. A child of another service is reached over the network:
    the sender propagates the trace context to it."""

    service: str
    name: str
    kind: Kind
    start_ns: int
    end_ns: int
    attributes: Attributes = field(default_factory=dict)
    error: str = ""  # the status description when the span failed
    failure: Failure | None = None  # on the span where the failure started: an exception event
    children: list[PlannedSpan] = field(default_factory=list)

    def walk(self) -> list[PlannedSpan]:
        return [self, *(span for child in self.children for span in child.walk())]


@dataclass(frozen=True)
class Conditions:
    """Error rates and extra latencies (ms) of each service at one time."""

    error_rate: Mapping[str, float]
    extra_ms: Mapping[str, float]

    @classmethod
    def at(cls, at_ms: int, incidents: list[Incident]) -> Conditions:
        found = {s: service_conditions(s, at_ms, incidents) for s in SERVICES}
        return cls({s: v[0] for s, v in found.items()}, {s: v[1] for s, v in found.items()})


def traced_requests(
    seconds: float, at_ms: int, trace_rate: float, rng: np.random.Generator
) -> list[tuple[Journey, float]]:
    """The requests of the next `seconds` that are traced, each with its offset (s) in them.

    Each journey gets an equal share of `trace_rate` (traces a second), never more than its own
    traffic, as Jaeger's per-operation sampling does: the rare checkout still shows up, and the
    error ratio within one kind of request stays that of the traffic."""
    share = trace_rate / len(JOURNEYS)
    out = []
    for journey in JOURNEYS:
        rate = min(share, journey.rps * daily_factor(at_ms))
        count = int(rng.poisson(rate * seconds))
        out += [(journey, float(offset)) for offset in rng.uniform(0.0, seconds, count)]
    out.sort(key=lambda item: item[1])
    return out


def plan_trace(
    journey: Journey, start_ns: int, conditions: Conditions, rng: np.random.Generator
) -> PlannedSpan:
    """The spans of one request of this journey, starting at `start_ns`, rooted at the
    frontend's server span."""
    return _serve(journey.entry, start_ns, conditions, rng)


def _serve(
    endpoint: Endpoint, start_ns: int, conditions: Conditions, rng: np.random.Generator
) -> PlannedSpan:
    service = endpoint.service
    own_ms = float(rng.lognormal(math.log(endpoint.median_ms), LATENCY_SIGMA))
    own_ns = int((own_ms + conditions.extra_ms[service]) * 1_000_000)
    fails = bool(rng.random() < conditions.error_rate[service])
    steps = endpoint.steps
    if fails:  # somewhere along its work: the steps after that are not taken
        steps = steps[: int(rng.integers(0, len(steps) + 1))]
    # Queries take their share of the own time; the rest is spread before, between and after.
    query_ns = sum(int(own_ns * step.share) for step in steps if isinstance(step, Query))
    gap_ns = max(own_ns - query_ns, 0) // (len(steps) + 1)
    path = endpoint.route.replace("{id}", str(int(rng.integers(1, 500))))
    span = PlannedSpan(
        service,
        endpoint.name,
        "server",
        start_ns,
        start_ns,
        {
            "http.request.method": endpoint.method,
            "http.route": endpoint.route,
            "url.path": path,
            "url.scheme": "http",
            "server.address": service,
            "server.port": PORT,
            "network.protocol.version": "1.1",
        },
    )
    cursor = start_ns
    failed_call: PlannedSpan | None = None
    for step in steps:
        cursor += gap_ns
        if isinstance(step, Query):
            child = PlannedSpan(
                service,
                step.name,
                "client",
                cursor,
                cursor + int(own_ns * step.share),
                dict(step.attributes),
            )
        else:
            child = _call(service, step, cursor, conditions, rng)
        span.children.append(child)
        cursor = child.end_ns
        if child.error:
            failed_call = child
            break
    status = 200
    if failed_call is not None:
        status = 500
        span.error = failed_call.error
    elif fails:
        overloaded = bool(rng.random() < OVERLOAD_SHARE)
        status = 503 if overloaded else 500
        error: ShopError = (
            Overloaded(f"{service} is shedding load: too many requests in flight")
            if overloaded
            else InternalError(INTERNAL_ERRORS[service])
        )
        # Raised at the end of the service's work, as it escapes the request handler.
        span.failure = Failure(error, cursor + gap_ns)
        span.error = f"{type(error).__name__}: {error}"
    span.attributes["http.response.status_code"] = status
    span.end_ns = cursor + gap_ns
    return span


def _call(
    caller: str,
    endpoint: Endpoint,
    start_ns: int,
    conditions: Conditions,
    rng: np.random.Generator,
) -> PlannedSpan:
    """The caller's client span of a request to another service, with that service's server
    span inside it (after the network's delay each way)."""
    there, back = (int(ns) for ns in rng.integers(*NETWORK_NS, size=2))
    served = _serve(endpoint, start_ns + there, conditions, rng)
    status = served.attributes["http.response.status_code"]
    path = served.attributes["url.path"]
    return PlannedSpan(
        service=caller,
        name=endpoint.name,
        kind="client",
        start_ns=start_ns,
        end_ns=served.end_ns + back,
        attributes={
            "http.request.method": endpoint.method,
            "url.full": f"http://{endpoint.service}:{PORT}{path}",
            "url.template": endpoint.route,
            "server.address": endpoint.service,
            "server.port": PORT,
            "http.response.status_code": status,
        },
        error=f"{endpoint.service} answered {status}" if served.error else "",
        children=[served],
    )
