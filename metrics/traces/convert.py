"""OTLP spans to rows. A span that cannot be stored is left out and counted, with the reason,
for the response's `partial_success`; oversized attributes are cut to size and said so."""

from __future__ import annotations

import base64
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from metrics.traces.models import NANOS_PER_DAY, Span

MAX_ATTRIBUTES = 128
MAX_VALUE_CHARS = 4096
MAX_EVENTS = 128
MAX_LINKS = 128
MAX_NAME_CHARS = 300
UNKNOWN_SERVICE = "unknown_service"
KINDS = frozenset(Span.Kind.values)
STATUS_CODES = frozenset(Span.StatusCode.values)


@dataclass
class SpanRow:
    trace_id: str
    span_id: str
    parent_span_id: str
    service: str
    name: str
    kind: int
    start_ns: int
    duration_ns: int
    status_code: int
    status_message: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    events: list[dict[str, Any]]
    links: list[dict[str, Any]]

    @property
    def day(self) -> int:
        return self.start_ns // NANOS_PER_DAY


@dataclass
class Conversion:
    rows: list[SpanRow] = field(default_factory=list)
    rejected: int = 0
    problems: Counter[str] = field(default_factory=Counter)
    truncated: int = 0
    # What the format calls a span's attributes, for the messages ("tags" in Zipkin).
    attributes_are: str = "attributes"

    def reject(self, reason: str) -> None:
        self.rejected += 1
        self.problems[reason] += 1

    def error_message(self) -> str:
        parts = [f"{count} span(s): {reason}" for reason, count in self.problems.most_common()]
        if self.truncated:
            parts.append(
                f"{self.truncated} span(s) kept with {self.attributes_are}, events or links cut to "
                f"the limits ({MAX_ATTRIBUTES} {self.attributes_are}, {MAX_VALUE_CHARS} "
                "characters a value, "
                f"{MAX_EVENTS} events, {MAX_LINKS} links)"
            )
        return "; ".join(parts)


# Times are stored in signed 64-bit columns: later than 2262-04-11 does not fit.
MAX_TIME_NS = 2**63 - 1


class Unstorable(Exception):
    """Part of a span the database cannot hold (a NUL character, a time past MAX_TIME_NS):
    the span is refused with this reason."""


def text(value: str, what: str) -> str:
    """`value`, checked: PostgreSQL's text and jsonb cannot hold NUL characters."""
    if "\x00" in value:
        raise Unstorable(f"{what} contains a NUL character")
    return value


class _Cut:
    """Counts whether anything of one span was cut."""

    def __init__(self) -> None:
        self.cut = False


def _value(value: AnyValue, cut: _Cut, depth: int = 0) -> Any:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        string = text(value.string_value, "an attribute value")
        if len(string) > MAX_VALUE_CHARS:
            cut.cut = True
            return string[:MAX_VALUE_CHARS]
        return string
    if kind == "double_value":
        number = value.double_value
        # JSON has no NaN or infinities: kept as OTLP's JSON writes them.
        return number if math.isfinite(number) else _NON_FINITE[str(number)]
    if kind in _PLAIN:
        return getattr(value, kind)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value[:MAX_VALUE_CHARS]).decode()
    if depth > 4:
        cut.cut = True
        return None
    if kind == "array_value":
        items = value.array_value.values
        if len(items) > MAX_ATTRIBUTES:
            cut.cut = True
        return [_value(item, cut, depth + 1) for item in items[:MAX_ATTRIBUTES]]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values, cut, depth + 1)
    return None


_PLAIN = frozenset({"bool_value", "int_value"})
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _attributes(pairs: Any, cut: _Cut, depth: int = 0) -> dict[str, Any]:
    """The pairs as a dict. Strings, the common case, are read inline: this runs for every
    attribute of every span."""
    if len(pairs) > MAX_ATTRIBUTES:
        cut.cut = True
        pairs = list(pairs)[:MAX_ATTRIBUTES]
    out = {}
    for pair in pairs:
        key = text(pair.key, "an attribute key")
        if len(key) > MAX_NAME_CHARS:
            cut.cut = True
            key = key[:MAX_NAME_CHARS]
        value = pair.value
        kind = value.WhichOneof("value")
        if kind == "string_value":
            string = text(value.string_value, f"attribute {key!r}")
            out[key] = string if len(string) <= MAX_VALUE_CHARS else _value(value, cut, depth)
        elif kind in _PLAIN:
            out[key] = getattr(value, kind)
        else:
            out[key] = _value(value, cut, depth)
    return out


