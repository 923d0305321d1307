"""Action item figures: opened and closed per week, the share finished on time per month, and the
open items per team (a snapshot at `today`)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date

from incidents.action_items.models import FINISHED_STATUSES
from incidents.analytics.filters import (
    AnyUser,
    Filters,
    month_key,
    months_between,
    rounded,
    utc,
    week_key,
    weeks_between,
)
from incidents.analytics.visibility import action_items_in


@dataclass(frozen=True)
class WeekFlow:
    week: str  # ISO week, 2026-W05
    monday: date
    opened: int
    closed: int  # done or won't do


def action_items_by_week(user: AnyUser, filters: Filters) -> list[WeekFlow]:
    """Action items opened (created) and closed (done or won't do, by `completed_at`) per ISO
    week. A reopened item is open again and no longer counts as closed."""
    items = action_items_in(user, filters)
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
        action_items_in(user, filters)
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
        if utc(completed).date() <= due:
            on_time[month] += 1
    return [
        OnTimeMonth(
            month=month,
            finished=finished[month],
            on_time=on_time[month],
            rate_percent=rounded(100 * on_time[month] / finished[month])
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
        action_items_in(user, filters)
        .exclude(status__in=FINISHED_STATUSES)
        .values_list("team__name", "due_date", "created_at")
    )
    per_team: defaultdict[str, list[tuple[date, int]]] = defaultdict(list)
    for team, due, created in rows:
        per_team[team].append((due, (today - utc(created).date()).days))

    def summary(team: str, items: list[tuple[date, int]]) -> OpenItems:
        ages = [age for _, age in items]
        return OpenItems(
            team=team,
            open=len(items),
            overdue=sum(1 for due, _ in items if due < today),
            median_age_days=rounded(statistics.median(ages)) if ages else None,
        )

    teams = [summary(team, items) for team, items in per_team.items()]
    teams.sort(key=lambda row: (-row.overdue, -row.open, row.team))
    everything = [item for items in per_team.values() for item in items]
    return [*teams, summary(ALL_TEAMS, everything)]
