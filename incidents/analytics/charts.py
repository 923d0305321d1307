"""Incident, action item and COE analytics: counts per month, MTTD/MTTR, action item flow and
on-time rate, overdue items by team, COE cycle time. Each chart is also a table and a CSV.

Every number is computed here in Python from compact `values_list` rows (thousands of rows, not
millions), so SQLite and PostgreSQL give the same answers; medians are `statistics.median`.
Times are UTC: a month is `YYYY-MM` and a week `YYYY-Www` (ISO) of the UTC timestamp. Nothing
here reads the clock: callers pass `today`.

Filters (`Filters`): a date range (default: the last 12 months, this one included), a team and a
service. The range applies to each record's own moment: an incident's start, an action item's
creation or completion, a COE's approval. The team is the record's own team (the incident's,
the COE's, the action item's); the service is always one of the incident's services. Open-item
figures (overdue by team, age) are a snapshot at `today` and ignore the date range.

Visibility, the rule this module must never break: an incident the user may not open
(`incidents_visible_to`) is a *hidden* incident, and so are its COE and its action items.
- A hidden incident counts in one place only: the number of incidents per month, in the
  `restricted` column, without its severity.
- Even that count is left out as soon as a team or service filter is set, since a non-zero
  count would then tell which team or service the restricted incident belongs to.
- It is left out of everything else: MTTD/MTTR (a monthly mean could give away its times), the
  per-service table, the action item and COE figures, per-team tables, the filter choices
  (services are offered from visible incidents only) and every CSV. No title, id, severity,
  team or service of a hidden incident is ever returned by this module.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from incidents.models import FINISHED_STATUSES, ActionItem, Coe, Incident, Severity
from incidents.selectors import incidents_visible_to

AnyUser = User | AnonymousUser
Cell = str | int | float | None

DEFAULT_MONTHS = 12
MAX_RANGE_DAYS = 3660  # ten years of weeks is already a long page
SEVERITIES = [str(severity) for severity in Severity.values]
RESTRICTED = "restricted"


# Filters ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    start: date  # first day, included
    end: date  # last day, included
    team: str = ""  # Team.name
    service: str = ""  # Service.name

    @property
    def narrowed(self) -> bool:
        """A team or service is chosen: hidden incidents are not counted at all."""
        return bool(self.team or self.service)

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def end_before(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC)

    def query_string(self) -> str:
        """The filters as a URL query, so a page and its CSV links can be shared."""
        params = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        if self.team:
            params["team"] = self.team
        if self.service:
            params["service"] = self.service
        return urlencode(params)


def first_of_month(day: date, months_back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def parse_filters(params: Mapping[str, Any], *, today: date) -> Filters:
    """Filters from GET parameters `team`, `service`, `from`, `to` (ISO dates). A missing or
    malformed date takes its default: `to` today, `from` the first day of the month 11 months
    before `to`'s (12 months in all). Reversed dates are swapped; a range is at most 10 years."""
    end = today
    with suppress(TypeError, ValueError):
        end = date.fromisoformat(str(params.get("to") or ""))
    start = first_of_month(end, DEFAULT_MONTHS - 1)
    with suppress(TypeError, ValueError):
        start = date.fromisoformat(str(params.get("from") or ""))
    if start > end:
        start, end = end, start
    start = max(start, end - timedelta(days=MAX_RANGE_DAYS))
    return Filters(
        start=start,
        end=end,
        team=str(params.get("team") or "").strip(),
        service=str(params.get("service") or "").strip(),
    )


# Calendar helpers -------------------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def month_key(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        moment = _utc(moment)
    return f"{moment.year:04d}-{moment.month:02d}"


