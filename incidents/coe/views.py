"""COE pages: the list, the read view (with comments and review actions), history, export."""

from __future__ import annotations

import difflib
from datetime import date
from itertools import groupby
from typing import Any

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from coe_portal.accounts.auth import request_user
from coe_portal.accounts.models import Service, Team
from coe_portal.accounts.policy import Action, allowed
from coe_portal.pagination import paginate
from incidents.action_items.models import FINISHED_STATUSES
from incidents.coe.comments import comment_add
from incidents.coe.editing import coe_start
from incidents.coe.export import coe_markdown
from incidents.coe.findings import coe_findings
from incidents.coe.markdown import render_markdown
from incidents.coe.models import SECTION_FIELDS, SECTIONS, Coe, CoeComment, QuestionGroup
from incidents.coe.permissions import can_edit
from incidents.coe.selectors import coes_visible_to, get_coe_for_user
from incidents.coe.workflow import (
    coe_approve,
    coe_reopen,
    coe_request_changes,
    coe_submit,
    pending_reviewers,
    submission_problems,
)
from incidents.incident.charts import build_incident_charts
from incidents.incident.models import Severity
from incidents.incident.selectors import get_incident_for_user


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@require_GET
def coe_list(request: HttpRequest) -> HttpResponse:
    coes = coes_visible_to(request.user).annotate(
        items=Count("action_items", distinct=True),
        finished=Count(
            "action_items", filter=Q(action_items__status__in=FINISHED_STATUSES), distinct=True
        ),
    )
    filters = {key: request.GET.get(key, "") for key in ("state", "team", "service", "severity")}
    if filters["state"]:
        coes = coes.filter(state=filters["state"])
    if filters["team"]:
        coes = coes.filter(team__name=filters["team"])
    if filters["service"]:
        coes = coes.filter(services__name=filters["service"])
    if filters["severity"]:
        coes = coes.filter(incident__severity=filters["severity"])
    since, until = _date(request.GET.get("since", "")), _date(request.GET.get("until", ""))
    if since:
        coes = coes.filter(incident__started_at__date__gte=since)
    if until:
        coes = coes.filter(incident__started_at__date__lte=until)
    coes = coes.defer(*SECTION_FIELDS, "metrics_snapshot", "versions")
    page = paginate(request, coes.prefetch_related("services").distinct())
    context = {
        "coes": page,
        "page": page,
        "filters": filters,
        "since": request.GET.get("since", ""),
        "until": request.GET.get("until", ""),
        "states": Coe.State.choices,
        "teams": Team.objects.order_by("name"),
        "services": Service.objects.order_by("name"),
        "severities": Severity.values,
    }
    return render(request, "incidents/coe/list.html", context)


