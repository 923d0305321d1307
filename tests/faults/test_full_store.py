"""A store out of disk, memory or connections (SQLSTATE class 53) makes every intake answer 503
with Retry-After in its protocol's shape, stores nothing of the batch, and shows in /readyz.

A trigger that raises the error stands in for the full tablespace: the chunk rows go through
the raw COPY of `storage.writer`, the span rows through the INSERT of `traces.store`."""

from __future__ import annotations

import json
import time

import psycopg
import pytest
from django.db import connection
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from coe_portal.accounts.services import api_token_create
from metrics.alarms.models import Alarm
from metrics.models import Chunk, Series
from metrics.traces.models import Span, SpanResource
from tests.metrics.helpers import snappy, write_request

T0_MS = 1_700_000_000_000
PROTOBUF = "application/x-protobuf"
DISK_FULL = "the metric store is out of disk space; retry later"


pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the triggers and the COPY path are PostgreSQL's"
)


@pytest.fixture
def token(org):
    return api_token_create(team=org.checkout, name="collector", scopes=["ingest"])


def refuse_writes(table: str, errcode: str = "disk_full") -> None:
    """Every row written to `table` (and its partitions) fails as a full disk would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE OR REPLACE FUNCTION refuse_write() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' "
            f"USING ERRCODE = '{errcode}'; END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER refuse_write BEFORE INSERT ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_write()"
        )


def post(client, token, path, body, content_type, **headers):
    return client.post(
        path, data=body, content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {token.secret}", **headers,
    )  # fmt: skip


def remote_write_body() -> bytes:
    series = [
        ({"__name__": "http_requests_total", "job": "cart", "code": code}, [(T0_MS, 1.0)])
        for code in ("200", "500")
    ]
    return snappy(write_request(series))


def otlp_metrics_body() -> bytes:
    export = ExportMetricsServiceRequest()
    resource = export.resource_metrics.add()
    resource.resource.attributes.add(key="service.name").value.string_value = "cart"
    metric = resource.scope_metrics.add().metrics.add(name="queue_depth")
    point = metric.gauge.data_points.add(time_unix_nano=T0_MS * 1_000_000, as_double=3.0)
    point.attributes.add(key="queue").value.string_value = "orders"
    return export.SerializeToString()


def otlp_traces_body() -> bytes:
    export = ExportTraceServiceRequest()
    resource = export.resource_spans.add()
    resource.resource.attributes.add(key="service.name").value.string_value = "cart"
    span = resource.scope_spans.add().spans.add(name="GET /cart", kind=2)
    span.trace_id = bytes.fromhex("5b8efff798038103d269b633813fc60c")
    span.span_id = bytes.fromhex("eee19b7ec3c1b174")
    span.start_time_unix_nano = T0_MS * 1_000_000
    span.end_time_unix_nano = span.start_time_unix_nano + 20_000_000
    return export.SerializeToString()


def assert_nothing_stored() -> None:
    assert (Series.objects.count(), Chunk.objects.count()) == (0, 0)
    assert (Span.objects.count(), SpanResource.objects.count()) == (0, 0)


@pytest.mark.parametrize(
    ("errcode", "message"),
    [
        ("disk_full", DISK_FULL),
        ("out_of_memory", "the metric store is out of memory; retry later"),
        ("too_many_connections", "the metric store has too many connections; retry later"),
    ],
)
def test_remote_write_on_a_full_store_is_503_with_retry_after_and_stores_nothing(
    client, token, errcode, message
):
    refuse_writes(Chunk._meta.db_table, errcode)
    response = post(
        client, token, "/api/v1/write", remote_write_body(), PROTOBUF,
        HTTP_CONTENT_ENCODING="snappy",
    )  # fmt: skip
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"] == "text/plain"
    assert response.content.decode() == message + "\n"
    assert_nothing_stored()


def test_otlp_metrics_on_a_full_store_is_503_with_an_unavailable_status(client, token):
    refuse_writes(Chunk._meta.db_table)
    response = post(client, token, "/v1/metrics", otlp_metrics_body(), PROTOBUF)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"] == PROTOBUF
    assert Status.FromString(response.content) == Status(code=14, message=DISK_FULL)
    assert_nothing_stored()


def test_otlp_traces_on_a_full_store_is_503_in_the_requests_encoding(client, token):
    refuse_writes(Span._meta.db_table)
    response = post(client, token, "/v1/traces", otlp_traces_body(), PROTOBUF)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert Status.FromString(response.content) == Status(code=14, message=DISK_FULL)

    as_json = {
        "resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "cart"}}]},
            "scopeSpans": [{"spans": [{
                "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
                "name": "GET /cart", "kind": 2, "startTimeUnixNano": str(T0_MS * 1_000_000),
                "endTimeUnixNano": str(T0_MS * 1_000_000 + 20_000_000),
            }]}],
        }]
    }  # fmt: skip
    response = post(client, token, "/v1/traces", json.dumps(as_json), "application/json")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": 14, "message": DISK_FULL}
    assert_nothing_stored()


def test_zipkin_on_a_full_store_is_503_with_retry_after(client, token):
    refuse_writes(Span._meta.db_table)
    spans = [{
        "traceId": "463ac35c9f6413ad", "id": "a2fb4a1d1a96d312", "name": "get /stock",
        "timestamp": T0_MS * 1000, "duration": 2_500, "kind": "SERVER",
        "localEndpoint": {"serviceName": "inventory"},
    }]  # fmt: skip
    response = post(client, token, "/api/v2/spans", json.dumps(spans), "application/json")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.content.decode() == DISK_FULL + "\n"
    assert_nothing_stored()


def test_alertmanager_on_a_full_store_is_503_in_its_json_shape(client, token):
    refuse_writes(Alarm._meta.db_table)
    alert = {
        "status": "firing", "labels": {"alertname": "HighLatency", "service": "cart"},
        "annotations": {}, "startsAt": "2026-11-23T12:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "c4f3d2a1b0e9f8a7",
    }  # fmt: skip
    body = {
        "version": "4", "groupKey": "{}", "status": "firing", "receiver": "portal",
        "groupLabels": {}, "commonLabels": alert["labels"], "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093", "alerts": [alert], "truncatedAlerts": 0,
    }  # fmt: skip
    response = post(client, token, "/api/v1/alertmanager", json.dumps(body), "application/json")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {"status": "error", "error": DISK_FULL}
    assert Alarm.objects.count() == 0


def test_a_limit_no_retry_can_pass_stays_a_500(client, token):
    # SQLSTATE class 54 ("program limit exceeded") is psycopg's OperationalError as well, but
    # the same request would meet the same limit again: that is a bug of ours to fix.
    refuse_writes(Chunk._meta.db_table, "program_limit_exceeded")
    client.raise_request_exception = False
    response = post(
        client, token, "/api/v1/write", remote_write_body(), PROTOBUF,
        HTTP_CONTENT_ENCODING="snappy",
    )  # fmt: skip
    assert response.status_code == 500
    assert "Retry-After" not in response


@pytest.mark.parametrize("table", [Chunk._meta.db_table, Span._meta.db_table])
def test_readyz_names_the_full_store_and_recovers_with_it(client, org, table):
    refuse_writes(table)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {
            "database": "ok",
            "storage": "unavailable: OperationalError (SQLSTATE 53100)",
            "broker": "ok",
        },
    }
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER refuse_write ON {table}")
    assert client.get("/readyz").status_code == 200


def test_readyz_counts_a_table_held_by_a_partition_change_as_busy_not_full(client, org):
    # Another session holds the spans' default partition, as creating a day's partition does.
    with psycopg.connect(
        host=connection.settings_dict["HOST"], port=connection.settings_dict["PORT"] or 5432,
        user=connection.settings_dict["USER"], dbname=connection.settings_dict["NAME"],
    ) as other:  # fmt: skip
        other.execute("LOCK TABLE metrics_span_default IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        response = client.get("/readyz")
        waited = time.monotonic() - started
    assert response.status_code == 200
    assert response.json()["checks"]["storage"] == "ok"
    assert 1.0 <= waited < 3.0  # the lock timeout, not the statement timeout
