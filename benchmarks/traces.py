"""Traces: OTLP span intake end to end, what a stored span costs, fetching one trace by id and
trace search over 5 million stored spans.

`traces.otlp.*`: concurrent clients POST protobuf ExportTraceServiceRequests to /v1/traces, 512
spans each (traces of ~20 spans over six services, each span with 10 string and integer
attributes, each body's spans under a resource per service, as a collector batches them); every
trace and span id is new. Spans/s count only 200 answers without rejected spans. The bodies are
built before timing; the first body of each client is a warm-up (it creates the span metrics'
series). Afterwards the stored spans must have grown by exactly the accepted ones.
`traces.bytes_per_span_*`: growth of pg_total_relation_size of the span partitions (heap, TOAST
and indexes) and of the resource table per stored span, right after that intake and after
VACUUM FULL.
`traces.fetch_1000.*`: one trace of 1 000 spans sent through /v1/traces, then
`GET /api/v1/traces/<id>` by one client, 25 times after 2 warm-ups.
`traces.search_5m.*`: the spans table topped up to 5 000 000 spans straight in PostgreSQL (not
timed as search; the load time is a figure of its own), then `GET /api/v1/traces?service=…&
min_duration=…&max_duration=…&start=…&end=…&limit=20` over 1 h windows, 25 times after 2
warm-ups. The loaded spans are removed afterwards, the spans stored before them kept (copied
aside before the load and put back).
`python -m benchmarks.traces [intake] [fetch] [search]` runs them (all by default) alone.
"""

from __future__ import annotations

import http.client
import json
import queue
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, LiteralString, cast
from urllib.parse import urlencode

import numpy as np
import psycopg
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from psycopg import sql
from psycopg.types.json import Jsonb

from benchmarks.common import Figure, percentile_ms
from benchmarks.load import LoadResult, send_all
from benchmarks.session import Session, open_session
from metrics.traces.resources import resource_key, resource_text

TABLE = "metrics_span"
CLIENTS = 8
SPANS_PER_REQUEST = 512
REQUESTS_PER_CLIENT = 160  # 8 x 160 x 512 spans: more than 15 s at 40 000 spans/s
SECONDS = 15.0
INTAKE_TARGET = 30_000
BODY_SPACING_NS = 3 * 10**9  # each body's traces start 3 s after the previous body's
FETCH_SPANS = 1000
FETCH_SPANS_PER_BODY = 500
FETCH_TARGET_MS = 30.0
SEARCH_SPANS = 5_000_000
SEARCH_TARGET_MS = 200.0
SEARCH_LIMIT = 20
WARM_UPS = 2
TIMED = 25
NANOS_PER_MS = 1_000_000
NANOS_PER_DAY = 86_400 * 10**9
HOUR_S = 3600

SERVER, CLIENT, INTERNAL = 2, 3, 1  # OTLP span kinds
ERROR = 2  # OTLP status code

# service -> its operations: (span name, kind)
OPERATIONS: dict[str, tuple[tuple[str, int], ...]] = {
    "frontend": (
        ("GET /", SERVER),
        ("GET /product/{id}", SERVER),
        ("POST /cart", SERVER),
        ("POST /checkout", SERVER),
        ("render page", INTERNAL),
    ),
    "checkout": (
        ("PlaceOrder", SERVER),
        ("SELECT orders", CLIENT),
        ("INSERT orders", CLIENT),
        ("publish order.created", CLIENT),
    ),
    "cart": (("GetCart", SERVER), ("AddItem", SERVER), ("HGETALL", CLIENT), ("HSET", CLIENT)),
    "payment": (("Charge", SERVER), ("POST /v1/charges", CLIENT), ("fraud check", INTERNAL)),
    "inventory": (("Reserve", SERVER), ("SELECT stock", CLIENT), ("UPDATE stock", CLIENT)),
    "shipping": (("Quote", SERVER), ("ShipOrder", SERVER), ("GET /rates", CLIENT)),
}
INTAKE_SERVICES = tuple(OPERATIONS)

Attributes = tuple[tuple[str, str | int], ...]


@dataclass(frozen=True)
class PlannedSpan:
    trace: int  # index of its trace among the trace ids of the plan
    position: int  # within its trace; 0 is the root
    parent: int  # index of the parent in the plan, -1 for a root
    service: str
    name: str
    kind: int
    error: bool
    attributes: Attributes


