"""What an SLO is, independent of storage: the shape that the YAML import (OpenSLO, Sloth),
the forms and the API all produce, and that the models are built from. Pure, no database."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ROLLING_WINDOWS = ("7d", "28d", "30d")
CALENDAR_WINDOWS = ("month", "quarter")
OCCURRENCES, TIMESLICES = "Occurrences", "Timeslices"


@dataclass(frozen=True)
class RatioSLI:
    """Good (or bad) events over total events. Queries are PromQL over counters and may hold
    the `{{window}}` placeholder (Sloth's style), replaced by a range such as `5m` or `1h`.
    Exactly one of good_query and bad_query is set."""

    total_query: str
    good_query: str | None = None
    bad_query: str | None = None


@dataclass(frozen=True)
class LatencySLI:
    """The fraction of requests faster than a threshold, from a histogram's buckets. The
    threshold must be one of the histogram's bucket boundaries (`le` values)."""

    histogram: str  # metric name without _bucket, e.g. http_server_request_duration_seconds
    threshold_seconds: Decimal
    matchers: str = ""  # label matchers, e.g. service="cart",http_route="/checkout"


@dataclass(frozen=True)
class SLOSpec:
    name: str
    service: str
    objective_percent: Decimal  # strictly between 0 and 100, e.g. Decimal("99.9")
    sli: RatioSLI | LatencySLI
    window: str = "30d"  # one of ROLLING_WINDOWS or CALENDAR_WINDOWS
    description: str = ""
    time_zone: str = "UTC"  # calendar windows start at midnight in this zone
    budgeting: str = OCCURRENCES  # or TIMESLICES
    timeslice_target_percent: Decimal | None = None  # Timeslices: a minute is good at or above
    min_events: int = 0  # below this many events in the short window, no burn alert
    labels: tuple[tuple[str, str], ...] = ()
