"""Reads of stored spans: a whole trace, trace search (summaries), the service graph, and the
waterfall layout the trace page draws. (Interface fixed; bodies being written.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metrics.traces.models import Span


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
    raise NotImplementedError


def search_traces(filters: SearchFilters) -> list[TraceSummary]:
    """Traces with at least one span matching every filter, newest first, at most `limit`."""
    raise NotImplementedError


def service_graph(start_ns: int, end_ns: int) -> tuple[list[GraphNode], list[GraphEdge]]:
    """Services and the calls between them: an edge per (client service, server service) from
    each span whose parent belongs to another service, with request and error counts and
    latency percentiles of the child spans (like Tempo's service graph)."""
    raise NotImplementedError


def waterfall(spans: list[Span]) -> dict[str, Any]:
    """The trace page's data: rows in depth-first order (parent before children, siblings by
    start), each {span_id, parent_span_id, depth, service, name, kind, start_offset_ns,
    duration_ns, error, status_message, attributes, resource, events, links, missing_parent,
    skew_ns, critical}, plus {trace_id, start_ns, duration_ns, services, span_count,
    error_count, missing_parents (count), critical_path (span ids)}. A span whose parent is not
    stored is a root marked `missing_parent`; a child that starts before its parent or ends
    after it (clock skew) gets the offset in `skew_ns`."""
    raise NotImplementedError
