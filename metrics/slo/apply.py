"""SLOs as code: create or update stored SLOs from specs (all or nothing), and the reverse."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from coe_portal.accounts.models import Service
from metrics.slo.models import SLO
from metrics.slo.queries import SLIError, validate_queries
from metrics.slo.spec import LatencySLI, SLOSpec


class ApplyError(ValueError):
    pass


@dataclass(frozen=True)
class Applied:
    created: list[str]
    updated: list[str]
    unchanged: list[str]


def spec_fields(spec: SLOSpec) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "description": spec.description,
        "objective_percent": spec.objective_percent,
        "window": spec.window,
        "time_zone": spec.time_zone,
        "budgeting_method": spec.budgeting,
        "timeslice_target_percent": spec.timeslice_target_percent,
        "min_events": spec.min_events,
        "good_query": "",
        "bad_query": "",
        "total_query": "",
        "latency_histogram": "",
        "latency_threshold_seconds": None,
        "latency_matchers": "",
    }
    if isinstance(spec.sli, LatencySLI):
        fields |= {
            "sli_kind": SLO.SLIKind.LATENCY,
            "latency_histogram": spec.sli.histogram,
            "latency_threshold_seconds": spec.sli.threshold_seconds,
            "latency_matchers": spec.sli.matchers,
        }
    else:
        fields |= {
            "sli_kind": SLO.SLIKind.RATIO,
            "good_query": spec.sli.good_query or "",
            "bad_query": spec.sli.bad_query or "",
            "total_query": spec.sli.total_query,
        }
    return fields


@transaction.atomic
def slos_apply(*, specs: list[SLOSpec], dry_run: bool = False) -> Applied:
    """Create or update every SLO in `specs`; nothing is written when one of them is wrong."""
    services = {
        s.name: s for s in Service.objects.filter(name__in={spec.service for spec in specs})
    }
    problems = []
    for spec in specs:
        if spec.service not in services:
            problems.append(f"SLO {spec.name}: no service named {spec.service!r}")
        try:
            validate_queries(spec)
        except SLIError as exc:
            problems.append(f"SLO {spec.name}: {exc}")
    if problems:
        raise ApplyError("; ".join(problems))
    created, updated, unchanged = [], [], []
    for spec in specs:
        service = services[spec.service]
        label = f"{spec.service}/{spec.name}"
        existing = SLO.objects.filter(service=service, name=spec.name).first()
        if existing is None:
            created.append(label)
            if not dry_run:
                SLO.objects.create(
                    service=service, name=spec.name, team=service.team, **spec_fields(spec)
                )
        elif all(getattr(existing, f) == v for f, v in spec_fields(spec).items()):
            unchanged.append(label)
        else:
            updated.append(label)
            if not dry_run:
                for field, value in spec_fields(spec).items():
                    setattr(existing, field, value)
                existing.save()
    return Applied(created, updated, unchanged)
