"""COE figures: how long a team takes from an incident's resolution to its COE's approval."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass

from incidents.analytics.filters import AnyUser, Filters, month_key, months_between, rounded
from incidents.analytics.visibility import coes_in


@dataclass(frozen=True)
class CoeCycleMonth:
    month: str
    approved: int  # COEs approved in the month (with a resolved incident)
    median_days: float | None  # incident resolved → COE approved, one decimal


def coe_cycle_time_by_month(user: AnyUser, filters: Filters) -> list[CoeCycleMonth]:
    """Days from the incident's resolution to the COE's approval, for COEs approved in each
    month (a reopened COE counts at its latest approval)."""
    days: defaultdict[str, list[float]] = defaultdict(list)
    rows = (
        coes_in(user, filters)
        .filter(
            approved_at__gte=filters.start_at,
            approved_at__lt=filters.end_before,
            incident__resolved_at__isnull=False,
        )
        .values_list("approved_at", "incident__resolved_at")
    )
    for approved, resolved in rows:
        if approved is None or resolved is None:  # excluded by the query; for the type checker
            continue
        if approved >= resolved:  # approved before resolution is a data error: left out
            days[month_key(approved)].append((approved - resolved).total_seconds() / 86400)
    return [
        CoeCycleMonth(
            month=month,
            approved=len(days[month]),
            median_days=rounded(statistics.median(days[month])) if days[month] else None,
        )
        for month in months_between(filters.start, filters.end)
    ]
