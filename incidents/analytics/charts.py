"""Incident, action item and COE analytics as charts: each figure of `incidents`,
`action_items` and `coes` becomes a table (the page's table and its CSV) and says how to draw
it. Every number is computed from compact `values_list` rows (thousands of rows, not millions),
so SQLite and PostgreSQL give the same answers; what a user may count is `visibility`'s rule."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from incidents.analytics.action_items import (
    ALL_TEAMS,
    action_items_by_week,
    on_time_rate_by_month,
    open_items_by_team,
)
from incidents.analytics.coes import coe_cycle_time_by_month
from incidents.analytics.filters import AnyUser, Filters
from incidents.analytics.incidents import (
    RESTRICTED,
    SEVERITIES,
    ResponseTimes,
    incidents_by_severity,
    response_times_by_month,
    response_times_by_service,
)

Cell = str | int | float | None


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
        """What static/incidents/analytics/page.js draws."""
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
