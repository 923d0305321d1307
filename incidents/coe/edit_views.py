"""The COE editor: one form per field, saved on its own so two authors can write different
sections at once; a stale save shows both versions instead of overwriting."""

from __future__ import annotations

from datetime import timedelta
from itertools import groupby
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from coe_portal.accounts.auth import request_user
from incidents.action_items.forms import ActionItemForm
from incidents.action_items.models import ActionItem
from incidents.coe.editing import (
    EditConflict,
    WhyRow,
    action_item_remove,
    action_item_save,
    coe_save_field,
    coe_save_whys,
)
from incidents.coe.findings import CoeFinding, coe_findings, finding_acknowledge
from incidents.coe.markdown import render_markdown
from incidents.coe.models import SECTIONS, Coe, CoeAnswer, QuestionGroup
from incidents.coe.permissions import require_edit
from incidents.coe.selectors import get_coe_for_user
from incidents.coe.workflow import submission_problems
from incidents.incident.charts import build_incident_charts

BLANK_WHY_ROWS = 3


def _editable(request: HttpRequest, pk: int) -> Coe:
    coe = get_coe_for_user(request.user, pk)
    require_edit(coe, request_user(request))
    return coe


def _answer_field(coe: Coe, answer: CoeAnswer) -> dict[str, Any]:
    key = answer.field_key
    return {
        "key": key,
        "title": answer.prompt,
        "value": answer.answer,
        "version": coe.version_of(key),
    }


def _findings_by_field(findings: list[CoeFinding]) -> dict[str, list[CoeFinding]]:
    """Findings per editor field (the whys are one field), shown under the text they are in."""
    by_field: dict[str, list[CoeFinding]] = {}
    for item in findings:
        key = "whys" if item.finding.section.startswith("why-") else item.finding.section
        by_field.setdefault(key, []).append(item)
    return by_field


def _editor_context(
    coe: Coe, *, conflict: EditConflict | None = None, item_form: ActionItemForm | None = None
) -> dict[str, Any]:
    sections = [
        {
            "key": field, "title": title, "prompt": prompt, "value": getattr(coe, field),
            "version": coe.version_of(field),
        }
        for field, title, prompt in SECTIONS
    ]  # fmt: skip
    labels = dict(QuestionGroup.choices)
    groups = [
        {
            "title": labels.get(group, group),
            "answers": [_answer_field(coe, a) for a in answers],
        }
        for group, answers in groupby(coe.answers.all(), key=lambda a: a.group)
    ]
    whys = [WhyRow(w.chain, w.question, w.answer) for w in coe.whys.all()]
    next_chain = max((w.chain for w in whys), default=1)
    whys += [WhyRow(next_chain, "", "")] * BLANK_WHY_ROWS
    numbers = [
        ("customers_affected", "Customers affected", coe.customers_affected),
        ("impact_minutes", "Impact duration (minutes)", coe.impact_minutes),
        ("failed_requests", "Failed requests", coe.failed_requests),
        ("budget_consumed_percent", "SLO budget consumed (%)", coe.budget_consumed_percent),
    ]
    due = timezone.now().date() + timedelta(days=30)
    findings = coe_findings(coe)
    by_field = _findings_by_field(findings)
    for field in sections + [answer for group in groups for answer in group["answers"]]:
        field["findings"] = by_field.get(field["key"], [])
    return {
        "coe": coe,
        "sections": sections,
        "groups": groups,
        "numbers": [
            {"key": k, "title": t, "value": "" if v is None else v, "version": coe.version_of(k)}
            for k, t, v in numbers
        ],
        "whys": whys,
        "whys_version": coe.version_of("whys"),
        "items": coe.action_items.select_related("owner", "team"),
        "item_form": item_form or ActionItemForm(initial={"due_date": due}),
        "findings": findings,
        "whys_findings": by_field.get("whys", []),
        "item_findings": [
            item
            for key, items in by_field.items()
            if key.startswith("action-item-")
            for item in items
        ],
        "problems": submission_problems(coe, findings),
        "conflict": conflict,
        "title_version": coe.version_of("title"),
        "charts": coe.metrics_snapshot or build_incident_charts(coe.incident),
    }


