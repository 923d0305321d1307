from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone

from coe_portal.accounts.models import ApiToken, Membership, Service, Team
from coe_portal.accounts.tokens import hash_token
from incidents.action_items.models import ActionItem
from incidents.coe.models import Coe
from incidents.incident.models import Incident
from metrics.slo.models import SLO


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_token_prints_only_the_token(org):
    out, err = run("create_token", "--team", "checkout", "--scopes", "ingest,read", "--name", "ci")
    secret = out.strip()
    assert "\n" not in secret
    token = ApiToken.objects.get(token_hash=hash_token(secret))
    assert (token.team, token.name, token.scopes) == (org.checkout, "ci", ["ingest", "read"])
    assert "Created token" in err


def test_create_token_names_the_known_teams_when_the_team_is_wrong(org):
    with pytest.raises(CommandError, match=r"No team named 'nope' \(teams: checkout, platform"):
        run("create_token", "--team", "nope", "--scopes", "read")


def test_create_token_refuses_unknown_scopes(org):
    with pytest.raises(CommandError, match="Unknown scope"):
        run("create_token", "--team", "checkout", "--scopes", "read,root")
    assert not ApiToken.objects.exists()


def _snapshot() -> list[object]:
    return [
        sorted(Team.objects.values_list("name", "display_name", "description")),
        sorted(
            Service.objects.values_list("name", "team__name", "tier", "description", "runbook_url")
        ),
        sorted(Membership.objects.values_list("team__name", "user__username", "role")),
        sorted(User.objects.values_list("username", "password", "is_superuser")),
        sorted(SLO.objects.values_list("service__name", "name", "objective_percent")),
        sorted(Incident.objects.values_list("title", "status")),
        sorted(Coe.objects.values_list("title", "state")),
        sorted(ActionItem.objects.values_list("title", "due_date")),
    ]


@pytest.mark.django_db
def test_demo_creates_teams_services_and_a_user_that_can_log_in():
    out, _ = run("demo")
    assert set(Team.objects.values_list("name", flat=True)) >= {"platform", "checkout", "search"}
    for team in Team.objects.all():
        assert team.services.exists(), f"{team.name} has no services"
    assert "Log in as 'demo' with password 'demo'" in out
    assert sorted(SLO.objects.values_list("name", flat=True)) == [
        "checkout-availability",
        "payments-availability",
        "search-latency",
    ]
    assert User.objects.get(username="demo").check_password("demo")
    # An approved COE whose items are due soon, a day late and a week late; a SEV1 whose COE
    # is due; half a year of history for the analytics page.
    coe = Coe.objects.get(incident__title__startswith="Payments timing out")
    assert (coe.state, coe.incident.severity, coe.impact_minutes) == ("approved", "SEV2", 38)
    today = timezone.now().date()
    assert sorted((item.due_date - today).days for item in coe.action_items.all()) == [-7, -1, 2]
    due = Incident.objects.get(severity="SEV1", coe__isnull=True)
    assert due.coe_required
    assert Incident.objects.count() == 9


@pytest.mark.django_db
def test_demo_twice_changes_nothing():
    run("demo")
    before = _snapshot()
    out, _ = run("demo")
    assert _snapshot() == before
    assert "(0 new objects)" in out
