from __future__ import annotations

import pytest

from coe_portal.accounts.services import api_token_create
from metrics.storage.writer import SeriesSamples, write_samples
from tests.support_backends import embedded_only

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.backend_suite,
    pytest.mark.usefixtures("metrics_backend"),
]

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
STEP = 15_000


@pytest.fixture
def data(org):
    # A counter growing by 15 every 15 s (1 per second); 500s grow by 3 per 15 s.
    write_samples(
        [
            SeriesSamples(
                "http_requests_total",
                {"service": "cart", "code": "200"},
                [T0 + i * STEP for i in range(41)],
                [15.0 * i for i in range(41)],
            ),
            SeriesSamples(
                "http_requests_total",
                {"service": "cart", "code": "500"},
                [T0 + i * STEP for i in range(41)],
                [3.0 * i for i in range(41)],
            ),
        ]
    )
    return api_token_create(team=org.checkout, name="grafana", scopes=["read"])


def get(client, token, path, **params):
    return client.get(path, params, HTTP_AUTHORIZATION=f"Bearer {token.secret}")


def test_an_instant_query_answers_like_prometheus(client, data):
    at = (T0 + 600_000) / 1000
    response = get(
        client,
        data,
        "/api/v1/query",
        query="sum by (code) (rate(http_requests_total[5m]))",
        time=str(at),
    )
    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": {"code": "200"}, "value": [1700000600, "1"]},
                {"metric": {"code": "500"}, "value": [1700000600, "0.2"]},
            ],
        },
    }


def test_the_error_ratio_is_exact(client, data):
    query = 'sum(rate(http_requests_total{code="500"}[5m])) / sum(rate(http_requests_total[5m]))'
    response = get(client, data, "/api/v1/query", query=query, time=str((T0 + 600_000) / 1000))
    [sample] = response.json()["data"]["result"]
    assert sample["value"][1] == "0.16666666666666669"


def test_a_range_query_returns_a_matrix_point_per_step(client, data):
    response = get(
        client, data, "/api/v1/query_range",
        query='increase(http_requests_total{code="200"}[1m])',
        start=str((T0 + 120_000) / 1000), end=str((T0 + 300_000) / 1000), step="60s",
    )  # fmt: skip
    result = response.json()["data"]
    assert result["resultType"] == "matrix"
    [series] = result["result"]
    assert series["metric"] == {"service": "cart", "code": "200"}
    assert series["values"] == [[1700000000 + s, "60"] for s in (120, 180, 240, 300)]


def test_times_accept_rfc3339(client, data):
    response = get(
        client, data, "/api/v1/query", query='http_requests_total{code="500"}',
        time="2023-11-14T22:18:20Z",
    )  # fmt: skip
    assert response.json()["data"]["result"] == [
        {
            "metric": {"__name__": "http_requests_total", "service": "cart", "code": "500"},
            "value": [1700000300, "60"],
        }
    ]


@embedded_only("MetricsQL answers a scalar expression as a vector of one series")
def test_a_scalar_expression_answers_a_scalar(client, data):
    response = get(client, data, "/api/v1/query", query="1 + 2 * 3", time="2023-11-14T22:13:20Z")
    assert response.json()["data"] == {"resultType": "scalar", "result": [1700000000, "7"]}


def test_a_query_the_store_refuses_is_an_error_in_prometheus_shape(client, data):
    # Prometheus and the embedded engine answer a syntax error 400; VictoriaMetrics 422.
    response = get(client, data, "/api/v1/query", query="sum(rate(x[5m])")
    body = response.json()
    expected_type = {400: "bad_data", 422: "execution"}[response.status_code]
    assert (body["status"], body["errorType"]) == ("error", expected_type)
    assert body["error"]


@embedded_only("the embedded engine's own message")
def test_a_syntax_error_is_400_bad_data(client, data):
    response = get(client, data, "/api/v1/query", query="sum(rate(x[5m])")
    assert response.status_code == 400
    assert response.json() == {
        "status": "error",
        "errorType": "bad_data",
        "error": "expected ')' but found end of query at position 15",
    }


