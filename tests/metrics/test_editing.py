from __future__ import annotations

import json

import pytest

from coe_portal.accounts.services import api_token_create
from metrics.alarms.models import Alarm
from metrics.slo.models import SLO

GOOD_SLO = {
    "name": "availability",
    "sli_kind": "ratio",
    "bad_query": 'sum(rate(http_requests_total{code=~"5.."}[{{window}}]))',
    "total_query": "sum(rate(http_requests_total[{{window}}]))",
    "objective_percent": "99.9",
    "window": "30d",
    "time_zone": "UTC",
    "min_events": "0",
    "no_data_after_minutes": "15",
    "enabled": "on",
}


def slo_form(org, **changes):
    return {**GOOD_SLO, "service": org.cart.pk, "team": org.checkout.pk, **changes}


def test_a_lead_creates_an_slo_from_the_form(client, org):
    client.force_login(org.owner)
    response = client.post("/slos/new/", slo_form(org))
    slo = SLO.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/slos/{slo.pk}/"
    assert (slo.service, slo.team, str(slo.objective_percent.normalize())) == (
        org.cart,
        org.checkout,
        "99.9",
    )


def test_members_who_are_not_leads_cannot_create(client, org):
    client.force_login(org.teammate)
    assert client.post("/slos/new/", slo_form(org)).status_code == 403
    assert not SLO.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"objective_percent": "100"}, "objective_percent", "must be between 0 and 100"),
        ({"objective_percent": "0"}, "objective_percent", "must be between 0 and 100"),
        (
            {"window": "45d"},
            "window",
            "Select a valid choice. 45d is not one of the available choices.",
        ),
        ({"total_query": "sum(rate(x[{{window}}])"}, "total_query", "invalid PromQL"),
        (
            {"good_query": "sum(rate(ok[{{window}}]))"},
            "bad_query",
            "either a bad query or a good query",
        ),
        ({"sli_kind": "latency"}, "latency_histogram", "needs a histogram and a threshold"),
        ({"window": "month", "time_zone": "Mars/Olympus"}, "time_zone", "Unknown time zone"),
    ],
)
def test_bad_slos_are_refused_on_the_form(client, org, changes, field, message):
    client.force_login(org.owner)
    response = client.post("/slos/new/", slo_form(org, **changes))
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert message.split(".")[0] in response.content.decode().replace("&#x27;", "'")
    assert not SLO.objects.exists()


GOOD_ALARM = {
    "name": "backlog", "kind": "threshold", "expression": "max(queue_depth)",
    "period_seconds": "60", "evaluation_periods": "3", "datapoints_to_alarm": "2",
    "comparison": ">", "threshold": "100", "treat_missing_data": "missing", "enabled": "on",
}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"datapoints_to_alarm": "4"},
            "datapoints_to_alarm",
            "cannot exceed the evaluation periods (3)",
        ),
        ({"expression": "max(queue_depth"}, "expression", "Invalid PromQL"),
        (
            {"kind": "composite", "rule": "ALARM(backlog)"},
            "rule",
            "The rule makes a cycle: backlog → backlog.",
        ),
        (
            {"kind": "composite", "rule": "ALARM(ghost)"},
            "rule",
            "Unknown alarm(s) in the rule: ghost.",
        ),
    ],
)
def test_bad_alarms_are_refused_on_the_form(client, org, changes, field, message):
    client.force_login(org.owner)
    response = client.post("/alarms/new/", {**GOOD_ALARM, "team": org.checkout.pk, **changes})
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])


def test_the_api_creates_an_slo_with_a_write_token(client, org):
    token = api_token_create(team=org.checkout, name="terraform", scopes=["write", "read"])
    body = {**GOOD_SLO, "service": "cart", "enabled": True}
    response = client.post(
        "/api/v1/slos", data=json.dumps(body), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token.secret}",
    )  # fmt: skip
    assert response.status_code == 201
    assert response.json()["data"]["team"] == "checkout"
    bad = client.post(
        "/api/v1/slos", data=json.dumps({**body, "name": "x", "objective_percent": "120"}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token.secret}",
    )  # fmt: skip
    assert bad.status_code == 400
    assert bad.json()["errors"]["objective_percent"] == [
        "The objective must be between 0 and 100 % (got 120)."
    ]


def test_a_token_writes_for_its_own_team_only(client, org):
    token = api_token_create(team=org.search, name="terraform", scopes=["write"])
    body = {**GOOD_ALARM, "team": "checkout", "enabled": True}
    response = client.post(
        "/api/v1/alarms", data=json.dumps(body), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token.secret}",
    )  # fmt: skip
    assert response.status_code == 403
    assert not Alarm.objects.exists()


def test_creating_needs_the_write_scope(client, org):
    token = api_token_create(team=org.checkout, name="grafana", scopes=["read"])
    response = client.post(
        "/api/v1/alarms", data="{}", content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token.secret}",
    )  # fmt: skip
    assert response.status_code == 403


def test_a_lead_of_another_team_cannot_take_over_an_slo(client, org):
    from coe_portal.accounts.models import Membership

    client.force_login(org.owner)
    client.post("/slos/new/", slo_form(org))
    slo = SLO.objects.get()
    Membership.objects.filter(user=org.outsider).update(role="lead")
    client.force_login(org.outsider)  # lead of search, not of checkout
    response = client.post(f"/slos/{slo.pk}/edit/", slo_form(org, team=org.search.pk, name="mine"))
    assert response.status_code == 403
    slo.refresh_from_db()
    assert (slo.team, slo.name) == (org.checkout, "availability")


def test_an_external_alarms_incident_settings_are_saved_from_its_page(client, org):
    alarm = Alarm.objects.create(
        name="HighLatency-api", team=org.checkout, kind=Alarm.Kind.EXTERNAL,
        external_fingerprint="0123abcd",
    )  # fmt: skip
    client.force_login(org.owner)
    response = client.post(
        f"/alarms/{alarm.pk}/edit/",
        {
            "name": alarm.name, "team": org.checkout.pk, "service": org.cart.pk,
            "kind": Alarm.Kind.EXTERNAL, "description": "From Alertmanager",
            "period_seconds": 60, "evaluation_periods": 1, "datapoints_to_alarm": 1,
            "comparison": ">", "threshold": 0, "treat_missing_data": "missing",
            "open_incident_severity": "SEV2", "enabled": "on",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    alarm.refresh_from_db()
    assert (alarm.open_incident_severity, alarm.service, alarm.kind) == (
        "SEV2", org.cart, Alarm.Kind.EXTERNAL,
    )  # fmt: skip
    # It cannot be turned into an alarm the portal evaluates, nor one created by hand.
    turned = client.post(
        f"/alarms/{alarm.pk}/edit/",
        {"name": alarm.name, "team": org.checkout.pk, "kind": "threshold", "expression": "up",
         "period_seconds": 60, "evaluation_periods": 1, "datapoints_to_alarm": 1,
         "comparison": ">", "threshold": 0, "treat_missing_data": "missing"},
    )  # fmt: skip
    assert "An external alarm stays external" in turned.content.decode()