def _span_attributes(rng: np.random.Generator, service: str, name: str, kind: int) -> Attributes:
    """Ten attributes, as the OpenTelemetry semantic conventions name them."""
    common: tuple[tuple[str, str | int], ...] = (
        ("thread.id", int(rng.integers(1, 64))),
        ("code.namespace", f"shop.{service}.handlers"),
    )
    if kind == SERVER:
        return (
            ("http.request.method", "POST" if name.startswith("POST") else "GET"),
            ("http.route", name.split(" ")[-1] if "/" in name else f"/rpc/{name}"),
            ("http.response.status_code", int(rng.choice([200, 200, 200, 201, 404, 500]))),
            ("url.scheme", "https"),
            ("server.address", f"{service}.shop.svc.cluster.local"),
            ("server.port", 8080),
            ("client.address", f"10.42.{rng.integers(0, 8)}.{rng.integers(1, 255)}"),
            ("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"),
            *common,
        )
    return (
        ("db.system", "postgresql" if "SELECT" in name or "INSERT" in name else "redis"),
        ("db.namespace", f"{service}_db"),
        ("db.operation.name", name.split(" ")[0]),
        ("db.query.text", f"{name} WHERE id = $1"),
        ("server.address", f"{service}-db.shop.svc.cluster.local"),
        ("server.port", 5432),
        ("network.peer.address", f"10.43.{rng.integers(0, 8)}.{rng.integers(1, 255)}"),
        ("db.response.returned_rows", int(rng.integers(0, 50))),
        *common,
    )


def plan_spans(rng: np.random.Generator, sizes: list[int]) -> list[PlannedSpan]:
    """Spans of traces of the given sizes: a root in the frontend, each other span a child of
    span (position - 1) // 2 of its trace, in one of four other services; 5 % errors."""
    planned: list[PlannedSpan] = []
    for trace, size in enumerate(sizes):
        first = len(planned)
        for position in range(size):
            if position == 0:
                service, parent = "frontend", -1
            else:
                offset = 1 + (trace + position) % (len(INTAKE_SERVICES) - 1)
                service, parent = INTAKE_SERVICES[offset], first + (position - 1) // 2
            operations = OPERATIONS[service]
            name, kind = operations[0] if position == 0 else operations[position % len(operations)]
            planned.append(
                PlannedSpan(
                    trace=trace,
                    position=position,
                    parent=parent,
                    service=service,
                    name=name,
                    kind=kind,
                    error=bool(rng.random() < 0.05),
                    attributes=_span_attributes(rng, service, name, kind),
                )
            )
    return planned


def _trace_sizes(rng: np.random.Generator, total: int) -> list[int]:
    """Trace sizes of 12..28 spans (mean 20) adding up to `total`."""
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(min(int(rng.integers(12, 29)), total - sum(sizes)))
    return sizes


def _template(
    planned: list[PlannedSpan], instance: str
) -> tuple[ExportTraceServiceRequest, list[Any]]:
    """The request with everything but ids and times; its spans in the order of `planned`."""
    export = ExportTraceServiceRequest()
    scopes: dict[str, Any] = {}
    spans: list[Any] = []
    for item in planned:
        scope = scopes.get(item.service)
        if scope is None:
            resource_spans = export.resource_spans.add()
            for key, value in (
                ("service.name", item.service),
                ("service.version", "1.14.2"),
                ("service.instance.id", f"{item.service}-{instance}"),
                ("host.name", f"{item.service}-7d9f8b6c4-{instance}"),
                ("deployment.environment", "production"),
                ("telemetry.sdk.name", "opentelemetry"),
                ("telemetry.sdk.language", "python"),
                ("telemetry.sdk.version", "1.27.0"),
            ):
                resource_spans.resource.attributes.add(key=key).value.string_value = value
            scope = scopes[item.service] = resource_spans.scope_spans.add()
            scope.scope.name = "opentelemetry.instrumentation.shop"
        span = scope.spans.add(name=item.name, kind=item.kind)
        for key, attribute_value in item.attributes:
            attribute = span.attributes.add(key=key)
            if isinstance(attribute_value, int):
                attribute.value.int_value = attribute_value
            else:
                attribute.value.string_value = attribute_value
        if item.error:
            span.status.code = ERROR
            span.status.message = "upstream answered 503"
        spans.append(span)
    return export, spans


