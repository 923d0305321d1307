from __future__ import annotations

import pytest
from django.urls import reverse

from coe_portal.accounts.models import ApiToken
from coe_portal.accounts.services import api_token_create

NAV_LABELS = [
    "Services", "Dashboards", "SLOs", "Alarms", "Traces", "Incidents", "COEs", "Action items",
]  # fmt: skip

UI_PAGES = [
    "/",
    "/teams/",
    "/teams/checkout/",
    "/teams/checkout/tokens/",
    "/services/",
    "/services/cart/",
    "/slos/",
    "/alarms/",
    "/traces/",
    "/incidents/",
    "/coes/",
    "/action-items/",
]


@pytest.mark.parametrize("path", UI_PAGES)
def test_every_ui_page_needs_a_login(client, org, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_the_navigation_links_every_section(client, org):
    client.force_login(org.teammate)
    html = client.get("/").content.decode()
    for label in NAV_LABELS:
        assert f">{label}</a>" in html


def test_dashboard_lists_my_teams_and_their_services(client, org):
    client.force_login(org.teammate)
    response = client.get("/")
    assert response.status_code == 200
    assert [team.name for team in response.context["my_teams"]] == ["checkout"]
    assert response.context["service_count"] == 3
    html = response.content.decode()
    assert 'href="/services/cart/"' in html
    assert 'href="/services/payments/"' in html


def test_team_list_counts_services_and_members(client, org):
    client.force_login(org.outsider)
    response = client.get(reverse("accounts:team-list"))
    rows = {
        team.name: (team.service_count, team.member_count) for team in response.context["teams"]
    }
    assert rows == {"checkout": (2, 2), "platform": (0, 1), "search": (1, 1)}


def test_team_detail_shows_services_and_leads(client, org):
    client.force_login(org.outsider)
    html = client.get("/teams/checkout/").content.decode()
    assert "payments" in html
    assert "olivia" in html
    assert ">lead</span>" in html
    # Outsiders see the team, but not the link to its tokens.
    assert "/teams/checkout/tokens/" not in html


def test_service_list_filters_by_team(client, org):
    client.force_login(org.outsider)
    response = client.get("/services/?team=search")
    assert [service.name for service in response.context["services"]] == ["search-api"]


def test_service_detail_shows_owner_tier_and_runbook(client, org):
    client.force_login(org.outsider)
    html = client.get("/services/payments/").content.decode()
    assert "Checkout" in html
    assert "Tier 1: customer-facing, critical" in html
    assert 'href="https://runbooks.example.com/pay"' in html


def test_unknown_service_is_404(client, org):
    client.force_login(org.outsider)
    assert client.get("/services/nope/").status_code == 404


def test_outsiders_cannot_see_a_teams_tokens(client, org):
    client.force_login(org.outsider)
    assert client.get("/teams/checkout/tokens/").status_code == 403


def test_members_see_tokens_but_only_leads_create_them(client, org):
    api_token_create(team=org.checkout, name="collector", scopes=["ingest"])
    client.force_login(org.teammate)
    response = client.get("/teams/checkout/tokens/")
    assert response.status_code == 200
    assert "collector" in response.content.decode()
    assert "Create a token" not in response.content.decode()
    denied = client.post("/teams/checkout/tokens/", {"name": "mine", "scopes": ["read"]})
    assert denied.status_code == 403
    assert ApiToken.objects.count() == 1


def test_a_lead_creates_a_token_and_sees_it_once(client, org):
    client.force_login(org.owner)
    response = client.post(
        "/teams/checkout/tokens/", {"name": "otel-collector", "scopes": ["ingest", "read"]}
    )
    assert response.status_code == 201
    secret = response.context["issued"].secret
    assert secret in response.content.decode()
    assert "will not be shown again" in response.content.decode()
    assert response["Cache-Control"].startswith("max-age=0")
    token = ApiToken.objects.get()
    assert (token.name, token.scopes, token.created_by) == (
        "otel-collector", ["ingest", "read"], org.owner,
    )  # fmt: skip
    again = client.get("/teams/checkout/tokens/")
    assert secret not in again.content.decode()
    assert token.prefix in again.content.decode()


def test_token_form_shows_field_errors_and_keeps_the_name(client, org):
    client.force_login(org.owner)
    response = client.post("/teams/checkout/tokens/", {"name": "half-done"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Pick at least one scope." in html
    assert 'value="half-done"' in html
    assert not ApiToken.objects.exists()


def test_a_lead_revokes_a_token(client, org):
    issued = api_token_create(team=org.checkout, name="old", scopes=["read"])
    client.force_login(org.owner)
    response = client.post(f"/teams/checkout/tokens/{issued.token.pk}/revoke/", follow=True)
    assert "is revoked" in response.content.decode()
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is not None
    assert (
        client.get("/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {issued.secret}").status_code
        == 401
    )


def test_members_cannot_revoke(client, org):
    issued = api_token_create(team=org.checkout, name="old", scopes=["read"])
    client.force_login(org.teammate)
    assert client.post(f"/teams/checkout/tokens/{issued.token.pk}/revoke/").status_code == 403
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is None


def test_a_lead_cannot_revoke_another_teams_token(client, org):
    issued = api_token_create(team=org.search, name="theirs", scopes=["read"])
    client.force_login(org.owner)
    response = client.post(f"/teams/checkout/tokens/{issued.token.pk}/revoke/")
    assert response.status_code == 404
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is None


def test_revoke_needs_post(client, org):
    issued = api_token_create(team=org.checkout, name="old", scopes=["read"])
    client.force_login(org.owner)
    assert client.get(f"/teams/checkout/tokens/{issued.token.pk}/revoke/").status_code == 405


def test_admin_lists_teams_services_and_tokens(admin_client, org):
    api_token_create(team=org.checkout, name="collector", scopes=["ingest"])
    for model in ("team", "membership", "service", "apitoken"):
        response = admin_client.get(f"/admin/accounts/{model}/")
        assert response.status_code == 200, model
