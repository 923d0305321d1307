"""Sample times the intakes accept: a 2xx means every accepted sample can be queried. Older
than the retention or more than METRICS_FUTURE_TOLERANCE_SECONDS ahead is refused by count and
named (remote write: 400 after storing the rest; OTLP: partial_success), never stored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from coe_portal.accounts.services import api_token_create
from metrics.models import Series
from tests.metrics.helpers import remote_write

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
NOW_MS = 1_796_385_600_000
DAY_MS = 86_400_000
WINDOW = "2026-11-04T12:00:00.000Z .. 2026-12-04T12:10:00.000Z"
RULE = "(the retention of 30 days, up to 600 s ahead)"


@pytest.fixture(autouse=True)
def _bounds(settings):
    settings.METRICS_RETENTION_DAYS = 30
    settings.METRICS_FUTURE_TOLERANCE_SECONDS = 600
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def token(org):
    return api_token_create(team=org.checkout, name="bounds", scopes=["ingest", "read"])


def query_range(client, token, query, start_ms, end_ms, step="60"):
    response = client.get(
        "/api/v1/query_range",
        {"query": query, "start": start_ms / 1000, "end": end_ms / 1000, "step": step},
        HTTP_AUTHORIZATION=f"Bearer {token.secret}",
    )
    assert response.status_code == 200, response.content
    return [
        (r["metric"]["job"], [(int(t * 1000), v) for t, v in r["values"]])
        for r in response.json()["data"]["result"]
    ]


def test_remote_write_stores_the_samples_in_bounds_and_names_the_rest_in_a_400(client, token):
    oldest, newest = NOW_MS - 30 * DAY_MS, NOW_MS + 600_000
    response = remote_write(
        client,
        token,
        [
            ({"__name__": "up", "job": "api"},
             [(-(2**62), 1.0), (1, 1.0), (NOW_MS - 60_000, 2.0), (NOW_MS + 366 * DAY_MS, 3.0)]),
            ({"__name__": "up", "job": "web"}, [(oldest - 1, 1.0)]),
            ({"__name__": "up", "job": "db"}, [(oldest, 4.0), (newest, 5.0)]),
        ],
    )  # fmt: skip
    assert response.status_code == 400
    assert response.content.decode() == (
        f"out of bounds: 4 samples outside {WINDOW} {RULE}: "
        'up{job="api"} (3 samples), up{job="web"} (1 sample)\n'
    )
    assert query_range(client, token, 'up{job="api"}', NOW_MS - 60_000, NOW_MS - 60_000) == [
        ("api", [(NOW_MS - 60_000, "2")])
    ]
    assert query_range(client, token, 'up{job="db"}', oldest, oldest) == [("db", [(oldest, "4")])]
    assert query_range(client, token, 'up{job="db"}', newest, newest) == [("db", [(newest, "5")])]
    # A series none of whose samples is in bounds is not created at all.
    assert sorted(Series.objects.values_list("labels__job", flat=True)) == ["api", "db"]


def test_remote_write_in_bounds_is_a_204(client, token):
    response = remote_write(
        client, token, [({"__name__": "up", "job": "api"}, [(NOW_MS - 29 * DAY_MS, 1.0)])]
    )
    assert response.status_code == 204


def test_the_future_tolerance_is_a_setting(client, token, settings):
    settings.METRICS_FUTURE_TOLERANCE_SECONDS = 3600
    response = remote_write(
        client, token, [({"__name__": "up", "job": "api"}, [(NOW_MS + 3_600_000, 1.0)])]
    )
    assert response.status_code == 204
    response = remote_write(
        client, token, [({"__name__": "up", "job": "api"}, [(NOW_MS + 3_600_001, 1.0)])]
    )
    assert response.status_code == 400
    assert response.content.decode() == (
        "out of bounds: 1 sample outside 2026-11-04T12:00:00.000Z .. 2026-12-04T13:00:00.000Z "
        '(the retention of 30 days, up to 3600 s ahead): up{job="api"} (1 sample)\n'
    )


def otlp_request() -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    attribute = resource_metrics.resource.attributes.add()
    attribute.key, attribute.value.string_value = "service.name", "cart"
    metrics = resource_metrics.scope_metrics.add().metrics
    gauge = metrics.add(name="queue.depth").gauge
    for time_ns, value in [
        (NOW_MS * 1_000_000, 7.0), (2**64 - 1, 8.0), (0, 9.0), ((NOW_MS + DAY_MS) * 1_000_000, 1.0),
    ]:  # fmt: skip
        gauge.data_points.add(time_unix_nano=time_ns, as_double=value)
    histogram = metrics.add(name="latency", unit="s").histogram
    histogram.aggregation_temporality = 2
    histogram.data_points.add(
        time_unix_nano=(NOW_MS - 31 * DAY_MS) * 1_000_000, count=1, sum=0.5,
        explicit_bounds=[1.0], bucket_counts=[1, 0],
    )  # fmt: skip
    return request


def test_otlp_counts_points_out_of_bounds_in_partial_success(client, token):
    response = client.post(
        "/v1/metrics", data=otlp_request().SerializeToString(),
        content_type="application/x-protobuf", HTTP_AUTHORIZATION=f"Bearer {token.secret}",
    )  # fmt: skip
    assert response.status_code == 200
    answer = ExportMetricsServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_data_points == 4
    assert answer.partial_success.error_message == (
        f"out of bounds: 4 data points outside {WINDOW} {RULE}: "
        "metric 'queue.depth' (3 data points), metric 'latency' (1 data point)"
    )
    query = client.get(
        "/api/v1/query", {"query": "queue_depth", "time": NOW_MS / 1000},
        HTTP_AUTHORIZATION=f"Bearer {token.secret}",
    )  # fmt: skip
    assert [r["value"] for r in query.json()["data"]["result"]] == [[NOW_MS / 1000, "7"]]
    assert list(Series.objects.values_list("metric_name", flat=True)) == ["queue_depth"]
