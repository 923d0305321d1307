"""Writing spans: INSERT … ON CONFLICT DO NOTHING on the key (trace id, span id, start), so a
batch sent twice stores each span once. The spans of a batch, their resources (once a day
each) and their span metric counts are written in one transaction."""

from __future__ import annotations

from typing import Any

import orjson
from django.db import connection, transaction

from coe_portal.accounts.models import Team
from coe_portal.db import insert_new_rows
from metrics.traces.convert import SpanRow
from metrics.traces.models import Span, SpanResource
from metrics.traces.partitions import ensure_span_partitions
from metrics.traces.resources import resource_key, resource_text
from metrics.traces.span_metrics import record_span_metrics

ROWS_PER_STATEMENT = 500
COLUMNS = [
    "trace_id", "span_id", "parent_span_id", "service", "name", "kind", "start_ns",
    "duration_ns", "status_code", "status_message", "attributes", "resource_key", "events",
    "links", "team_id",
]  # fmt: skip
KEY = ["trace_id", "span_id", "start_ns"]


def store_spans(rows: list[SpanRow], *, team: Team | None) -> list[SpanRow]:
    """Store `rows` and queue the span metrics of the new ones; returns those not stored
    before. The days' partitions are made first, in transactions of their own."""
    if not rows:
        return []
    unique: dict[tuple[str, str, int], SpanRow] = {}
    for row in rows:
        unique.setdefault((row.trace_id, row.span_id, row.start_ns), row)
    ordered = list(unique.values())
    keys = _resource_keys(ordered)
    ensure_span_partitions({row.day for row in ordered})
    with transaction.atomic():
        _store_resources(ordered, keys)
        if connection.vendor == "postgresql":
            stored = _copy_insert(ordered, keys, team)
        else:
            stored = set()
            for start in range(0, len(ordered), ROWS_PER_STATEMENT):
                stored |= _insert(ordered[start : start + ROWS_PER_STATEMENT], keys, team)
        new = [row for row in ordered if (row.trace_id, row.span_id, row.start_ns) in stored]
        record_span_metrics(new)
    return new


class _Resource:
    __slots__ = ("key", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.key = resource_key(text)


def _resource_keys(rows: list[SpanRow]) -> dict[int, _Resource]:
    """Each distinct resource dict of the batch (the spans of one resource share it), by id()."""
    found: dict[int, _Resource] = {}
    for row in rows:
        if id(row.resource) not in found:
            found[id(row.resource)] = _Resource(resource_text(row.resource))
    return found


def _store_resources(rows: list[SpanRow], keys: dict[int, _Resource]) -> None:
    wanted: dict[tuple[int, int], str] = {}
    for row in rows:
        resource = keys[id(row.resource)]
        wanted.setdefault((resource.key, row.day), resource.text)
    insert_new_rows(
        SpanResource._meta.db_table, ["key", "day", "attributes"],
        [(key, day, text) for (key, day), text in sorted(wanted.items())],
        conflict=["key", "day"], returning=["key"],
    )  # fmt: skip


INCOMING = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS span_incoming ("
    "trace_id varchar(32), span_id varchar(16), parent_span_id varchar(16), "
    "service varchar(200), name varchar(300), kind smallint, start_ns bigint, "
    "duration_ns bigint, status_code smallint, status_message text, attributes jsonb, "
    "resource_key bigint, events jsonb, links jsonb, team_id bigint"
    ") ON COMMIT DELETE ROWS"
)


def _dumps(value: Any) -> str:
    """JSON text for the COPY (orjson: several times faster than json, and this runs for every
    span)."""
    return orjson.dumps(value).decode()


def _copy_insert(
    rows: list[SpanRow], keys: dict[int, _Resource], team: Team | None
) -> set[tuple[str, str, int]]:
    """PostgreSQL: COPY into a per-connection staging table (emptied at commit), then one
    INSERT … SELECT … ON CONFLICT DO NOTHING: far cheaper to build and parse than a
    multi-row VALUES list."""
    team_id = team.pk if team is not None else None
    columns = ", ".join(COLUMNS)

    with connection.cursor() as cursor:
        cursor.execute(INCOMING)
        # Errors of the raw cursor become Django's, as with its own cursor (see writer.py).
        with (
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY span_incoming ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row((
                    row.trace_id, row.span_id, row.parent_span_id, row.service, row.name,
                    row.kind, row.start_ns, row.duration_ns, row.status_code, row.status_message,
                    _dumps(row.attributes), keys[id(row.resource)].key,
                    _dumps(row.events) if row.events else "[]",
                    _dumps(row.links) if row.links else "[]", team_id,
                ))  # fmt: skip
        cursor.execute(
            f"INSERT INTO {Span._meta.db_table} ({columns}) "  # noqa: S608 (constant names)
            f"SELECT {columns} FROM span_incoming "
            f"ON CONFLICT ({', '.join(KEY)}) DO NOTHING RETURNING {', '.join(KEY)}"
        )
        # The staging rows stay until the outermost commit: should a caller's transaction store
        # again, they only meet the conflict clause (cheaper than a TRUNCATE per batch).
        return {(str(a), str(b), int(c)) for a, b, c in cursor.fetchall()}


def _insert(
    rows: list[SpanRow], keys: dict[int, _Resource], team: Team | None
) -> set[tuple[str, str, int]]:
    ops = connection.ops
    team_id = team.pk if team is not None else None
    values = [
        (
            row.trace_id, row.span_id, row.parent_span_id, row.service, row.name, row.kind,
            row.start_ns, row.duration_ns, row.status_code, row.status_message,
            ops.adapt_json_value(row.attributes, None), keys[id(row.resource)].key,
            ops.adapt_json_value(row.events, None), ops.adapt_json_value(row.links, None),
            team_id,
        )
        for row in rows
    ]  # fmt: skip
    created = insert_new_rows(Span._meta.db_table, COLUMNS, values, conflict=KEY, returning=KEY)
    return {(str(a), str(b), int(c)) for a, b, c in created}
