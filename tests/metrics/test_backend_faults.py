"""VictoriaMetrics stopped in the middle of a run and started again: the intake answers 503 +
Retry-After and loses nothing it acknowledged, evaluation records the outage, pages say so and
nothing answers 500; once the store is back everything works again in the same process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from coe_portal.accounts.services import api_token_create
from incidents.coe.workflow import coe_approve, coe_submit
from metrics.alarms.models import Alarm
from metrics.alarms.services import alarm_evaluate
from metrics.slo.models import SLO
from metrics.slo.services import slo_evaluate
from tests.conftest import use_store
from tests.incidents.coe_support import written_coe
from tests.metrics.helpers import remote_write
from tests.metrics.otel import SdkRecorder
from tests.support_backends import start_store

pytestmark = [pytest.mark.django_db, pytest.mark.integration]
OUTAGE = "metrics backend unavailable: cannot reach http://127.0.0.1:"


@pytest.fixture
def store(tmp_path, settings, monkeypatch):
    store = start_store("victoriametrics", tmp_path)
    use_store(store, settings, monkeypatch)
    yield store
    store.stop()


def batch(start_ms: int, count: int, first_value: float) -> list:
    points = [(start_ms + i * 15_000, first_value + i) for i in range(count)]
    return [({"__name__": "orders_total", "shop": "eu"}, points)]


def test_an_outage_is_503_for_writers_and_missing_data_for_rules_and_nothing_is_lost(
    client, org, store
):
    token = api_token_create(team=org.checkout, name="writer", scopes=["ingest", "read"])
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token.secret}"}
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start_ms = int(now.timestamp() * 1000) - 25 * 60_000
    assert remote_write(client, token, batch(start_ms, 100, 0.0)).status_code == 204

    slo = SLO.objects.create(
        name="orders", service=org.cart, team=org.checkout, objective_percent=Decimal("99"),
        bad_query='sum(rate(orders_total{shop="nowhere"}[{{window}}]))',
        total_query='sum(rate(orders_total{shop="eu"}[{{window}}]))', no_data_after_minutes=10,
    )  # fmt: skip
    alarm = Alarm.objects.create(
        name="orders-stalled", team=org.checkout, expression="sum(rate(orders_total[5m]))",
        period_seconds=60, evaluation_periods=3, datapoints_to_alarm=3, comparison="<",
        threshold=0.01, treat_missing_data=Alarm.MissingData.BREACHING,
    )  # fmt: skip
    assert slo_evaluate(slo=slo, now=now) is not None
    assert alarm_evaluate(alarm=alarm, now=now)
    slo.refresh_from_db()
    alarm.refresh_from_db()
    assert (slo.alert_state, slo.last_error) == (SLO.AlertState.OK, "")
    assert alarm.state == Alarm.State.OK
    figures_before = slo.last_figures

    store.stop()

    # Writers are told to come back; nothing they sent is acknowledged.
    refused = remote_write(client, token, batch(start_ms + 100 * 15_000, 20, 100.0))
    assert refused.status_code == 503
    assert refused["Retry-After"] == "5"
    assert OUTAGE in refused.content.decode()
    sdk = SdkRecorder()
    sdk.meter.create_counter("orders").add(1)
    otlp = client.post(
        "/v1/metrics", data=sdk.export(), content_type="application/x-protobuf", **bearer
    )
    assert otlp.status_code == 503
    assert otlp["Retry-After"] == "5"

    # Rules: the SLO keeps its state and figures and shows the outage; the alarm applies its
    # missing-data rule (breaching) and says why.
    later = now + timedelta(minutes=1)
    slo_evaluate(slo=slo, now=later)
    slo.refresh_from_db()
    assert slo.alert_state == SLO.AlertState.OK
    assert slo.last_error.startswith(OUTAGE)
    assert slo.last_figures == figures_before
    for minute in range(1, 4):
        alarm_evaluate(alarm=alarm, now=now + timedelta(minutes=minute))
    alarm.refresh_from_db()
    assert alarm.state == Alarm.State.ALARM
    assert alarm.state_reason.startswith("Metrics backend unavailable: cannot reach")
    assert alarm.last_error.startswith(OUTAGE)
    # After the SLO's no-data period, it says NO_DATA, and why.
    slo_evaluate(slo=slo, now=now + timedelta(minutes=11))
    slo.refresh_from_db()
    assert slo.alert_state == SLO.AlertState.NO_DATA

    # Readers: the API is 503 in Prometheus's shape; pages answer and say what is wrong.
    api = client.get("/api/v1/query", {"query": "up"}, **bearer)
    assert api.status_code == 503
    assert api.json()["errorType"] == "unavailable"
    assert api["Retry-After"] == "5"
    client.force_login(org.owner)
    explorer = client.get("/explore/data", {"query": "sum(orders_total)"})
    assert explorer.status_code == 503
    assert explorer.json()["error"].startswith(OUTAGE)
    slo_page = client.get(f"/slos/{slo.pk}/")
    assert slo_page.status_code == 200
    assert "metrics backend unavailable" in slo_page.content.decode()
    assert client.get(f"/slos/{slo.pk}/charts").status_code == 503
    assert client.get(f"/alarms/{alarm.pk}/").status_code == 200
    assert client.get(f"/alarms/{alarm.pk}/chart").status_code == 503
    coe = written_coe(org)
    coe.incident.alarms.set([alarm])
    page = client.get(f"/incidents/{coe.incident.pk}/")
    assert page.status_code == 200
    assert "metrics backend unavailable" in page.content.decode()
    # A COE sent to review now keeps live charts: the outage is not frozen into the report.
    coe = coe_submit(coe=coe, user=org.owner)
    assert coe.metrics_snapshot is None

    store.start()  # same port, same data; the portal process is not restarted

    resent = remote_write(client, token, batch(start_ms + 100 * 15_000, 20, 100.0))
    assert resent.status_code == 204
    end_s = start_ms / 1000 + 120 * 15
    assert store.samples('orders_total{shop="eu"}', end_s, 3600) == 120  # every acknowledged one
    assert client.get("/api/v1/query", {"query": "sum(orders_total)"}, **bearer).status_code == 200
    slo_evaluate(slo=slo, now=now + timedelta(minutes=12))
    slo.refresh_from_db()
    assert slo.last_error == ""
    assert slo.alert_state == SLO.AlertState.OK
    coe = coe_approve(coe=coe, user=org.reviewer)
    assert coe.metrics_snapshot is not None
    assert all(chart["error"] is None for chart in coe.metrics_snapshot["charts"])
