"""Demo incidents for `manage.py demo`: a resolved SEV2 whose approved COE has action items
due soon, a day overdue and a week overdue (so the reminder pass has something to send at
once), a resolved SEV1 with no COE yet ("COE due"), and half a year of earlier incidents and
COEs for the analytics page. Created once; running the demo again adds nothing."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from coe_portal.accounts.models import Membership, Service, Team
from incidents.action_items.models import ActionItem
from incidents.coe.editing import WhyRow, action_item_save, coe_save_field, coe_save_whys
from incidents.coe.editing import coe_start as start_coe
from incidents.coe.models import Coe
from incidents.coe.workflow import coe_approve, coe_submit
from incidents.incident.models import Incident
from incidents.incident.services import incident_open, incident_set_status, timeline_note_add
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


def _person(username: str, first: str, last: str, team: str, role: str) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User.objects.create_user(
            username=username, email=f"{username}@example.com", first_name=first, last_name=last
        )  # no password: a colleague in the demo data, not a login
    Membership.objects.get_or_create(
        team=Team.objects.get(name=team), user=user, defaults={"role": role}
    )
    return user


def _author() -> User:
    return _person(AUTHOR, "Casey", "Lee", "checkout", "lead")


def ensure_demo_incidents() -> int:
    created = 0
    if not Incident.objects.filter(title=PAYMENTS_TITLE).exists():
        _payments_incident(_author())
        created += 1
    if not Incident.objects.filter(title=SEARCH_TITLE).exists():
        _search_incident()
        created += 1
    for spec in HISTORY:
        if not Incident.objects.filter(title=spec[0]).exists():
            _past_incident(*spec)
            created += 1
    return created


def _payments_incident(author: User) -> None:
    now = timezone.now().replace(second=0, microsecond=0)
    started = now - timedelta(days=20, hours=3)
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
    demo_user = User.objects.filter(username="demo").first() or author
    # Due in 2 days (due-soon reminder), a day late (overdue), a week late (escalation).
    for title, owner, priority, kind, days in [
        ("Pin connection pool settings in the payments config", author, "medium", "prevent", 2),
        ("Alarm on payments client pool saturation", demo_user, "medium", "detect", -1),
        ("Canary: hold 10 % of tier-1 traffic for 20 minutes", author, "medium", "prevent", -7),
    ]:  # fmt: skip
        action_item_save(
            coe=coe, user=author, title=title, owner=owner, priority=priority, kind=kind,
            due_date=today + timedelta(days=days),
        )  # fmt: skip
    coe = coe_submit(coe=coe, user=author)
    reviewer = _person("sam", "Sam", "Okafor", "platform", "member")
    coe_approve(coe=coe, user=reviewer, note="Clear causes; the canary item is the key one.")


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


# (title, team, service, severity, days ago, minutes to detect, minutes to resolve, days from
# resolution to COE approval or None (COE still open), action items: (days after the incident
# due, days after the incident completed or None)).
HISTORY: list[tuple[str, str, str, str, int, int, int, int | None, list[tuple[int, int | None]]]]
HISTORY = [
    ("Login page slow after a cache eviction storm", "platform", "identity", "SEV3", 170, 6,
     55, 9, [(30, 21), (45, 60)]),
    ("Cart API errors during a database failover", "checkout", "cart", "SEV2", 150, 2, 34, 6,
     [(14, 12), (30, 28)]),
    ("Search index build stalled for 6 hours", "search", "indexer", "SEV4", 128, 95, 380, 14,
     [(30, 40)]),
    ("Gateway rejected valid tokens after a key rotation", "platform", "api-gateway", "SEV1",
     104, 3, 41, 5, [(7, 6), (21, 19), (30, 45)]),
    ("Checkout double-charged 112 orders", "checkout", "checkout", "SEV1", 77, 18, 96, 8,
     [(7, 5), (14, 13)]),
    ("Search latency p99 above 2 s at peak", "search", "search", "SEV3", 49, 9, 70, 11,
     [(21, 30), (45, None)]),
    ("Frontend assets 404 after a CDN purge", "platform", "frontend", "SEV2", 30, 4, 22, None,
     [(14, None)]),
]  # fmt: skip


def _past_incident(
    title: str, team_name: str, service: str, severity: str, days_ago: int, detect: int,
    resolve: int, approve_after: int | None, items: list[tuple[int, int | None]],
) -> None:  # fmt: skip
    team = Team.objects.get(name=team_name)
    lead = Membership.objects.filter(team=team, role="lead").select_related("user").first()
    owner = lead.user if lead else _author()
    started = timezone.now().replace(second=0, microsecond=0) - timedelta(days=days_ago)
    resolved = started + timedelta(minutes=resolve)
    incident = Incident.objects.create(
        title=title, severity=severity, team=team, owner=owner, status="resolved",
        started_at=started, detected_at=started + timedelta(minutes=detect),
        mitigated_at=started + timedelta(minutes=max(detect, resolve * 2 // 3)),
        resolved_at=resolved, summary="Seeded history for the analytics page.",
    )  # fmt: skip
    incident.services.set(Service.objects.filter(name=service))
    approved = resolved + timedelta(days=approve_after) if approve_after is not None else None
    coe = Coe.objects.create(
        incident=incident, title=title, team=team, created_by=owner,
        state=Coe.State.APPROVED if approved else Coe.State.IN_REVIEW,
        summary="See the incident.", submitted_at=resolved + timedelta(days=2),
        approved_at=approved, impact_minutes=resolve,
    )  # fmt: skip
    coe.authors.add(owner)
    for number, (due_after, done_after) in enumerate(items, start=1):
        done = started + timedelta(days=done_after) if done_after is not None else None
        item = ActionItem.objects.create(
            coe=coe, title=f"Follow-up {number} of “{title}”", owner=owner, team=team,
            due_date=(started + timedelta(days=due_after)).date(),
            status=ActionItem.Status.DONE if done else ActionItem.Status.OPEN,
            status_note="Done." if done else "", completed_at=done,
        )  # fmt: skip
        ActionItem.objects.filter(pk=item.pk).update(created_at=approved or resolved)
    if approved and all(done is not None for _, done in items):
        Coe.objects.filter(pk=coe.pk).update(state=Coe.State.CLOSED, closed_at=approved)
