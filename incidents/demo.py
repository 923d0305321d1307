"""Demo incidents for `manage.py demo`: a resolved SEV2 whose COE waits for review, and a
resolved SEV1 with no COE yet ("COE due"). Created once; running the demo again adds nothing."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from coe_portal.accounts.models import Membership, Service, Team
from incidents.coe_services import WhyRow, action_item_save, coe_save_field, coe_save_whys
from incidents.coe_services import coe_start as start_coe
from incidents.coe_workflow import coe_submit
from incidents.models import Incident
from incidents.services import incident_open, incident_set_status, timeline_note_add
from metrics.slo.models import SLO

AUTHOR = "casey"
PAYMENTS_TITLE = "Payments timing out after the client library upgrade"
SEARCH_TITLE = "Search returned empty results for 12 minutes"

SECTIONS = {
    "summary": (
        "For 38 minutes, about 9 % of checkout attempts failed with a payment timeout. A "
        "payments client upgrade changed the default connection pool size from 50 to 1, so "
        "calls to the payment provider queued behind each other. Rolling back the deploy "
        "restored service."
    ),
    "customer_impact": (
        "Customers placing orders saw *Payment could not be completed* and could retry. "
        "Most retries succeeded; orders placed during the incident were not lost."
    ),
    "metrics": (
        "The `payments-availability` SLO burned at 90x for the first 20 minutes, paging the "
        "on-call at the 1 h / 5 m window pair. Latency p99 rose from 300 ms to the 10 s timeout."
    ),
    "contributing_factors": (
        "- The client library changed a default in a minor release.\n"
        "- The canary stage checks error rates over 10 minutes, at a traffic level too low to "
        "saturate a pool of one connection.\n"
        "- Pool settings were not pinned in our configuration."
    ),
    "went_well": "The burn-rate alert paged within 4 minutes; rollback took 6 minutes.",
    "went_wrong": (
        "Diagnosis took 20 minutes: the dashboard showed timeouts but not pool saturation."
    ),
    "got_lucky": "The incident started at 02:00 UTC, our lowest traffic of the day.",
    "related_items": "Runbook: https://runbooks.example.com/payments",
}
ANSWER = (
    "Yes for detection (the SLO alert paged after 4 minutes); the other answers are in the "
    "contributing factors and action items."
)
WHYS = [
    ("Why did checkouts fail?", "Calls to the payment provider timed out after 10 s."),
    ("Why did they time out?", "They waited for the only connection in the pool."),
    ("Why was there one connection?", "The client upgrade changed the pool default to 1."),
    ("Why did the canary not catch it?", "Canary traffic never needs more than one connection."),
    ("Why is canary traffic that low?", "The canary takes 1 % of traffic for 10 minutes."),
]


def _author() -> User:
    user = User.objects.filter(username=AUTHOR).first()
    if user is None:
        user = User.objects.create_user(
            username=AUTHOR, email="casey@example.com", first_name="Casey", last_name="Lee"
        )  # no password: an author in the demo data, not a login
    Membership.objects.get_or_create(
        team=Team.objects.get(name="checkout"), user=user, defaults={"role": "lead"}
    )
    return user


def ensure_demo_incidents() -> int:
    created = 0
    if not Incident.objects.filter(title=PAYMENTS_TITLE).exists():
        _payments_incident(_author())
        created += 1
    if not Incident.objects.filter(title=SEARCH_TITLE).exists():
        _search_incident()
        created += 1
    return created


def _payments_incident(author: User) -> None:
    now = timezone.now().replace(second=0, microsecond=0)
    started = now - timedelta(days=2, hours=3)
    incident = incident_open(
        title=PAYMENTS_TITLE, severity="SEV2", team=Team.objects.get(name="checkout"),
        services=Service.objects.filter(name__in=["payments", "checkout"]), owner=author,
        started_at=started, detected_at=started + timedelta(minutes=4),
        summary="Some card payments failed; retrying usually worked.",
    )  # fmt: skip
    incident.slos.set(SLO.objects.filter(name="payments-availability"))
    timeline_note_add(
        incident=incident, user=author, kind="deploy", at=started - timedelta(minutes=2),
        text="Deployed payments 4.12.0 (client library 3.0).",
    )  # fmt: skip
    timeline_note_add(
        incident=incident, user=author, at=started + timedelta(minutes=24),
        text="Pool saturation confirmed in thread dumps; rolling back.",
    )  # fmt: skip
    incident = incident_set_status(
        incident=incident, status="mitigated", user=author, at=started + timedelta(minutes=38)
    )
    incident = incident_set_status(
        incident=incident, status="resolved", user=author, at=started + timedelta(hours=1)
    )
    coe = start_coe(incident=incident, user=author)
    for field, text in SECTIONS.items():
        coe = coe_save_field(coe=coe, user=author, field=field, value=text, base_version=None)
    coe = coe_save_field(
        coe=coe, user=author, field="customers_affected", value="1840", base_version=None
    )
    for answer in coe.answers.all():
        coe = coe_save_field(
            coe=coe, user=author, field=answer.field_key, value=ANSWER, base_version=None
        )
    coe = coe_save_whys(
        coe=coe, user=author, rows=[WhyRow(1, q, a) for q, a in WHYS], base_version=None
    )
    today = timezone.now().date()
    for title, priority, kind, days in [
        ("Pin connection pool settings in the payments config", "high", "prevent", 7),
        ("Alarm on payments client pool saturation", "medium", "detect", 21),
        ("Canary: hold 10 % of tier-1 traffic for 20 minutes", "medium", "prevent", 45),
    ]:  # fmt: skip
        action_item_save(
            coe=coe, user=author, title=title, owner=author, priority=priority, kind=kind,
            due_date=today + timedelta(days=days),
        )  # fmt: skip
    coe_submit(coe=coe, user=author)


def _search_incident() -> None:
    now = timezone.now().replace(second=0, microsecond=0)
    started = now - timedelta(hours=20)
    incident = incident_open(
        title=SEARCH_TITLE, severity="SEV1", team=Team.objects.get(name="search"),
        services=Service.objects.filter(name="search"), started_at=started,
        detected_at=started + timedelta(minutes=3),
        summary="Searches returned no products; browsing by category still worked.",
    )  # fmt: skip
    incident_set_status(incident=incident, status="resolved", at=started + timedelta(minutes=12))