def week_key(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        moment = _utc(moment).date()
    year, week, _ = moment.isocalendar()
    return f"{year:04d}-W{week:02d}"


def months_between(start: date, end: date) -> list[str]:
    months = []
    month = first_of_month(start)
    while month <= end:
        months.append(month_key(month))
        month = first_of_month(month + timedelta(days=31))
    return months


def weeks_between(start: date, end: date) -> list[tuple[str, date]]:
    """The ISO weeks touching the range, with their Mondays."""
    monday = start - timedelta(days=start.weekday())
    weeks = []
    while monday <= end:
        weeks.append((week_key(monday), monday))
        monday += timedelta(days=7)
    return weeks


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


# Reads: only what the user may see, as compact rows ---------------------------------------------


def _visible_incident_ids(user: AnyUser) -> QuerySet[Incident, Any]:
    # A subquery, never a list of ids in Python: no parameter limits, one round trip.
    return incidents_visible_to(user).order_by().values("pk")


def _incidents(user: AnyUser, filters: Filters) -> QuerySet[Incident]:
    """Visible incidents started in the range, of the chosen team and service."""
    incidents = Incident.objects.filter(
        pk__in=_visible_incident_ids(user),
        started_at__gte=filters.start_at,
        started_at__lt=filters.end_before,
    )
    if filters.team:
        incidents = incidents.filter(team__name=filters.team)
    if filters.service:
        incidents = incidents.filter(services__name=filters.service)  # names are unique
    return incidents.order_by()


def _hidden_incident_starts(user: AnyUser, filters: Filters) -> list[datetime]:
    """When the hidden incidents in the range started: nothing else about them is read."""
    if filters.narrowed:
        return []
    hidden = Incident.objects.filter(
        started_at__gte=filters.start_at, started_at__lt=filters.end_before
    ).exclude(pk__in=_visible_incident_ids(user))
    return list(hidden.order_by().values_list("started_at", flat=True))


def _action_items(user: AnyUser, filters: Filters) -> QuerySet[ActionItem]:
    items = ActionItem.objects.filter(coe__incident_id__in=_visible_incident_ids(user))
    if filters.team:
        items = items.filter(team__name=filters.team)
    if filters.service:
        items = items.filter(coe__incident__services__name=filters.service)
    return items.order_by()


def _coes(user: AnyUser, filters: Filters) -> QuerySet[Coe]:
    coes = Coe.objects.filter(incident_id__in=_visible_incident_ids(user))
    if filters.team:
        coes = coes.filter(team__name=filters.team)
    if filters.service:
        coes = coes.filter(incident__services__name=filters.service)
    return coes.order_by()


def service_choices(user: AnyUser) -> list[str]:
    """Services of the incidents the user may open: a service only a hidden incident touched
    is not offered (it would say that the restricted incident exists)."""
    names = (
        Incident.services.through.objects.filter(incident_id__in=_visible_incident_ids(user))
        .order_by()
        .values_list("service__name", flat=True)
        .distinct()
    )
    return sorted(set(names))


# 1. Incidents per month by severity -------------------------------------------------------------


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
    for severity, started_at in _incidents(user, filters).values_list("severity", "started_at"):
        counts[month_key(started_at), severity] += 1
    for started_at in _hidden_incident_starts(user, filters):
        counts[month_key(started_at), RESTRICTED] += 1
    return [
        SeverityMonth(
            month=month,
            by_severity={severity: counts[month, severity] for severity in SEVERITIES},
            restricted=counts[month, RESTRICTED],
        )
        for month in months_between(filters.start, filters.end)
    ]


# 2. MTTD and MTTR per month and per service -----------------------------------------------------


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
            median=_round(statistics.median(minutes)),
            mean=_round(statistics.fmean(minutes)),
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
    rows = _incidents(user, filters).values_list("started_at", "detected_at", "resolved_at")
    for started, detected, resolved in rows:
        per_month[month_key(started)].add(started, detected, resolved)
    return [per_month[month].summary(month) for month in months_between(filters.start, filters.end)]


def response_times_by_service(user: AnyUser, filters: Filters) -> list[ResponseTimes]:
    """The same per service, over the whole range: an incident counts for each of its services
    (with a service filter, for that service only). Incidents without a service are left out."""
    incidents = _incidents(user, filters)
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


# 3. Action items --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekFlow:
    week: str  # ISO week, 2026-W05
    monday: date
    opened: int
    closed: int  # done or won't do


def action_items_by_week(user: AnyUser, filters: Filters) -> list[WeekFlow]:
    """Action items opened (created) and closed (done or won't do, by `completed_at`) per ISO
    week. A reopened item is open again and no longer counts as closed."""
    items = _action_items(user, filters)
    created = items.filter(created_at__gte=filters.start_at, created_at__lt=filters.end_before)
    completed = items.filter(
        status__in=FINISHED_STATUSES,
        completed_at__gte=filters.start_at,
        completed_at__lt=filters.end_before,
    )
    opened = Counter(week_key(at) for at in created.values_list("created_at", flat=True))
    closed = Counter(
        week_key(at) for at in completed.values_list("completed_at", flat=True) if at is not None
    )
    return [
        WeekFlow(week=week, monday=monday, opened=opened[week], closed=closed[week])
        for week, monday in weeks_between(filters.start, filters.end)
    ]


@dataclass(frozen=True)
class OnTimeMonth:
    month: str
    finished: int  # done or won't do in the month
    on_time: int  # of which on or before the due date (UTC day of completion)
    rate_percent: float | None  # one decimal; None without finished items


def on_time_rate_by_month(user: AnyUser, filters: Filters) -> list[OnTimeMonth]:
    """Share of the items finished (done or won't do) in each month that were finished on or
    before their (current) due date."""
    finished: Counter[str] = Counter()
    on_time: Counter[str] = Counter()
    rows = (
        _action_items(user, filters)
        .filter(
            status__in=FINISHED_STATUSES,
            completed_at__gte=filters.start_at,
            completed_at__lt=filters.end_before,
        )
        .values_list("completed_at", "due_date")
    )
    for completed, due in rows:
        if completed is None:  # excluded by the query; for the type checker
            continue
        month = month_key(completed)
        finished[month] += 1
        if _utc(completed).date() <= due:
            on_time[month] += 1
    return [
        OnTimeMonth(
            month=month,
            finished=finished[month],
            on_time=on_time[month],
            rate_percent=_round(100 * on_time[month] / finished[month])
            if finished[month]
            else None,
        )
        for month in months_between(filters.start, filters.end)
    ]


@dataclass(frozen=True)
class OpenItems:
    team: str  # a team's name, or ALL_TEAMS
    open: int
    overdue: int  # due before today
    median_age_days: float | None  # whole days since creation (UTC), median


ALL_TEAMS = "all teams"


def open_items_by_team(user: AnyUser, filters: Filters, *, today: date) -> list[OpenItems]:
    """Items not finished at `today`, per team (most overdue first), then all teams together.
    A snapshot: the date range does not apply."""
    rows = (
        _action_items(user, filters)
        .exclude(status__in=FINISHED_STATUSES)
        .values_list("team__name", "due_date", "created_at")
    )
    per_team: defaultdict[str, list[tuple[date, int]]] = defaultdict(list)
    for team, due, created in rows:
        per_team[team].append((due, (today - _utc(created).date()).days))

    def summary(team: str, items: list[tuple[date, int]]) -> OpenItems:
        ages = [age for _, age in items]
        return OpenItems(
            team=team,
            open=len(items),
            overdue=sum(1 for due, _ in items if due < today),
            median_age_days=_round(statistics.median(ages)) if ages else None,
        )

    teams = [summary(team, items) for team, items in per_team.items()]
    teams.sort(key=lambda row: (-row.overdue, -row.open, row.team))
    everything = [item for items in per_team.values() for item in items]
    return [*teams, summary(ALL_TEAMS, everything)]


# 4. COE cycle time ------------------------------------------------------------------------------


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
        _coes(user, filters)
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
            median_days=_round(statistics.median(days[month])) if days[month] else None,
        )
        for month in months_between(filters.start, filters.end)
    ]


