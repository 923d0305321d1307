"""Migration 0014 copies the spans stored under the old schema (an id, the resource on every
span) into the new tables: each span once, each resource once a day."""

from __future__ import annotations

import importlib
import json
from types import SimpleNamespace

import pytest
from django.db import connection

from metrics.traces.models import Span, SpanResource
from metrics.traces.resources import resource_key, resource_text

migration = importlib.import_module("metrics.migrations.0014_span_partitions")
pytestmark = pytest.mark.django_db
DAY = 20_416  # 2025-11-24
CART = {"service.name": "cart", "host.name": "cart-1"}


def old_span(id_: int, span_id: str, resource: dict, day: int = DAY, **fields) -> tuple:
    row = {
        "id": id_, "trace_id": "ab" * 16, "span_id": span_id, "parent_span_id": "",
        "service": resource["service.name"], "name": "GET /cart", "kind": 2,
        "start_ns": day * 86_400 * 10**9 + id_, "duration_ns": 5, "status_code": 0,
        "status_message": "", "attributes": json.dumps({"n": id_}),
        "resource": json.dumps(resource), "events": "[]", "links": "[]", "day": day,
        "team_id": None, **fields,
    }  # fmt: skip
    return tuple(row.values())


def test_spans_of_the_old_table_are_copied_with_each_resource_once_a_day(monkeypatch):
    monkeypatch.setattr(migration, "COPY_BATCH", 2)  # several batches
    rows = [
        old_span(1, "0000000000000001", CART),
        old_span(2, "0000000000000002", CART, events='[{"name": "retry"}]'),
        old_span(3, "0000000000000003", {"service.name": "pay"}),
        old_span(4, "0000000000000004", CART, day=DAY + 1),
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {migration.OLD} (id bigint, trace_id varchar(32), "
            "span_id varchar(16), parent_span_id varchar(16), service varchar(200), "
            "name varchar(300), kind smallint, start_ns bigint, duration_ns bigint, "
            "status_code smallint, status_message text, attributes text, resource text, "
            "events text, links text, day integer, team_id bigint)"
        )
        insert = f"INSERT INTO {migration.OLD} VALUES ({', '.join(['%s'] * 17)})"  # noqa: S608
        cursor.executemany(insert, rows)
    # copy_spans uses only the schema editor's connection (SQLite refuses a real editor here).
    migration.copy_spans(None, SimpleNamespace(connection=connection))
    cart = resource_key(resource_text(CART))
    assert list(Span.objects.order_by("span_id").values_list("span_id", "resource_key")) == [
        ("0000000000000001", cart), ("0000000000000002", cart),
        ("0000000000000003", resource_key(resource_text({"service.name": "pay"}))),
        ("0000000000000004", cart),
    ]  # fmt: skip
    second = Span.objects.get(span_id="0000000000000002")
    assert (second.attributes, second.events) == ({"n": 2}, [{"name": "retry"}])
    assert sorted(SpanResource.objects.filter(key=cart).values_list("day", flat=True)) == [
        DAY, DAY + 1,
    ]  # fmt: skip
    assert SpanResource.objects.get(key=cart, day=DAY).attributes == CART
