"""What an analytics page is asked for, and the calendar it is counted in.

Filters (`Filters`): a date range (default: the last 12 months, this one included), a team and a
service. The range applies to each record's own moment: an incident's start, an action item's
creation or completion, a COE's approval. The team is the record's own team (the incident's,
the COE's, the action item's); the service is always one of the incident's services. Open-item
figures (overdue by team, age) are a snapshot at `today` and ignore the date range.

Times are UTC: a month is `YYYY-MM` and a week `YYYY-Www` (ISO) of the UTC timestamp. Nothing
here reads the clock: callers pass `today`.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.models import AnonymousUser, User

AnyUser = User | AnonymousUser

DEFAULT_MONTHS = 12
MAX_RANGE_DAYS = 3660  # ten years of weeks is already a long page


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


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def month_key(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        moment = utc(moment)
    return f"{moment.year:04d}-{moment.month:02d}"


def week_key(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        moment = utc(moment).date()
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


def rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)