def _fill(
    spans: list[Any],
    planned: list[PlannedSpan],
    first: int,
    trace_ids: list[bytes],
    span_ids: list[bytes],
    trace_starts: list[int],
    durations: list[int],
) -> None:
    """Sets ids and times of `spans`, which are planned[first:first + len(spans)]."""
    for index, span in enumerate(spans, start=first):
        item = planned[index]
        span.trace_id = trace_ids[item.trace]
        span.span_id = span_ids[index]
        span.parent_span_id = span_ids[item.parent] if item.parent >= 0 else b""
        start = trace_starts[item.trace] + item.position * 400_000
        span.start_time_unix_nano = start
        span.end_time_unix_nano = start + durations[index]


def _ids(rng: np.random.Generator, count: int, size: int) -> list[bytes]:
    raw = rng.bytes(count * size)
    return [raw[i : i + size] for i in range(0, len(raw), size)]


def _durations(rng: np.random.Generator, count: int) -> list[int]:
    """Log-normal: median 20 ms, p95 about 100 ms."""
    return np.maximum(rng.lognormal(np.log(20e6), 1.0, count), 1000).astype(np.int64).tolist()


def trace_bodies(client: int, requests: int, first_ns: int) -> list[bytes]:
    """Serialized requests of SPANS_PER_REQUEST spans each, new trace and span ids in each."""
    rng = np.random.default_rng(9000 + client)
    planned = plan_spans(rng, _trace_sizes(rng, SPANS_PER_REQUEST))
    export, spans = _template(planned, f"c{client}")
    traces = planned[-1].trace + 1
    bodies = []
    for request in range(requests):
        base = first_ns + request * BODY_SPACING_NS
        starts = (base + np.sort(rng.integers(0, BODY_SPACING_NS, traces))).tolist()
        _fill(
            spans,
            planned,
            0,
            _ids(rng, traces, 16),
            _ids(rng, len(planned), 8),
            starts,
            _durations(rng, len(planned)),
        )
        bodies.append(export.SerializeToString())
    return bodies


def one_trace_bodies(spans: int, per_body: int, start_ns: int) -> tuple[str, list[bytes]]:
    """One trace of `spans` spans, sent in bodies of `per_body`; its id (hex) and the bodies."""
    rng = np.random.default_rng(4242)
    planned = plan_spans(rng, [spans])
    trace_ids = _ids(rng, 1, 16)
    span_ids = _ids(rng, spans, 8)
    durations = _durations(rng, spans)
    bodies = []
    for first in range(0, spans, per_body):
        part = planned[first : first + per_body]
        export, part_spans = _template(part, "fetch")
        _fill(part_spans, planned, first, trace_ids, span_ids, [start_ns], durations)
        bodies.append(export.SerializeToString())
    return trace_ids[0].hex(), bodies


def post_traces(
    session: Session, bodies_per_client: list[list[bytes]], seconds: float
) -> LoadResult:
    """Each client's bodies in order to POST /v1/traces; counts 200s without rejected spans."""
    return send_all(
        host=session.host,
        port=session.port,
        path="/v1/traces",
        headers={
            "Authorization": f"Bearer {session.token}",
            "Content-Type": "application/x-protobuf",
        },
        bodies_per_client=bodies_per_client,
        accepted=trace_accepted,
        seconds=seconds,
    )


def trace_accepted(status: int, answer: bytes) -> bool:
    if status != 200:
        return False
    response = ExportTraceServiceResponse.FromString(answer)
    return response.partial_success.rejected_spans == 0 and not (
        response.partial_success.error_message
    )


# --- storage -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpanTable:
    spans: int
    total: int  # pg_total_relation_size of the span partitions and the resource table
    heap: int
    indexes: int
    toast: int
    resources: int  # the resource table, all of it
    attributes: float  # mean pg_column_size of a row's attributes