@embedded_only("the external stores run subqueries and native-histogram functions")
def test_unsupported_syntax_is_named(client, data):
    response = get(client, data, "/api/v1/query", query="rate(x[5m:1m])")
    assert response.json()["error"] == "subqueries are not supported"
    response = get(client, data, "/api/v1/query", query="histogram_fraction(0, 0.5, x)")
    assert response.json()["error"] == 'unknown function with name "histogram_fraction"'


def test_too_many_points_is_an_execution_error(client, data):
    response = get(
        client, data, "/api/v1/query_range", query="up", start="0", end="100000", step="1"
    )
    assert response.status_code == 422
    assert response.json()["errorType"] == "execution"
    assert response.json()["error"].startswith("exceeded maximum resolution of 11,000 points")


def test_bad_parameters_are_400(client, data):
    assert get(client, data, "/api/v1/query").json()["error"] == "missing query parameter"
    response = get(client, data, "/api/v1/query", query="up", time="yesterday")
    assert response.json()["error"] == 'cannot parse "yesterday" to a valid timestamp'
    response = get(client, data, "/api/v1/query_range", query="up", start="1", end="2", step="0")
    assert response.status_code == 400


def test_post_works_like_get(client, data):
    response = client.post(
        "/api/v1/query", {"query": "vector(1)", "time": "1700000000"},
        HTTP_AUTHORIZATION=f"Bearer {data.secret}",
    )  # fmt: skip
    assert response.json()["data"]["result"] == [{"metric": {}, "value": [1700000000, "1"]}]


def test_series_labels_and_label_values(client, data):
    # With the range, as Grafana asks: without one, VictoriaMetrics looks at the last day only.
    window = {"start": str(T0 / 1000 - 60), "end": str(T0 / 1000 + 660)}
    found = get(client, data, "/api/v1/series", **{"match[]": '{code="500"}'}, **window)
    assert found.json()["data"] == [
        {"__name__": "http_requests_total", "code": "500", "service": "cart"}
    ]
    labels = get(client, data, "/api/v1/labels", **window).json()["data"]
    assert labels == ["__name__", "code", "service"]
    values = get(client, data, "/api/v1/label/code/values", **window).json()["data"]
    assert values == ["200", "500"]
    names = get(client, data, "/api/v1/label/__name__/values", **window).json()["data"]
    assert names == ["http_requests_total"]


def test_the_api_needs_a_read_token_or_a_session(client, data, org):
    assert client.get("/api/v1/query", {"query": "up"}).status_code == 401
    ingest = api_token_create(team=org.checkout, name="collector", scopes=["ingest"])
    assert get(client, ingest, "/api/v1/query", query="up").status_code == 403
    client.force_login(org.outsider)
    assert client.get("/api/v1/query", {"query": "up"}).status_code == 200


def test_the_endpoints_grafana_probes_answer(client, data):
    info = get(client, data, "/api/v1/status/buildinfo").json()
    assert info["status"] == "success"
    assert info["data"]["version"] == "2.42.0"
    assert get(client, data, "/api/v1/metadata").json() == {"status": "success", "data": {}}
    exemplars = get(client, data, "/api/v1/query_exemplars", query="up", start="0", end="1")
    assert exemplars.json() == {"status": "success", "data": []}


@embedded_only("VictoriaMetrics breaks topk ties in no fixed order")
def test_topk_breaks_ties_in_label_order_whatever_the_storage_order(client, data):
    # Stored z first, then a: Prometheus sees series sorted by labels, so a wins a tie.
    write_samples(
        [
            SeriesSamples("queue", {"name": "z"}, [T0], [5.0]),
            SeriesSamples("queue", {"name": "a"}, [T0], [5.0]),
        ]
    )
    response = get(client, data, "/api/v1/query", query="topk(1, queue)", time=str(T0 / 1000))
    assert [r["metric"]["name"] for r in response.json()["data"]["result"]] == ["a"]


def test_absurd_times_and_zero_steps_are_bad_data(client, data):
    assert get(client, data, "/api/v1/query", query="up", time="1e300").status_code == 400
    response = get(client, data, "/api/v1/query_range", query="up", start="1", end="2", step="0s")
    assert response.status_code == 400
