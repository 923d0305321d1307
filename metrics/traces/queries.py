"""Reads of stored spans: a whole trace, trace search (summaries), the service graph, and the
waterfall layout the trace page draws. Reads only: nothing here writes or deletes a span.

Search finds trace ids by walking the matching spans newest first, which the (service, start_ns)
and (start_ns) indexes answer without sorting, then summarises those traces in one more query.
The service graph joins each span in the range to its parent in SQL (a self-join on trace id
and span id, both sides limited by start time), so only the cross-service calls travel to
Python, never every span of the range.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import Count, Q, TextField
from django.db.models.expressions import Func
from django.db.models.lookups import Exact

from metrics.traces.models import Span, SpanResource

# Matching spans fetched per wanted trace in the first round of a search: one trace often has
# several matching spans (every span of a service, say), and a second round costs another query.
SEARCH_HEADROOM = 10
PERCENTILES = (50, 95, 99)
NANOS_PER_MS = 1_000_000
# How far outside a service graph's range a parent span may start (long calls, clock skew).
PARENT_SLACK_NS = 300 * 1_000 * NANOS_PER_MS
ERROR = Span.StatusCode.ERROR


@dataclass(frozen=True)
class TraceSummary:
    trace_id: str
    root_service: str  # the service of the root span ("" when the root is missing)
    root_name: str  # the root span's name ("" when missing)
    start_ns: int  # earliest span start
    duration_ns: int  # latest span end minus earliest start
    span_count: int
    error_count: int  # spans with status ERROR
    services: list[str] = field(default_factory=list)  # sorted


@dataclass(frozen=True)
class SearchFilters:
    start_ns: int
    end_ns: int
    service: str = ""
    operation: str = ""  # span name
    tags: dict[str, str] = field(default_factory=dict)  # span attributes key=value (as strings)
    min_duration_ns: int | None = None
    max_duration_ns: int | None = None
    errors_only: bool = False
    limit: int = 20


@dataclass(frozen=True)
class GraphNode:
    service: str
    requests: int  # server (or consumer) spans of the service in the range
    errors: int


@dataclass(frozen=True)
class GraphEdge:
    client: str
    server: str
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


def trace_spans(trace_id: str) -> list[Span]:
    """Every stored span of the trace, by start time (then span id)."""
    return list(Span.objects.filter(trace_id=trace_id.lower()).order_by("start_ns", "span_id"))


def resources_by_key(keys: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The stored resources with these keys (a resource's attributes are the same every day)."""
    found = SpanResource.objects.filter(key__in=set(keys)).values_list("key", "attributes")
    return dict(found)


def span_resources(spans: list[Span]) -> dict[int, dict[str, Any]]:
    """The resources of these spans, by key."""
    return resources_by_key(span.resource_key for span in spans)


# --- search -------------------------------------------------------------------------------


class AttributeText(Func):
    """One span attribute as text, written the same way on PostgreSQL and SQLite: a string
    as itself, a number as JSON writes it ("3", "0.25"), a boolean as "true"/"false", NULL
    when the span lacks it. The key is a bound parameter and is never split on dots or "__"
    (Django's `attributes__key` lookups would split "a__b" and treat "0" as an array index)."""

    output_field = TextField()

    def __init__(self, key: str) -> None:
        super().__init__("attributes")
        self.key = key

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> Any:
        # PostgreSQL (jsonb): ->> gives strings unquoted and other values as their JSON text.
        column, params = compiler.compile(self.get_source_expressions()[0])
        return f"({column} ->> %s)", (*params, self.key)

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        # json_extract unquotes strings but turns true into 1, so only strings use it; -> keeps
        # the JSON text of numbers and booleans. JSON null reads as NULL, as ->> does.
        column, params = compiler.compile(self.get_source_expressions()[0])
        path = "$." + json.dumps(self.key)
        sql = (
            f"(CASE json_type({column}, %s) WHEN 'null' THEN NULL"
            f" WHEN 'text' THEN json_extract({column}, %s) ELSE ({column} -> %s) END)"
        )
        return sql, (*params, path, *params, path, *params, path)