# Charts: each one a table (the page's table and the CSV) and how to draw it --------------------


@dataclass(frozen=True)
class Column:
    key: str  # CSV header
    label: str  # table header and legend


@dataclass(frozen=True)
class Chart:
    slug: str
    title: str
    description: str
    columns: list[Column]
    rows: list[list[Cell]]
    plot: str  # "stack", "group" (bars) or "line"
    series: list[int]  # the columns drawn; column 0 is the x axis
    y_title: str

    def values(self, key: str) -> list[Cell]:
        """One column's cells, by its key."""
        index = [column.key for column in self.columns].index(key)
        return [row[index] for row in self.rows]

    def as_json(self) -> dict[str, Any]:
        """What static/incidents/analytics.js draws."""
        return {
            "slug": self.slug,
            "plot": self.plot,
            "y_title": self.y_title,
            "x": [row[0] for row in self.rows],
            "series": [
                {"name": self.columns[index].label, "values": [row[index] for row in self.rows]}
                for index in self.series
            ],
        }


def _severity_chart(user: AnyUser, filters: Filters, today: date) -> Chart:
    months = incidents_by_severity(user, filters)
    return Chart(
        slug="incidents-by-severity",
        title="Incidents per month by severity",
        description=(
            "Incidents by the month they started. Restricted: incidents you cannot open, "
            "counted without their severity, and only when no team or service is chosen."
        ),
        columns=[
            Column("month", "Month"),
            *(Column(severity, severity) for severity in SEVERITIES),
            Column(RESTRICTED, "Restricted"),
            Column("total", "Total"),
        ],
        rows=[
            [m.month, *(m.by_severity[s] for s in SEVERITIES), m.restricted, m.total]
            for m in months
        ],
        plot="stack",
        series=list(range(1, len(SEVERITIES) + 2)),
        y_title="incidents",
    )


