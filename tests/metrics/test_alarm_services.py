from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from metrics.alarms.models import Alarm, AlarmTransition
from metrics.alarms.services import alarm_evaluate, evaluate_all_alarms
from metrics.storage.writer import SeriesSamples, write_samples
from tests.support_backends import embedded_only

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.backend_suite,
    pytest.mark.usefixtures("metrics_backend"),
]

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
MINUTE = 60_000


def queue_depth(values_by_minutes_ago: dict[int, float], **labels: str) -> None:
    times = sorted(values_by_minutes_ago, reverse=True)
    write_samples(
        [
            SeriesSamples(
                "queue_depth",
                {"queue": "emails", **labels},
                [NOW_MS - ago * MINUTE for ago in times],
                [values_by_minutes_ago[ago] for ago in times],
            )
        ]
    )


@pytest.fixture
def alarm(org):
    return Alarm.objects.create(
        name="emails-backlog",
        team=org.checkout,
        expression='max(queue_depth{queue="emails"})',
        period_seconds=60,
        evaluation_periods=3,
        datapoints_to_alarm=2,
        comparison=">",
        threshold=100,
    )


def test_two_of_three_breaching_periods_raise_the_alarm(alarm):
    # Oldest first: 50, 150, 80, 170, 190 (one a minute, the newest now).
    queue_depth({4: 50.0, 3: 150.0, 2: 80.0, 1: 170.0, 0: 190.0})
    assert alarm_evaluate(alarm=alarm, now=NOW)
    alarm.refresh_from_db()
    assert alarm.state == "ALARM"
    [transition] = AlarmTransition.objects.all()
    assert (transition.old_state, transition.new_state) == ("INSUFFICIENT_DATA", "ALARM")
    assert transition.reason.startswith("Threshold Crossed: 2 out of the last 3 datapoints [190.0 ")
    assert [p["value"] for p in transition.datapoints] == [80.0, 170.0, 190.0]


def test_one_breaching_period_of_three_is_ok(alarm):
    queue_depth({2: 80.0, 1: 90.0, 0: 190.0})
    alarm_evaluate(alarm=alarm, now=NOW)
    alarm.refresh_from_db()
    assert alarm.state == "OK"


def test_no_data_at_all_is_insufficient_data_and_no_transition(alarm):
    alarm_evaluate(alarm=alarm, now=NOW)
    alarm.refresh_from_db()
    assert alarm.state == "INSUFFICIENT_DATA"
    assert not AlarmTransition.objects.exists()


def test_each_minute_is_evaluated_once(alarm):
    queue_depth({2: 150.0, 1: 170.0, 0: 190.0})
    assert alarm_evaluate(alarm=alarm, now=NOW)
    assert not alarm_evaluate(alarm=alarm, now=NOW + timedelta(seconds=20))
    assert evaluate_all_alarms(now=NOW) == 0
    assert AlarmTransition.objects.count() == 1


def test_an_expression_with_several_series_is_an_error_on_the_alarm(alarm):
    Alarm.objects.filter(pk=alarm.pk).update(expression="queue_depth")
    queue_depth({0: 1.0}, shard="a")
    queue_depth({0: 2.0}, shard="b")
    alarm.refresh_from_db()
    assert not alarm_evaluate(alarm=alarm, now=NOW)
    alarm.refresh_from_db()
    assert alarm.last_error.startswith("AlarmQueryError: the expression returns 2 series")


def test_composite_alarms_follow_the_alarms_they_name(alarm, org):
    Alarm.objects.create(
        name="emails-stuck", team=org.checkout, expression="vector(0)", threshold=1
    )
    composite = Alarm.objects.create(
        name="emails-trouble",
        team=org.checkout,
        kind=Alarm.Kind.COMPOSITE,
        rule="ALARM(emails-backlog) AND NOT ALARM(emails-stuck)",
    )
    queue_depth({2: 150.0, 1: 170.0, 0: 190.0})
    assert evaluate_all_alarms(now=NOW) == 3
    composite.refresh_from_db()
    assert composite.state == "ALARM"
    assert composite.state_reason == (
        "Rule ALARM(emails-backlog) AND NOT ALARM(emails-stuck) is true."
    )


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"datapoints_to_alarm": 4},
            "datapoints_to_alarm",
            "cannot exceed the evaluation periods (3)",
        ),
        ({"expression": "rate(x[5m]"}, "expression", "Invalid PromQL: "),
        (
            {"kind": "composite", "rule": "ALARM(nope)"},
            "rule",
            "Unknown alarm(s) in the rule: nope.",
        ),
        ({"kind": "composite", "rule": "ALARM(emails-backlog) AND"}, "rule", "Invalid rule: "),
    ],
)
def test_bad_settings_are_refused_by_field(alarm, changes, field, message):
    for key, value in changes.items():
        setattr(alarm, key, value)
    with pytest.raises(ValidationError) as error:
        alarm.full_clean()
    assert message in " ".join(error.value.message_dict[field])


