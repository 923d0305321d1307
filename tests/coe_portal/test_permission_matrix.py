"""Who may do what, from one table: every state-changing page and API call, tried by five kinds
of user and two API tokens. For each, the policy's answer, the page's and the API's agree: an
allowed actor changes the state, a refused one gets a 403 and changes nothing.

Every URL of the portal is either in the table, read-only (a POST gets a 405), or exempt with a
reason, so a new state-changing view cannot be added without a row here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from coe_portal.accounts.models import ApiToken
from coe_portal.accounts.policy import Action, allowed
from coe_portal.accounts.services import api_token_create
from incidents.action_items.models import ActionItem
from incidents.coe.editing import action_item_save
from incidents.coe.editing import coe_start as start_coe
from incidents.coe.findings import coe_findings
from incidents.coe.models import Coe, CoeComment, CoeReview, IncidentQuestion
from incidents.incident.models import Incident, TimelineEntry
from incidents.incident.services import incident_open, timeline_note_add
from metrics.alarms.models import Alarm
from metrics.notify.silences import Silence, silence_create
from metrics.slo.models import SLO
from tests.conftest import PASSWORD
from tests.incidents.coe_support import resolved_incident, save, written_coe

USERS = ("superuser", "lead", "member", "other_team", "no_team")
TOKENS = ("own_token", "other_token")
STAFF = {"superuser", "lead", "member"}  # the owning team (checkout) and superusers
LEADS = {"superuser", "lead"}
EVERYONE = set(USERS)

SLO_FORM = {
    "name": "latency", "sli_kind": "ratio", "objective_percent": "99.5", "window": "30d",
    "bad_query": 'sum(rate(http_requests_total{code=~"5.."}[{{window}}]))',
    "total_query": "sum(rate(http_requests_total[{{window}}]))", "time_zone": "UTC",
    "min_events": "0", "no_data_after_minutes": "15", "enabled": "on",
}  # fmt: skip
ALARM_FORM = {
    "name": "backlog", "kind": "threshold", "expression": "max(queue_depth)",
    "period_seconds": "60", "evaluation_periods": "3", "datapoints_to_alarm": "2",
    "comparison": ">", "threshold": "100", "treat_missing_data": "missing", "enabled": "on",
}  # fmt: skip


@dataclass
class World:
    org: Any
    actors: dict[str, User | ApiToken]
    secrets: dict[str, str]


Request = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Case:
    name: str  # the URL name the page request goes to
    action: Action
    setup: Callable[[World], Any]  # builds the target (owned by the checkout team)
    page: Callable[[World, Any], Request]
    state: Callable[[World, Any], Any]  # what the action changes
    users: set[str]  # who may, of USERS
    api: Callable[[World, Any], Request] | None = None
    api_name: str = ""
    tokens: set[str] = field(default_factory=lambda: {"own_token"})
    api_method: str = "POST"
    # Users for whom the target does not exist (a restricted incident): a 404, not a 403.
    not_found: set[str] = field(default_factory=set)
    # A token acts for its own team: where the API names no team, the target is the token's.
    token_target: Callable[[World, ApiToken], Any] | None = None


# Targets


def _alarm(w: World) -> Alarm:
    return Alarm.objects.create(
        name="emails-backlog", team=w.org.checkout, expression="max(queue_depth)",
        period_seconds=60, evaluation_periods=3, datapoints_to_alarm=2, comparison=">",
        threshold=100, state=Alarm.State.ALARM,
    )  # fmt: skip


def _slo(w: World) -> SLO:
    return SLO.objects.create(
        name="availability", service=w.org.cart, team=w.org.checkout,
        objective_percent=Decimal("99.9"),
        bad_query='sum(rate(http_requests_total{code=~"5.."}[{{window}}]))',
        total_query="sum(rate(http_requests_total[{{window}}]))",
    )  # fmt: skip


def _silence(w: World) -> Silence:
    return silence_create(
        alarm=_alarm(w), duration=timedelta(hours=1), reason="migration", user=w.org.owner
    )


def _incident(w: World) -> Incident:
    return incident_open(
        title="Checkout errors", severity="SEV2", team=w.org.checkout, owner=w.org.owner,
        started_at=timezone.now() - timedelta(minutes=20), services=[w.org.cart],
    )  # fmt: skip


def _shared_incident(w: World) -> Incident:
    """Restricted, and shared with the search team."""
    return incident_open(
        title="Card data exposure", severity="SEV1", team=w.org.checkout, owner=w.org.owner,
        started_at=timezone.now() - timedelta(minutes=20), restricted=True,
        visible_to=[w.org.search],
    )  # fmt: skip


def _edit_form(incident: Incident, **changes: Any) -> dict[str, Any]:
    """The incident page's edit form as the browser sends it, with some fields changed."""
    data = {
        "title": incident.title, "severity": incident.severity,
        "services": [s.pk for s in incident.services.all()],
        "owner": incident.owner_id or "", "summary": incident.summary,
        "started_at": f"{incident.started_at:%Y-%m-%dT%H:%M}",
        "detected_at": f"{incident.detected_at:%Y-%m-%dT%H:%M}" if incident.detected_at else "",
        "mitigated_at": "", "resolved_at": "",
        "visible_to": [t.pk for t in incident.visible_to.all()],
    }  # fmt: skip
    if incident.restricted:
        data["restricted"] = "on"
    return {**data, **changes}


