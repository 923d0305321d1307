"""One dataset, sent through the portal's intake into the embedded store and into a real
VictoriaMetrics: every figure the portal derives from it (SLI, budget, burn rates, alerts,
alarm states and datapoints, incident charts, COE impact) must be the same, to the bit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from coe_portal.accounts.services import api_token_create
from incidents.coe.impact import incident_impact
from incidents.incident.charts import build_incident_charts
from incidents.incident.services import incident_open
from metrics.alarms.models import Alarm
from metrics.alarms.services import alarm_evaluate
from metrics.models import Series
from metrics.promql.source import new_source
from metrics.slo.evaluate import evaluate_slo
from metrics.slo.models import SLO
from metrics.slo.services import figures
from tests.conftest import use_store
from tests.metrics.helpers import remote_write

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

STEP = 15_000
NOW = datetime(2023, 11, 14, 22, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
START_MS = NOW_MS - 6 * 3_600_000
FAILING_FROM = NOW_MS - 40 * 60_000
BOUNDS = ["0.1", "0.25", "0.5", "+Inf"]


def dataset() -> list[tuple[dict[str, str], list[tuple[int, float]]]]:
    """Six hours of a service's requests (errors and slow requests for the last 40 minutes),
    a queue's depth, and a counter reset in the middle, as a real exporter sends them."""
    times = range(START_MS, NOW_MS + 1, STEP)
    ok, bad, queue = [], [], []
    ok_total = bad_total = 0.0
    buckets: dict[str, list[tuple[int, float]]] = {le: [] for le in BOUNDS}
    counts = dict.fromkeys(BOUNDS, 0.0)
    for index, t in enumerate(times):
        failing = t >= FAILING_FROM
        if index == 700:  # the process restarted: its counters start again from zero
            ok_total = bad_total = 0.0
        ok_total += 150 - (9 if failing else index % 3)
        bad_total += 9 if failing else index % 3
        ok.append((t, ok_total))
        bad.append((t, bad_total))
        queue.append((t, (200.0 if failing else 40.0) + index % 7))
        fast = 120 if failing else 148
        for le, share in zip(BOUNDS, (fast - 30, fast, 150 - 1, 150), strict=True):
            counts[le] += share
            buckets[le].append((t, counts[le]))
    service = {"service": "payments", "job": "api"}
    series = [
        ({"__name__": "http_requests_total", **service, "code": "200"}, ok),
        ({"__name__": "http_requests_total", **service, "code": "500"}, bad),
        ({"__name__": "queue_depth", "queue": "emails"}, queue),
    ]
    series += [
        ({"__name__": "http_request_duration_seconds_bucket", **service, "le": le}, points)
        for le, points in buckets.items()
    ]
    series.append(({"__name__": "http_request_duration_seconds_count", **service}, buckets["+Inf"]))
    return series


@pytest.fixture
def objects(org):
    availability = SLO.objects.create(
        name="availability", service=org.payments, team=org.checkout,
        objective_percent=Decimal("99.5"), window="7d",
        bad_query='sum(rate(http_requests_total{service="payments",code=~"5.."}[{{window}}]))',
        total_query='sum(rate(http_requests_total{service="payments"}[{{window}}]))',
    )  # fmt: skip
    latency = SLO.objects.create(
        name="latency", service=org.payments, team=org.checkout,
        objective_percent=Decimal("90"), window="28d", sli_kind=SLO.SLIKind.LATENCY,
        latency_histogram="http_request_duration_seconds",
        latency_matchers='service="payments"', latency_threshold_seconds=Decimal("0.25"),
    )  # fmt: skip
    backlog = Alarm.objects.create(
        name="emails-backlog", team=org.checkout, expression='max(queue_depth{queue="emails"})',
        period_seconds=60, evaluation_periods=5, datapoints_to_alarm=3, comparison=">",
        threshold=150,
    )  # fmt: skip
    errors = Alarm.objects.create(
        name="error-ratio", team=org.checkout, period_seconds=300, evaluation_periods=3,
        expression='sum(rate(http_requests_total{code="500"}[5m])) '
        "/ sum(rate(http_requests_total[5m]))",
        comparison=">=", threshold=0.05,
    )  # fmt: skip
    incident = incident_open(
        title="Payments failing", severity="sev2", team=org.checkout,
        started_at=datetime.fromtimestamp(FAILING_FROM / 1000, UTC),
        detected_at=NOW - timedelta(minutes=30),
    )  # fmt: skip
    incident.slos.set([availability, latency])
    incident.alarms.set([backlog, errors])
    return {"slos": [availability, latency], "alarms": [backlog, errors], "incident": incident}


def derived(objects: dict[str, Any]) -> dict[str, Any]:
    """Everything the portal computes from the dataset, as plain data."""
    source = new_source()
    out: dict[str, Any] = {}
    for slo in objects["slos"]:
        status = evaluate_slo(slo.to_spec(), at_ms=NOW_MS, source=source)
        out[slo.name] = figures(status) | {"severity": status.severity}
    for alarm in objects["alarms"]:
        alarm.state = Alarm.State.INSUFFICIENT_DATA
        alarm.last_evaluated_at = None
        alarm.save()
        assert alarm_evaluate(alarm=alarm, now=NOW)
        alarm.refresh_from_db()
        assert alarm.last_error == ""
        out[alarm.name] = (alarm.state, alarm.state_reason, alarm.last_datapoints)
    charts = build_incident_charts(objects["incident"], now=NOW)
    out["charts"] = [
        (chart["title"], chart["series"], chart["error"]) for chart in charts["charts"]
    ]
    impact = incident_impact(objects["incident"], now=NOW)
    out["impact"] = (impact.minutes, impact.failed_requests, impact.budget_consumed_percent)
    return out


def test_the_same_data_gives_the_same_figures_on_either_store(
    client, org, objects, victoria_metrics, settings, monkeypatch
):
    token = api_token_create(team=org.checkout, name="writer", scopes=["ingest"])
    assert remote_write(client, token, dataset()).status_code == 204
    embedded = derived(objects)

    Series.objects.all().delete()  # the embedded store's copy goes; the same data goes in again
    use_store(victoria_metrics, settings, monkeypatch)
    assert remote_write(client, token, dataset()).status_code == 204
    assert victoria_metrics.samples("http_requests_total", NOW_MS / 1000, 7 * 3600) == 2 * 1441
    on_victoria_metrics = derived(objects)

    assert on_victoria_metrics == embedded
    # The comparison is of real figures: the SLOs burn, an alarm fires, the charts have lines.
    assert embedded["availability"]["severity"] == "page"
    assert embedded["emails-backlog"][0] == Alarm.State.ALARM
    assert embedded["error-ratio"][0] == Alarm.State.ALARM
    assert all(series and error is None for _, series, error in embedded["charts"])
    assert embedded["impact"][1] > 0
