from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from coe_portal.accounts.services import api_token_create
from metrics.slo.models import SLO, SLOAlertTransition

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.backend_suite,
    pytest.mark.usefixtures("metrics_backend"),
]


@pytest.fixture
def slo(org):
    slo = SLO.objects.create(
        name="availability",
        service=org.payments,
        team=org.checkout,
        objective_percent=Decimal("99.9"),
        bad_query='sum(rate(http_requests_total{code=~"5.."}[{{window}}]))',
        total_query="sum(rate(http_requests_total[{{window}}]))",
        alert_state="page",
        alert_since=datetime(2026, 11, 23, 11, 58, tzinfo=UTC),
        last_figures={
            "sli": 0.9995,
            "error_budget_remaining": "0.5",
            "burn_rates": {"1h": "14.5", "5m": "20"},
            "hours_to_exhaustion": "24.8",
            "alerts": [
                {
                    "severity": "page",
                    "long_window": "1h",
                    "short_window": "5m",
                    "threshold": "14.4",
                    "long_burn_rate": "14.5",
                    "short_burn_rate": "20",
                    "firing": True,
                    "reason": "burn rate 14.5 over 1h and 20 over 5m, above 14.4",
                },
            ],
        },
    )
    SLOAlertTransition.objects.create(
        slo=slo,
        at=slo.alert_since,
        old_state="ok",
        new_state="page",
        reason="page: burn rate 14.5 over 1h and 20 over 5m, above 14.4",
    )
    return slo


def test_the_api_lists_slos_with_their_figures(client, slo, org):
    token = api_token_create(team=org.search, name="grafana", scopes=["read"])
    response = client.get("/api/v1/slos", HTTP_AUTHORIZATION=f"Bearer {token.secret}")
    assert response.status_code == 200
    [data] = response.json()["data"]
    assert data["name"] == "availability"
    assert data["service"] == "payments"
    assert data["objective"] == "99.9"
    assert data["error_budget_remaining"] == "0.5"
    assert data["burn_rates"] == {"1h": "14.5", "5m": "20"}
    assert data["alert_state"] == "page"
    assert data["sli"]["kind"] == "ratio"
    detail = client.get(f"/api/v1/slos/{slo.pk}", HTTP_AUTHORIZATION=f"Bearer {token.secret}")
    assert detail.json()["data"] == data
    missing = client.get("/api/v1/slos/999", HTTP_AUTHORIZATION=f"Bearer {token.secret}")
    assert missing.status_code == 404


def test_the_slo_api_needs_a_read_token(client, slo):
    assert client.get("/api/v1/slos").status_code == 401


def test_the_slo_list_shows_budget_burn_and_state(client, slo, org):
    client.force_login(org.outsider)
    html = client.get("/slos/").content.decode()
    assert "availability" in html
    assert "50.0 %" in html
    assert "14.5" in html
    assert 'class="state state-page"' in html


def test_the_slo_list_filters_by_team(client, slo, org):
    client.force_login(org.outsider)
    assert "availability" not in client.get("/slos/?team=search").content.decode()


def test_the_slo_page_shows_alerts_and_history(client, slo, org):
    client.force_login(org.outsider)
    html = client.get(f"/slos/{slo.pk}/").content.decode()
    assert "burn rate 14.5 over 1h and 20 over 5m, above 14.4" in html
    assert "OK → Page" in html
    assert "24.8 h at the 1 h burn rate" in html