def _entry(w: World) -> TimelineEntry:
    return timeline_note_add(incident=_incident(w), user=w.org.teammate, text="rolled back")


def _draft(w: World) -> Coe:
    return start_coe(incident=resolved_incident(w.org), user=w.org.owner)


def _draft_with_finding(w: World) -> Coe:
    return save(_draft(w), w.org.owner, "went_wrong", "It was the release team's fault.")


def _finding_key(coe: Coe) -> str:
    return coe_findings(coe)[0].finding.key


def _in_review(w: World) -> Coe:
    coe = _draft(w)
    Coe.objects.filter(pk=coe.pk).update(state=Coe.State.IN_REVIEW)
    return coe


def _approved(w: World) -> Coe:
    coe = _draft(w)
    Coe.objects.filter(pk=coe.pk).update(state=Coe.State.APPROVED)
    return coe


def _item(w: World) -> ActionItem:
    coe = _draft(w)
    return action_item_save(
        coe=coe, user=w.org.owner, title="Canary the pool size", owner=w.org.owner,
        priority="high", kind="prevent", due_date=date.today() + timedelta(days=30),
    )  # fmt: skip


def _grafana_token(w: World) -> ApiToken:
    return api_token_create(team=w.org.checkout, name="grafana", scopes=["read"]).token


def _team(w: World) -> Any:
    return w.org.checkout


def _own_team(w: World, token: ApiToken) -> Any:
    return token.team


def _api_slo(w: World, _: Any) -> Request:
    return "/api/v1/slos", {**SLO_FORM, "service": "cart", "team": "checkout", "enabled": True}


def _api_alarm(w: World, _: Any) -> Request:
    return "/api/v1/alarms", {**ALARM_FORM, "team": "checkout", "enabled": True}