def _matching_spans(filters: SearchFilters) -> Any:
    spans = Span.objects.filter(start_ns__gte=filters.start_ns, start_ns__lt=filters.end_ns)
    if filters.service:
        spans = spans.filter(service=filters.service)
    if filters.operation:
        spans = spans.filter(name=filters.operation)
    if filters.min_duration_ns is not None:
        spans = spans.filter(duration_ns__gte=filters.min_duration_ns)
    if filters.max_duration_ns is not None:
        spans = spans.filter(duration_ns__lte=filters.max_duration_ns)
    if filters.errors_only:
        spans = spans.filter(status_code=ERROR)
    for key, value in sorted(filters.tags.items()):
        spans = spans.filter(Exact(AttributeText(key), str(value)))
    return spans


def _newest_trace_ids(spans: Any, limit: int) -> list[str]:
    """Distinct trace ids of `spans`, the trace with the newest matching span first.

    Each round reads matching spans newest first (ORDER BY start_ns DESC LIMIT n: a backward
    scan of the (service, start_ns) or (start_ns) index that stops after n rows) and the next
    round continues from the oldest start seen. That start is included again, since spans
    sharing it may have been cut off by the limit; seen traces are skipped, and the round size
    doubles, so even more than n spans at one instant cannot stall the walk."""
    found: dict[str, None] = {}  # insertion-ordered set
    batch = max(limit * SEARCH_HEADROOM, 100)
    upper: int | None = None
    while True:
        page = spans if upper is None else spans.filter(start_ns__lte=upper)
        rows = list(page.order_by("-start_ns").values_list("trace_id", "start_ns")[:batch])
        for trace_id, _start in rows:
            if trace_id not in found:
                found[trace_id] = None
                if len(found) == limit:
                    return list(found)
        if len(rows) < batch:
            return list(found)
        upper = rows[-1][1]
        batch *= 2


class _SummarySpan(NamedTuple):
    trace_id: str
    parent_span_id: str
    service: str
    name: str
    start_ns: int
    duration_ns: int
    status_code: int


def _summaries(trace_ids: list[str]) -> list[TraceSummary]:
    """One query: the few columns a summary needs, of every span of the traces."""
    spans_by_trace: dict[str, list[_SummarySpan]] = defaultdict(list)
    rows = Span.objects.filter(trace_id__in=trace_ids).values_list(*_SummarySpan._fields)
    for row in rows:
        span = _SummarySpan(*row)
        spans_by_trace[span.trace_id].append(span)
    summaries = []
    for trace_id in trace_ids:
        spans = spans_by_trace.get(trace_id)
        if not spans:  # dropped by retention between the two queries
            continue
        roots = [span for span in spans if not span.parent_span_id]
        root = min(roots, key=lambda span: span.start_ns) if roots else None
        start = min(span.start_ns for span in spans)
        summaries.append(
            TraceSummary(
                trace_id=trace_id,
                root_service=root.service if root else "",
                root_name=root.name if root else "",
                start_ns=start,
                duration_ns=max(span.start_ns + span.duration_ns for span in spans) - start,
                span_count=len(spans),
                error_count=sum(1 for span in spans if span.status_code == ERROR),
                services=sorted({span.service for span in spans}),
            )
        )
    summaries.sort(key=lambda summary: (-summary.start_ns, summary.trace_id))
    return summaries


def search_traces(filters: SearchFilters) -> list[TraceSummary]:
    """Traces with at least one span matching every filter, newest first, at most `limit`."""
    # A span matches when it starts in [start_ns, end_ns) and all filters hold for that one
    # span; duration bounds are inclusive. The `limit` traces whose newest matching span is the
    # newest are kept and listed by trace start, newest first.
    if filters.limit <= 0 or filters.end_ns <= filters.start_ns:
        return []
    trace_ids = _newest_trace_ids(_matching_spans(filters), filters.limit)
    return _summaries(trace_ids) if trace_ids else []


# --- service graph ------------------------------------------------------------------------


