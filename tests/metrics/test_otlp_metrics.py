from __future__ import annotations

import gzip
import json

import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from coe_portal.accounts.services import api_token_create
from metrics.models import Series
from metrics.storage.encoding import is_stale
from metrics.storage.reader import Matcher, read_samples, select_series
from tests.metrics.otel import SdkRecorder

URL = "/v1/metrics"
PROTOBUF = "application/x-protobuf"


@pytest.fixture
def token(org):
    return api_token_create(team=org.checkout, name="otel", scopes=["ingest"])


def post(client, token, body, content_type=PROTOBUF, **headers):
    return client.post(
        URL, data=body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {token.secret}",
        **headers,
    )  # fmt: skip


def latest(name: str, **labels) -> list[float]:
    matchers = [Matcher("__name__", "=", name), *(Matcher(k, "=", v) for k, v in labels.items())]
    found = select_series(matchers)
    assert len(found) == 1, [s.all_labels() for s in found]
    return read_samples([found[0].id], 0, 2**62)[found[0].id][1].tolist()


def response_of(response) -> ExportMetricsServiceResponse:
    return ExportMetricsServiceResponse.FromString(response.content)


def test_an_sdk_counter_becomes_a_total_with_resource_labels(client, token):
    sdk = SdkRecorder()
    counter = sdk.meter.create_counter("http.server.requests", unit="{request}")
    counter.add(3, {"http.route": "/cart", "code": "200"})
    response = post(client, token, sdk.export())
    assert response.status_code == 200
    assert response["Content-Type"] == PROTOBUF
    assert not response_of(response).HasField("partial_success")
    [series] = select_series([Matcher("__name__", "=", "http_server_requests_total")])
    # process.* and telemetry.sdk.* resource attributes are left out.
    assert series.labels == {
        "service": "cart",
        "instance": "cart-1",
        "deployment_environment": "prod",
        "http_route": "/cart",
        "code": "200",
    }
    assert latest("http_server_requests_total", http_route="/cart") == [3.0]


def test_an_sdk_histogram_becomes_buckets_sum_and_count(client, token):
    sdk = SdkRecorder()
    histogram = sdk.meter.create_histogram("http.server.duration", unit="s")
    for seconds in (0.003, 0.02, 0.02, 7.0):
        histogram.record(seconds, {"http.route": "/pay"})
    assert post(client, token, sdk.export()).status_code == 200
    buckets = {
        s.labels["le"]: read_samples([s.id], 0, 2**62)[s.id][1].tolist()[0]
        for s in select_series([Matcher("__name__", "=", "http_server_duration_seconds_bucket")])
    }
    # The SDK's default bounds: 0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, ...
    assert buckets["0"] == 0.0
    assert buckets["5"] == 3.0
    assert buckets["10"] == 4.0
    assert buckets["+Inf"] == 4.0
    assert latest("http_server_duration_seconds_count") == [4.0]
    assert latest("http_server_duration_seconds_sum") == [pytest.approx(7.043)]


def test_an_up_down_counter_is_a_gauge_without_total(client, token):
    sdk = SdkRecorder()
    sdk.meter.create_up_down_counter("queue.depth").add(-2, {"queue": "emails"})
    assert post(client, token, sdk.export()).status_code == 200
    assert latest("queue_depth", queue="emails") == [-2.0]


def test_delta_counters_are_stored_as_running_totals(client, token):
    sdk = SdkRecorder(delta=True)
    counter = sdk.meter.create_counter("orders")
    counter.add(3)
    assert post(client, token, sdk.export()).status_code == 200
    counter.add(2)
    assert post(client, token, sdk.export()).status_code == 200
    assert latest("orders_total") == [3.0, 5.0]


def test_exponential_histograms_are_refused_in_partial_success_and_the_rest_kept(client, token):
    request = ExportMetricsServiceRequest()
    metrics = request.resource_metrics.add().scope_metrics.add().metrics
    expo = metrics.add(name="latency")
    expo.exponential_histogram.data_points.add(time_unix_nano=1_700_000_000_000_000_000, count=1)
    gauge = metrics.add(name="temperature", unit="Cel")
    gauge.gauge.data_points.add(time_unix_nano=1_700_000_000_000_000_000, as_double=21.5)
    response = post(client, token, request.SerializeToString())
    assert response.status_code == 200
    partial = response_of(response).partial_success
    assert partial.rejected_data_points == 1
    assert partial.error_message == (
        "exponential histogram latency is not supported (1 points rejected): "
        "configure the SDK to use explicit bucket histograms"
    )
    assert latest("temperature_celsius") == [21.5]


