"""Reads for SLOs: lists with their latest figures, and their JSON shape for the API."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from metrics.slo.models import SLO


def slo_list(*, team: str = "", service: str = "") -> QuerySet[SLO]:
    slos = SLO.objects.select_related("service", "team")
    if team:
        slos = slos.filter(team__name=team)
    if service:
        slos = slos.filter(service__name=service)
    return slos


def slo_as_json(slo: SLO) -> dict[str, Any]:
    figures = slo.last_figures or {}
    sli: dict[str, Any]
    if slo.sli_kind == SLO.SLIKind.LATENCY:
        sli = {
            "kind": "latency",
            "histogram": slo.latency_histogram,
            "threshold_seconds": format(slo.latency_threshold_seconds or 0, "f"),
            "matchers": slo.latency_matchers,
        }
    else:
        sli = {
            "kind": "ratio",
            "good_query": slo.good_query or None,
            "bad_query": slo.bad_query or None,
            "total_query": slo.total_query,
        }
    return {
        "id": slo.pk,
        "name": slo.name,
        "service": slo.service.name,
        "team": slo.team.name,
        "description": slo.description,
        "objective": format(slo.objective_percent.normalize(), "f"),
        "window": slo.window,
        "budgeting_method": slo.budgeting_method,
        "sli": sli,
        "sli_value": figures.get("sli"),
        "error_budget_remaining": figures.get("error_budget_remaining"),
        "burn_rates": figures.get("burn_rates", {}),
        "hours_to_exhaustion": figures.get("hours_to_exhaustion"),
        "alerts": figures.get("alerts", []),
        "alert_state": slo.alert_state,
        "alert_since": slo.alert_since.isoformat() if slo.alert_since else None,
        "last_evaluated_at": slo.last_evaluated_at.isoformat() if slo.last_evaluated_at else None,
        "last_error": slo.last_error or None,
    }