def nearest_rank(ordered: list[float], percentile: int) -> float:
    """The nearest-rank percentile of sorted values: the value at rank ceil(p/100 * n)."""
    rank = -(-percentile * len(ordered) // 100)  # ceil in integers: no 0.95 * 20 = 18.999…
    return ordered[max(rank, 1) - 1]


def _cross_service_calls(start_ns: int, end_ns: int) -> list[tuple[str, str, int, int]]:
    """(client service, server service, child duration, child status) of each span starting in
    the range whose parent is stored and belongs to another service.

    The parent is looked for only among spans starting within PARENT_SLACK_NS of the range, so
    the join reads the range (through the start index) and never the whole table; a call whose
    client side started up to that long before the window still counts, in the window its
    server side started in."""
    table = Span._meta.db_table
    sql = (  # the table name is a constant; every value is a parameter
        f"SELECT parent.service, child.service, child.duration_ns, child.status_code "  # noqa: S608
        f"FROM {table} child JOIN {table} parent "
        f"ON parent.trace_id = child.trace_id AND parent.span_id = child.parent_span_id "
        f"WHERE child.start_ns >= %s AND child.start_ns < %s AND child.parent_span_id <> '' "
        f"AND parent.start_ns >= %s AND parent.start_ns < %s "
        f"AND parent.service <> child.service"
    )
    params = [start_ns, end_ns, start_ns - PARENT_SLACK_NS, end_ns + PARENT_SLACK_NS]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(str(a), str(b), int(c), int(d)) for a, b, c, d in cursor.fetchall()]


def service_graph(start_ns: int, end_ns: int) -> tuple[list[GraphNode], list[GraphEdge]]:
    """Services and the calls between them: an edge per (client service, server service) from
    each span whose parent belongs to another service, with request and error counts and
    latency percentiles of the child spans (like Tempo's service graph)."""
    # Two queries: per-service counts of server/consumer spans (GROUP BY in the database) and
    # the cross-service parent/child pairs (a SQL self-join). Percentiles are nearest-rank over
    # the child (server-side) span durations in ms. Only service-to-service edges: no "user"
    # edge into the root service.
    entry_kinds = [Span.Kind.SERVER, Span.Kind.CONSUMER]
    per_service = (
        Span.objects.filter(start_ns__gte=start_ns, start_ns__lt=end_ns)
        .values("service")
        .annotate(
            requests=Count("span_id", filter=Q(kind__in=entry_kinds)),
            errors=Count("span_id", filter=Q(kind__in=entry_kinds, status_code=ERROR)),
        )
        .order_by()
    )
    nodes = {
        row["service"]: GraphNode(row["service"], row["requests"], row["errors"])
        for row in per_service
    }
    durations: dict[tuple[str, str], list[int]] = defaultdict(list)
    errors: dict[tuple[str, str], int] = defaultdict(int)
    for client, server, duration_ns, status_code in _cross_service_calls(start_ns, end_ns):
        durations[client, server].append(duration_ns)
        errors[client, server] += status_code == ERROR
        for service in (client, server):  # a client whose span started before the range
            nodes.setdefault(service, GraphNode(service, 0, 0))
    edges = []
    for (client, server), values in sorted(durations.items()):
        ordered = sorted(value / NANOS_PER_MS for value in values)
        p50, p95, p99 = (nearest_rank(ordered, p) for p in PERCENTILES)
        edges.append(GraphEdge(client, server, len(values), errors[client, server], p50, p95, p99))
    return [nodes[name] for name in sorted(nodes)], edges


# --- waterfall ----------------------------------------------------------------------------


def _sibling_order(span: Span) -> tuple[int, str]:
    return span.start_ns, span.span_id


def _skew_ns(span: Span, parent: Span) -> int:
    """How far the child sticks out of its parent (clock skew between hosts), else 0."""
    return max(parent.start_ns - span.start_ns, span.end_ns - parent.end_ns, 0)


def _critical_path(root: Span, children: dict[str, list[Span]]) -> list[str]:
    """From the root, repeatedly the child that ends last: the call its parent waited for.
    An approximation (it ignores work the parent did after that child and overlaps between
    siblings), as Jaeger's and Tempo's simple critical path views do; ties go to the child
    that starts first."""
    path = [root.span_id]
    on_path = {root.span_id}
    current = root
    while children.get(current.span_id):
        latest = max(span.end_ns for span in children[current.span_id])
        current = next(span for span in children[current.span_id] if span.end_ns == latest)
        if current.span_id in on_path:  # a parent cycle (bad data) would never end
            break
        path.append(current.span_id)
        on_path.add(current.span_id)
    return path