def _hex(raw: bytes, size: int) -> str | None:
    """The id as hex, or None when it has the wrong length or is all zeros (invalid)."""
    if len(raw) != size or not any(raw):
        return None
    return raw.hex()


def convert_trace_request(export: ExportTraceServiceRequest) -> Conversion:
    result = Conversion()
    for resource_spans in export.resource_spans:
        resource_cut = _Cut()
        spans = [span for scope in resource_spans.scope_spans for span in scope.spans]
        try:
            resource = _attributes(resource_spans.resource.attributes, resource_cut)
        except Unstorable as exc:
            for _ in spans:
                result.reject(f"resource: {exc}")
            continue
        service = str(resource.get("service.name") or UNKNOWN_SERVICE)[:200]
        for span in spans:
            try:
                row = _row(span, service, resource, result)
            except Unstorable as exc:
                result.reject(str(exc))
                continue
            if row is not None:
                result.rows.append(row)
    return result


def _events(events: Any, cut: _Cut) -> list[dict[str, Any]]:
    if len(events) > MAX_EVENTS:
        cut.cut = True
    return [
        {
            "time_ns": _time(event.time_unix_nano, "an event's time_unix_nano"),
            "name": text(event.name, "an event name")[:MAX_NAME_CHARS],
            "attributes": _attributes(event.attributes, cut),
        }
        for event in list(events)[:MAX_EVENTS]
    ]


def _time(nanos: int, what: str) -> int:
    if nanos > MAX_TIME_NS:
        raise Unstorable(f"{what} is after 2262-04-11 (more than 2^63-1 nanoseconds)")
    return nanos


def _links(links: Any, cut: _Cut) -> list[dict[str, Any]]:
    if len(links) > MAX_LINKS:
        cut.cut = True
    return [
        {
            "trace_id": link.trace_id.hex(),
            "span_id": link.span_id.hex(),
            "attributes": _attributes(link.attributes, cut),
        }
        for link in list(links)[:MAX_LINKS]
    ]


def _row(span: Any, service: str, resource: dict[str, Any], result: Conversion) -> SpanRow | None:
    trace_id = _hex(span.trace_id, 16)
    if trace_id is None:
        result.reject("trace_id must be 16 bytes (32 hex digits), not all zeros")
        return None
    span_id = _hex(span.span_id, 8)
    if span_id is None:
        result.reject("span_id must be 8 bytes (16 hex digits), not all zeros")
        return None
    parent = b"" if not any(span.parent_span_id) else span.parent_span_id
    parent_id = _hex(parent, 8) if parent else ""
    if parent_id is None:
        result.reject("parent_span_id must be empty or 8 bytes (16 hex digits)")
        return None
    if span.end_time_unix_nano < span.start_time_unix_nano:
        result.reject("end_time_unix_nano is before start_time_unix_nano")
        return None
    if not span.start_time_unix_nano:
        result.reject("start_time_unix_nano is missing")
        return None
    _time(span.end_time_unix_nano, "end_time_unix_nano")
    if span.kind not in KINDS:
        result.reject(f"unknown span kind {span.kind}")
        return None
    if span.status.code not in STATUS_CODES:
        result.reject(f"unknown status code {span.status.code}")
        return None
    cut = _Cut()
    events = _events(span.events, cut) if span.events else []
    links = _links(span.links, cut) if span.links else []
    attributes = _attributes(span.attributes, cut)
    name = text(span.name, "the span name")
    text(span.status.message, "the status message")
    if len(name) > MAX_NAME_CHARS:
        cut.cut = True
        name = name[:MAX_NAME_CHARS]
    if cut.cut:
        result.truncated += 1
    return SpanRow(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_id,
        service=service,
        name=name,
        kind=span.kind,
        start_ns=span.start_time_unix_nano,
        duration_ns=span.end_time_unix_nano - span.start_time_unix_nano,
        status_code=span.status.code,
        status_message=span.status.message[:MAX_VALUE_CHARS],
        attributes=attributes,
        resource=resource,
        events=events,
        links=links,
    )