@require_POST
def coe_start_view(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_incident_for_user(request.user, pk)
    coe = coe_start(incident=incident, user=request_user(request))
    return redirect("incidents:coe-edit", pk=coe.pk)


def _threads(coe: Coe) -> dict[str, list[dict[str, Any]]]:
    """Comments per section, each top-level comment with its replies."""
    comments = list(coe.comments.select_related("author"))
    replies: dict[int, list[CoeComment]] = {}
    for comment in comments:
        if comment.parent_id:
            replies.setdefault(comment.parent_id, []).append(comment)
    threads: dict[str, list[dict[str, Any]]] = {}
    for comment in comments:
        if comment.parent_id is None:
            threads.setdefault(comment.section, []).append(
                {"comment": comment, "replies": replies.get(comment.pk, [])}
            )
    return threads


def coe_context(coe: Coe, user: User) -> dict[str, Any]:
    threads = _threads(coe)
    sections = [
        {
            "key": field,
            "title": title,
            "html": render_markdown(getattr(coe, field)),
            "threads": threads.get(field, []),
        }
        for field, title, _ in SECTIONS
    ]
    labels = dict(QuestionGroup.choices)
    groups = [
        {
            "title": labels.get(group, group),
            "answers": [
                {
                    "answer": answer,
                    "html": render_markdown(answer.answer),
                    "threads": threads.get(answer.field_key, []),
                }
                for answer in answers
            ],
        }
        for group, answers in groupby(coe.answers.all(), key=lambda a: a.group)
    ]
    chains = [
        {"chain": chain, "whys": list(whys)}
        for chain, whys in groupby(coe.whys.all(), key=lambda w: w.chain)
    ]
    items = list(coe.action_items.select_related("owner", "team"))
    is_author = coe.authors.filter(pk=user.pk).exists()
    findings = coe_findings(coe) if coe.is_editable else []
    charts = coe.metrics_snapshot
    if charts is None:
        charts = build_incident_charts(coe.incident)
    return {
        "coe": coe,
        "incident": coe.incident,
        "sections": sections,
        "groups": groups,
        "chains": chains,
        "items": items,
        "done_items": sum(1 for item in items if item.is_finished),
        "whys_threads": threads.get("whys", []),
        "items_threads": threads.get("action_items", []),
        "general_threads": threads.get("", []),
        "charts": charts,
        "charts_frozen": coe.metrics_snapshot is not None,
        "reviews": coe.reviews.select_related("user"),
        "can_edit": can_edit(coe, user),
        "is_editor": allowed(user, Action.EDIT_COE, coe),
        "can_review": coe.state == Coe.State.IN_REVIEW and allowed(user, Action.REVIEW_COE, coe),
        "is_author": is_author,
        "pending_reviewers": pending_reviewers(coe) if coe.state == Coe.State.IN_REVIEW else [],
        "problems": submission_problems(coe, findings) if coe.is_editable else [],
        "findings": findings,
    }


@require_GET
def coe_detail(request: HttpRequest, pk: int) -> HttpResponse:
    coe = get_coe_for_user(request.user, pk)
    return render(request, "incidents/coe/detail.html", coe_context(coe, request_user(request)))


@require_GET
def coe_export(request: HttpRequest, pk: int) -> HttpResponse:
    coe = get_coe_for_user(request.user, pk)
    response = HttpResponse(coe_markdown(coe), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="COE-{coe.pk}.md"'
    return response


@require_GET
def coe_history(request: HttpRequest, pk: int) -> HttpResponse:
    coe = get_coe_for_user(request.user, pk)
    changes = []
    for revision in coe.field_revisions.select_related("author")[:500]:
        diff = difflib.unified_diff(
            revision.old.splitlines(), revision.new.splitlines(), "before", "after", lineterm=""
        )
        changes.append({"revision": revision, "diff": list(diff)[2:]})
    return render(request, "incidents/coe/history.html", {"coe": coe, "changes": changes})


@require_POST
def coe_comment(request: HttpRequest, pk: int) -> HttpResponse:
    coe = get_coe_for_user(request.user, pk)
    parent_id = request.POST.get("parent", "")
    parent = get_object_or_404(CoeComment, pk=parent_id, coe=coe) if parent_id.isdigit() else None
    section = request.POST.get("section", "")
    try:
        comment_add(
            coe=coe, user=request_user(request), section=section, body=request.POST.get("body", ""),
            parent=parent,
        )  # fmt: skip
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    anchor = f"#section-{section}" if section else "#comments"
    return redirect(coe.get_absolute_url() + anchor)


@require_POST
def coe_review(request: HttpRequest, pk: int) -> HttpResponse:
    """Submit, approve, request changes or reopen, as the `action` field says."""
    coe = get_coe_for_user(request.user, pk)
    action = request.POST.get("action", "")
    note = request.POST.get("note", "")
    user = request_user(request)
    try:
        if action == "submit":
            coe_submit(coe=coe, user=user)
            messages.success(request, "Submitted for review.")
        elif action == "approve":
            coe = coe_approve(coe=coe, user=user, note=note)
            messages.success(request, "Approval recorded.")
        elif action == "request_changes":
            coe_request_changes(coe=coe, user=user, note=note)
            messages.success(request, "Sent back to the authors.")
        elif action == "reopen":
            coe_reopen(coe=coe, user=user, note=note)
            messages.success(request, "Reopened as a new revision.")
            return redirect("incidents:coe-edit", pk=coe.pk)
        else:
            messages.error(request, "Unknown review action.")
    except PermissionDenied as denied:
        messages.error(request, str(denied))
        return render(request, "403.html", {"exception": str(denied)}, status=403)
    except ValidationError as error:
        for problem in error.messages:
            messages.error(request, problem)
        if action == "submit":
            return redirect("incidents:coe-edit", pk=coe.pk)
    return redirect(coe.get_absolute_url())
