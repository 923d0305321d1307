"""Zipkin v2 JSON spans (`POST /api/v2/spans`) to rows, as OpenTelemetry's Zipkin exporter and
Zipkin's own tracers send them.

Zipkin has no partial success: like Zipkin's server, a body with any span that cannot be read
is refused whole (400, naming the problems) and nothing of it is stored. Tags past the limits
are cut, as OTLP's attributes are, and the 202 says so.

Mapping: 64-bit trace ids are left-padded to 128 bits (as OpenTelemetry does); timestamps and
durations are microseconds; a span without `kind` (the exporter's internal spans send
`"kind": null`) is internal; `localEndpoint.serviceName` is the service and the resource;
`remoteEndpoint.serviceName` becomes the `peer.service` attribute; the `otel.status_code` tag
(or an `error` tag, Zipkin's own convention) sets the status, and `error` or
`otel.status_description` its message; annotations become events."""

from __future__ import annotations

import re
from typing import Any

from metrics.traces.convert import (
    MAX_ATTRIBUTES,
    MAX_EVENTS,
    MAX_NAME_CHARS,
    MAX_TIME_NS,
    MAX_VALUE_CHARS,
    UNKNOWN_SERVICE,
    Conversion,
    SpanRow,
)
from metrics.traces.models import Span

HEX_RE = re.compile(r"[0-9a-fA-F]+")
KINDS = {
    None: Span.Kind.INTERNAL,
    "CLIENT": Span.Kind.CLIENT,
    "SERVER": Span.Kind.SERVER,
    "PRODUCER": Span.Kind.PRODUCER,
    "CONSUMER": Span.Kind.CONSUMER,
}
STATUS_TAGS = {"otel.status_code", "otel.status_description", "error"}
NANOS_PER_MICRO = 1_000


class ZipkinError(ValueError):
    """The body cannot be stored; the message names every problem found."""


def convert_zipkin_spans(document: Any) -> Conversion:
    if not isinstance(document, list):
        raise ZipkinError("the body must be a JSON array of Zipkin v2 spans")
    result = Conversion(attributes_are="tags")
    problems: list[str] = []
    resources: dict[str, dict[str, Any]] = {}  # spans of one service share a resource dict
    for index, span in enumerate(document):
        try:
            result.rows.append(_row(span, resources, result))
        except ZipkinError as problem:
            problems.append(f"span {index}: {problem}")
    if problems:
        shown = "; ".join(problems[:10])
        more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise ZipkinError(f"{len(problems)} span(s) could not be read, none stored: {shown}{more}")
    return result


def _id(span: dict[str, Any], field: str, sizes: tuple[int, ...]) -> str:
    value = span.get(field)
    if not isinstance(value, str) or len(value) not in sizes or not HEX_RE.fullmatch(value):
        wanted = " or ".join(str(size) for size in sizes)
        raise ZipkinError(f"{field} must be {wanted} hex digits, not {value!r}")
    if not value.strip("0"):
        raise ZipkinError(f"{field} must not be all zeros")
    return value.lower()


def _micros(span: dict[str, Any], field: str, *, required: bool) -> int:
    value = span.get(field)
    if value is None and not required:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        shown = repr(value)[:40]
        raise ZipkinError(f"{field} must be a non-negative integer of microseconds, not {shown}")
    if value > MAX_TIME_NS // 1000:
        raise ZipkinError(f"{field} is after 2262-04-11 (more than 2^63-1 nanoseconds)")
    return value


def _row(span: Any, resources: dict[str, dict[str, Any]], result: Conversion) -> SpanRow:
    if not isinstance(span, dict):
        raise ZipkinError("not a JSON object")
    trace_id = _id(span, "traceId", (16, 32)).rjust(32, "0")
    span_id = _id(span, "id", (16,))
    parent_id = _id(span, "parentId", (16,)) if span.get("parentId") else ""
    kind = span.get("kind")
    if not (kind is None or isinstance(kind, str)) or kind not in KINDS:
        raise ZipkinError(f"unknown kind {kind!r}")
    start_us = _micros(span, "timestamp", required=True)
    if not start_us:
        raise ZipkinError("timestamp is missing")
    duration_us = _micros(span, "duration", required=False)
    tags = span.get("tags") or {}
    if not isinstance(tags, dict):
        raise ZipkinError("tags must be an object of strings")
    local = span.get("localEndpoint") or {}
    remote = span.get("remoteEndpoint") or {}
    if not isinstance(local, dict) or not isinstance(remote, dict):
        raise ZipkinError("localEndpoint and remoteEndpoint must be objects")
    service = str(local.get("serviceName") or UNKNOWN_SERVICE)[:200]
    resource = resources.setdefault(service, {"service.name": service})

    cut = False
    attributes: dict[str, Any] = {}
    for key, value in tags.items():
        if key in STATUS_TAGS:
            continue
        if len(attributes) == MAX_ATTRIBUTES:
            cut = True
            break
        text = value if isinstance(value, str) else str(value)
        cut = cut or len(key) > MAX_NAME_CHARS or len(text) > MAX_VALUE_CHARS
        attributes[key[:MAX_NAME_CHARS]] = text[:MAX_VALUE_CHARS]
    if remote.get("serviceName"):
        attributes["peer.service"] = str(remote["serviceName"])[:MAX_VALUE_CHARS]
    annotations = span.get("annotations") or []
    if not isinstance(annotations, list):
        raise ZipkinError("annotations must be an array")
    cut = cut or len(annotations) > MAX_EVENTS
    events = [_event(annotation) for annotation in annotations[:MAX_EVENTS]]
    name = str(span.get("name") or "")
    cut = cut or len(name) > MAX_NAME_CHARS
    if cut:
        result.truncated += 1
    status_code, message = _status(tags)
    return SpanRow(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_id,
        service=service,
        name=name[:MAX_NAME_CHARS],
        kind=KINDS[kind],
        start_ns=start_us * NANOS_PER_MICRO,
        duration_ns=duration_us * NANOS_PER_MICRO,
        status_code=status_code,
        status_message=message[:MAX_VALUE_CHARS],
        attributes=attributes,
        resource=resource,
        events=events,
        links=[],
    )


def _event(annotation: Any) -> dict[str, Any]:
    if not isinstance(annotation, dict):
        raise ZipkinError("an annotation must be an object with timestamp and value")
    time_us = _micros(annotation, "timestamp", required=True)
    return {
        "time_ns": time_us * NANOS_PER_MICRO,
        "name": str(annotation.get("value") or "")[:MAX_NAME_CHARS],
        "attributes": {},
    }


def _status(tags: dict[str, Any]) -> tuple[int, str]:
    code = str(tags.get("otel.status_code", "")).upper()
    message = str(tags.get("error") or tags.get("otel.status_description") or "")
    if code == "ERROR" or (not code and "error" in tags):
        return Span.StatusCode.ERROR, message
    if code == "OK":
        return Span.StatusCode.OK, ""
    return Span.StatusCode.UNSET, ""
