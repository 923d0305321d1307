"""Writing spans: INSERT … ON CONFLICT DO NOTHING on the unique (trace id, span id), so a batch
sent twice stores each span once; returns the spans that are new (span metrics count only
those)."""

from __future__ import annotations

import json

from django.db import connection, transaction

from coe_portal.accounts.models import Team
from coe_portal.db import insert_new_rows
from metrics.traces.convert import SpanRow
from metrics.traces.models import Span

ROWS_PER_STATEMENT = 500
COLUMNS = [
    "trace_id", "span_id", "parent_span_id", "service", "name", "kind", "start_ns",
    "duration_ns", "status_code", "status_message", "attributes", "resource", "events", "links",
    "day", "team_id",
]  # fmt: skip


def store_spans(rows: list[SpanRow], *, team: Team | None) -> list[SpanRow]:
    """Store `rows` (one transaction); returns those not stored before."""
    if not rows:
        return []
    unique: dict[tuple[str, str], SpanRow] = {}
    for row in rows:
        unique.setdefault((row.trace_id, row.span_id), row)
    new: list[SpanRow] = []
    ordered = list(unique.values())
    with transaction.atomic():
        if connection.vendor == "postgresql":
            stored = _copy_insert(ordered, team)
            return [row for row in ordered if (row.trace_id, row.span_id) in stored]
        for start in range(0, len(ordered), ROWS_PER_STATEMENT):
            chunk = ordered[start : start + ROWS_PER_STATEMENT]
            stored = _insert(chunk, team)
            new += [row for row in chunk if (row.trace_id, row.span_id) in stored]
    return new


INCOMING = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS span_incoming ("
    "trace_id varchar(32), span_id varchar(16), parent_span_id varchar(16), "
    "service varchar(200), name varchar(300), kind smallint, start_ns bigint, "
    "duration_ns bigint, status_code smallint, status_message text, attributes jsonb, "
    "resource jsonb, events jsonb, links jsonb, day integer, team_id bigint"
    ") ON COMMIT DELETE ROWS"
)


def _copy_insert(rows: list[SpanRow], team: Team | None) -> set[tuple[str, str]]:
    """PostgreSQL: COPY into a per-connection staging table (emptied at commit), then one
    INSERT … SELECT … ON CONFLICT DO NOTHING: far cheaper to build and parse than a
    multi-row VALUES list."""
    team_id = team.pk if team is not None else None
    columns = ", ".join(COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(INCOMING)
        raw = cursor.cursor
        resources: dict[int, str] = {}  # the spans of one resource share its dict: dump it once
        with raw.copy(f"COPY span_incoming ({columns}) FROM STDIN") as copy:
            for row in rows:
                resource = resources.get(id(row.resource))
                if resource is None:
                    resource = resources[id(row.resource)] = json.dumps(row.resource)
                copy.write_row((
                    row.trace_id, row.span_id, row.parent_span_id, row.service, row.name,
                    row.kind, row.start_ns, row.duration_ns, row.status_code, row.status_message,
                    json.dumps(row.attributes), resource,
                    json.dumps(row.events) if row.events else "[]",
                    json.dumps(row.links) if row.links else "[]", row.day, team_id,
                ))  # fmt: skip
        cursor.execute(
            f"INSERT INTO {Span._meta.db_table} ({columns}) "  # noqa: S608 (constant names)
            f"SELECT {columns} FROM span_incoming "
            "ON CONFLICT (trace_id, span_id) DO NOTHING RETURNING trace_id, span_id"
        )
        stored = {(str(a), str(b)) for a, b in cursor.fetchall()}
        cursor.execute("TRUNCATE span_incoming")  # also empty when the caller's transaction goes on
        return stored


def _insert(rows: list[SpanRow], team: Team | None) -> set[tuple[str, str]]:
    ops = connection.ops
    team_id = team.pk if team is not None else None
    values = [
        (
            row.trace_id, row.span_id, row.parent_span_id, row.service, row.name, row.kind,
            row.start_ns, row.duration_ns, row.status_code, row.status_message,
            ops.adapt_json_value(row.attributes, None), ops.adapt_json_value(row.resource, None),
            ops.adapt_json_value(row.events, None), ops.adapt_json_value(row.links, None),
            row.day, team_id,
        )
        for row in rows
    ]  # fmt: skip
    created = insert_new_rows(
        Span._meta.db_table, COLUMNS, values, conflict=["trace_id", "span_id"],
        returning=["trace_id", "span_id"],
    )  # fmt: skip
    return {(str(a), str(b)) for a, b in created}