def span_table(database_url: str) -> SpanTable:
    with psycopg.connect(database_url) as conn:
        sizes = conn.execute(
            "SELECT sum(pg_total_relation_size(relid)), sum(pg_relation_size(relid)),"
            " sum(pg_indexes_size(relid)) FROM pg_partition_tree(%s::regclass)",
            [TABLE],
        ).fetchone()
        row = conn.execute(
            "SELECT count(*), coalesce(avg(pg_column_size(attributes)), 0) FROM metrics_span"
        ).fetchone()
        resources = conn.execute("SELECT pg_total_relation_size('metrics_spanresource')").fetchone()
    assert sizes is not None
    assert row is not None
    assert resources is not None
    total, heap, indexes = (int(size or 0) for size in sizes)
    return SpanTable(
        spans=int(row[0]),
        total=total + int(resources[0]),
        heap=heap,
        indexes=indexes,
        toast=total - heap - indexes,
        resources=int(resources[0]),
        attributes=float(row[1]),
    )


def _vacuum(database_url: str, how: LiteralString) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL(how + " {}").format(sql.Identifier(TABLE)))


def _bytes_figure(name: str, when: str, before: SpanTable, after: SpanTable) -> Figure:
    spans = after.spans - before.spans
    growth = after.total - before.total

    def part(label: str, bytes_after: int, bytes_before: int) -> str:
        return f"{label} {(bytes_after - bytes_before) / 1e6:.1f} MB"

    parts = ", ".join(
        [
            part("heap", after.heap, before.heap),
            part("indexes", after.indexes, before.indexes),
            part("TOAST", after.toast, before.toast),
            part("resources", after.resources, before.resources),
        ]
    )
    return Figure(
        name,
        growth / spans if spans else float("nan"),
        "bytes/span",
        f"{when}; {spans} spans; growth {growth / 1e6:.1f} MB: {parts}; a row's attributes "
        f"{after.attributes:.0f} B (mean pg_column_size); each resource stored once a day",
    )


# --- intake --------------------------------------------------------------------------------


def trace_intake(session: Session) -> list[Figure]:
    """traces.otlp.*: spans/s through POST /v1/traces; traces.bytes_per_span_*."""
    before = span_table(session.database_url)
    now_ns = time.time_ns()
    first_ns = now_ns - (REQUESTS_PER_CLIENT + 2) * BODY_SPACING_NS
    built = time.perf_counter()
    bodies = [trace_bodies(client, REQUESTS_PER_CLIENT + 1, first_ns) for client in range(CLIENTS)]
    built_s = time.perf_counter() - built
    body_kb = np.mean([len(body) for body in bodies[0]]) / 1024
    warm_up = post_traces(session, [b[:1] for b in bodies], 120)
    timed = post_traces(session, [b[1:] for b in bodies], SECONDS)
    after = span_table(session.database_url)
    del bodies
    accepted_spans = (warm_up.accepted + timed.accepted) * SPANS_PER_REQUEST
    stored = after.spans - before.spans
    check = "as accepted" if stored == accepted_spans else f"NOT the {accepted_spans} accepted"
    rate = timed.accepted * SPANS_PER_REQUEST / timed.elapsed_s if timed.elapsed_s else 0.0
    sent = len(timed.latencies_s)
    refused = f", refused: {timed.refusals()}" if timed.refused else ""
    warm_refused = f", warm-up refused: {warm_up.refusals()}" if warm_up.refused else ""
    within = "within" if rate >= INTAKE_TARGET else "UNDER"
    figures = [
        Figure(
            "traces.otlp.throughput",
            rate,
            "spans/s",
            f"{timed.accepted}/{sent} requests accepted in {timed.elapsed_s:.1f} s, "
            f"{SPANS_PER_REQUEST} spans x 10 attributes/request ({body_kb:.0f} KiB protobuf, "
            f"traces of ~20 spans, {len(INTAKE_SERVICES)} services), {CLIENTS} clients; "
            f"stored {stored} new spans, {check}; bodies built in {built_s:.1f} s, untimed; "
            f"target >= {INTAKE_TARGET} ({within}){refused}{warm_refused}",
        ),
        Figure(
            "traces.otlp.latency_p50",
            percentile_ms(timed.latencies_s, 50),
            "ms",
            f"{sent} requests",
        ),
        Figure(
            "traces.otlp.latency_p95",
            percentile_ms(timed.latencies_s, 95),
            "ms",
            f"{sent} requests",
        ),
        _bytes_figure("traces.bytes_per_span", "right after intake", before, after),
    ]
    _vacuum(session.database_url, "VACUUM FULL ANALYZE")
    vacuumed = span_table(session.database_url)
    figures.append(
        _bytes_figure("traces.bytes_per_span_vacuumed", "after VACUUM FULL", before, vacuumed)
    )
    return figures


