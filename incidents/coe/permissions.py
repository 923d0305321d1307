"""Who may start, edit and review a COE: one rule per action, used by the pages and the
services alike."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied

from incidents.coe.models import Coe
from incidents.incident.models import Incident


def can_start(incident: Incident, user: User) -> bool:
    if user.is_superuser or incident.owner_id == user.pk:
        return True
    return user.memberships.filter(team_id=incident.team_id).exists()


def can_edit(coe: Coe, user: User) -> bool:
    """Authors and members of the owning team edit, and only while the COE is a draft or has
    changes requested."""
    return coe.is_editable and is_editor(coe, user)


def is_editor(coe: Coe, user: User) -> bool:
    if user.is_superuser:
        return True
    if coe.authors.filter(pk=user.pk).exists():
        return True
    return user.memberships.filter(team_id=coe.team_id).exists()


def require_edit(coe: Coe, user: User) -> None:
    if not is_editor(coe, user):
        raise PermissionDenied("Only the authors and the owning team edit this COE.")
    if not coe.is_editable:
        raise PermissionDenied(
            f"This COE is {coe.get_state_display().lower()}: it can't be edited now."
        )