def test_a_composite_rule_may_not_refer_to_itself(org):
    composite = Alarm(name="loop", team=org.checkout, kind=Alarm.Kind.COMPOSITE, rule="ALARM(loop)")
    with pytest.raises(ValidationError) as error:
        composite.full_clean()
    assert error.value.message_dict["rule"] == ["The rule makes a cycle: loop → loop."]


def test_alarm_pages_and_api(client, alarm, org):
    from coe_portal.accounts.services import api_token_create

    queue_depth({2: 150.0, 1: 170.0, 0: 190.0})
    alarm_evaluate(alarm=alarm, now=NOW)
    client.force_login(org.outsider)
    html = client.get("/alarms/").content.decode()
    assert "emails-backlog" in html
    assert 'class="state state-ALARM"' in html
    detail = client.get(f"/alarms/{alarm.pk}/").content.decode()
    assert "INSUFFICIENT_DATA → ALARM" in detail
    assert client.get(f"/alarms/{alarm.pk}/chart").status_code == 200
    token = api_token_create(team=org.search, name="grafana", scopes=["read"])
    data = client.get(
        f"/api/v1/alarms/{alarm.pk}", HTTP_AUTHORIZATION=f"Bearer {token.secret}"
    ).json()["data"]
    assert data["state"] == "ALARM"
    assert data["transitions"][0]["new_state"] == "ALARM"
    listed = client.get("/api/v1/alarms", HTTP_AUTHORIZATION=f"Bearer {token.secret}").json()
    assert [a["name"] for a in listed["data"]] == ["emails-backlog"]


def test_the_alarm_chart_draws_the_datapoints_the_alarm_evaluates(client, alarm, org):
    # Scraped every 15 s until 8 minutes ago, then nothing until now: the alarm's engine
    # carries the last sample through the 5-minute lookback, as Prometheus does (MetricsQL
    # would let go of it after about a scrape interval).
    times = [NOW_MS - 12 * MINUTE + i * 15_000 for i in range(17)] + [NOW_MS]
    values = [120.0] * 16 + [150.0, 190.0]
    write_samples([SeriesSamples("queue_depth", {"queue": "emails"}, times, values)])
    with time_machine.travel(NOW, tick=False):
        client.force_login(org.teammate)
        [trace] = client.get(f"/alarms/{alarm.pk}/chart").json()["figure"]["data"]
    drawn = dict(zip(trace["x"], trace["y"], strict=True))
    minutes = [
        (NOW - timedelta(minutes=ago)).strftime("%Y-%m-%dT%H:%M:%SZ") for ago in range(9, -1, -1)
    ]
    assert [drawn[minute] for minute in minutes] == [
        120.0, 150.0, 150.0, 150.0, 150.0, 150.0, 150.0, None, None, 190.0
    ]  # fmt: skip
    alarm_evaluate(alarm=alarm, now=NOW - timedelta(minutes=3))
    [transition] = AlarmTransition.objects.all()
    assert [p["value"] for p in transition.datapoints] == [150.0, 150.0, 150.0]


def test_the_admin_lists_slos_alarms_channels_and_deliveries(admin_client, alarm):
    for model in (
        "slo",
        "sloalerttransition",
        "alarm",
        "alarmtransition",
        "notificationchannel",
        "delivery",
        "silence",
    ):
        assert admin_client.get(f"/admin/metrics/{model}/").status_code == 200, model


@embedded_only(
    "the statement timeout bounds the embedded store's reads; a store's reads are bounded by "
    "METRICS_QUERY_TIMEOUT_SECONDS (test_backend_client)"
)
@pytest.mark.django_db(transaction=True)
def test_a_slow_query_is_cancelled_at_the_time_limit(settings):
    from django.db import OperationalError, connection

    from metrics.timeouts import query_time_limit

    if connection.vendor != "postgresql":
        pytest.skip("statement timeouts are a PostgreSQL setting (SQLite has none)")
    settings.EVALUATION_QUERY_TIMEOUT_SECONDS = 0.2
    with (
        pytest.raises(OperationalError, match="statement timeout"),
        query_time_limit(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT pg_sleep(2)")