# --- reads over HTTP -------------------------------------------------------------------------


def _get(connection: http.client.HTTPConnection, path: str, token: str) -> tuple[int, bytes]:
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    return response.status, response.read()


def _timed_gets(session: Session, paths: list[str]) -> tuple[list[float], list[tuple[int, bytes]]]:
    """GETs in order on one keep-alive connection; the latency and answer of each."""
    connection = http.client.HTTPConnection(session.host, session.port, timeout=60)
    latencies, answers = [], []
    try:
        for path in paths:
            began = time.perf_counter()
            answers.append(_get(connection, path, session.token))
            latencies.append(time.perf_counter() - began)
    finally:
        connection.close()
    return latencies, answers


def _api_data(answer: tuple[int, bytes], what: str) -> Any:
    status, body = answer
    if status != 200:
        raise AssertionError(f"{what}: HTTP {status} {body[:200]!r}")
    return json.loads(body)["data"]


def trace_fetch_1000(session: Session) -> list[Figure]:
    """traces.fetch_1000.*: GET /api/v1/traces/<id> of a trace of 1 000 spans."""
    start_ns = time.time_ns() - 60 * 10**9
    trace_id, bodies = one_trace_bodies(FETCH_SPANS, FETCH_SPANS_PER_BODY, start_ns)
    sent = post_traces(session, [bodies], 120)
    if sent.accepted != len(bodies):
        raise AssertionError(f"the 1 000-span trace was not accepted: {sent.refusals()}")
    path = f"/api/v1/traces/{trace_id}"
    latencies, answers = _timed_gets(session, [path] * (WARM_UPS + TIMED))
    spans = len(_api_data(answers[-1], path)["spans"])
    if spans != FETCH_SPANS:
        raise AssertionError(f"{path} answered {spans} spans, not {FETCH_SPANS}")
    timed = latencies[WARM_UPS:]
    p50 = percentile_ms(timed, 50)
    within = "within" if p50 <= FETCH_TARGET_MS else "OVER"
    details = (
        f"GET /api/v1/traces/<id> over HTTP, one client, {TIMED} requests after {WARM_UPS} "
        f"warm-ups; {spans} spans, {len(answers[-1][1]) / 1024:.0f} KiB JSON"
    )
    return [
        Figure(
            "traces.fetch_1000.latency_p50",
            p50,
            "ms",
            f"{details}; target <= {FETCH_TARGET_MS:.0f} ms ({within})",
        ),
        Figure("traces.fetch_1000.latency_p95", percentile_ms(timed, 95), "ms", details),
        Figure(
            "traces.fetch_1000.latency_first",
            latencies[0] * 1000,
            "ms",
            "the first request, before any warm-up",
        ),
    ]


# --- search over 5 million spans -----------------------------------------------------------

