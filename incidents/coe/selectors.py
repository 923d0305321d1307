"""Reads for COEs: a COE follows its incident, so a restricted incident's COE is invisible to
the same people (and to the same API tokens)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet
from django.http import Http404

from coe_portal.accounts.models import Team
from incidents.coe.models import Coe
from incidents.incident.selectors import incidents_visible_to, incidents_visible_to_team


def coes_visible_to(user: User | AnonymousUser) -> QuerySet[Coe]:
    """COEs follow their incident: a restricted incident's COE is invisible to the same people."""
    return Coe.objects.filter(incident__in=incidents_visible_to(user).values("pk")).select_related(
        "team", "incident"
    )


def get_coe_for_user(user: User | AnonymousUser, pk: int) -> Coe:
    coe = coes_visible_to(user).filter(pk=pk).first()
    if coe is None:
        raise Http404("No such COE.")
    return coe


def coes_visible_to_team(team: Team) -> QuerySet[Coe]:
    """What an API token of `team` sees: the COEs of the incidents it sees."""
    return Coe.objects.filter(
        incident__in=incidents_visible_to_team(team).values("pk")
    ).select_related("team", "incident")