RESPONSE_COLUMNS = [
    Column("incidents", "Incidents"),
    Column("detected", "Detected"),
    Column("mttd_median_minutes", "MTTD median (min)"),
    Column("mttd_mean_minutes", "MTTD mean (min)"),
    Column("resolved", "Resolved"),
    Column("mttr_median_minutes", "MTTR median (min)"),
    Column("mttr_mean_minutes", "MTTR mean (min)"),
]


def _response_row(times: ResponseTimes) -> list[Cell]:
    return [
        times.label, times.incidents,
        times.mttd.count, times.mttd.median, times.mttd.mean,
        times.mttr.count, times.mttr.median, times.mttr.mean,
    ]  # fmt: skip


def _response_month_chart(user: AnyUser, filters: Filters, today: date) -> Chart:
    return Chart(
        slug="response-times-by-month",
        title="MTTD and MTTR per month",
        description=(
            "Minutes from an incident's start to its detection (MTTD) and to its resolution "
            "(MTTR), by the month it started."
        ),
        columns=[Column("month", "Month"), *RESPONSE_COLUMNS],
        rows=[_response_row(times) for times in response_times_by_month(user, filters)],
        plot="line",
        series=[3, 4, 6, 7],
        y_title="minutes",
    )


def _response_service_chart(user: AnyUser, filters: Filters, today: date) -> Chart:
    return Chart(
        slug="response-times-by-service",
        title="MTTD and MTTR per service",
        description=(
            "The same over the whole range, per affected service: an incident counts for each "
            "of its services."
        ),
        columns=[Column("service", "Service"), *RESPONSE_COLUMNS],
        rows=[_response_row(times) for times in response_times_by_service(user, filters)],
        plot="group",
        series=[3, 6],
        y_title="minutes",
    )


