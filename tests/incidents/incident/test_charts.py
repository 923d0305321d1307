"""Charts of an incident's alarms and SLOs: the window, the markers, and the values drawn, read
from the real metric store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.template.loader import render_to_string

from incidents.incident.charts import build_incident_charts, incident_markers, incident_window
from incidents.incident.models import Incident, TimelineEntry
from metrics.alarms.models import Alarm
from metrics.slo.models import SLO
from metrics.storage.writer import SeriesSamples, write_samples
from tests.conftest import Org

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.backend_suite,
    pytest.mark.usefixtures("metrics_backend"),
]

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return T0 + timedelta(hours=hour, minutes=minute, seconds=second)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


NOW = at(12)


def make_incident(org: Org, **times: datetime | None) -> Incident:
    fields: dict[str, datetime | None] = {
        "started_at": at(10),
        "detected_at": at(10, 5),
        "mitigated_at": at(10, 40),
        "resolved_at": at(11),
    }
    fields.update(times)
    return Incident.objects.create(
        title="Emails stuck",
        team=org.checkout,
        status=Incident.Status.RESOLVED if fields["resolved_at"] else Incident.Status.MITIGATED,
        **fields,
    )


def load_queue_depth() -> None:
    """A gauge scraped every minute: 10, then 150 from 10:00 until 10:59, then 10 again."""
    times = list(range(ms(at(8)), ms(at(12)) + 1, 60_000))
    values = [150.0 if ms(at(10)) <= t < ms(at(11)) else 10.0 for t in times]
    write_samples([SeriesSamples("queue_depth", {"queue": "emails"}, times, values)])


def load_requests() -> None:
    """10 requests/s scraped every 15 s; from 10:00 (exclusive) to 11:00 (inclusive) 10 % fail."""
    times = list(range(ms(at(8)), ms(at(12)) + 1, 15_000))
    ok, bad = 0.0, 0.0
    ok_values, bad_values = [], []
    for t in times:
        failing = ms(at(10)) < t <= ms(at(11))
        ok += 135 if failing else 150
        bad += 15 if failing else 0
        ok_values.append(ok)
        bad_values.append(bad)
    write_samples(
        [
            SeriesSamples(
                "http_requests_total", {"service": "payments", "code": "200"}, times, ok_values
            ),
            SeriesSamples(
                "http_requests_total", {"service": "payments", "code": "500"}, times, bad_values
            ),
        ]
    )


def backlog_alarm(org: Org, **fields: object) -> Alarm:
    values: dict[str, object] = {
        "name": "emails-backlog",
        "team": org.checkout,
        "expression": 'max(queue_depth{queue="emails"})',
        "period_seconds": 60,
        "comparison": ">",
        "threshold": 100,
    }
    values.update(fields)
    return Alarm.objects.create(**values)


def availability_slo(org: Org, **fields: object) -> SLO:
    values: dict[str, object] = {
        "name": "availability",
        "service": org.payments,
        "team": org.checkout,
        "objective_percent": Decimal("99.9"),
        "bad_query": 'sum(rate(http_requests_total{service="payments",code=~"5.."}[{{window}}]))',
        "total_query": 'sum(rate(http_requests_total{service="payments"}[{{window}}]))',
    }
    values.update(fields)
    return SLO.objects.create(**values)


def points(series: dict) -> dict[str, float | None]:
    return dict(zip(series["t"], series["v"], strict=True))


# The window ---------------------------------------------------------------------------------


def test_a_short_incident_gets_half_an_hour_either_side(org):
    incident = make_incident(org)  # 10:00 to 11:00: a quarter is 15 minutes, less than 30
    assert incident_window(incident, NOW) == (at(9, 30), at(11, 30))


def test_the_window_never_reaches_past_now(org):
    incident = make_incident(org)
    assert incident_window(incident, at(11, 10)) == (at(9, 30), at(11, 10))


def test_an_open_incident_runs_to_now(org):
    incident = make_incident(org, mitigated_at=None, resolved_at=None)
    assert incident_window(incident, at(10, 40)) == (at(9, 30), at(10, 40))


def test_a_long_incident_gets_a_quarter_of_its_duration(org):
    incident = make_incident(org, started_at=at(0), detected_at=at(0), resolved_at=at(8))
    assert incident_window(incident, NOW) == (at(-2), at(10))


def test_the_margin_stops_at_six_hours(org):
    incident = make_incident(org, started_at=at(-48), detected_at=at(-48), resolved_at=at(0))
    assert incident_window(incident, NOW) == (at(-54), at(6))


# The markers --------------------------------------------------------------------------------


def test_markers_are_the_milestones_in_time_order(org):
    incident = make_incident(org)
    entry = TimelineEntry.objects.create
    entry(incident=incident, at=at(9, 50), kind="deploy", text="v42", author=org.owner)
    entry(incident=incident, at=at(10, 1), kind="note", text="odd graphs", author=org.owner)
    entry(incident=incident, at=at(10, 3), kind="alarm", text="emails-backlog: OK → ALARM")
    entry(incident=incident, at=at(10, 8), kind="alarm", text="another alarm")
    entry(incident=incident, at=at(10, 12), kind="status", text="Identified", author=org.teammate)
    entry(incident=incident, at=at(10, 20), kind="note", text="rolling back", author=org.owner)

    assert incident_markers(incident) == [
        {"label": "Incident start", "at": "2024-03-01T10:00:00Z"},
        {"label": "Alarm", "at": "2024-03-01T10:03:00Z"},
        {"label": "Detected", "at": "2024-03-01T10:05:00Z"},
        # The deploy and the note came before detection: not engagement.
        {"label": "Engaged", "at": "2024-03-01T10:12:00Z"},
        {"label": "Mitigation", "at": "2024-03-01T10:40:00Z"},
        {"label": "Resolved", "at": "2024-03-01T11:00:00Z"},
    ]


def test_unknown_milestones_are_left_out_and_ties_keep_their_order(org):
    incident = make_incident(
        org, started_at=at(10), detected_at=at(10), mitigated_at=None, resolved_at=None
    )
    TimelineEntry.objects.create(incident=incident, at=at(10), kind="alarm", text="fired")
    assert [m["label"] for m in incident_markers(incident)] == [
        "Incident start",
        "Detected",
        "Alarm",
    ]


# The charts ---------------------------------------------------------------------------------


def test_an_alarm_chart_draws_the_expression_and_its_threshold(org):
    load_queue_depth()
    incident = make_incident(org)
    incident.alarms.add(backlog_alarm(org))

    charts = build_incident_charts(incident, NOW)

    assert charts["window"] == {"start": "2024-03-01T09:30:00Z", "end": "2024-03-01T11:30:00Z"}
    assert charts["incident"] == {"start": "2024-03-01T10:00:00Z", "end": "2024-03-01T11:00:00Z"}
    assert [m["label"] for m in charts["markers"]] == [
        "Incident start",
        "Detected",
        "Mitigation",
        "Resolved",
    ]
    (chart,) = charts["charts"]
    assert chart["kind"] == "alarm"
    assert chart["title"] == "Alarm checkout/emails-backlog: > 100"
    assert chart["query"] == 'max(queue_depth{queue="emails"})'
    assert chart["threshold"] == 100.0
    assert chart["error"] is None
    (series,) = chart["series"]
    assert series["name"] == "emails-backlog"
    # One point per alarm period (1 minute) from 09:30 to 11:30.
    assert len(series["t"]) == 121
    assert series["t"][0] == "2024-03-01T09:30:00Z"
    assert series["t"][-1] == "2024-03-01T11:30:00Z"
    values = points(series)
    assert values[iso(at(9, 59))] == 10.0
    assert values[iso(at(10))] == 150.0
    assert values[iso(at(10, 59))] == 150.0
    assert values[iso(at(11))] == 10.0


def test_missing_data_is_none(org):
    # Samples only from 10:00 on: before that (and beyond the 5-minute lookback) nothing.
    times = list(range(ms(at(10)), ms(at(11)) + 1, 60_000))
    write_samples([SeriesSamples("queue_depth", {"queue": "emails"}, times, [1.0] * len(times))])
    incident = make_incident(org)
    incident.alarms.add(backlog_alarm(org))

    values = points(build_incident_charts(incident, NOW)["charts"][0]["series"][0])

    assert values[iso(at(9, 59))] is None
    assert values[iso(at(10))] == 1.0
    assert values[iso(at(11, 5))] == 1.0
    assert values[iso(at(11, 6))] is None


def test_an_slo_chart_draws_its_burn_rates_against_the_page_threshold(org):
    load_requests()
    incident = make_incident(org)
    incident.slos.add(availability_slo(org))

    (chart,) = build_incident_charts(incident, NOW)["charts"]

    assert chart["kind"] == "slo"
    assert chart["title"] == (
        "SLO payments/availability: burn rate over 1 h and 5 m (pages above 14.4)"
    )
    assert chart["threshold"] == 14.4
    assert chart["unit"] == "\N{MULTIPLICATION SIGN}"
    assert chart["query"] == (
        '(sum(rate(http_requests_total{service="payments",code=~"5.."}[1h]))) / '
        '(sum(rate(http_requests_total{service="payments"}[1h])))'
    )
    assert chart["error"] is None
    one_hour, five_minutes = chart["series"]
    assert (one_hour["name"], five_minutes["name"]) == ("1h burn rate", "5m burn rate")
    # 30-second steps: at most 300 points over two hours.
    assert len(one_hour["t"]) == 241
    hour, short = points(one_hour), points(five_minutes)
    # 10 % errors against a 0.1 % budget: a burn rate of 100 while they last.
    assert (hour[iso(at(10))], short[iso(at(10))]) == (0.0, 0.0)
    assert short[iso(at(10, 30))] == 100.0
    assert hour[iso(at(10, 30))] == 50.0  # half of the last hour failing
    assert (hour[iso(at(11))], short[iso(at(11))]) == (100.0, 100.0)
    assert short[iso(at(11, 5))] == 0.0
    assert hour[iso(at(11, 30))] == 50.0


def test_a_failing_query_is_reported_on_its_chart(org):
    load_queue_depth()
    incident = make_incident(org)
    incident.alarms.add(
        backlog_alarm(org),
        backlog_alarm(org, name="broken", expression="max(queue_depth"),
        backlog_alarm(org, name="either", kind=Alarm.Kind.COMPOSITE, rule="ALARM(broken)"),
    )
    incident.slos.add(availability_slo(org, bad_query="sum(rate(errors_total[5m]"))

    charts = build_incident_charts(incident, NOW)["charts"]

    by_title = {chart["title"].split(":")[0]: chart for chart in charts}
    broken = by_title["Alarm checkout/broken"]
    assert broken["series"] == []
    assert broken["error"].startswith("The query failed: ")
    composite = by_title["Alarm checkout/either"]
    assert composite["error"] == "Composite alarms have no expression to draw."
    assert composite["query"] == "ALARM(broken)"
    assert composite["threshold"] is None
    slo = by_title["SLO payments/availability"]
    assert slo["series"] == []
    assert slo["error"].startswith("The query failed: ")
    # The healthy alarm is still drawn.
    assert points(by_title["Alarm checkout/emails-backlog"]["series"][0])[iso(at(10))] == 150.0


def test_charts_survive_a_round_trip_through_json(org):
    load_queue_depth()
    incident = make_incident(org, mitigated_at=None, resolved_at=None)
    incident.alarms.add(backlog_alarm(org, expression="queue_depth / 3"))

    charts = build_incident_charts(incident, at(10, 40))

    assert json.loads(json.dumps(charts, allow_nan=False)) == charts
    assert charts["incident"]["end"] is None
    series = charts["charts"][0]["series"][0]
    assert series["name"] == '{queue="emails"}'
    assert points(series)[iso(at(10, 10))] == 50.0
    assert points(series)[iso(at(9, 30))] == 3.33333  # six significant digits


# The template -------------------------------------------------------------------------------


def test_the_include_embeds_the_data_and_its_scripts(org):
    load_queue_depth()
    incident = make_incident(org)
    incident.alarms.add(backlog_alarm(org), backlog_alarm(org, name="broken", expression="x["))
    charts = build_incident_charts(incident, NOW)

    html = render_to_string(
        "incidents/incident/_charts.html", {"charts": charts, "charts_id": "incident-7-charts"}
    )

    assert '<script id="incident-7-charts" type="application/json">' in html
    assert 'data-incident-charts data-source="incident-7-charts"' in html
    # Alarms come in name order: "broken" first, which shows its error instead of a plot.
    assert 'data-chart-index="0"' not in html
    assert 'data-chart-index="1"' in html
    assert "The query failed: " in html
    assert "plotly.min" in html
    assert "incidents/incident/charts" in html
    assert html.count(" defer></script>") == 2
    assert "style=" not in html


def test_the_include_says_when_nothing_is_linked(org):
    charts = build_incident_charts(make_incident(org), NOW)
    assert charts["charts"] == []

    html = render_to_string("incidents/incident/_charts.html", {"charts": charts, "charts_id": "c"})

    assert "No alarms or SLOs are linked to this incident." in html
    assert "<script" not in html