def _due(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


CASES = [
    Case(
        "metrics:alarm-acknowledge", Action.RESPOND, _alarm,
        lambda w, a: (f"/alarms/{a.pk}/acknowledge", {}),
        lambda w, a: Alarm.objects.get(pk=a.pk).acknowledged_at is not None, STAFF,
    ),
    Case(
        "metrics:alarm-silence", Action.RESPOND, _alarm,
        lambda w, a: (f"/alarms/{a.pk}/silence", {"duration": "1h", "reason": "deploy"}),
        lambda w, a: Silence.objects.filter(alarm=a).count(), STAFF,
    ),
    Case(
        "metrics:slo-silence", Action.RESPOND, _slo,
        lambda w, s: (f"/slos/{s.pk}/silence", {"duration": "4h", "reason": "load test"}),
        lambda w, s: Silence.objects.filter(slo=s).count(), STAFF,
    ),
    Case(
        "metrics:silence-end", Action.RESPOND, lambda w: _silence(w).alarm,
        lambda w, a: (f"/silences/{Silence.objects.get(alarm=a).pk}/end", {}),
        lambda w, a: Silence.objects.get(alarm=a).ends_at, STAFF,
    ),
    Case(
        "metrics:slo-create", Action.CHANGE_RULES, _team,
        lambda w, t: ("/slos/new/", {**SLO_FORM, "service": w.org.cart.pk, "team": t.pk}),
        lambda w, t: SLO.objects.count(), LEADS,
        api=_api_slo, api_name="metrics:api-slo-list",
    ),
    Case(
        "metrics:slo-edit", Action.CHANGE_RULES, _slo,
        lambda w, s: (
            f"/slos/{s.pk}/edit/",
            {**SLO_FORM, "name": "renamed", "service": w.org.cart.pk, "team": s.team_id},
        ),
        lambda w, s: SLO.objects.get(pk=s.pk).name, LEADS,
    ),
    Case(
        "metrics:alarm-create", Action.CHANGE_RULES, _team,
        lambda w, t: ("/alarms/new/", {**ALARM_FORM, "team": t.pk}),
        lambda w, t: Alarm.objects.count(), LEADS,
        api=_api_alarm, api_name="metrics:api-alarm-list",
    ),
    Case(
        "metrics:alarm-edit", Action.CHANGE_RULES, _alarm,
        lambda w, a: (
            f"/alarms/{a.pk}/edit/", {**ALARM_FORM, "name": "renamed", "team": a.team_id}
        ),
        lambda w, a: Alarm.objects.get(pk=a.pk).name, LEADS,
    ),
    Case(
        "incidents:incident-create", Action.DECLARE_INCIDENT, _team,
        lambda w, t: ("/incidents/new/", {
            "title": "Search is slow", "severity": "SEV3", "team": t.pk,
            "started_at": "2026-11-23T11:00", "detected_at": "2026-11-23T11:05",
        }),
        lambda w, t: Incident.objects.count(), EVERYONE,
        api=lambda w, t: ("/api/v1/incidents", {"title": "Search is slow"}),
        api_name="incidents:api-incidents",
        tokens=set(TOKENS), token_target=_own_team,
    ),
    Case(
        "incidents:incident-edit", Action.EDIT_INCIDENT, _incident,
        lambda w, i: (f"/incidents/{i.pk}/edit", _edit_form(i, severity="SEV1")),
        lambda w, i: Incident.objects.get(pk=i.pk).severity, STAFF,
        api=lambda w, i: (f"/api/v1/incidents/{i.pk}", {"severity": "SEV1"}),
        api_name="incidents:api-incident", api_method="PATCH",
    ),
    Case(
        "incidents:incident-edit", Action.EDIT_INCIDENT, _shared_incident,
        lambda w, i: (f"/incidents/{i.pk}/edit", _edit_form(i, title="Card data exposed")),
        lambda w, i: Incident.objects.get(pk=i.pk).title, STAFF | {"other_team"},
        api=lambda w, i: (f"/api/v1/incidents/{i.pk}", {"title": "Card data exposed"}),
        api_name="incidents:api-incident", api_method="PATCH",
        tokens=set(TOKENS), not_found={"no_team"},
    ),
    Case(
        "incidents:incident-status", Action.EDIT_INCIDENT, _shared_incident,
        lambda w, i: (f"/incidents/{i.pk}/status", {"status": "mitigated"}),
        lambda w, i: Incident.objects.get(pk=i.pk).status, STAFF | {"other_team"},
        api=lambda w, i: (f"/api/v1/incidents/{i.pk}/status", {"status": "mitigated"}),
        api_name="incidents:api-incident-status",
        tokens=set(TOKENS), not_found={"no_team"},
    ),
    Case(
        "incidents:incident-status", Action.EDIT_INCIDENT, _incident,
        lambda w, i: (f"/incidents/{i.pk}/status", {"status": "mitigated"}),
        lambda w, i: Incident.objects.get(pk=i.pk).status, STAFF,
        api=lambda w, i: (f"/api/v1/incidents/{i.pk}/status", {"status": "mitigated"}),
        api_name="incidents:api-incident-status",
    ),
    Case(
        "incidents:timeline-add", Action.RUN_INCIDENT, _incident,
        lambda w, i: (f"/incidents/{i.pk}/timeline", {"kind": "note", "text": "paged payments"}),
        lambda w, i: i.timeline.count(), STAFF,
        api=lambda w, i: (f"/api/v1/incidents/{i.pk}/timeline", {"text": "paged payments"}),
        api_name="incidents:api-incident-timeline",
    ),
    Case(
        "incidents:timeline-edit", Action.EDIT_TIMELINE_ENTRY, _entry,
        lambda w, e: (f"/incidents/{e.incident_id}/timeline/{e.pk}", {"text": "rolled back 4.2"}),
        lambda w, e: TimelineEntry.objects.get(pk=e.pk).text, {"member"},
    ),
    Case(
        "incidents:coe-start", Action.START_COE, lambda w: resolved_incident(w.org),
        lambda w, i: (f"/incidents/{i.pk}/coe", {}),
        lambda w, i: Coe.objects.filter(incident=i).count(), STAFF,
    ),
    Case(
        "incidents:coe-field", Action.EDIT_COE, _draft,
        lambda w, c: (f"/coes/{c.pk}/fields/summary", {"value": "Payments failed for 20 min."}),
        lambda w, c: Coe.objects.get(pk=c.pk).summary, STAFF,
    ),
    Case(
        "incidents:coe-whys", Action.EDIT_COE, _draft,
        lambda w, c: (
            f"/coes/{c.pk}/whys",
            {"chain": ["1"], "why": ["Why did it fail?"], "because": ["The pool was 1."]},
        ),
        lambda w, c: c.whys.count(), STAFF,
    ),
    Case(
        "incidents:coe-item-add", Action.EDIT_COE, _draft,
        lambda w, c: (f"/coes/{c.pk}/action-items", {
            "title": "Alarm on pool saturation", "owner": w.org.teammate.pk, "priority": "high",
            "kind": "detect", "due_date": _due(20),
        }),
        lambda w, c: c.action_items.count(), STAFF,
    ),
    Case(
        "incidents:coe-item-delete", Action.EDIT_COE, lambda w: _item(w).coe,
        lambda w, c: (f"/coes/{c.pk}/action-items/{c.action_items.get().pk}/delete", {}),
        lambda w, c: c.action_items.count(), STAFF,
    ),
    Case(
        "incidents:coe-finding-ack", Action.EDIT_COE, _draft_with_finding,
        lambda w, c: (f"/coes/{c.pk}/findings", {"key": _finding_key(c), "reason": "A quote."}),
        lambda w, c: c.acknowledgements.count(), STAFF,
    ),
    Case(
        "incidents:coe-review", Action.EDIT_COE, lambda w: written_coe(w.org),
        lambda w, c: (f"/coes/{c.pk}/review", {"action": "submit"}),
        lambda w, c: Coe.objects.get(pk=c.pk).state, STAFF,
    ),
    Case(
        "incidents:coe-review", Action.REVIEW_COE, _in_review,
        lambda w, c: (f"/coes/{c.pk}/review", {"action": "approve", "note": "Thorough."}),
        lambda w, c: CoeReview.objects.filter(coe=c).count(), {"superuser", *EVERYONE - LEADS},
    ),
    Case(
        "incidents:coe-review", Action.REVIEW_COE, _in_review,
        lambda w, c: (f"/coes/{c.pk}/review", {"action": "request_changes", "note": "Why 3?"}),
        lambda w, c: Coe.objects.get(pk=c.pk).state, {"superuser", *EVERYONE - LEADS},
    ),
    Case(
        "incidents:coe-review", Action.EDIT_COE, _approved,
        lambda w, c: (f"/coes/{c.pk}/review", {"action": "reopen", "note": "New data."}),
        lambda w, c: Coe.objects.get(pk=c.pk).revision, STAFF,
    ),
    Case(
        "incidents:coe-comment", Action.COMMENT_COE, _draft,
        lambda w, c: (f"/coes/{c.pk}/comments", {"body": "Which dashboard showed it?"}),
        lambda w, c: CoeComment.objects.filter(coe=c).count(), EVERYONE,
    ),
    Case(
        "incidents:action-status", Action.UPDATE_ACTION_ITEM, _item,
        lambda w, i: (f"/action-items/{i.pk}/status", {"status": "in_progress"}),
        lambda w, i: ActionItem.objects.get(pk=i.pk).status, STAFF,
    ),
    Case(
        "incidents:action-due", Action.UPDATE_ACTION_ITEM, _item,
        lambda w, i: (f"/action-items/{i.pk}/due", {"due_date": _due(40), "reason": "Freeze."}),
        lambda w, i: ActionItem.objects.get(pk=i.pk).due_date, STAFF,
    ),
    Case(
        "incidents:action-snooze", Action.UPDATE_ACTION_ITEM, _item,
        lambda w, i: (f"/action-items/{i.pk}/snooze", {"until": _due(3), "reason": "On leave."}),
        lambda w, i: ActionItem.objects.get(pk=i.pk).snoozed_until, STAFF,
    ),
    Case(
        "incidents:coe-settings", Action.MANAGE_TEAM, _team,
        lambda w, t: (f"/teams/{t.name}/coe-settings", {
            "action": "add-question", "prompt": "Was the canary green?", "group": "detection",
        }),
        lambda w, t: IncidentQuestion.objects.filter(team=t).count(), LEADS,
    ),
    Case(
        "accounts:token-list", Action.MANAGE_TEAM, _team,
        lambda w, t: (f"/teams/{t.name}/tokens/", {"name": "ci", "scopes": ["read"]}),
        lambda w, t: t.api_tokens.count(), LEADS,
    ),
    Case(
        "accounts:token-revoke", Action.MANAGE_TEAM, lambda w: _grafana_token(w).team,
        lambda w, t: (f"/teams/{t.name}/tokens/{t.api_tokens.get(name='grafana').pk}/revoke/", {}),
        lambda w, t: t.api_tokens.get(name="grafana").revoked_at, LEADS,
    ),
]  # fmt: skip

# Read-only pages and API calls: a POST is refused with 405 before anything runs.
READ_ONLY = {
    "home", "healthz", "readyz", "metrics", "api-whoami",
    "accounts:team-list", "accounts:team-detail", "accounts:service-list",
    "accounts:service-detail",
    "metrics:explorer", "metrics:explorer-data", "metrics:api-label-values",
    "metrics:api-buildinfo", "metrics:api-tsdb-status", "metrics:api-rules",
    "metrics:api-alerts", "metrics:slo-list",
    "metrics:slo-detail", "metrics:slo-charts", "metrics:api-slo-detail", "metrics:alarm-list",
    "metrics:alarm-detail", "metrics:alarm-chart", "metrics:api-alarm-detail",
    "metrics:trace-api-search", "metrics:trace-api-detail", "metrics:trace-search",
    "metrics:service-map", "metrics:service-red", "metrics:trace-detail",
    "incidents:api-coes", "incidents:api-coe",
    "incidents:api-action-items", "incidents:incident-list", "incidents:incident-detail",
    "incidents:analytics", "incidents:analytics-csv", "incidents:coe-list",
    "incidents:coe-detail", "incidents:coe-export", "incidents:coe-history",
    "incidents:coe-edit", "incidents:action-item-list", "incidents:action-item-all",
    "incidents:action-item-overdue", "incidents:action-item-ics", "incidents:action-board",
    "incidents:action-item-detail",
}  # fmt: skip
# State-changing, but not a team's object: who may is decided elsewhere, as said.
EXEMPT = {
    "login": "signs in: open to everyone",
    "logout": "signs the user out",
    "admin": "Django's admin: staff accounts and model permissions",
    "incidents:reminder-preferences": "each user's own preferences only",
    "incidents:coe-preview": "renders Markdown for the editor, stores nothing",
    # Intake: a token writes under its own team; there is no other team's object to act on.
    "metrics:remote-write": "intake: the token's team",
    "metrics:otlp-metrics": "intake: the token's team",
    "metrics:otlp-traces": "intake: the token's team",
    "metrics:zipkin-spans": "intake: the token's team",
    "metrics:alertmanager-webhook": "intake: the token's team",
    # PromQL over POST, as Prometheus allows, for queries too long for a URL: reads only.
    **{
        f"metrics:{name}": "reads: POST carries the query form"
        for name in (
            "api-query",
            "api-query-range",
            "api-series",
            "api-labels",
            "api-metadata",
            "api-query-exemplars",
            "api-format-query",
        )
    },
    "incidents:notifications": "marks the user's own notifications read",
}


@pytest.fixture
def world(org) -> World:
    superuser = User.objects.create_superuser("sam", "sam@example.com", PASSWORD)
    nobody = User.objects.create_user("nina", "nina@example.com", PASSWORD)
    own = api_token_create(team=org.checkout, name="own", scopes=["read", "write"])
    other = api_token_create(team=org.search, name="other", scopes=["read", "write"])
    own_token, other_token = own.token, other.token
    actors: dict[str, User | ApiToken] = {
        "superuser": superuser, "lead": org.owner, "member": org.teammate,
        "other_team": org.outsider, "no_team": nobody, "own_token": own_token,
        "other_token": other_token,
    }  # fmt: skip
    return World(org, actors, {"own_token": own.secret, "other_token": other.secret})


def _case_id(case: Case) -> str:
    return f"{case.action}:{case.name.split(':')[-1]}"


@pytest.mark.django_db
@pytest.mark.parametrize("actor", USERS)
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_pages_agree_with_the_policy(world: World, case: Case, actor: str) -> None:
    target = case.setup(world)
    user = world.actors[actor]
    expected = actor in case.users
    assert allowed(User.objects.get(pk=user.pk), case.action, target) is expected
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    before = case.state(world, target)
    url, data = case.page(world, target)
    response = client.post(url, data)
    after = case.state(world, target)
    if actor in case.not_found:
        assert response.status_code == 404, response.content[:300]
        assert after == before
    elif expected:
        assert response.status_code in (200, 201, 302), response.content[:300]
        assert after != before, f"{actor} was allowed but nothing changed"
    else:
        assert response.status_code == 403, response.content[:300]
        assert after == before


API_CASES = [case for case in CASES if case.api is not None]


@pytest.mark.django_db
@pytest.mark.parametrize("actor", TOKENS)
@pytest.mark.parametrize("case", API_CASES, ids=_case_id)
def test_the_api_agrees_with_the_policy(world: World, case: Case, actor: str) -> None:
    assert case.api is not None
    target = case.setup(world)
    token = world.actors[actor]
    assert isinstance(token, ApiToken)
    expected = actor in case.tokens
    policy_target = case.token_target(world, token) if case.token_target else target
    assert allowed(token, case.action, policy_target) is expected
    before = case.state(world, target)
    url, body = case.api(world, target)
    response = Client().generic(
        case.api_method, url, json.dumps(body), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {world.secrets[actor]}",
    )  # fmt: skip
    after = case.state(world, target)
    if case.token_target is not None:
        assert response.status_code == 201, response.content[:300]
        return  # the token acted for its own team, which is not the target's state
    if expected:
        assert response.status_code in (200, 201), response.content[:300]
        assert after != before
    else:
        assert response.status_code == 403, response.content[:300]
        assert after == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "action", [a for a in Action if not any(c.api for c in CASES if c.action == a)]
)
def test_tokens_cannot_take_actions_the_api_does_not_offer(world: World, action: Action) -> None:
    token = world.actors["own_token"]
    assert not allowed(token, action, world.org.checkout)


