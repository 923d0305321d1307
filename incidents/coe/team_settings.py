"""A team's COE settings: its own incident questions (asked in every new COE of the team, after
the default ones), the reviewers each of its COEs needs, its action item reminder schedule, and
handing a leaver's open items to someone else. Leads change them; members look."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from coe_portal.accounts.auth import request_user
from coe_portal.accounts.models import Team
from coe_portal.accounts.policy import Action, allowed, require
from incidents.action_items.lifecycle import items_reassign
from incidents.coe.models import CoeReviewPolicy, IncidentQuestion, QuestionGroup
from incidents.reminders.forms import TeamReminderSettingsForm
from incidents.reminders.models import TeamReminderSettings


def _lead(request: HttpRequest, team: Team) -> User:
    user = request_user(request)
    require(user, Action.MANAGE_TEAM, team)
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
    elif action == "reminders":
        current = TeamReminderSettings.objects.filter(team=team).first()
        form = TeamReminderSettingsForm(request.POST, instance=current)
        if not form.is_valid():
            return " ".join(
                f"{form.fields[key].label}: {' '.join(str(e) for e in errors)}"
                for key, errors in form.errors.items()
            )
        settings = form.save(commit=False)
        settings.team = team
        settings.save()
    elif action == "reassign":
        from_user = User.objects.filter(username=request.POST.get("from_user", "")).first()
        to_user = User.objects.filter(username=request.POST.get("to_user", "")).first()
        if from_user is None or to_user is None:
            return "Choose whose items move and who takes them."
        try:
            moved = items_reassign(
                team=team, from_user=from_user, to_user=to_user, user=_lead(request, team)
            )
        except ValidationError as error:
            return " ".join(error.messages)
        messages.info(request, f"{moved} action item(s) moved to {to_user.get_username()}.")
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
    user = request_user(request)
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
        "can_manage": allowed(user, Action.MANAGE_TEAM, team),
        "defaults": IncidentQuestion.objects.filter(team__isnull=True, active=True),
        "questions": IncidentQuestion.objects.filter(team=team),
        "groups": QuestionGroup.choices,
        "reviewers": list(policy.required_reviewers.all()) if policy else [],
        "users": User.objects.filter(is_active=True).order_by("username"),
        "reminder_form": TeamReminderSettingsForm(
            instance=TeamReminderSettings.objects.filter(team=team).first()
        ),
        "owners": User.objects.filter(action_items__team=team).distinct().order_by("username"),
    }
    return render(request, "incidents/coe/settings.html", context)