def test_summaries_become_quantiles_sum_and_count(client, token):
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="rpc.latency")
    point = metric.summary.data_points.add(
        time_unix_nano=1_700_000_000_000_000_000, count=10, sum=4.5
    )
    point.quantile_values.add(quantile=0.5, value=0.3)
    point.quantile_values.add(quantile=0.99, value=1.2)
    assert post(client, token, request.SerializeToString()).status_code == 200
    assert latest("rpc_latency", quantile="0.99") == [1.2]
    assert latest("rpc_latency_count") == [10.0]
    assert latest("rpc_latency_sum") == [4.5]


def test_a_point_with_no_recorded_value_is_a_stale_marker(client, token):
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="up")
    metric.gauge.data_points.add(time_unix_nano=1_700_000_000_000_000_000, as_double=1)
    metric.gauge.data_points.add(time_unix_nano=1_700_000_060_000_000_000, flags=1)
    assert post(client, token, request.SerializeToString()).status_code == 200
    [series] = select_series([Matcher("__name__", "=", "up")])
    assert is_stale(read_samples([series.id], 0, 2**62)[series.id][1]).tolist() == [False, True]


OTLP_JSON = {
    "resourceMetrics": [
        {
            "resource": {
                "attributes": [{"key": "service.name", "value": {"stringValue": "search"}}]
            },
            "scopeMetrics": [
                {
                    "scope": {"name": "manual"},
                    "metrics": [
                        {
                            "name": "search.queries",
                            "sum": {
                                "aggregationTemporality": 2,
                                "isMonotonic": True,
                                "dataPoints": [
                                    {
                                        "attributes": [
                                            {"key": "code", "value": {"intValue": "200"}}
                                        ],
                                        "timeUnixNano": "1700000000000000000",
                                        "asInt": "41",
                                        "exemplars": [
                                            {
                                                "timeUnixNano": "1700000000000000000",
                                                "asDouble": 1,
                                                "traceId": "5b8efff798038103d269b633813fc60c",
                                                "spanId": "eee19b7ec3c1b174",
                                            }
                                        ],
                                    },
                                    {
                                        "attributes": [{"key": "code", "value": {"intValue": 500}}],
                                        "timeUnixNano": 1700000000000000000,
                                        "asInt": 2,
                                    },
                                ],
                            },
                            "someFutureField": True,
                        }
                    ],
                }
            ],
        }
    ]
}


def test_otlp_json_with_string_and_number_int64s_and_hex_ids(client, token):
    response = post(client, token, json.dumps(OTLP_JSON), content_type="application/json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {}
    assert latest("search_queries_total", code="200") == [41.0]
    assert latest("search_queries_total", code="500") == [2.0]
    assert AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE == 2


def test_gzip_bodies_are_accepted(client, token):
    sdk = SdkRecorder()
    sdk.meter.create_counter("logins").add(1)
    response = post(client, token, gzip.compress(sdk.export()), HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200
    assert latest("logins_total") == [1.0]


def test_a_gzip_bomb_is_413(client, token, settings):
    settings.INGEST_MAX_BODY_BYTES = 100_000
    bomb = gzip.compress(b"\x00" * 10_000_000)
    assert len(bomb) < 100_000
    response = post(client, token, bomb, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 413
    status = Status.FromString(response.content)
    assert status.message.startswith("decompressed body is at least 100001 bytes")


def test_malformed_protobuf_is_400_with_a_status(client, token):
    response = post(client, token, b"\x0a\xff\xff")
    assert response.status_code == 400
    status = Status.FromString(response.content)
    assert status.code == 3
    assert status.message.startswith(
        "body is not a valid opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest"
    )


def test_malformed_json_is_400_in_json(client, token):
    response = post(client, token, b"{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == 3
    assert response.json()["message"].startswith("body is not valid JSON")


def test_a_bad_hex_id_is_400(client, token):
    document = json.loads(json.dumps(OTLP_JSON))
    point = document["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["sum"]["dataPoints"][0]
    point["exemplars"][0]["traceId"] = "not-hex"
    response = post(client, token, json.dumps(document), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["message"] == "traceId 'not-hex' is not a hex string"
    assert not Series.objects.exists()


def test_other_content_types_are_415(client, token):
    response = post(client, token, b"up 1", content_type="text/plain")
    assert response.status_code == 415


def test_it_needs_an_ingest_token(client, org):
    sdk = SdkRecorder()
    sdk.meter.create_counter("logins").add(1)
    assert client.post(URL, data=sdk.export(), content_type=PROTOBUF).status_code == 401
    assert not Series.objects.exists()


def test_multi_member_gzip_bodies_are_read_whole(client, token):
    first, second = SdkRecorder(), SdkRecorder()
    first.meter.create_counter("logins").add(1)
    second.meter.create_counter("logouts").add(1)
    # Two requests' worth would be two bodies; here two gzip members of one body must both be
    # read (the protobuf messages concatenate into one request).
    body = gzip.compress(first.export()) + gzip.compress(second.export())
    response = post(client, token, body, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200
    assert latest("logins_total") == [1.0]
    assert latest("logouts_total") == [1.0]