def _weekly_items_chart(user: AnyUser, filters: Filters, today: date) -> Chart:
    return Chart(
        slug="action-items-by-week",
        title="Action items opened and closed per week",
        description="Opened: created that ISO week. Closed: done or won't do that week.",
        columns=[
            Column("week", "Week"),
            Column("week_start", "Monday"),
            Column("opened", "Opened"),
            Column("closed", "Closed"),
        ],
        rows=[
            [week.week, week.monday.isoformat(), week.opened, week.closed]
            for week in action_items_by_week(user, filters)
        ],
        plot="group",
        series=[2, 3],
        y_title="action items",
    )


def _on_time_chart(user: AnyUser, filters: Filters, today: date) -> Chart:
    return Chart(
        slug="on-time-rate",
        title="Action items finished on time",
        description=(
            "Of the items done or won't do in the month, the share finished on or before their "
            "due date."
        ),
        columns=[
            Column("month", "Month"),
            Column("finished", "Finished"),
            Column("on_time", "On time"),
            Column("on_time_percent", "On time (%)"),
        ],
        rows=[
            [month.month, month.finished, month.on_time, month.rate_percent]
            for month in on_time_rate_by_month(user, filters)
        ],
        plot="group",
        series=[3],
        y_title="%",
    )


def _overdue_chart(user: AnyUser, filters: Filters, today: date) -> Chart:
    rows = [row for row in open_items_by_team(user, filters, today=today) if row.team != ALL_TEAMS]
    return Chart(
        slug="overdue-by-team",
        title="Overdue open action items by team",
        description=f"Open items (not done or won't do) on {today.isoformat()}, by owning team.",
        columns=[Column("team", "Team"), Column("open", "Open"), Column("overdue", "Overdue")],
        rows=[[row.team, row.open, row.overdue] for row in rows],
        plot="group",
        series=[2],
        y_title="action items",
    )


def _age_chart(user: AnyUser, filters: Filters, today: date) -> Chart:
    return Chart(
        slug="open-item-age",
        title="Median age of open action items",
        description=f"Whole days since each open item was created, on {today.isoformat()}.",
        columns=[
            Column("team", "Team"),
            Column("open", "Open"),
            Column("median_age_days", "Median age (days)"),
        ],
        rows=[
            [row.team, row.open, row.median_age_days]
            for row in open_items_by_team(user, filters, today=today)
        ],
        plot="group",
        series=[2],
        y_title="days",
    )


def _coe_chart(user: AnyUser, filters: Filters, today: date) -> Chart:
    return Chart(
        slug="coe-cycle-time",
        title="COE cycle time per month",
        description="Days from the incident's resolution to the COE's approval, by approval month.",
        columns=[
            Column("month", "Month"),
            Column("approved", "COEs approved"),
            Column("median_days", "Median (days)"),
        ],
        rows=[
            [month.month, month.approved, month.median_days]
            for month in coe_cycle_time_by_month(user, filters)
        ],
        plot="group",
        series=[2],
        y_title="days",
    )


CHARTS: dict[str, Callable[[AnyUser, Filters, date], Chart]] = {
    "incidents-by-severity": _severity_chart,
    "response-times-by-month": _response_month_chart,
    "response-times-by-service": _response_service_chart,
    "action-items-by-week": _weekly_items_chart,
    "on-time-rate": _on_time_chart,
    "overdue-by-team": _overdue_chart,
    "open-item-age": _age_chart,
    "coe-cycle-time": _coe_chart,
}


def build_chart(slug: str, user: AnyUser, filters: Filters, *, today: date) -> Chart:
    """One chart by its slug; KeyError for an unknown one."""
    return CHARTS[slug](user, filters, today)


def build_charts(user: AnyUser, filters: Filters, *, today: date) -> list[Chart]:
    return [build(user, filters, today) for build in CHARTS.values()]


def csv_rows(chart: Chart) -> Iterable[list[Cell]]:
    """The CSV of a chart: its column keys, then its rows (an empty cell for no value)."""
    yield [column.key for column in chart.columns]
    for row in chart.rows:
        yield ["" if cell is None else cell for cell in row]
