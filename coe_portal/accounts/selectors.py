"""Reads for teams, services and tokens, with the permission rules in one place."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as UserModel
from django.db.models import QuerySet

from coe_portal.accounts.models import Membership, Team

User = UserModel | AnonymousUser


def membership_for(*, user: User, team: Team) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(team=team, user=user).first()


def user_is_team_member(*, user: User, team: Team) -> bool:
    return getattr(user, "is_superuser", False) or membership_for(user=user, team=team) is not None


def user_can_manage_team(*, user: User, team: Team) -> bool:
    """Leads (and superusers) manage a team's tokens and settings."""
    if getattr(user, "is_superuser", False):
        return True
    membership = membership_for(user=user, team=team)
    return membership is not None and membership.role == Membership.Role.LEAD


def teams_for_user(*, user: User) -> QuerySet[Team]:
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user=user).order_by("name")
