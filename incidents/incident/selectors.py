"""Reads for incidents, with the visibility rule in one place: a restricted incident exists only
for its owning team, the teams it names, and superusers. COEs and action items follow it."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet
from django.http import Http404

from coe_portal.accounts.models import Team
from incidents.incident.models import Incident


def incidents_visible_to(user: User | AnonymousUser) -> QuerySet[Incident]:
    incidents = Incident.objects.select_related("team", "owner")
    if getattr(user, "is_superuser", False):
        return incidents
    if not user.is_authenticated:
        return incidents.none()
    teams = user.memberships.values("team_id")
    return incidents.filter(
        Q(restricted=False) | Q(team_id__in=teams) | Q(visible_to__in=teams)
    ).distinct()


def get_incident_for_user(user: User | AnonymousUser, pk: int) -> Incident:
    incident = incidents_visible_to(user).filter(pk=pk).first()
    if incident is None:
        raise Http404("No such incident.")  # restricted ones look exactly like missing ones
    return incident


def incidents_visible_to_team(team: Team) -> QuerySet[Incident]:
    """What an API token of `team` sees: public incidents and the restricted ones it may see."""
    return (
        Incident.objects.select_related("team", "owner")
        .filter(Q(restricted=False) | Q(team=team) | Q(visible_to=team))
        .distinct()
    )