def _url_names(resolver: URLResolver, namespace: str = "") -> set[str]:
    names: set[str] = set()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin":
                names.add("admin")
                continue
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            names |= _url_names(entry, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(namespace + entry.name)
    return names


def test_every_url_is_in_the_matrix_read_only_or_exempt_with_a_reason() -> None:
    in_table = {case.name for case in CASES} | {case.api_name for case in API_CASES}
    listed = in_table | READ_ONLY | set(EXEMPT)
    names = _url_names(get_resolver())
    assert names - listed == set(), "classify these URLs in the permission matrix"
    assert listed - names == set(), "these names are no longer URLs"
    assert not in_table & READ_ONLY
    assert not in_table & set(EXEMPT)


ARGUMENTS = {"pk": 1, "name": "checkout", "chart": "mttr", "service": "cart", "trace_id": "ab"}


def _url(name: str) -> str:
    """The URL of a named pattern, with the one argument its pattern takes (if any)."""
    for kwargs in [{}] + [{key: value} for key, value in ARGUMENTS.items()]:
        try:
            return reverse(name, kwargs=kwargs)
        except NoReverseMatch:
            continue
    raise AssertionError(f"no arguments found for {name}")


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(READ_ONLY))
def test_read_only_urls_refuse_a_post(world: World, name: str) -> None:
    client = Client()
    client.force_login(world.actors["superuser"])  # type: ignore[arg-type]
    assert client.post(_url(name)).status_code == 405


