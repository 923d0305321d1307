"""Read-only attach: the portal pointed at a team's existing Prometheus, which scrapes its own
targets, with no intake at all. SLOs, alarms, an auto-opened incident and its COE charts all
come from the metrics that Prometheus already has."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from coe_portal.accounts.services import api_token_create
from incidents.incident.charts import build_incident_charts
from incidents.incident.models import Incident
from metrics.alarms.models import Alarm
from metrics.alarms.services import evaluate_all_alarms
from metrics.models import Series
from metrics.slo.models import SLO
from metrics.slo.services import evaluate_all_slos
from tests.metrics.helpers import remote_write
from tests.support_backends import start_store

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


@pytest.fixture
def prometheus(tmp_path):
    config = (
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    )
    store = start_store("prometheus", tmp_path, prometheus_config=config)
    yield store
    store.stop()


def wait_for(store, query: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.get("/api/v1/query", query=query)["data"]["result"]:
            return
        time.sleep(0.5)
    raise AssertionError(f"{query} found nothing in Prometheus within {timeout} s")


def test_slos_alarms_incidents_and_coe_charts_on_an_existing_prometheus(
    client, org, prometheus, settings
):
    for name, value in prometheus.settings(read_only=True).items():
        setattr(settings, name, value)
    wait_for(prometheus, 'count_over_time(up{job="prometheus"}[1m]) > 3')

    slo = SLO.objects.create(
        name="prometheus-api", service=org.cart, team=org.checkout,
        objective_percent=Decimal("99"),
        bad_query='sum(rate(prometheus_http_requests_total{code=~"5.."}[{{window}}]))',
        total_query="sum(rate(prometheus_http_requests_total[{{window}}]))",
    )  # fmt: skip
    alarm = Alarm.objects.create(
        name="scraping", team=org.checkout, service=org.cart,
        expression='sum(up{job="prometheus"})', period_seconds=60, evaluation_periods=1,
        datapoints_to_alarm=1, comparison=">=", threshold=1, open_incident_severity="SEV3",
    )  # fmt: skip
    # The next minute: Prometheus has samples from before it within its lookback.
    minute = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    assert evaluate_all_slos(now=minute) == 1
    assert evaluate_all_alarms(now=minute) == 1

    slo.refresh_from_db()
    assert slo.last_error == ""
    assert slo.last_figures["events"]["5m"] > 0  # Prometheus's own API traffic, counted
    assert slo.alert_state == SLO.AlertState.OK
    alarm.refresh_from_db()
    assert alarm.state == Alarm.State.ALARM
    incident = Incident.objects.get(alarms=alarm)
    assert incident.title == "scraping is firing"
    charts = build_incident_charts(incident, now=minute)["charts"]
    [chart] = charts
    assert chart["error"] is None
    assert [value for value in chart["series"][0]["v"] if value is not None][-1] == 1.0

    # Nothing went through the portal's store, and its intake says where metrics go.
    assert Series.objects.count() == 0
    token = api_token_create(team=org.checkout, name="writer", scopes=["ingest", "read"])
    refused = remote_write(client, token, [({"__name__": "up"}, [(int(time.time() * 1000), 1.0)])])
    assert refused.status_code == 404
    client.force_login(org.owner)
    assert client.get(f"/slos/{slo.pk}/").status_code == 200
    assert client.get(f"/incidents/{incident.pk}/").status_code == 200
    names = client.get("/api/v1/label/__name__/values").json()["data"]
    assert "prometheus_http_requests_total" in names
