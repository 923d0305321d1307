"""`/api/v1/rules`, `/api/v1/alerts` and `/api/v1/format_query` as Prometheus answers them,
with the portal's SLO burn-rate alerts and alarms as the rules."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from coe_portal.accounts.services import api_token_create
from metrics.alarms.models import Alarm
from metrics.alarms.services import alarm_evaluate
from metrics.slo.models import SLO
from metrics.slo.services import slo_evaluate
from tests.metrics.test_slo_services import NOW, NOW_MS, traffic

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(org):
    return api_token_create(team=org.checkout, name="grafana", scopes=["read"])


def get(client, token, path, **params):
    return client.get(path, params, HTTP_AUTHORIZATION=f"Bearer {token.secret}")


@pytest.fixture
def burning(org):
    traffic(NOW_MS, failing_after_ms=NOW_MS - 30 * 60_000)
    slo = SLO.objects.create(
        name="availability", service=org.payments, team=org.checkout,
        objective_percent=Decimal("99.9"),
        bad_query='sum(rate(http_requests_total{service="payments",code=~"5.."}[{{window}}]))',
        total_query='sum(rate(http_requests_total{service="payments"}[{{window}}]))',
    )  # fmt: skip
    alarm = Alarm.objects.create(
        name="errors", team=org.checkout, service=org.payments,
        expression='sum(rate(http_requests_total{code="500"}[5m]))', period_seconds=60,
        evaluation_periods=3, datapoints_to_alarm=2, comparison=">", threshold=0.5,
    )  # fmt: skip
    quiet = Alarm.objects.create(name="quiet", team=org.search, expression="vector(0)", threshold=1)
    assert slo_evaluate(slo=slo, now=NOW) is not None
    for minute in range(3):
        alarm_evaluate(alarm=alarm, now=NOW - timedelta(minutes=2 - minute))
    alarm_evaluate(alarm=quiet, now=NOW)
    return slo, alarm


def test_rules_list_the_slos_burn_rate_alerts_and_the_alarms(client, token, burning):
    groups = get(client, token, "/api/v1/rules").json()["data"]["groups"]
    names = [group["name"] for group in groups]
    assert names == ["slo/checkout/availability", "alarms/checkout", "alarms/search"]
    page_1h = groups[0]["rules"][0]
    assert page_1h["name"] == "availability:burn_rate:1h_5m"
    assert page_1h["type"] == "alerting"
    assert page_1h["state"] == "firing"
    assert page_1h["health"] == "ok"
    assert page_1h["labels"] == {
        "slo": "availability", "service": "payments", "team": "checkout", "severity": "page",
    }  # fmt: skip
    # 14.4 x the 0.1 % budget, over both windows, as the SRE workbook's table has it.
    assert page_1h["query"] == (
        '((sum(rate(http_requests_total{service="payments",code=~"5.."}[1h]))) / '
        '(sum(rate(http_requests_total{service="payments"}[1h])))) > 0.0144 and '
        '((sum(rate(http_requests_total{service="payments",code=~"5.."}[5m]))) / '
        '(sum(rate(http_requests_total{service="payments"}[5m])))) > 0.0144'
    )
    [alert] = page_1h["alerts"]
    assert alert["labels"]["alertname"] == "availability:burn_rate:1h_5m"
    assert alert["activeAt"] == "2026-11-23T12:00:00Z"
    # Ten percent errors for half an hour burns even the three-day ticket window's rate.
    assert [rule["state"] for rule in groups[0]["rules"]] == ["firing"] * 4
    [errors] = groups[1]["rules"]
    assert errors["query"] == 'sum(rate(http_requests_total{code="500"}[5m])) > 0.5'
    assert errors["state"] == "firing"
    assert errors["alerts"][0]["value"] == "1.0"  # the newest datapoint: one error a second
    assert errors["duration"] == 60  # 2 datapoints of 60 s to alarm: the second one fires
    assert groups[2]["rules"][0]["state"] == "inactive"
    assert get(client, token, "/api/v1/rules", type="record").json()["data"] == {"groups": []}
    assert get(client, token, "/api/v1/rules", type="bogus").status_code == 400


def test_alerts_are_what_fires_now(client, token, burning):
    alerts = get(client, token, "/api/v1/alerts").json()["data"]["alerts"]
    names = sorted(alert["labels"]["alertname"] for alert in alerts)
    assert names == [
        "availability:burn_rate:1d_2h", "availability:burn_rate:1h_5m",
        "availability:burn_rate:3d_6h", "availability:burn_rate:6h_30m", "errors",
    ]  # fmt: skip
    assert all(alert["state"] == "firing" for alert in alerts)


@pytest.mark.parametrize(
    ("query", "formatted"),
    [
        ('sum by(job)(rate(x{a="b"}[5m] offset 90s))',
         'sum by (job) (rate(x{a="b"}[5m] offset 1m30s))'),
        ("topk(3,x)/on(job)group_left(instance)y", "topk(3, x) / on (job) group_left (instance) y"),
        ("x offset -5m @ 100", "x @ 100.000 offset -5m"),
        ("max_over_time(rate(x[5m])[1h:])", "max_over_time(rate(x[5m])[1h:])"),
        ("-x+1>bool 2", "-x + 1 > bool 2"),
    ],
)  # fmt: skip
def test_format_query_prints_the_canonical_form(client, token, query, formatted):
    response = get(client, token, "/api/v1/format_query", query=query)
    assert response.json() == {"status": "success", "data": formatted}


def test_format_query_of_a_bad_query_is_400(client, token):
    response = get(client, token, "/api/v1/format_query", query="sum(x")
    assert (response.status_code, response.json()["errorType"]) == (400, "bad_data")
