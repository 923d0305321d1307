"""Incident analytics: exact numbers per chart, the filters, the CSVs, the page, and the rule
that a restricted incident a user may not open shows up as a monthly count and nothing else."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.contrib.auth.models import User
from django.urls import reverse

from coe_portal.accounts.models import Service, Team
from incidents.action_items.models import ActionItem
from incidents.analytics.action_items import (
    ALL_TEAMS,
    OnTimeMonth,
    OpenItems,
    WeekFlow,
    action_items_by_week,
    on_time_rate_by_month,
    open_items_by_team,
)
from incidents.analytics.charts import CHARTS
from incidents.analytics.coes import coe_cycle_time_by_month
from incidents.analytics.filters import Filters, parse_filters
from incidents.analytics.incidents import (
    DurationStats,
    incidents_by_severity,
    response_times_by_month,
    response_times_by_service,
)
from incidents.analytics.visibility import service_choices
from incidents.coe.models import Coe
from incidents.incident.models import Incident
from tests.conftest import Org

pytestmark = pytest.mark.django_db

JAN = Filters(start=date(2026, 1, 1), end=date(2026, 1, 31))
JAN_FEB = Filters(start=date(2026, 1, 1), end=date(2026, 2, 28))


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def incident(
    org: Org,
    *,
    title: str = "Checkout errors",
    severity: str = "SEV2",
    team: Team | None = None,
    started: datetime,
    detected: datetime | None = None,
    resolved: datetime | None = None,
    services: tuple[Service, ...] = (),
    restricted: bool = False,
    visible_to: tuple[Team, ...] = (),
) -> Incident:
    created = Incident.objects.create(
        title=title, severity=severity, team=team or org.checkout, started_at=started,
        detected_at=detected, resolved_at=resolved, restricted=restricted,
        status=Incident.Status.RESOLVED if resolved else Incident.Status.INVESTIGATING,
    )  # fmt: skip
    created.services.set(services)
    created.visible_to.set(visible_to)
    return created


def coe_for(incident: Incident, *, approved: datetime | None = None) -> Coe:
    return Coe.objects.create(
        incident=incident, title=f"COE of {incident.title}", team=incident.team,
        state=Coe.State.APPROVED if approved else Coe.State.DRAFT, approved_at=approved,
    )  # fmt: skip


def item(
    coe: Coe,
    owner: User,
    *,
    created: datetime,
    due: date,
    team: Team | None = None,
    status: str = ActionItem.Status.OPEN,
    completed: datetime | None = None,
    title: str = "Add a canary",
) -> ActionItem:
    created_item = ActionItem.objects.create(
        coe=coe, title=title, owner=owner, team=team or coe.team, due_date=due, status=status,
        completed_at=completed,
    )  # fmt: skip
    ActionItem.objects.filter(pk=created_item.pk).update(created_at=created)  # auto_now_add
    return created_item


def superuser() -> User:
    admin = User.objects.filter(username="admin").first()
    return admin or User.objects.create_superuser("admin", "admin@example.com", "x")


# Filters ----------------------------------------------------------------------------------------


def test_filters_default_to_the_last_twelve_months_including_this_one():
    filters = parse_filters({}, today=date(2026, 3, 15))
    assert filters == Filters(start=date(2025, 4, 1), end=date(2026, 3, 15))
    assert filters.query_string() == "from=2025-04-01&to=2026-03-15"


def test_filters_read_the_url_and_survive_bad_input():
    filters = parse_filters(
        {"from": "2026-02-01", "to": "2026-01-01", "team": "checkout", "service": " cart "},
        today=date(2026, 3, 15),
    )
    assert filters == Filters(date(2026, 1, 1), date(2026, 2, 1), team="checkout", service="cart")
    assert filters.narrowed
    assert parse_filters({"from": "soon", "to": "2026-13-01"}, today=date(2026, 3, 15)) == (
        Filters(start=date(2025, 4, 1), end=date(2026, 3, 15))
    )
    assert parse_filters({"from": "1900-01-01"}, today=date(2026, 3, 15)).start == date(
        2016, 3, 7
    )  # ten years at most


# 1. Incidents per month -------------------------------------------------------------------------


def test_it_counts_incidents_per_month_by_severity(org):
    incident(org, severity="SEV1", started=at(1, 5))
    incident(org, severity="SEV3", started=at(1, 31, 23, 59))  # still January in UTC
    incident(org, severity="SEV2", started=at(2, 10))
    incident(org, severity="SEV1", started=datetime(2025, 12, 31, 23, 59, tzinfo=UTC))
    incident(org, severity="SEV1", started=at(3, 1, 0, 0))  # after the range

    months = incidents_by_severity(superuser(), JAN_FEB)

    assert [(m.month, m.by_severity, m.restricted, m.total) for m in months] == [
        ("2026-01", {"SEV1": 1, "SEV2": 0, "SEV3": 1, "SEV4": 0}, 0, 2),
        ("2026-02", {"SEV1": 0, "SEV2": 1, "SEV3": 0, "SEV4": 0}, 0, 1),
    ]


def test_team_and_service_filters_narrow_the_counts(org):
    incident(org, started=at(1, 5), services=(org.cart,))
    incident(org, started=at(1, 6), services=(org.cart, org.payments))
    incident(org, started=at(1, 7), team=org.search, services=(org.search_api,))
    admin = superuser()

    def total(**narrowing: str) -> int:
        filters = Filters(start=JAN.start, end=JAN.end, **narrowing)
        return sum(month.total for month in incidents_by_severity(admin, filters))

    assert total() == 3
    assert total(team="checkout") == 2
    assert total(service="cart") == 2
    assert total(service="payments") == 1
    assert total(team="search", service="cart") == 0


# 2. MTTD and MTTR -------------------------------------------------------------------------------


@pytest.fixture
def response_incidents(org: Org) -> None:
    incident(
        org, started=at(1, 5), detected=at(1, 5, 10, 5), resolved=at(1, 5, 11),
        services=(org.cart, org.payments),
    )  # fmt: skip  # 5 and 60 minutes
    incident(
        org, started=at(1, 12), detected=at(1, 12, 10, 15), resolved=at(1, 12, 12),
        services=(org.cart,),
    )  # fmt: skip  # 15 and 120 minutes
    incident(
        org, team=org.search, started=at(1, 20), detected=at(1, 20, 10, 20),
        services=(org.search_api,),
    )  # fmt: skip  # 20 minutes, not resolved
    incident(org, started=at(2, 3), resolved=at(2, 3, 10, 30))  # 30 minutes, no detection time


def test_it_gives_mttd_and_mttr_per_month_in_minutes(org, response_incidents):
    january, february = response_times_by_month(superuser(), JAN_FEB)

    assert january.label == "2026-01"
    assert january.incidents == 3
    assert january.mttd == DurationStats(count=3, median=15.0, mean=13.3)  # 40 / 3
    assert january.mttr == DurationStats(count=2, median=90.0, mean=90.0)
    assert february.incidents == 1
    assert february.mttd == DurationStats(count=0, median=None, mean=None)
    assert february.mttr == DurationStats(count=1, median=30.0, mean=30.0)


def test_it_gives_mttd_and_mttr_per_service(org, response_incidents):
    services = response_times_by_service(superuser(), JAN_FEB)

    assert [(s.label, s.incidents, s.mttd, s.mttr) for s in services] == [
        ("cart", 2, DurationStats(2, 10.0, 10.0), DurationStats(2, 90.0, 90.0)),
        ("payments", 1, DurationStats(1, 5.0, 5.0), DurationStats(1, 60.0, 60.0)),
        ("search-api", 1, DurationStats(1, 20.0, 20.0), DurationStats(0, None, None)),
    ]
    only_cart = Filters(start=JAN.start, end=JAN.end, service="cart")
    assert [s.label for s in response_times_by_service(superuser(), only_cart)] == ["cart"]


# 3. Action items --------------------------------------------------------------------------------


@pytest.fixture
def finished_items(org: Org) -> Coe:
    coe = coe_for(incident(org, started=at(1, 1), resolved=at(1, 1, 12)))
    done, wont_do = ActionItem.Status.DONE, ActionItem.Status.WONT_DO
    item(coe, org.teammate, created=at(1, 2), due=date(2026, 1, 10),
         status=done, completed=at(1, 6))  # fmt: skip  # W01 → W02, on time
    item(coe, org.teammate, created=at(1, 6), due=date(2026, 1, 15),
         status=done, completed=at(1, 20))  # fmt: skip  # W02 → W04, late
    item(coe, org.teammate, created=at(1, 7), due=date(2026, 1, 21),
         status=wont_do, completed=at(1, 21, 23))  # fmt: skip  # W02 → W04, on the due day
    item(coe, org.teammate, created=at(1, 13), due=date(2026, 1, 20))  # W03, still open
    item(coe, org.teammate, created=datetime(2025, 12, 30, tzinfo=UTC), due=date(2026, 2, 1),
         status=done, completed=at(2, 2))  # fmt: skip  # before the range → February, late
    return coe


def test_it_counts_items_opened_and_closed_per_iso_week(org, finished_items):
    weeks = action_items_by_week(superuser(), JAN)

    assert weeks == [
        WeekFlow("2026-W01", date(2025, 12, 29), opened=1, closed=0),
        WeekFlow("2026-W02", date(2026, 1, 5), opened=2, closed=1),
        WeekFlow("2026-W03", date(2026, 1, 12), opened=1, closed=0),
        WeekFlow("2026-W04", date(2026, 1, 19), opened=0, closed=2),
        WeekFlow("2026-W05", date(2026, 1, 26), opened=0, closed=0),
    ]


def test_it_gives_the_on_time_completion_rate_per_month(org, finished_items):
    assert on_time_rate_by_month(superuser(), JAN_FEB) == [
        OnTimeMonth("2026-01", finished=3, on_time=2, rate_percent=66.7),
        OnTimeMonth("2026-02", finished=1, on_time=0, rate_percent=0.0),
    ]
    march = Filters(start=date(2026, 3, 1), end=date(2026, 3, 31))
    assert on_time_rate_by_month(superuser(), march) == [OnTimeMonth("2026-03", 0, 0, None)]


def test_it_counts_overdue_open_items_by_team_and_their_median_age(org):
    coe = coe_for(incident(org, started=at(1, 1), resolved=at(1, 1, 12)))
    item(coe, org.teammate, created=at(1, 13), due=date(2026, 1, 20))  # 12 days, overdue
    item(coe, org.teammate, created=at(1, 5), due=date(2026, 1, 24),
         status=ActionItem.Status.IN_PROGRESS)  # fmt: skip  # 20 days, overdue
    item(coe, org.outsider, team=org.search, created=at(1, 15), due=date(2026, 2, 10))  # 10 days
    item(coe, org.teammate, created=at(1, 2), due=date(2026, 1, 3),
         status=ActionItem.Status.DONE, completed=at(1, 4))  # fmt: skip  # finished: not open

    rows = open_items_by_team(superuser(), JAN, today=date(2026, 1, 25))

    assert rows == [
        OpenItems("checkout", open=2, overdue=2, median_age_days=16.0),
        OpenItems("search", open=1, overdue=0, median_age_days=10.0),
        OpenItems(ALL_TEAMS, open=3, overdue=2, median_age_days=12.0),
    ]
    only_search = Filters(start=JAN.start, end=JAN.end, team="search")
    assert open_items_by_team(superuser(), only_search, today=date(2026, 1, 25)) == [
        OpenItems("search", open=1, overdue=0, median_age_days=10.0),
        OpenItems(ALL_TEAMS, open=1, overdue=0, median_age_days=10.0),
    ]


# 4. COE cycle time ------------------------------------------------------------------------------


def test_it_gives_the_median_coe_cycle_time_per_month(org):
    coe_for(incident(org, started=at(1, 10), resolved=at(1, 10, 12)), approved=at(1, 12, 12))
    coe_for(incident(org, started=at(1, 19), resolved=at(1, 20, 0)), approved=at(1, 27, 0))
    coe_for(incident(org, started=at(1, 29), resolved=at(1, 30, 0)), approved=at(2, 3, 0))
    coe_for(incident(org, started=at(2, 1), resolved=at(2, 1, 12)))  # not approved yet

    months = coe_cycle_time_by_month(superuser(), JAN_FEB)

    assert [(m.month, m.approved, m.median_days) for m in months] == [
        ("2026-01", 2, 4.5),  # 2 and 7 days
        ("2026-02", 1, 4.0),
    ]


# Restricted incidents ---------------------------------------------------------------------------


@pytest.fixture
def vault(org: Org) -> Service:
    return Service.objects.create(name="vault", team=org.platform, tier=1)


@pytest.fixture
def secret(org: Org, vault: Service) -> Incident:
    """A restricted platform incident, with a COE and an action item, and a public one."""
    incident(
        org, severity="SEV3", started=at(1, 8), detected=at(1, 8, 10, 10), resolved=at(1, 8, 11),
        services=(org.cart,),
    )  # fmt: skip
    hidden = incident(
        org, title="Secret breach", severity="SEV1", team=org.platform, started=at(1, 9),
        detected=at(1, 9, 13), resolved=at(1, 9, 18), services=(vault,), restricted=True,
    )  # fmt: skip
    coe = coe_for(hidden, approved=at(1, 15))
    item(coe, org.reviewer, created=at(1, 16), due=date(2026, 1, 20), title="Rotate vault keys")
    return hidden


def test_a_hidden_incident_counts_per_month_without_its_severity(org, secret):
    (january,) = incidents_by_severity(org.outsider, JAN)
    assert january.by_severity == {"SEV1": 0, "SEV2": 0, "SEV3": 1, "SEV4": 0}
    assert (january.restricted, january.total) == (1, 2)

    (january,) = incidents_by_severity(org.reviewer, JAN)  # platform sees it in full
    assert january.by_severity == {"SEV1": 1, "SEV2": 0, "SEV3": 1, "SEV4": 0}
    assert (january.restricted, january.total) == (0, 2)


def test_a_hidden_incident_is_not_counted_once_a_team_or_service_is_chosen(org, secret):
    for narrowing in ({"team": "platform"}, {"service": "vault"}, {"team": "checkout"}):
        filters = Filters(start=JAN.start, end=JAN.end, **narrowing)
        (january,) = incidents_by_severity(org.outsider, filters)
        assert january.restricted == 0, narrowing
    filters = Filters(start=JAN.start, end=JAN.end, team="platform")
    assert incidents_by_severity(org.reviewer, filters)[0].by_severity["SEV1"] == 1


def test_a_hidden_incident_is_left_out_of_every_other_figure(org, secret):
    today = date(2026, 1, 25)
    (january,) = response_times_by_month(org.outsider, JAN)
    assert (january.incidents, january.mttd.median, january.mttr.median) == (1, 10.0, 60.0)
    assert [s.label for s in response_times_by_service(org.outsider, JAN)] == ["cart"]
    assert sum(week.opened for week in action_items_by_week(org.outsider, JAN)) == 0
    assert open_items_by_team(org.outsider, JAN, today=today) == [
        OpenItems(ALL_TEAMS, open=0, overdue=0, median_age_days=None)
    ]
    assert coe_cycle_time_by_month(org.outsider, JAN)[0].approved == 0
    assert service_choices(org.outsider) == ["cart"]

    # Those who may open it get it everywhere.
    (january,) = response_times_by_month(org.reviewer, JAN)
    assert (january.incidents, january.mttd.median, january.mttr.median) == (2, 95.0, 270.0)
    assert [s.label for s in response_times_by_service(org.reviewer, JAN)] == ["cart", "vault"]
    assert open_items_by_team(org.reviewer, JAN, today=today)[0] == OpenItems(
        "platform", open=1, overdue=1, median_age_days=9.0
    )
    assert coe_cycle_time_by_month(org.reviewer, JAN)[0].approved == 1
    assert service_choices(org.reviewer) == ["cart", "vault"]


def test_a_team_the_incident_is_shared_with_sees_it_in_full(org, secret):
    secret.visible_to.set([org.search])
    (january,) = incidents_by_severity(org.outsider, JAN)
    assert (january.by_severity["SEV1"], january.restricted) == (1, 0)


# The page and the CSVs --------------------------------------------------------------------------


def csv_of(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_csv_has_the_chart_header_and_rows(client, org):
    incident(org, severity="SEV1", started=at(1, 5))
    incident(org, severity="SEV3", started=at(1, 20))
    incident(org, severity="SEV2", started=at(2, 10))
    client.force_login(org.teammate)
    url = reverse("incidents:analytics-csv", args=["incidents-by-severity"])

    rows = csv_of(client.get(url, {"from": "2026-01-01", "to": "2026-02-28"}))

    assert rows == [
        ["month", "SEV1", "SEV2", "SEV3", "SEV4", "restricted", "total"],
        ["2026-01", "1", "0", "1", "0", "0", "2"],
        ["2026-02", "0", "1", "0", "0", "0", "1"],
    ]


def test_the_csv_leaves_missing_values_empty_and_defuses_formulas(client, org):
    incident(org, started=at(1, 5), resolved=at(1, 5, 10, 30))  # never detected
    team = Team.objects.create(name="-ops")
    coe = coe_for(incident(org, team=team, started=at(1, 6)))
    item(coe, org.teammate, created=at(1, 6), due=date(2026, 1, 7))
    client.force_login(superuser())
    query = {"from": "2026-01-01", "to": "2026-01-31"}

    months = csv_of(
        client.get(reverse("incidents:analytics-csv", args=["response-times-by-month"]), query)
    )
    overdue = csv_of(
        client.get(reverse("incidents:analytics-csv", args=["overdue-by-team"]), query)
    )

    assert months[0] == [
        "month", "incidents", "detected", "mttd_median_minutes", "mttd_mean_minutes",
        "resolved", "mttr_median_minutes", "mttr_mean_minutes",
    ]  # fmt: skip
    assert months[1] == ["2026-01", "2", "0", "", "", "1", "30.0", "30.0"]
    assert overdue[0] == ["team", "open", "overdue"]
    assert overdue[1][0] == "'-ops"


def test_an_unknown_chart_is_not_found(client, org):
    client.force_login(org.teammate)
    assert client.get(reverse("incidents:analytics-csv", args=["nothing"])).status_code == 404


def test_the_page_needs_a_login(client, org):
    response = client.get(reverse("incidents:analytics"))
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_the_page_shows_every_chart_with_its_table_and_csv_link(client, org, secret):
    client.force_login(org.teammate)
    with time_machine.travel(at(2, 15), tick=False):
        response = client.get(reverse("incidents:analytics"), {"team": "checkout"})
    page = response.content.decode()

    assert response.status_code == 200
    query = "from=2025-03-01&amp;to=2026-02-15&amp;team=checkout"  # last 12 months, shareable
    for slug in CHARTS:
        assert f'id="table-{slug}"' in page
        assert f'href="/analytics/{slug}.csv?{query}"' in page
    for slug in ("incidents-by-severity", "response-times-by-month", "coe-cycle-time"):
        assert f'data-analytics-chart="{slug}"' in page
    # Checkout has no open action items: that table says so, and no empty chart is drawn.
    assert 'data-analytics-chart="overdue-by-team"' not in page
    assert '<script id="analytics-data" type="application/json">' in page
    assert "<script>" not in page  # nothing inline under the CSP
    assert 'src="/static/incidents/analytics' in page
    data = json.loads(page.split('type="application/json">')[1].split("</script>")[0])
    severity = data["charts"][0]
    assert severity["x"][-2:] == ["2026-01", "2026-02"]
    assert severity["series"][2] == {"name": "SEV3", "values": [0] * 10 + [1, 0]}


def test_an_outsider_never_sees_the_restricted_incident_in_page_or_csv(client, org, secret):
    client.force_login(org.outsider)
    query = {"from": "2026-01-01", "to": "2026-01-31"}
    page = client.get(reverse("incidents:analytics"), query).content.decode()
    downloads = [
        client.get(reverse("incidents:analytics-csv", args=[slug]), query).content.decode()
        for slug in CHARTS
    ]

    assert "1 restricted incident you cannot open is counted" in page
    for text in (page, *downloads):
        for secret_text in ("Secret breach", "vault", "Rotate vault keys", "platform,"):
            assert secret_text not in text
    severity = list(csv.reader(io.StringIO(downloads[0])))
    assert severity[1] == ["2026-01", "0", "0", "1", "0", "1", "2"]

    client.force_login(org.reviewer)
    page = client.get(reverse("incidents:analytics"), query).content.decode()
    assert "vault" in page  # the platform team sees its own service
    assert "restricted incident you cannot open" not in page
