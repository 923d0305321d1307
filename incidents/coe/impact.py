"""The customer-impact numbers a COE starts from, read from the incident's linked SLOs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from incidents.incident.models import Incident
from metrics.promql.errors import PromQLError
from metrics.promql.source import new_source
from metrics.slo.evaluate import events_over
from metrics.slo.queries import SLIError
from metrics.slo.windows import window_range


@dataclass(frozen=True)
class Impact:
    minutes: int | None
    failed_requests: int | None
    budget_consumed_percent: float | None


def incident_impact(incident: Incident, *, now: datetime | None = None) -> Impact:
    """Duration from start to mitigation (or resolution, or now); over that period, the bad
    events of the linked SLOs and the share of each SLO's window budget they used, summed.

    An SLO whose queries fail or see no traffic adds nothing: the author fills in the rest."""
    end = incident.mitigated_at or incident.resolved_at or now or timezone.now()
    seconds = max(0, int((end - incident.started_at).total_seconds()))
    minutes = math.ceil(seconds / 60) if seconds else 0
    failed: float | None = None
    consumed: float | None = None
    source = new_source()
    end_ms = int(end.timestamp() * 1000)
    for slo in incident.slos.select_related("service"):
        spec = slo.to_spec()
        try:
            bad, _ = events_over(spec, f"{max(seconds, 60)}s", end_ms, source)
            _, window_total = events_over(
                spec, window_range(spec.window, end_ms, spec.time_zone), end_ms, source
            )
        except (PromQLError, SLIError):
            continue
        if bad is None:
            continue
        failed = (failed or 0.0) + bad
        allowed = (window_total or 0.0) * (1 - float(spec.objective_percent) / 100)
        if allowed > 0:
            consumed = (consumed or 0.0) + bad / allowed * 100
    return Impact(
        minutes=minutes,
        failed_requests=None if failed is None else round(failed),
        budget_consumed_percent=None if consumed is None else round(consumed, 2),
    )
