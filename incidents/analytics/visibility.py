"""The records analytics may count for a user, as compact querysets.

Visibility, the rule this package must never break: an incident the user may not open
(`incidents_visible_to`) is a *hidden* incident, and so are its COE and its action items.
- A hidden incident counts in one place only: the number of incidents per month, in the
  `restricted` column, without its severity.
- Even that count is left out as soon as a team or service filter is set, since a non-zero
  count would then tell which team or service the restricted incident belongs to.
- It is left out of everything else: MTTD/MTTR (a monthly mean could give away its times), the
  per-service table, the action item and COE figures, per-team tables, the filter choices
  (services are offered from visible incidents only) and every CSV. No title, id, severity,
  team or service of a hidden incident is ever returned by this package.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from incidents.action_items.models import ActionItem
from incidents.analytics.filters import AnyUser, Filters
from incidents.coe.models import Coe
from incidents.incident.models import Incident
from incidents.incident.selectors import incidents_visible_to


def visible_incident_ids(user: AnyUser) -> QuerySet[Incident, Any]:
    # A subquery, never a list of ids in Python: no parameter limits, one round trip.
    return incidents_visible_to(user).order_by().values("pk")


def incidents_in(user: AnyUser, filters: Filters) -> QuerySet[Incident]:
    """Visible incidents started in the range, of the chosen team and service."""
    incidents = Incident.objects.filter(
        pk__in=visible_incident_ids(user),
        started_at__gte=filters.start_at,
        started_at__lt=filters.end_before,
    )
    if filters.team:
        incidents = incidents.filter(team__name=filters.team)
    if filters.service:
        incidents = incidents.filter(services__name=filters.service)  # names are unique
    return incidents.order_by()


def hidden_incident_starts(user: AnyUser, filters: Filters) -> list[datetime]:
    """When the hidden incidents in the range started: nothing else about them is read."""
    if filters.narrowed:
        return []
    hidden = Incident.objects.filter(
        started_at__gte=filters.start_at, started_at__lt=filters.end_before
    ).exclude(pk__in=visible_incident_ids(user))
    return list(hidden.order_by().values_list("started_at", flat=True))


def action_items_in(user: AnyUser, filters: Filters) -> QuerySet[ActionItem]:
    items = ActionItem.objects.filter(coe__incident_id__in=visible_incident_ids(user))
    if filters.team:
        items = items.filter(team__name=filters.team)
    if filters.service:
        items = items.filter(coe__incident__services__name=filters.service)
    return items.order_by()


def coes_in(user: AnyUser, filters: Filters) -> QuerySet[Coe]:
    coes = Coe.objects.filter(incident_id__in=visible_incident_ids(user))
    if filters.team:
        coes = coes.filter(team__name=filters.team)
    if filters.service:
        coes = coes.filter(incident__services__name=filters.service)
    return coes.order_by()


def service_choices(user: AnyUser) -> list[str]:
    """Services of the incidents the user may open: a service only a hidden incident touched
    is not offered (it would say that the restricted incident exists)."""
    names = (
        Incident.services.through.objects.filter(incident_id__in=visible_incident_ids(user))
        .order_by()
        .values_list("service__name", flat=True)
        .distinct()
    )
    return sorted(set(names))
