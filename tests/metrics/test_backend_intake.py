"""The intake and the query API on an external store: a real VictoriaMetrics (and Prometheus
where its answers differ) behind the portal, samples counted in the store itself."""

from __future__ import annotations

import time

import pytest

from coe_portal.accounts.services import api_token_create
from tests.conftest import use_store
from tests.metrics.helpers import remote_write, snappy, write_request
from tests.metrics.otel import SdkRecorder

pytestmark = [pytest.mark.django_db, pytest.mark.integration]
T0 = 1_700_000_000_000


@pytest.fixture
def token(org):
    return api_token_create(team=org.checkout, name="writer", scopes=["ingest", "read"])


@pytest.fixture
def vm(victoria_metrics, settings, monkeypatch):
    return use_store(victoria_metrics, settings, monkeypatch)


def bearer(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token.secret}"}


def test_remote_write_lands_in_the_store_and_reads_come_back_from_it(client, token, vm):
    series = [
        (
            {"__name__": "up", "job": "node", "instance": f"h{i}:9100"},
            [(T0, 1.0), (T0 + 15_000, 0.0)],
        )
        for i in range(3)
    ]
    assert remote_write(client, token, series).status_code == 204
    assert vm.samples('up{job="node"}', T0 / 1000 + 15, 60) == 6

    answer = client.get(
        "/api/v1/query", {"query": "sum(up)", "time": T0 / 1000 + 15}, **bearer(token)
    )
    assert answer.json()["data"]["result"] == [{"metric": {}, "value": [T0 / 1000 + 15, "0"]}]
    answer = client.get(
        "/api/v1/query_range",
        {"query": 'up{instance="h0:9100"}', "start": T0 / 1000, "end": T0 / 1000 + 15, "step": 15},
        **bearer(token),
    )
    [found] = answer.json()["data"]["result"]
    assert found["values"] == [[T0 / 1000, "1"], [T0 / 1000 + 15, "0"]]


def test_series_and_labels_are_the_stores_own_not_only_what_the_portal_wrote(client, token, vm):
    # Written to the store directly, as the team's own Prometheus would: the portal never saw it.
    import urllib.request

    request = urllib.request.Request(
        vm.write_url,
        data=snappy(write_request([({"__name__": "node_load1", "instance": "db-1"}, [(T0, 0.5)])])),
        headers={"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).read()
    vm.flush()
    window = {"start": T0 / 1000 - 60, "end": T0 / 1000 + 60}
    found = client.get("/api/v1/series", {"match[]": "node_load1", **window}, **bearer(token))
    assert found.json()["data"] == [{"__name__": "node_load1", "instance": "db-1"}]
    names = client.get("/api/v1/labels", window, **bearer(token)).json()["data"]
    assert {"__name__", "instance"} <= set(names)
    values = client.get("/api/v1/label/instance/values", window, **bearer(token)).json()["data"]
    assert values == ["db-1"]
    # The lookups still check their selectors first, as Prometheus does.
    bad = client.get("/api/v1/series", {"match[]": "sum(x)"}, **bearer(token))
    assert bad.status_code == 400


def test_otlp_delta_counters_arrive_as_running_totals(client, token, vm):
    sdk = SdkRecorder(delta=True)
    counter = sdk.meter.create_counter("orders")
    counter.add(3)
    for _ in range(2):
        response = client.post(
            "/v1/metrics", data=sdk.export(), content_type="application/x-protobuf", **bearer(token)
        )
        assert response.status_code == 200
        counter.add(2)
    data = vm.get("/api/v1/query", query="orders_total[1h]", time=str(time.time()))
    [series] = data["data"]["result"]
    assert [value for _, value in series["values"]] == ["3", "5"]


def test_a_query_the_store_refuses_is_answered_as_the_store_said(client, token, vm):
    answer = client.get("/api/v1/query", {"query": "sum(rate(x[5m])"}, **bearer(token))
    assert answer.status_code == 422  # VictoriaMetrics' status for a parse error
    assert answer.json()["status"] == "error"
    assert "unparsed data" in answer.json()["error"]


def test_the_stores_own_refusal_of_a_write_is_400_with_its_message(
    client, token, prometheus_store, settings, monkeypatch
):
    use_store(prometheus_store, settings, monkeypatch)
    now = int(time.time() * 1000)
    assert remote_write(client, token, [({"__name__": "probe"}, [(now, 1.0)])]).status_code == 204
    # Older than anything Prometheus's head still takes: "out of bounds", its 400.
    settings.METRICS_RETENTION_DAYS = 3650
    answer = remote_write(client, token, [({"__name__": "probe_old"}, [(T0, 1.0)])])
    assert answer.status_code == 400
    assert "the metrics backend refused the samples (HTTP 400)" in answer.content.decode()
    assert "out of bounds" in answer.content.decode()


def test_without_a_remote_write_url_intake_says_where_metrics_go(
    client, token, victoria_metrics, settings, monkeypatch
):
    use_store(victoria_metrics, settings, monkeypatch, read_only=True)
    answer = remote_write(client, token, [({"__name__": "up"}, [(T0, 1.0)])])
    assert answer.status_code == 404
    text = answer.content.decode()
    assert f"reads metrics from the Prometheus-compatible store at {victoria_metrics.url}" in text
    assert "send metrics to that store" in text
    sdk = SdkRecorder()
    sdk.meter.create_counter("orders").add(1)
    otlp = client.post(
        "/v1/metrics", data=sdk.export(), content_type="application/x-protobuf", **bearer(token)
    )
    assert otlp.status_code == 404
    assert victoria_metrics.samples('{__name__=~"up|orders_total"}', time.time(), 10**9) == 0
    # Reading still works.
    assert client.get("/api/v1/query", {"query": "vector(1)"}, **bearer(token)).status_code == 200


def test_an_evaluation_pass_reads_only_what_it_has_not_read_yet(client, token, vm):
    from metrics.backends import remote
    from metrics.storage.matchers import Matcher

    points = [(T0 + i * 60_000, float(i)) for i in range(180)]
    series = [({"__name__": "jobs_total", "queue": q}, points) for q in ("a", "b")]
    assert remote_write(client, token, series).status_code == 204
    backend = remote()
    assert backend is not None
    source = backend.source()
    matchers = [Matcher("__name__", "=", "jobs_total")]
    end = T0 + 179 * 60_000
    first = source.select(matchers, end - 3_600_000, end)
    assert [len(t) for _, t, _ in first] == [61, 61]
    wider = source.select(matchers, T0, end)  # reads the 2 hours before, not 3 hours again
    assert source.requests == 2
    fresh = backend.raw(matchers, T0, end)
    assert [(labels, t.tolist(), v.tolist()) for labels, t, v in wider] == [
        (labels, t.tolist(), v.tolist()) for labels, t, v in fresh
    ]
    assert [len(t) for _, t, _ in wider] == [180, 180]
    inner = source.select(matchers, T0 + 60_000, T0 + 120_000)  # from memory
    assert source.requests == 2
    assert [v.tolist() for _, _, v in inner] == [[1.0, 2.0], [1.0, 2.0]]
