"""Incident figures: how many started each month by severity, and how fast they were detected
and resolved (MTTD, MTTR) per month and per service. Medians are `statistics.median` of
minutes, computed in Python so SQLite and PostgreSQL give the same answers."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from incidents.analytics.filters import AnyUser, Filters, month_key, months_between, rounded
from incidents.analytics.visibility import hidden_incident_starts, incidents_in
from incidents.incident.models import Incident, Severity

SEVERITIES = [str(severity) for severity in Severity.values]
RESTRICTED = "restricted"


@dataclass(frozen=True)
class SeverityMonth:
    month: str
    by_severity: dict[str, int]  # every severity, zeros included
    restricted: int  # hidden incidents: counted, severity not shown

    @property
    def total(self) -> int:
        return sum(self.by_severity.values()) + self.restricted


def incidents_by_severity(user: AnyUser, filters: Filters) -> list[SeverityMonth]:
    """Incidents started in each month of the range, per severity, plus the hidden ones."""
    counts: Counter[tuple[str, str]] = Counter()
    for severity, started_at in incidents_in(user, filters).values_list("severity", "started_at"):
        counts[month_key(started_at), severity] += 1
    for started_at in hidden_incident_starts(user, filters):
        counts[month_key(started_at), RESTRICTED] += 1
    return [
        SeverityMonth(
            month=month,
            by_severity={severity: counts[month, severity] for severity in SEVERITIES},
            restricted=counts[month, RESTRICTED],
        )
        for month in months_between(filters.start, filters.end)
    ]


@dataclass(frozen=True)
class DurationStats:
    count: int
    median: float | None  # minutes, one decimal
    mean: float | None

    @classmethod
    def of(cls, minutes: list[float]) -> DurationStats:
        if not minutes:
            return cls(count=0, median=None, mean=None)
        return cls(
            count=len(minutes),
            median=rounded(statistics.median(minutes)),
            mean=rounded(statistics.fmean(minutes)),
        )


@dataclass(frozen=True)
class ResponseTimes:
    label: str  # a month or a service
    incidents: int
    mttd: DurationStats  # started → detected
    mttr: DurationStats  # started → resolved


def _minutes(start: datetime, end: datetime | None) -> float | None:
    """Minutes from start to end; None when the end is not known or (a data error) before it."""
    if end is None or end < start:
        return None
    return (end - start).total_seconds() / 60


@dataclass
class _Durations:
    incidents: int = 0
    detect: list[float] = field(default_factory=list)
    resolve: list[float] = field(default_factory=list)

    def add(self, started: datetime, detected: datetime | None, resolved: datetime | None) -> None:
        self.incidents += 1
        if (to_detect := _minutes(started, detected)) is not None:
            self.detect.append(to_detect)
        if (to_resolve := _minutes(started, resolved)) is not None:
            self.resolve.append(to_resolve)

    def summary(self, label: str) -> ResponseTimes:
        return ResponseTimes(
            label=label,
            incidents=self.incidents,
            mttd=DurationStats.of(self.detect),
            mttr=DurationStats.of(self.resolve),
        )


def response_times_by_month(user: AnyUser, filters: Filters) -> list[ResponseTimes]:
    """MTTD (started → detected) and MTTR (started → resolved) of the incidents started in each
    month, in minutes. An incident not detected or not resolved yet is counted in `incidents`
    but not in that duration."""
    per_month: defaultdict[str, _Durations] = defaultdict(_Durations)
    rows = incidents_in(user, filters).values_list("started_at", "detected_at", "resolved_at")
    for started, detected, resolved in rows:
        per_month[month_key(started)].add(started, detected, resolved)
    return [per_month[month].summary(month) for month in months_between(filters.start, filters.end)]


def response_times_by_service(user: AnyUser, filters: Filters) -> list[ResponseTimes]:
    """The same per service, over the whole range: an incident counts for each of its services
    (with a service filter, for that service only). Incidents without a service are left out."""
    incidents = incidents_in(user, filters)
    times = {
        pk: (started, detected, resolved)
        for pk, started, detected, resolved in incidents.values_list(
            "pk", "started_at", "detected_at", "resolved_at"
        )
    }
    links = Incident.services.through.objects.filter(incident_id__in=incidents.values("pk"))
    if filters.service:
        links = links.filter(service__name=filters.service)
    per_service: defaultdict[str, _Durations] = defaultdict(_Durations)
    for incident_id, service in links.order_by().values_list("incident_id", "service__name"):
        per_service[service].add(*times[incident_id])
    return [per_service[service].summary(service) for service in sorted(per_service)]
