"""Series limits a client cannot lock itself out with: a token's limit counts active series only,
a request bringing many new series is paced with 503 + Retry-After until it is stored whole, and
the numbers are visible on the token page, in `/api/v1/status/tsdb` and on `/metrics`."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from coe_portal.accounts.services import api_token_create
from metrics.models import Chunk, Series
from tests.metrics.helpers import remote_write

MINUTE = 60_000


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def token(org):
    return api_token_create(team=org.checkout, name="prometheus", scopes=["ingest", "read"])


def pods(count, start=0, at=None):
    moment = at or now_ms()
    return [({"__name__": "up", "pod": f"p{n}"}, [(moment, 1.0)]) for n in range(start, count)]


def test_series_without_recent_samples_stop_counting_against_the_limit(client, token, settings):
    settings.METRICS_MAX_SERIES_PER_TOKEN = 2
    assert remote_write(client, token, pods(2)).status_code == 204
    refused = remote_write(client, token, pods(3))
    assert refused.status_code == 400
    assert refused.content.decode() == (
        f"series limit reached: token {token.token.prefix}… is at its limit of 2 active series; "
        'new series up{pod="p2"} was not stored (a series stops counting 10 minutes after its '
        "last sample)\n"
    )
    # Ten minutes without a sample and created earlier: the two no longer count.
    Series.objects.update(
        last_timestamp=now_ms() - 10 * MINUTE - 1000, created_at=timezone.now() - timedelta(hours=1)
    )
    assert remote_write(client, token, pods(3, start=2)).status_code == 204
    assert Series.objects.count() == 3


def test_many_new_series_are_paced_until_the_request_is_stored_whole(client, token, settings):
    settings.METRICS_MAX_NEW_SERIES_PER_REQUEST = 3
    body = pods(7)
    first = remote_write(client, token, body)
    assert first.status_code == 503
    assert first["Retry-After"] == "1"
    assert first.content.decode() == (
        "this request brings 7 new series: 3 were created now and nothing else stored; retry "
        "the same request for the next ones\n"
    )
    assert (Series.objects.count(), Chunk.objects.count()) == (3, 0)
    second = remote_write(client, token, body)
    assert second.status_code == 503
    assert (Series.objects.count(), Chunk.objects.count()) == (6, 0)
    # The retry finds six series and creates one: under the pace, it is written whole.
    assert remote_write(client, token, body).status_code == 204
    assert Series.objects.count() == 7
    assert Series.objects.filter(last_timestamp__isnull=False).count() == 7


def test_pacing_stops_where_the_limit_refuses_anyway(client, token, settings):
    settings.METRICS_MAX_NEW_SERIES_PER_REQUEST = 3
    settings.METRICS_MAX_SERIES_PER_TOKEN = 5
    body = pods(7)
    assert remote_write(client, token, body).status_code == 503  # 3 created
    last = remote_write(client, token, body)  # 2 more fit: no pacing, two refused by the limit
    assert last.status_code == 400
    assert last.content.decode().count("series limit reached") == 2
    assert Series.objects.count() == 5
    assert Series.objects.filter(last_timestamp__isnull=False).count() == 5


def test_otlp_metrics_are_paced_too(client, token, settings):
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )

    settings.METRICS_MAX_NEW_SERIES_PER_REQUEST = 1
    export = ExportMetricsServiceRequest()
    metric = export.resource_metrics.add().scope_metrics.add().metrics.add(name="queue_depth")
    for queue in ("emails", "invoices"):
        point = metric.gauge.data_points.add(time_unix_nano=now_ms() * 1_000_000, as_double=4)
        point.attributes.add(key="queue").value.string_value = queue
    answer = client.post(
        "/v1/metrics", data=export.SerializeToString(), content_type="application/x-protobuf",
        HTTP_AUTHORIZATION=f"Bearer {token.secret}",
    )  # fmt: skip
    assert answer.status_code == 503
    assert answer["Retry-After"] == "1"
    assert Series.objects.count() == 1


def test_tsdb_status_counts_active_series_like_prometheus(client, token, org, settings):
    settings.METRICS_MAX_SERIES_PER_TOKEN = 10
    assert remote_write(client, token, pods(3)).status_code == 204
    newest = now_ms()
    other = [({"__name__": "http_requests_total", "code": "200"}, [(newest, 5.0)])]
    assert remote_write(client, token, other).status_code == 204
    stale = [({"__name__": "old_metric"}, [(newest - 60 * MINUTE, 1.0)])]
    assert remote_write(client, token, stale).status_code == 204
    Series.objects.filter(metric_name="old_metric").update(
        created_at=timezone.now() - timedelta(hours=2)
    )
    answer = client.get(
        "/api/v1/status/tsdb", {"limit": "2"}, HTTP_AUTHORIZATION=f"Bearer {token.secret}"
    )
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert data["headStats"]["numSeries"] == 4
    assert data["headStats"]["numLabelPairs"] == 4  # code=200, pod=p0..p2
    assert data["headStats"]["maxTime"] == newest
    assert data["seriesCountByMetricName"] == [
        {"name": "up", "value": 3},
        {"name": "http_requests_total", "value": 1},
    ]
    assert data["labelValueCountByLabelName"] == [
        {"name": "pod", "value": 3},
        {"name": "code", "value": 1},
    ]
    assert data["seriesCountByLabelValuePair"] == [
        {"name": "code=200", "value": 1},
        {"name": "pod=p0", "value": 1},
    ]
    assert data["seriesLimits"] == [
        {
            "token": f"{token.token.prefix}…", "name": "prometheus", "team": "checkout",
            "activeSeries": 4, "limit": 10,
        }
    ]  # fmt: skip
    bad = client.get(
        "/api/v1/status/tsdb", {"limit": "0"}, HTTP_AUTHORIZATION=f"Bearer {token.secret}"
    )
    assert bad.status_code == 400
    assert bad.json()["error"] == "limit must be a whole number from 1 to 10000"


def test_the_token_page_warns_near_the_limit(client, token, org, settings):
    settings.METRICS_MAX_SERIES_PER_TOKEN = 4
    assert remote_write(client, token, pods(3)).status_code == 204
    client.force_login(org.teammate)
    page = client.get("/teams/checkout/tokens/").content.decode()
    assert '<td class="num">3 of 4</td>' in page
    assert (
        f"Token <code>{token.token.prefix}…</code> (prometheus) has 3 active series of the 4 it "
        "may have (75 %)"
    ) not in page  # 75 % is under the warning
    assert remote_write(client, token, pods(4, start=3)).status_code == 204
    page = client.get("/teams/checkout/tokens/").content.decode()
    assert (
        f"Token <code>{token.token.prefix}…</code> (prometheus) has 4 active series of the 4 it "
        "may have (100 %). New series from it are refused now"
    ) in page


def test_metrics_export_active_series_per_token(client, token, settings):
    settings.METRICS_MAX_SERIES_PER_TOKEN = 50
    assert remote_write(client, token, pods(2)).status_code == 204
    text = client.get("/metrics").content.decode()
    assert (f'coe_portal_active_series{{team="checkout",token="{token.token.prefix}"}} 2.0') in text
    assert "coe_portal_series_limit_per_token 50.0" in text
    assert "coe_portal_active_series_window_seconds 600.0" in text
