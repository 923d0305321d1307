"""The explorer's data: a query over a range drawn as one trace per series, with a table of each
series' last value (tests/browser/test_explorer.py drives the page itself)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from metrics.storage.writer import SeriesSamples, write_samples

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.backend_suite,
    pytest.mark.usefixtures("metrics_backend"),
]

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
STEP = 15_000
# Ten minutes into the data, a 15-minute range: 15-second steps, each on a sample.
START_S, END_S = T0 / 1000 + 600, T0 / 1000 + 1500


@pytest.fixture
def explorer(client, org):
    times = [T0 + i * STEP for i in range(121)]
    write_samples(
        [
            SeriesSamples("queue_depth", {"queue": "emails"}, times, [i % 7 for i in range(121)]),
            SeriesSamples("queue_depth", {"queue": "refunds"}, times, [2.0] * 121),
            # A counter growing by 15 every 15 s (1 per second); its 500s by 3 (0.2 per second).
            SeriesSamples(
                "http_requests_total",
                {"service": "cart", "code": "200"},
                times,
                [15.0 * i for i in range(121)],
            ),
            SeriesSamples(
                "http_requests_total",
                {"service": "cart", "code": "500"},
                times,
                [3.0 * i for i in range(121)],
            ),
        ]
    )
    client.force_login(org.teammate)
    return client


def explore(client, query: str, **params: object):
    return client.get(
        reverse("metrics:explorer-data"),
        {"query": query, "start": START_S, "end": END_S, **params},
    )


def test_each_series_is_a_trace_and_a_row_with_its_last_value(explorer):
    response = explore(explorer, "queue_depth")
    assert response.status_code == 200
    body = response.json()
    assert (body["series_count"], body["drawn"], body["step_seconds"]) == (2, 2, 15)
    assert body["table"] == [
        {"series": 'queue_depth{queue="emails"}', "value": "2"},  # sample 100: 100 % 7
        {"series": 'queue_depth{queue="refunds"}', "value": "2"},
    ]
    emails, refunds = body["figure"]["data"]
    assert emails["name"] == 'queue_depth{queue="emails"}'
    assert len(emails["x"]) == 61
    assert (emails["x"][0], emails["x"][-1]) == ("2023-11-14T22:23:20Z", "2023-11-14T22:38:20Z")
    assert emails["y"] == [float((40 + i) % 7) for i in range(61)]
    assert refunds["y"] == [2.0] * 61


def test_an_aggregated_rate_is_drawn_per_group(explorer):
    response = explore(explorer, "sum by (code) (rate(http_requests_total[5m]))")
    body = response.json()
    assert body["table"] == [
        {"series": '{code="200"}', "value": "1"},
        {"series": '{code="500"}', "value": "0.2"},
    ]
    ok, failed = body["figure"]["data"]
    assert ok["y"] == [1.0] * 61
    assert failed["y"] == [0.2] * 61


def test_steps_past_the_data_have_no_point(explorer):
    # Samples end 30 minutes in. Up to 5 minutes later the embedded engine (as Prometheus)
    # still draws the last one; VictoriaMetrics lets go after about a scrape interval.
    response = explore(explorer, 'queue_depth{queue="refunds"}', end=T0 / 1000 + 2400)
    [refunds] = response.json()["figure"]["data"]
    by_time = dict(zip(refunds["x"], refunds["y"], strict=True))
    assert by_time["2023-11-14T22:43:20Z"] == 2.0  # the last sample
    assert by_time["2023-11-14T22:48:35Z"] is None
    assert by_time["2023-11-14T22:53:20Z"] is None


def test_a_query_the_store_refuses_is_shown_as_its_error(explorer):
    response = explore(explorer, "sum(rate(http_requests_total[5m])")
    assert response.status_code == 400
    assert response.json()["error"]


def test_an_empty_query_asks_for_one(explorer):
    response = explore(explorer, "")
    assert response.status_code == 400
    assert response.json()["error"].startswith("Type a query")
