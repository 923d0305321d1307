"""Reads for teams, services and tokens (who may do what is in `coe_portal.accounts.policy`)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as UserModel
from django.db.models import QuerySet

from coe_portal.accounts.models import Team

User = UserModel | AnonymousUser


def teams_for_user(*, user: User) -> QuerySet[Team]:
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user=user).order_by("name")