SEARCH_SERVICES = (
    "frontend", "checkout", "cart", "payment", "inventory", "shipping", "catalog", "search",
    "recommendation", "auth",
)  # fmt: skip
OPERATIONS_PER_SERVICE = 5
LOADED_SPANS_PER_TRACE = 20
LOAD_SEED = "bench-traces-5m"
# Small attribute objects, as the instrumentations write them; a span takes one of these.
LOADED_ATTRIBUTES = [
    {
        "http.request.method": ("GET", "POST", "PUT")[i % 3],
        "http.route": f"/api/v1/r{i % 16}/{{id}}",
        "http.response.status_code": (200, 200, 200, 201, 404, 500)[i % 6],
        "server.address": f"10.0.{i % 8}.{i}",
        "thread.id": 1000 + i,
    }
    for i in range(64)
]
# The resource a span is stored with, per service.
LOADED_RESOURCES = [
    {
        "service.name": service,
        "service.instance.id": f"{service}-{i}",
        "host.name": f"{service}-7d9f8b6c4-x{i}",
        "telemetry.sdk.language": "python",
    }
    for i, service in enumerate(SEARCH_SERVICES)
]
# Row r is span r % 20 of trace r / 20. Traces start in time order over the 7 days (spans are
# stored as they arrive), each at a pseudo-random point of its own slot; trace ids are md5
# hashes (random-looking, as real ones). The root is in service k % 10, the others in the 4
# services after it, so a trace touches 5 services. Durations log-normal (median 20 ms,
# sigma 1: p95 about 100 ms, p99 about 200 ms); 10 % errors.
LOAD_SQL = """
INSERT INTO metrics_span (trace_id, span_id, parent_span_id, service, name, kind, start_ns,
    duration_ns, status_code, status_message, attributes, resource_key, events, links, team_id)
SELECT g.tid, substr(md5(g.tid || g.j), 1, 16),
    CASE WHEN g.j = 0 THEN '' ELSE substr(md5(g.tid || ((g.j - 1) / 2)), 1, 16) END,
    c.services[1 + g.svc], c.names[1 + g.svc * %(ops)s + mod(g.j, %(ops)s)],
    CASE WHEN g.j = 0 THEN 2 WHEN mod(g.j, 2) = 1 THEN 3 ELSE 2 END,
    g.st, g.dur, CASE WHEN g.err THEN 2 ELSE 0 END,
    CASE WHEN g.err THEN 'upstream answered 503' ELSE '' END,
    c.attrs[1 + mod(g.r, %(n_attrs)s)], c.resources[1 + g.svc], '[]'::jsonb, '[]'::jsonb,
    %(team)s::bigint
FROM (
    SELECT %(services)s::text[] AS services, %(names)s::text[] AS names,
        %(attrs)s::jsonb[] AS attrs, %(resources)s::bigint[] AS resources
    OFFSET 0
) AS c, LATERAL (
    SELECT s.r, s.j, s.tid,
        CASE WHEN s.j = 0 THEN mod(s.k, 10) ELSE mod(s.k + 1 + mod(s.j, 4), 10) END AS svc,
        %(first)s::bigint + s.k * %(step)s::bigint
            + mod(abs(hashint8(s.k)::bigint), %(step)s::bigint)
            + s.j * 2000000 + floor(random() * 1000000)::bigint AS st,
        greatest(1000, exp(ln(2e7) + sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())))
            ::bigint AS dur,
        random() < 0.1 AS err
    FROM (
        SELECT r, mod(r, 20) AS j, r / 20 AS k, md5(%(seed)s || (r / 20)) AS tid
        FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS r
    ) AS s
) AS g
"""


@dataclass(frozen=True)
class Index:
    name: str
    definition: str  # CREATE INDEX …, or the constraint's definition
    constraint: bool  # backs a UNIQUE constraint: dropped and added as the constraint


def _secondary_indexes(conn: psycopg.Connection[Any]) -> list[Index]:
    """The spans table's indexes but its primary key, as the catalog defines them."""
    rows = conn.execute(
        "SELECT i.relname, coalesce(pg_get_constraintdef(con.oid), pg_get_indexdef(i.oid)),"
        " con.oid IS NOT NULL FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
        " LEFT JOIN pg_constraint con ON con.conindid = i.oid AND con.conrelid = x.indrelid"
        " WHERE x.indrelid = %s::regclass AND NOT x.indisprimary ORDER BY i.relname",
        [TABLE],
    ).fetchall()
    return [
        Index(str(name), str(definition), bool(constraint)) for name, definition, constraint in rows
    ]


def _drop_index(conn: psycopg.Connection[Any], index: Index) -> None:
    if index.constraint:
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(TABLE), sql.Identifier(index.name)
            )
        )
    else:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(index.name)))


def _create_index(conn: psycopg.Connection[Any], index: Index) -> None:
    # The definition comes from the catalog, as PostgreSQL itself writes it; a partitioned
    # table's index reads "ON ONLY", which would leave out the partitions.
    text = index.definition.replace(" ON ONLY ", " ON ", 1)
    definition = sql.SQL(cast(LiteralString, text))
    if index.constraint:
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                sql.Identifier(TABLE), sql.Identifier(index.name)
            )
            + definition
        )
    else:
        conn.execute(definition)


def _create_indexes(database_url: str, indexes: list[Index], connections: int = 2) -> None:
    """Builds the indexes, `connections` at a time (each takes the next one left)."""
    todo: queue.Queue[Index] = queue.Queue()
    for index in indexes:
        todo.put(index)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute("SET maintenance_work_mem = '512MB'")
                while True:
                    try:
                        index = todo.get_nowait()
                    except queue.Empty:
                        return
                    _create_index(conn, index)
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


