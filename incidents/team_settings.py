"""A team's COE settings: its own incident questions (asked in every new COE of the team, after
the default ones) and the reviewers each of its COEs needs. Leads change them; members look."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from coe_portal.accounts.models import Team
from coe_portal.accounts.selectors import user_can_manage_team
from incidents.models import CoeReviewPolicy, IncidentQuestion, QuestionGroup


def _lead(request: HttpRequest, team: Team) -> User:
    user = request.user
    assert isinstance(user, User)
    if not user_can_manage_team(user=user, team=team):
        raise PermissionDenied("Only the team's leads change its COE settings.")
    return user


@transaction.atomic
def _apply(request: HttpRequest, team: Team) -> str | None:
    """One change from the page's forms; returns an error message or None."""
    action = request.POST.get("action", "")
    if action == "add-question":
        prompt = request.POST.get("prompt", "").strip()
        group = request.POST.get("group", "")
        if not prompt:
            return "Write the question."
        if group not in QuestionGroup.values:
            return "Choose the group the question belongs to."
        last = IncidentQuestion.objects.aggregate(Max("position"))["position__max"] or 0
        IncidentQuestion.objects.create(team=team, group=group, prompt=prompt, position=last + 10)
    elif action in ("retire-question", "restore-question"):
        question = get_object_or_404(IncidentQuestion, pk=request.POST.get("question"), team=team)
        question.active = action == "restore-question"
        question.save(update_fields=["active"])
    elif action == "reviewers":
        policy, _ = CoeReviewPolicy.objects.get_or_create(team=team)
        names = request.POST.getlist("reviewers")
        reviewers = list(User.objects.filter(username__in=names, is_active=True))
        policy.required_reviewers.set(reviewers)
    else:
        return "Unknown change."
    return None


@require_http_methods(["GET", "POST"])
def coe_settings(request: HttpRequest, name: str) -> HttpResponse:
    team = get_object_or_404(Team, name=name)
    user = request.user
    assert isinstance(user, User)
    if request.method == "POST":
        _lead(request, team)
        error = _apply(request, team)
        if error:
            messages.error(request, error)
        else:
            messages.success(request, "Saved. New COEs of the team use these settings.")
        return redirect("incidents:coe-settings", name=team.name)
    policy = CoeReviewPolicy.objects.filter(team=team).first()
    context = {
        "team": team,
        "can_manage": user_can_manage_team(user=user, team=team),
        "defaults": IncidentQuestion.objects.filter(team__isnull=True, active=True),
        "questions": IncidentQuestion.objects.filter(team=team),
        "groups": QuestionGroup.choices,
        "reviewers": list(policy.required_reviewers.all()) if policy else [],
        "users": User.objects.filter(is_active=True).order_by("username"),
    }
    return render(request, "incidents/coe_settings.html", context)