def test_the_table_uses_every_action() -> None:
    assert {case.action for case in CASES} == set(Action) - {Action.SEE_TEAM_TOKENS}


def test_a_refusal_names_the_rule(world: World) -> None:
    alarm = _alarm(world)
    client = Client()
    client.force_login(world.actors["other_team"])  # type: ignore[arg-type]
    response = client.post(f"/alarms/{alarm.pk}/acknowledge")
    assert response.status_code == 403
    assert b"Only members of Checkout acknowledge and silence its alarms and SLOs." in (
        response.content
    )


@pytest.mark.django_db
def test_pages_show_only_the_buttons_the_user_may_use(world: World) -> None:
    alarm, incident = _alarm(world), _incident(world)
    pages = (f"/alarms/{alarm.pk}/", f"/incidents/{incident.pk}/")
    seen = {}
    for actor in ("member", "other_team"):
        client = Client()
        client.force_login(world.actors[actor])  # type: ignore[arg-type]
        seen[actor] = "".join(client.get(url).content.decode() for url in pages)
    forms = (
        f'action="/alarms/{alarm.pk}/acknowledge"', f'action="/alarms/{alarm.pk}/silence"',
        f'action="/incidents/{incident.pk}/status"', f'action="/incidents/{incident.pk}/timeline"',
    )  # fmt: skip
    assert all(form in seen["member"] for form in forms)
    assert not any(form in seen["other_team"] for form in forms)
    assert "Not acknowledged yet. Members of Checkout acknowledge it." in seen["other_team"]
    assert "Members of Checkout silence its notifications." in seen["other_team"]
    assert "{#" not in seen["member"]