@dataclass(frozen=True)
class Loaded:
    rows: int
    insert_s: float
    index_s: float
    vacuum_s: float
    first_ns: int
    end_ns: int


KEPT = ("bench_kept_spans", "metrics_span"), ("bench_kept_resources", "metrics_spanresource")


def set_stored_aside(database_url: str) -> None:
    """Copy the spans and resources stored so far aside (remove_loaded puts them back)."""
    with psycopg.connect(database_url) as conn, conn.transaction():
        for kept, table in KEPT:
            conn.execute(
                sql.SQL("CREATE TABLE {} AS SELECT * FROM {}").format(
                    sql.Identifier(kept), sql.Identifier(table)
                )
            )


def load_spans(session: Session, rows: int, end_ns: int) -> Loaded:
    """`rows` spans over the 7 days before end_ns, written by INSERT … SELECT generate_series
    into the day partitions (made first, by the portal's own code) with the secondary indexes
    dropped and rebuilt after (as PostgreSQL's "Populating a Database" advises), then VACUUM
    ANALYZE (autovacuum may be off; it would come soon)."""
    first_ns = end_ns - 7 * NANOS_PER_DAY
    first_day, last_day = first_ns // NANOS_PER_DAY, end_ns // NANOS_PER_DAY
    session.shell(
        "from metrics.traces.partitions import ensure_span_partitions; "
        f"ensure_span_partitions(range({first_day}, {last_day + 1}))"
    )
    traces = -(-rows // LOADED_SPANS_PER_TRACE)
    names = [
        f"{service} op{i}" if i else f"{service} GET /api/{service}/{{id}}"
        for service in SEARCH_SERVICES
        for i in range(OPERATIONS_PER_SERVICE)
    ]
    texts = [resource_text(resource) for resource in LOADED_RESOURCES]
    keys = [resource_key(text) for text in texts]
    database_url = session.database_url
    with psycopg.connect(database_url, autocommit=True) as conn:
        team_row = conn.execute("SELECT id FROM accounts_team WHERE name = 'platform'").fetchone()
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO metrics_spanresource (key, day, attributes) VALUES (%s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                [
                    (key, day, text)
                    for key, text in zip(keys, texts, strict=True)
                    for day in range(first_day, last_day + 1)
                ],
            )
        indexes = _secondary_indexes(conn)
        began = time.perf_counter()
        for index in indexes:
            _drop_index(conn, index)
        try:
            conn.execute(
                LOAD_SQL,
                {
                    "ops": OPERATIONS_PER_SERVICE,
                    "n_attrs": len(LOADED_ATTRIBUTES),
                    "team": team_row[0] if team_row else None,
                    "services": list(SEARCH_SERVICES),
                    "names": names,
                    "attrs": [Jsonb(a) for a in LOADED_ATTRIBUTES],
                    "resources": keys,
                    "first": first_ns,
                    "step": (end_ns - first_ns) // traces,
                    "seed": LOAD_SEED,
                    "lo": 0,
                    "hi": rows - 1,
                },
            )
            inserted = time.perf_counter()
        finally:
            _create_indexes(database_url, indexes)
        indexed = time.perf_counter()
        if {index.name for index in _secondary_indexes(conn)} != {i.name for i in indexes}:
            raise AssertionError("the spans table's indexes were not all rebuilt")
        conn.execute("VACUUM ANALYZE metrics_span")
        vacuumed = time.perf_counter()
    return Loaded(
        rows=rows,
        insert_s=inserted - began,
        index_s=indexed - inserted,
        vacuum_s=vacuumed - indexed,
        first_ns=first_ns,
        end_ns=end_ns,
    )


def remove_loaded(database_url: str) -> None:
    """Back to the spans and resources set aside before the load: TRUNCATE and put those back
    (a DELETE of millions of rows would leave the table that large, full of dead rows)."""
    with psycopg.connect(database_url) as conn, conn.transaction():
        for kept, table in KEPT:
            conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(table)))
            conn.execute(
                sql.SQL("INSERT INTO {} SELECT * FROM {}").format(
                    sql.Identifier(table), sql.Identifier(kept)
                )
            )
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(kept)))
    _vacuum(database_url, "VACUUM ANALYZE")


# min_duration-max_duration; the last one is rare (p99.99), so its searches walk the whole hour.
DURATION_RANGES = "50ms-500ms, 100ms-1s, 200ms-2s, 1s-10s"