@require_GET
def coe_edit(request: HttpRequest, pk: int) -> HttpResponse:
    coe = get_coe_for_user(request.user, pk)
    try:
        require_edit(coe, request_user(request))
    except PermissionDenied:
        if coe.is_editable:
            raise
        messages.info(request, f"This COE is {coe.get_state_display().lower()}: read-only now.")
        return redirect(coe.get_absolute_url())
    return render(request, "incidents/coe/edit.html", _editor_context(coe))


def _version(request: HttpRequest) -> int | None:
    text = request.POST.get("version", "")
    return int(text) if text.isdigit() else None


def _saved(request: HttpRequest, coe: Coe, anchor: str) -> HttpResponse:
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"saved": True, "versions": coe.versions})
    messages.success(request, "Saved.")
    return redirect(f"{coe.get_absolute_url()}edit#{anchor}")


def _conflict(request: HttpRequest, coe: Coe, conflict: EditConflict) -> HttpResponse:
    if request.headers.get("Accept", "").startswith("application/json"):
        payload = {"conflict": True, "theirs": conflict.theirs, "version": conflict.version}
        return JsonResponse(payload, status=409)
    context = _editor_context(coe, conflict=conflict)
    return render(request, "incidents/coe/edit.html", context, status=409)


def _invalid(request: HttpRequest, coe: Coe, error: ValidationError, anchor: str) -> HttpResponse:
    for problem in error.messages:
        messages.error(request, problem)
    return redirect(f"{coe.get_absolute_url()}edit#{anchor}")


@require_POST
def coe_field_save(request: HttpRequest, pk: int, field: str) -> HttpResponse:
    coe = _editable(request, pk)
    try:
        coe = coe_save_field(
            coe=coe, user=request_user(request), field=field, value=request.POST.get("value", ""),
            base_version=_version(request),
        )  # fmt: skip
    except EditConflict as conflict:
        return _conflict(request, coe, conflict)
    except ValidationError as error:
        return _invalid(request, coe, error, f"field-{field}")
    return _saved(request, coe, f"field-{field}")


@require_POST
def coe_whys_save(request: HttpRequest, pk: int) -> HttpResponse:
    coe = _editable(request, pk)
    chains = request.POST.getlist("chain")
    questions = request.POST.getlist("why")
    answers = request.POST.getlist("because")
    rows = [
        WhyRow(int(chain) if chain.isdigit() and int(chain) > 0 else 1, question, answer)
        for chain, question, answer in zip(chains, questions, answers, strict=False)
    ]
    try:
        coe = coe_save_whys(
            coe=coe, user=request_user(request), rows=rows, base_version=_version(request)
        )
    except EditConflict as conflict:
        return _conflict(request, coe, conflict)
    except ValidationError as error:
        return _invalid(request, coe, error, "field-whys")
    return _saved(request, coe, "field-whys")


@require_POST
def action_item_add(request: HttpRequest, pk: int) -> HttpResponse:
    coe = _editable(request, pk)
    form = ActionItemForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            action_item_save(
                coe=coe, user=request_user(request), title=data["title"], owner=data["owner"],
                priority=data["priority"], kind=data["kind"], due_date=data["due_date"],
                tracker_url=data["tracker_url"],
            )  # fmt: skip
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            return _saved(request, coe, "action-item-form")
    context = _editor_context(coe, item_form=form)
    return render(request, "incidents/coe/edit.html", context, status=400)


@require_POST
def action_item_delete(request: HttpRequest, pk: int, item_id: int) -> HttpResponse:
    coe = _editable(request, pk)
    item = get_object_or_404(ActionItem, pk=item_id, coe=coe)
    action_item_remove(coe=coe, user=request_user(request), item=item)
    return _saved(request, coe, "field-action-items")


@require_POST
def finding_ack(request: HttpRequest, pk: int) -> HttpResponse:
    coe = _editable(request, pk)
    try:
        finding_acknowledge(
            coe=coe, user=request_user(request), key=request.POST.get("key", ""),
            reason=request.POST.get("reason", ""),
        )  # fmt: skip
    except ValidationError as error:
        return _invalid(request, coe, error, "findings")
    return _saved(request, coe, "findings")


@require_POST
def markdown_preview(request: HttpRequest, pk: int) -> JsonResponse:
    get_coe_for_user(request.user, pk)
    return JsonResponse({"html": render_markdown(request.POST.get("text", ""))})
