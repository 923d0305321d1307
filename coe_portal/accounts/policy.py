"""Who may do what: one rule per action, read by the pages and the API alike.

An actor is a signed-in user or an API token. A token acts for its team only, and only for the
actions the API offers; its scopes (`read`, `write`, `ingest`) are checked where the token is
read (`coe_portal.accounts.auth`). Superusers may do everything but edit someone else's
timeline entry (their words are theirs) and review a COE they wrote.

Targets are the objects acted on (an alarm, an SLO, an incident, a COE, an action item, a team);
the rules read their `team_id`, `owner_id` and authors, so this module imports no domain model
and every app can use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied

from coe_portal.accounts.models import ApiToken, Membership, Team

Actor = User | AnonymousUser | ApiToken


class Action(StrEnum):
    CHANGE_RULES = "change_rules"  # create and edit SLOs and alarms
    RESPOND = "respond"  # acknowledge an alarm; silence an alarm or SLO; end a silence
    DECLARE_INCIDENT = "declare_incident"
    RUN_INCIDENT = "run_incident"  # add timeline entries
    EDIT_INCIDENT = "edit_incident"  # change its fields (title, times, links...) and its status
    EDIT_TIMELINE_ENTRY = "edit_timeline_entry"
    START_COE = "start_coe"
    EDIT_COE = "edit_coe"  # write, submit for review and reopen
    REVIEW_COE = "review_coe"  # approve or request changes
    COMMENT_COE = "comment_coe"
    UPDATE_ACTION_ITEM = "update_action_item"  # status, due date, snooze
    MANAGE_TEAM = "manage_team"  # tokens, COE settings, reassigning action items
    SEE_TEAM_TOKENS = "see_team_tokens"


@dataclass(frozen=True)
class _Teams:
    member: frozenset[int]
    lead: frozenset[int]


def _teams(actor: Actor) -> _Teams:
    if isinstance(actor, ApiToken):
        own = frozenset({actor.team_id})
        return _Teams(own, own)
    if not actor.is_authenticated:
        return _Teams(frozenset(), frozenset())
    cached = getattr(actor, "_policy_teams", None)
    if cached is None:
        rows = Membership.objects.filter(user_id=actor.pk).values_list("team_id", "role")
        cached = _Teams(
            frozenset(team for team, _ in rows),
            frozenset(team for team, role in rows if role == Membership.Role.LEAD),
        )
        cast(Any, actor)._policy_teams = cached  # one query per request
    return cached


def _team_ids(target: Any) -> frozenset[int]:
    """The teams that own a target: an action item belongs to its team and its COE's team."""
    if isinstance(target, Team):
        return frozenset({target.pk})
    ids = {target.team_id}
    if getattr(target, "coe_id", None) is not None:  # an action item
        ids.add(target.coe.team_id)
    return frozenset(ids)


def _is_superuser(actor: Actor) -> bool:
    return not isinstance(actor, ApiToken) and bool(getattr(actor, "is_superuser", False))


def _user_pk(actor: Actor) -> int | None:
    return None if isinstance(actor, ApiToken) or not actor.is_authenticated else actor.pk


def _lead(actor: Actor, target: Any) -> bool:
    return _is_superuser(actor) or bool(_teams(actor).lead & _team_ids(target))


def _member(actor: Actor, target: Any) -> bool:
    return _is_superuser(actor) or bool(_teams(actor).member & _team_ids(target))


def _member_or_owner(actor: Actor, target: Any) -> bool:
    owner = getattr(target, "owner_id", None)
    return _member(actor, target) or (owner is not None and owner == _user_pk(actor))


def _incident_responder(actor: Actor, incident: Any) -> bool:
    """The incident's team, the teams a restricted incident names, and its lead."""
    if _member_or_owner(actor, incident):
        return True
    if not incident.restricted:
        return False
    named = frozenset(incident.visible_to.values_list("pk", flat=True))
    return bool(_teams(actor).member & named)


def _anyone_signed_in(actor: Actor, target: Any) -> bool:
    if isinstance(actor, ApiToken):
        return _member(actor, target)  # a token declares for its own team only
    return actor.is_authenticated


def _author(actor: Actor, target: Any) -> bool:
    user = _user_pk(actor)
    return user is not None and getattr(target, "author_id", None) == user


def _is_coe_author(actor: Actor, coe: Any) -> bool:
    user = _user_pk(actor)
    return user is not None and coe.authors.filter(pk=user).exists()


def _coe_editor(actor: Actor, coe: Any) -> bool:
    return _member(actor, coe) or _is_coe_author(actor, coe)


def _coe_reviewer(actor: Actor, coe: Any) -> bool:
    return _user_pk(actor) is not None and not _is_coe_author(actor, coe)


def _signed_in(actor: Actor, target: Any) -> bool:
    return _user_pk(actor) is not None


@dataclass(frozen=True)
class Rule:
    check: Callable[[Actor, Any], bool]
    denial: str  # shown on the 403 page and in the API's error; {team} is the owning team
    api: bool = False  # whether an API token may take this action at all


RULES: dict[Action, Rule] = {
    Action.CHANGE_RULES: Rule(_lead, "Only leads of {team} change its SLOs and alarms.", api=True),
    Action.RESPOND: Rule(
        _member, "Only members of {team} acknowledge and silence its alarms and SLOs."
    ),
    Action.DECLARE_INCIDENT: Rule(
        _anyone_signed_in, "This token declares incidents for its own team only.", api=True
    ),
    Action.RUN_INCIDENT: Rule(
        _incident_responder,
        "Only members of {team}, the teams it is shared with and its lead add to its timeline.",
        api=True,
    ),
    Action.EDIT_INCIDENT: Rule(
        _incident_responder,
        "Only members of {team}, the teams it is shared with and its lead change this incident.",
        api=True,
    ),
    Action.EDIT_TIMELINE_ENTRY: Rule(_author, "Only the author can edit a timeline entry."),
    Action.START_COE: Rule(
        _member_or_owner, "Only members of {team} and the incident's owner start its COE."
    ),
    Action.EDIT_COE: Rule(_coe_editor, "Only the authors and members of {team} edit this COE."),
    Action.REVIEW_COE: Rule(_coe_reviewer, "An author cannot review their own COE."),
    Action.COMMENT_COE: Rule(_signed_in, "Sign in to comment."),
    Action.UPDATE_ACTION_ITEM: Rule(
        _member_or_owner, "Only the owner and members of {team} change this action item."
    ),
    Action.MANAGE_TEAM: Rule(_lead, "Only leads of {team} manage its tokens and settings."),
    Action.SEE_TEAM_TOKENS: Rule(_member, "Only members of {team} can see its tokens."),
}


def allowed(actor: Actor, action: Action, target: Any) -> bool:
    rule = RULES[action]
    if isinstance(actor, ApiToken) and not rule.api:
        return False
    return rule.check(actor, target)


def denial(actor: Actor, action: Action, target: Any) -> str:
    team = target if isinstance(target, Team) else getattr(target, "team", "the owning team")
    if isinstance(actor, ApiToken):
        if not RULES[action].api:
            return "The API offers no such action: use the portal's pages."
        return f"This token acts for {actor.team.name} only; this belongs to {team}."
    return RULES[action].denial.format(team=team)


def require(actor: Actor, action: Action, target: Any) -> None:
    """Raise PermissionDenied (a 403 page, or the API's 403 answer) unless the rule allows it."""
    if not allowed(actor, action, target):
        raise PermissionDenied(denial(actor, action, target))