def search_paths(loaded: Loaded, count: int) -> list[str]:
    """Searches over 1 h windows spread over the 7 days, a service and duration range each."""
    ranges = [tuple(pair.split("-")) for pair in DURATION_RANGES.split(", ")]
    hours = (loaded.end_ns - loaded.first_ns) // (HOUR_S * 10**9)
    paths = []
    for i in range(count):
        end_s = loaded.end_ns // 10**9 - ((i * 37) % (hours - 1)) * HOUR_S
        low, high = ranges[i % len(ranges)]
        query = {
            "service": SEARCH_SERVICES[i % len(SEARCH_SERVICES)],
            "min_duration": low,
            "max_duration": high,
            "start": str(end_s - HOUR_S),
            "end": str(end_s),
            "limit": str(SEARCH_LIMIT),
        }
        paths.append("/api/v1/traces?" + urlencode(query))
    return paths


def trace_search_5m(session: Session) -> list[Figure]:
    """traces.search_5m.*: trace search over 5 000 000 stored spans."""
    before = span_table(session.database_url).spans
    rows = max(SEARCH_SPANS - before, 0)
    set_stored_aside(session.database_url)
    try:
        loaded = load_spans(session, rows, time.time_ns())
        held = span_table(session.database_url)
        paths = search_paths(loaded, WARM_UPS + TIMED)
        latencies, answers = _timed_gets(session, paths)
        found = [len(_api_data(answer, path)) for answer, path in zip(answers, paths, strict=True)]
    finally:
        remove_loaded(session.database_url)
    left = span_table(session.database_url).spans
    if left != before:
        raise AssertionError(f"{left} spans left after removing the loaded ones, not {before}")
    timed, timed_found = latencies[WARM_UPS:], found[WARM_UPS:]
    p50 = percentile_ms(timed, 50)
    within = "within" if p50 <= SEARCH_TARGET_MS else "OVER"
    load_s = loaded.insert_s + loaded.index_s + loaded.vacuum_s
    details = (
        f"GET /api/v1/traces?service&min_duration&max_duration&start&end (1 h)&limit="
        f"{SEARCH_LIMIT} over HTTP, one client, {TIMED} searches after {WARM_UPS} warm-ups, "
        f"{len(SEARCH_SERVICES)} services and duration ranges {DURATION_RANGES} in turn; "
        f"{held.spans} spans "
        f"stored; {sum(timed_found) / len(timed_found):.1f} traces found on average, "
        f"{sum(1 for n in timed_found if n == SEARCH_LIMIT)} searches at the limit"
    )
    return [
        Figure(
            "traces.search_5m.load",
            round(load_s, 1),
            "s",
            f"{loaded.rows} spans ({before} stored before) by INSERT … SELECT generate_series: "
            f"{loaded.insert_s:.1f} s insert (secondary indexes dropped), {loaded.index_s:.1f} s "
            f"rebuilding them, {loaded.vacuum_s:.1f} s VACUUM ANALYZE; {held.total / 1e9:.2f} GB "
            f"(heap {held.heap / 1e9:.2f}, indexes {held.indexes / 1e9:.2f}); "
            f"{len(SEARCH_SERVICES)} services, 7 d, traces of {LOADED_SPANS_PER_TRACE} spans, "
            "log-normal durations (median 20 ms), 10 % errors; removed afterwards, "
            f"{left} spans left (those stored before)",
        ),
        Figure(
            "traces.search_5m.latency_p50",
            p50,
            "ms",
            f"{details}; target <= {SEARCH_TARGET_MS:.0f} ms ({within})",
        ),
        Figure("traces.search_5m.latency_p95", percentile_ms(timed, 95), "ms", details),
        Figure(
            "traces.search_5m.latency_first",
            latencies[0] * 1000,
            "ms",
            "the first search after the load, before any warm-up",
        ),
    ]


PARTS = {"intake": trace_intake, "fetch": trace_fetch_1000, "search": trace_search_5m}


def main() -> int:
    wanted = sys.argv[1:] or list(PARTS)
    unknown = [name for name in wanted if name not in PARTS]
    if unknown:
        print(f"unknown part(s) {unknown}; choose from {list(PARTS)}", file=sys.stderr)
        return 2
    with open_session() as session:
        for name in wanted:
            for figure in PARTS[name](session):
                print(figure.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
