"""The error-budget arithmetic of an SLO: budgets, burn rates, multi-window multi-burn-rate
alerts (Google SRE Workbook), time to exhaustion. Pure functions, no database, no queries.

Comparisons are made in Decimal on the shortest decimal form of each measured ratio, so that
"burn rate above 14.4" means exactly that: 0.0144 / 0.001 is 14.4, not 14.399999999999999.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from metrics.slo.spec import CALENDAR_WINDOWS, ROLLING_WINDOWS

HOURS = {"5m": Decimal(5) / 60, "30m": Decimal("0.5"), "1h": Decimal(1), "2h": Decimal(2),
         "6h": Decimal(6), "1d": Decimal(24), "3d": Decimal(72)}  # fmt: skip
BURN_WINDOWS = tuple(HOURS)  # the windows whose burn rate an SLO shows
# Calendar windows scale their alert thresholds like a rolling window of their nominal length.
WINDOW_DAYS = {"7d": 7, "28d": 28, "30d": 30, "month": 30, "quarter": 90}
PAGE, TICKET = "page", "ticket"


@dataclass(frozen=True)
class AlertWindow:
    """One row of the SRE Workbook's table: alert when the burn rate over both the long and the
    short window exceeds the rate that spends `budget_fraction` of the budget in `long`."""

    severity: str
    long: str
    short: str
    budget_fraction: Decimal

    def factor(self, window: str) -> Decimal:
        """The burn-rate threshold for an SLO window: 14.4 for 1h/5m over 30 days."""
        return self.budget_fraction * window_hours(window) / HOURS[self.long]


ALERT_WINDOWS = (
    AlertWindow(PAGE, "1h", "5m", Decimal("0.02")),
    AlertWindow(PAGE, "6h", "30m", Decimal("0.05")),
    AlertWindow(TICKET, "1d", "2h", Decimal("0.10")),
    AlertWindow(TICKET, "3d", "6h", Decimal("0.10")),
)


def window_hours(window: str) -> Decimal:
    if window not in WINDOW_DAYS:
        supported = ", ".join((*ROLLING_WINDOWS, *CALENDAR_WINDOWS))
        raise ValueError(f"unsupported SLO window {window!r} (use {supported})")
    return Decimal(WINDOW_DAYS[window] * 24)


def exact(value: float) -> Decimal:
    """A measured float as the decimal it prints as (0.0144, not 0.01439999...)."""
    return Decimal(repr(value))


def error_budget(objective_percent: Decimal) -> Decimal:
    """1 - objective: 0.001 for 99.9 %."""
    if not Decimal(0) < objective_percent < Decimal(100):
        raise ValueError(f"objective {objective_percent} % must be between 0 and 100 (exclusive)")
    return 1 - objective_percent / 100


def error_ratio(bad: float | None, total: float | None) -> float | None:
    """bad / total events; None (no data) for 0/0 or no total. Missing bad events with a
    total are zero errors: an error series that does not exist yet means none happened."""
    if total is None or total <= 0:
        return None
    return max(0.0, (bad or 0.0) / total)


def burn_rate(ratio: float | None, objective_percent: Decimal) -> Decimal | None:
    if ratio is None:
        return None
    return exact(ratio) / error_budget(objective_percent)


@dataclass(frozen=True)
class AlertCheck:
    window: AlertWindow
    factor: Decimal
    long_burn: Decimal | None
    short_burn: Decimal | None
    firing: bool
    reason: str


def check_alerts(
    ratios: Mapping[str, float | None],
    events: Mapping[str, float | None],
    *,
    objective_percent: Decimal,
    window: str,
    min_events: int = 0,
) -> list[AlertCheck]:
    """Each alert row against error ratios and event counts keyed by window ("1h", "5m"...)."""
    checks = []
    for row in ALERT_WINDOWS:
        factor = row.factor(window)
        long_burn = burn_rate(ratios.get(row.long), objective_percent)
        short_burn = burn_rate(ratios.get(row.short), objective_percent)
        short_events = events.get(row.short) or 0.0
        if long_burn is None or short_burn is None:
            firing, reason = False, "no data"
        elif short_events < min_events:
            firing = False
            reason = (
                f"only {short_events:g} events in {row.short}, fewer than the {min_events} "
                "needed to alert"
            )
        else:
            firing = long_burn > factor and short_burn > factor
            verdict = "above" if firing else "not both above"
            reason = (
                f"burn rate {_show(long_burn)} over {row.long} and {_show(short_burn)} over "
                f"{row.short}, {verdict} {_show(factor)}"
            )
        checks.append(AlertCheck(row, factor, long_burn, short_burn, firing, reason))
    return checks


def firing_severity(checks: list[AlertCheck]) -> str | None:
    """page if a page row fires, else ticket if a ticket row fires, else None."""
    severities = {check.window.severity for check in checks if check.firing}
    if PAGE in severities:
        return PAGE
    return TICKET if TICKET in severities else None


def hours_to_exhaustion(
    burn: Decimal | None, *, window: str, remaining_fraction: Decimal = Decimal(1)
) -> Decimal | None:
    """How long the remaining budget lasts at this burn rate: window / burn for a full budget
    (14.4 over 30 days: 50 hours). None when nothing burns."""
    if burn is None or burn <= 0:
        return None
    return max(Decimal(0), remaining_fraction) * window_hours(window) / burn


@dataclass(frozen=True)
class Budget:
    sli: float | None  # good / total over the whole window, weighted by events
    consumed_fraction: Decimal | None  # of the error budget; above 1 when overspent
    remaining_fraction: Decimal | None
    allowed_bad_events: float | None
    remaining_bad_events: float | None
    remaining_minutes_at_current_traffic: float | None


def budget_status(
    *,
    bad_events: float | None,
    total_events: float | None,
    objective_percent: Decimal,
    events_per_minute_now: float | None = None,
) -> Budget:
    """The budget over the SLO window from its event counts (sum of bad over sum of total: a
    quiet night weighs less than a busy afternoon)."""
    ratio = error_ratio(bad_events, total_events)
    if ratio is None or total_events is None:
        return Budget(None, None, None, None, None, None)
    budget = error_budget(objective_percent)
    consumed = exact(ratio) / budget
    allowed = float(budget) * total_events
    remaining_bad = allowed - (bad_events or 0.0)
    minutes = None
    if events_per_minute_now:
        minutes = max(0.0, remaining_bad) / events_per_minute_now
    return Budget(1.0 - ratio, consumed, 1 - consumed, allowed, remaining_bad, minutes)


def _show(value: Decimal) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text or "0"
