"""A COE is edited by its editors (the policy's rule) and only while it is a draft or has
changes requested; this adds that state to the rule."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied

from coe_portal.accounts.policy import Action, allowed, require
from incidents.coe.models import Coe


def can_edit(coe: Coe, user: User) -> bool:
    return coe.is_editable and allowed(user, Action.EDIT_COE, coe)


def require_edit(coe: Coe, user: User) -> None:
    require(user, Action.EDIT_COE, coe)
    if not coe.is_editable:
        raise PermissionDenied(
            f"This COE is {coe.get_state_display().lower()}: it can't be edited now."
        )