def waterfall(
    spans: list[Span], resources: dict[int, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The trace page's data: rows in depth-first order (parent before children, siblings by
    start), each {span_id, parent_span_id, depth, service, name, kind, start_offset_ns,
    duration_ns, error, status_message, attributes, resource, events, links, missing_parent,
    skew_ns, critical}, plus {trace_id, start_ns, duration_ns, services, span_count,
    error_count, missing_parents (count), critical_path (span ids)}. A span whose parent is not
    stored is a root marked `missing_parent`; a child that starts before its parent or ends
    after it (clock skew) gets the offset in `skew_ns`."""
    # `kind` is the kind's name ("server"), as the JSON API writes it. The walk uses an explicit
    # stack, so a trace of thousands of nested spans meets no recursion limit. Spans caught in
    # a parent cycle (bad data) would be unreachable from any root; the earliest of them is
    # then shown as a root so that every span gets a row.
    if not spans:
        return {
            "trace_id": "", "start_ns": 0, "duration_ns": 0, "services": [], "span_count": 0,
            "error_count": 0, "missing_parents": 0, "critical_path": [], "rows": [],
        }  # fmt: skip
    ordered = sorted(spans, key=_sibling_order)
    by_id = {span.span_id: span for span in ordered}
    children: dict[str, list[Span]] = defaultdict(list)
    roots: list[Span] = []
    for span in ordered:
        parent_id = span.parent_span_id
        if parent_id and parent_id in by_id and parent_id != span.span_id:
            children[parent_id].append(span)
        else:
            roots.append(span)
    # The critical path starts at the true root (no parent id), else at the earliest root.
    main_root = next((span for span in roots if not span.parent_span_id), ordered[0])
    critical_path = _critical_path(main_root, children)
    critical = set(critical_path)
    trace_start = ordered[0].start_ns

    rows: list[dict[str, Any]] = []
    visited: set[str] = set()
    pending_roots = iter(roots)
    unvisited_in_order = iter(ordered)
    while len(visited) < len(by_id):
        root = next(pending_roots, None)
        if root is None:  # only spans in a parent cycle are left
            root = next(span for span in unvisited_in_order if span.span_id not in visited)
        stack: list[tuple[Span, int]] = [(root, 0)]
        while stack:
            span, depth = stack.pop()
            if span.span_id in visited:
                continue
            visited.add(span.span_id)
            parent = by_id.get(span.parent_span_id) if depth else None
            rows.append(
                {
                    "span_id": span.span_id,
                    "parent_span_id": span.parent_span_id,
                    "depth": depth,
                    "service": span.service,
                    "name": span.name,
                    "kind": Span.Kind(span.kind).label,
                    "start_offset_ns": span.start_ns - trace_start,
                    "duration_ns": span.duration_ns,
                    "error": span.status_code == ERROR,
                    "status_message": span.status_message,
                    "attributes": span.attributes,
                    "resource": (resources or {}).get(span.resource_key, {}),
                    "events": span.events,
                    "links": span.links,
                    "missing_parent": bool(span.parent_span_id)
                    and span.parent_span_id not in by_id,
                    "skew_ns": _skew_ns(span, parent) if parent is not None else 0,
                    "critical": span.span_id in critical,
                }
            )
            stack.extend((child, depth + 1) for child in reversed(children[span.span_id]))

    return {
        "trace_id": ordered[0].trace_id,
        "start_ns": trace_start,
        "duration_ns": max(span.end_ns for span in ordered) - trace_start,
        "services": sorted({span.service for span in ordered}),
        "span_count": len(ordered),
        "error_count": sum(1 for span in ordered if span.status_code == ERROR),
        "missing_parents": sum(1 for row in rows if row["missing_parent"]),
        "critical_path": critical_path,
        "rows": rows,
    }
