"""The trace JSON API (`read` token): one trace's spans, and trace search answering summaries.

Answers are `{"status": "success", "data": …}`; a bad parameter is a 400 naming it, an unknown
trace a 404, both as `{"status": "error", "errorType", "error"}`. Nanosecond times are strings
(they exceed JavaScript's exact integers); ids are lowercase hex.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse, QueryDict
from django.views.decorators.http import require_GET

from coe_portal.accounts.auth import token_required
from metrics.traces.durations import parse_span_duration
from metrics.traces.models import Span
from metrics.traces.queries import SearchFilters, TraceSummary, resources_by_key, search_traces
from metrics.views.api import BadRequest, api_error, parse_time, success

TRACE_ID_RE = re.compile(r"[0-9a-fA-F]{32}")
DEFAULT_RANGE_MS = 3_600_000
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
NANOS_PER_MS = 1_000_000
TRUE_WORDS = {"true", "1", "yes"}
FALSE_WORDS = {"false", "0", "no", ""}


def summary_as_json(summary: TraceSummary) -> dict[str, Any]:
    return {
        "trace_id": summary.trace_id,
        "root_service": summary.root_service,
        "root_name": summary.root_name,
        "start_time_unix_nano": str(summary.start_ns),
        "duration_ns": summary.duration_ns,
        "span_count": summary.span_count,
        "error_count": summary.error_count,
        "services": summary.services,
    }


@require_GET
@token_required("read")
def trace_detail_api(request: HttpRequest, trace_id: str) -> HttpResponse:
    if not TRACE_ID_RE.fullmatch(trace_id):
        return api_error(400, "bad_data", f'trace_id "{trace_id}" must be 32 hex digits')
    trace_id = trace_id.lower()
    document = trace_document(trace_id)
    if document is None:
        return api_error(404, "not_found", f"no trace with id {trace_id}")
    return HttpResponse(document, content_type="application/json")


KINDS = dict(Span.Kind.choices)
STATUS_CODES = dict(Span.StatusCode.choices)
_DOCUMENT_SQL = (
    "SELECT span_id, parent_span_id, service, name, kind, start_ns, duration_ns, status_code, "
    "status_message, CAST(attributes AS TEXT), resource_key, CAST(events AS TEXT), "
    "CAST(links AS TEXT) FROM metrics_span WHERE trace_id = %s ORDER BY start_ns, span_id"
)


def trace_document(trace_id: str) -> bytes | None:
    """The API answer for one trace (its spans by start, ids as hex), built from rows with the
    JSON columns read as text and passed through: decoding and re-encoding a thousand spans'
    attributes would cost more than the query."""
    with connection.cursor() as cursor:
        cursor.execute(_DOCUMENT_SQL, [trace_id])
        rows = cursor.fetchall()
    if not rows:
        return None
    # A trace has a handful of resources: encoding them again costs nothing.
    resources = {
        key: json.dumps(value) for key, value in resources_by_key(r[10] for r in rows).items()
    }
    spans = []
    for row in rows:
        span_id, parent, service, name, kind, start, duration, code, message = row[:9]
        attributes, key, events, links = row[9:]
        head = json.dumps({
            "trace_id": trace_id, "span_id": span_id, "parent_span_id": parent,
            "service": service, "name": name, "kind": KINDS[kind],
            "start_time_unix_nano": str(start), "end_time_unix_nano": str(start + duration),
            "duration_ns": duration,
            "status": {"code": STATUS_CODES[code], "message": message},
        })  # fmt: skip
        spans.append(
            f'{head[:-1]}, "attributes": {attributes}, "resource": {resources.get(key, "{}")}, '
            f'"events": {events}, "links": {links}}}'
        )
    trace = json.dumps(trace_id)
    body = '{"status": "success", "data": {"trace_id": ' + trace + ', "spans": ['
    return (body + ", ".join(spans) + "]}}").encode()


@require_GET
@token_required("read")
def trace_search_api(request: HttpRequest) -> HttpResponse:
    try:
        filters = search_filters(request.GET)
    except BadRequest as exc:
        return api_error(400, "bad_data", str(exc))
    return success([summary_as_json(summary) for summary in search_traces(filters)])


def search_filters(params: QueryDict) -> SearchFilters:
    """The search parameters, or BadRequest naming the first bad one."""
    end_ms = _time(params, "end", int(time.time() * 1000))
    start_ms = _time(params, "start", end_ms - DEFAULT_RANGE_MS)
    if end_ms < start_ms:
        raise BadRequest("end: must not be before start")
    min_duration = _duration(params, "min_duration")
    max_duration = _duration(params, "max_duration")
    if min_duration is not None and max_duration is not None and min_duration > max_duration:
        raise BadRequest("min_duration: must not be above max_duration")
    return SearchFilters(
        start_ns=start_ms * NANOS_PER_MS,
        end_ns=end_ms * NANOS_PER_MS,
        service=params.get("service", ""),
        operation=params.get("operation", ""),
        tags=_tags(params.getlist("tags")),
        min_duration_ns=min_duration,
        max_duration_ns=max_duration,
        errors_only=_flag(params, "errors"),
        limit=_limit(params),
    )


def _time(params: QueryDict, name: str, default_ms: int) -> int:
    """RFC 3339 or Unix seconds, as the Prometheus API takes them; milliseconds."""
    try:
        return parse_time(params.get(name), default_ms)
    except BadRequest as exc:
        raise BadRequest(f"{name}: {exc}") from None


def _duration(params: QueryDict, name: str) -> int | None:
    """'250ms', '1.5s', '2m', '1m30s' or a plain number of milliseconds; nanoseconds."""
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        return parse_span_duration(raw, bare_number_ms=True)
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}") from None


def _tags(raw_tags: list[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for raw in raw_tags:
        key, equals, value = raw.partition("=")
        key = key.strip()
        if not equals or not key:
            raise BadRequest(f'tags: "{raw}" must be key=value')
        if key in tags and tags[key] != value:
            raise BadRequest(f'tags: "{key}" is given twice with different values')
        tags[key] = value
    return tags


def _flag(params: QueryDict, name: str) -> bool:
    raw = params.get(name, "").strip().lower()
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise BadRequest(f'{name}: "{raw}" must be true or false')


def _limit(params: QueryDict) -> int:
    raw = params.get("limit", "").strip()
    if not raw:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise BadRequest(f'limit: "{raw}" must be a whole number from 1') from None
    if limit < 1:
        raise BadRequest(f'limit: "{raw}" must be a whole number from 1')
    return min(limit, MAX_LIMIT)
