from __future__ import annotations

import pytest

from coe_portal.accounts.services import api_token_create
from metrics.ingest.remote_write_proto import WriteRequest
from metrics.models import Series
from metrics.storage.encoding import STALE_NAN
from metrics.storage.reader import Matcher, read_samples, select_series
from tests.metrics.helpers import snappy, write_request

URL = "/api/v1/write"
T0 = 1_700_000_000_000


@pytest.fixture
def ingest_token(org):
    return api_token_create(team=org.checkout, name="prometheus", scopes=["ingest"])


def post(client, token, body, *, content_type="application/x-protobuf", **headers):
    headers.setdefault("HTTP_CONTENT_ENCODING", "snappy")
    return client.post(
        URL,
        data=body,
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {token.secret}",
        HTTP_X_PROMETHEUS_REMOTE_WRITE_VERSION="0.1.0",
        **headers,
    )


def values_of(name: str, **labels):
    matchers = [Matcher("__name__", "=", name), *(Matcher(k, "=", v) for k, v in labels.items())]
    [series] = select_series(matchers)
    timestamps, values = read_samples([series.id], 0, 2**62)[series.id]
    return list(zip(timestamps.tolist(), values.tolist(), strict=True))


def test_samples_are_stored_and_answered_with_204(client, ingest_token):
    body = write_request(
        [
            (
                {"__name__": "up", "job": "node", "instance": "a:9100"},
                [(T0, 1.0), (T0 + 15_000, 0.0)],
            ),
            ({"__name__": "up", "job": "node", "instance": "b:9100"}, [(T0, 1.0)]),
        ]
    )
    response = post(client, ingest_token, snappy(body))
    assert response.status_code == 204
    assert values_of("up", instance="a:9100") == [(T0, 1.0), (T0 + 15_000, 0.0)]
    assert Series.objects.filter(created_by_token=ingest_token.token).count() == 2


def test_metadata_only_requests_are_accepted(client, ingest_token):
    request = WriteRequest()
    request.metadata.add(type=1, metric_family_name="up", help="Target is up.")
    assert post(client, ingest_token, snappy(request.SerializeToString())).status_code == 204


def test_stale_markers_end_a_series_rather_than_being_values(client, ingest_token):
    body = write_request([({"__name__": "up", "job": "x"}, [(T0, 1.0), (T0 + 1, STALE_NAN)])])
    assert post(client, ingest_token, snappy(body)).status_code == 204
    [series] = select_series([Matcher("__name__", "=", "up")])
    _, values = read_samples([series.id], 0, 2**62)[series.id]
    assert values.view("u8")[1] == 0x7FF0000000000002


def test_out_of_order_samples_are_a_400_and_the_rest_is_kept(client, ingest_token):
    post(
        client,
        ingest_token,
        snappy(write_request([({"__name__": "up", "j": "a"}, [(T0 + 60_000, 1.0)])])),
    )
    body = write_request(
        [
            ({"__name__": "up", "j": "a"}, [(T0, 0.0)]),
            ({"__name__": "up", "j": "b"}, [(T0, 1.0)]),
        ]
    )
    response = post(client, ingest_token, snappy(body))
    assert response.status_code == 400
    assert response.content.decode().startswith(f"out of order sample: timestamp {T0} is older")
    assert values_of("up", j="b") == [(T0, 1.0)]


def test_framed_snappy_is_not_block_snappy(client, ingest_token):
    import cramjam

    framed = bytes(cramjam.snappy.compress(write_request([({"__name__": "up"}, [(T0, 1.0)])])))
    response = post(client, ingest_token, framed)
    assert response.status_code == 400
    assert "not snappy block-compressed data" in response.content.decode()


def test_a_body_that_is_not_a_write_request_is_400(client, ingest_token):
    response = post(client, ingest_token, snappy(b"\xff\xff\xff\xff"))
    assert response.status_code == 400
    assert response.content.decode().startswith("body is not a valid prometheus.WriteRequest")


def test_wrong_content_type_is_415(client, ingest_token):
    response = post(client, ingest_token, b"{}", content_type="application/json")
    assert response.status_code == 415
    assert "use application/x-protobuf" in response.content.decode()


def test_wrong_content_encoding_is_415(client, ingest_token):
    response = post(client, ingest_token, b"x", HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 415


def test_a_body_over_the_limit_is_413(client, ingest_token, settings):
    settings.INGEST_MAX_BODY_BYTES = 1000
    response = post(client, ingest_token, b"\x00" * 1001)
    assert response.status_code == 413
    assert response.content.decode() == (
        "body is at least 1001 bytes, over the limit of 1000 bytes\n"
    )


def test_a_decompression_bomb_is_413_before_inflating(client, ingest_token, settings):
    settings.INGEST_MAX_BODY_BYTES = 10_000
    bomb = snappy(b"\x00" * 100_000)
    assert len(bomb) < 10_000
    response = post(client, ingest_token, bomb)
    assert response.status_code == 413
    assert "decompressed body is at least 100000 bytes" in response.content.decode()


def test_invalid_labels_are_reported(client, ingest_token):
    body = write_request([({"__name__": "up", "bad-label": "x"}, [(T0, 1.0)])])
    response = post(client, ingest_token, snappy(body))
    assert response.status_code == 400
    assert "invalid label name 'bad-label'" in response.content.decode()


def test_native_histograms_are_refused_by_name(client, ingest_token):
    request = WriteRequest()
    series = request.timeseries.add()
    series.labels.add(name="__name__", value="latency")
    series.histograms.add()
    response = post(client, ingest_token, snappy(request.SerializeToString()))
    assert response.status_code == 400
    assert "native histograms are not supported" in response.content.decode()


def test_it_needs_an_ingest_token(client, org):
    body = snappy(write_request([({"__name__": "up"}, [(T0, 1.0)])]))
    assert client.post(URL, data=body, content_type="application/x-protobuf").status_code == 401
    reader = api_token_create(team=org.checkout, name="grafana", scopes=["read"])
    assert post(client, reader, body).status_code == 403
    assert not Series.objects.exists()


def test_it_needs_post(client, ingest_token):
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {ingest_token.secret}").status_code == 405


def test_a_busy_intake_sheds_load_with_503_and_retry_after(client, ingest_token, settings):
    from metrics.ingest import limits

    settings.INGEST_MAX_CONCURRENCY = 1
    settings.INGEST_MAX_WAITING = 0
    limits.reset()  # sized again from the settings
    body = snappy(write_request([({"__name__": "up"}, [(T0, 1.0)])]))
    try:
        with limits.ingest_slot():  # another request holds the only slot
            response = post(client, ingest_token, body)
        assert response.status_code == 503
        assert response["Retry-After"] == "5"
        assert response.content.decode() == "too many ingest requests in progress; retry later\n"
        assert not Series.objects.exists()
        assert post(client, ingest_token, body).status_code == 204
    finally:
        limits.reset()
