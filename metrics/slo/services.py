"""Writes for SLOs: evaluating them (once per minute, whatever the number of workers) and
recording alert state changes."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from incidents.incident.alerts import alert_changed
from metrics.backends.errors import BackendUnavailable
from metrics.claims import claim_due
from metrics.notify.events import StateChange
from metrics.notify.services import deliveries_for_change
from metrics.promql.lexer import parse_duration
from metrics.promql.source import SampleSource, new_source
from metrics.slo.burn import Budget
from metrics.slo.evaluate import SLOStatus, evaluate_slo
from metrics.slo.models import SLO, SLOAlertTransition
from metrics.timeouts import query_time_limit

logger = logging.getLogger(__name__)


def evaluation_minute(now: datetime | None = None) -> datetime:
    moment = now or timezone.now()
    return moment.replace(second=0, microsecond=0)


def _claim(slo: SLO, minute: datetime) -> bool:
    """Only one evaluation per SLO and minute, however many workers run the task."""
    claimed = SLO.objects.filter(
        Q(last_evaluated_at__isnull=True) | Q(last_evaluated_at__lt=minute), pk=slo.pk
    ).update(last_evaluated_at=minute)
    return claimed == 1


def _number(value: Decimal | float | None) -> str | None:
    """Decimals in plain notation ("100", not "1E+2"), for JSON."""
    if value is None:
        return None
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def figures(status: SLOStatus) -> dict[str, Any]:
    budget = status.budget
    return {
        "sli": budget.sli,
        "error_budget_consumed": _number(budget.consumed_fraction),
        "error_budget_remaining": _number(budget.remaining_fraction),
        "allowed_bad_events": budget.allowed_bad_events,
        "remaining_bad_events": budget.remaining_bad_events,
        "remaining_minutes_at_current_traffic": budget.remaining_minutes_at_current_traffic,
        "error_ratios": status.ratios,
        "events": status.events,
        "burn_rates": {window: _number(rate) for window, rate in status.burn_rates.items()},
        "hours_to_exhaustion": _number(status.hours_to_exhaustion),
        "alerts": [
            {
                "severity": check.window.severity,
                "long_window": check.window.long,
                "short_window": check.window.short,
                "threshold": _number(round(check.factor, 4)),
                "long_burn_rate": _number(check.long_burn),
                "short_burn_rate": _number(check.short_burn),
                "firing": check.firing,
                "reason": check.reason,
            }
            for check in status.checks
        ],
    }


def _state_for(slo: SLO, status: SLOStatus, minute: datetime, outage: str = "") -> tuple[str, str]:
    if status.events.get("5m") is None and status.events.get("1h") is None:
        last_data = slo.last_data_at
        if last_data is None or minute - last_data >= timedelta(minutes=slo.no_data_after_minutes):
            since = "never" if last_data is None else f"since {last_data:%Y-%m-%d %H:%M} UTC"
            if outage:
                return SLO.AlertState.NO_DATA, f"{outage} (last data: {since})"
            return SLO.AlertState.NO_DATA, f"no data for the SLI's series ({since})"
        if outage:
            return slo.alert_state, f"{outage}; keeping the state"
        return slo.alert_state, "no data in the last hour yet; keeping the state"
    fired = [check for check in status.checks if check.firing]
    if status.severity is None:
        return SLO.AlertState.OK, "no burn-rate alert fires"
    worst = next(check for check in fired if check.window.severity == status.severity)
    return status.severity, f"{worst.window.severity}: {worst.reason}"


def _announce(slo: SLO, transition: SLOAlertTransition) -> None:
    """Owe a notification per channel of the SLO's team (sent after this transaction commits)."""
    change = StateChange(
        key=f"slo-transition:{transition.pk}",
        source="slo",
        name=slo.name,
        team=slo.team.name,
        service=slo.service.name,
        old_state=transition.old_state,
        new_state=transition.new_state,
        reason=transition.reason,
        at=transition.at,
        url=f"{settings.SITE_URL}{slo.get_absolute_url()}",
        severity={"page": "critical", "ticket": "warning"}.get(transition.new_state, "info"),
        labels={"slo": slo.name},
        slo_id=slo.pk,
    )
    deliveries_for_change(
        change=change,
        team_id=slo.team_id,
        channel_ids=list(slo.notification_channels.values_list("pk", flat=True)),
    )


def slo_evaluate(
    *,
    slo: SLO,
    now: datetime | None = None,
    source: SampleSource | None = None,
    claimed: bool = False,
) -> SLOStatus | None:
    """Evaluate an SLO for the current minute; None when this minute was already done.
    A pass over many SLOs shares one `source`, so shared selectors are resolved and read once."""
    minute = evaluation_minute(now)
    if not claimed and not _claim(slo, minute):
        return None
    outage = ""
    try:
        with query_time_limit():
            status = evaluate_slo(
                slo.to_spec(), at_ms=int(minute.timestamp() * 1000), source=source
            )
    except BackendUnavailable as exc:
        # Like a minute without data: the SLO keeps its state until its no-data period is over,
        # and its last figures stay on its page next to the outage.
        status = SLOStatus(
            int(minute.timestamp() * 1000), Budget(None, None, None, None, None, None)
        )
        outage = str(exc)
    except Exception as exc:  # a broken query must not stop the other SLOs; it is shown
        logger.warning("SLO %s: evaluation failed: %s", slo, exc)
        SLO.objects.filter(pk=slo.pk).update(last_error=f"{type(exc).__name__}: {exc}")
        return None
    has_data = status.events.get("5m") is not None or status.events.get("1h") is not None
    if has_data:
        slo.last_data_at = minute
    new_state, reason = _state_for(slo, status, minute, outage)
    if new_state == slo.alert_state:
        # The common case: only the figures change, in one statement (and only if no later
        # minute has claimed the SLO meanwhile).
        SLO.objects.filter(pk=slo.pk, last_evaluated_at=minute).update(
            last_data_at=slo.last_data_at,
            last_figures=slo.last_figures if outage else figures(status),
            last_error=outage,
        )
        return status
    with transaction.atomic():
        locked = (
            SLO.objects.select_for_update(of=("self",))
            .select_related("team", "service")
            .get(pk=slo.pk)
        )
        locked.last_data_at = slo.last_data_at
        new_state, reason = _state_for(locked, status, minute, outage)
        if new_state != locked.alert_state:
            transition = SLOAlertTransition.objects.create(
                slo=locked,
                at=minute,
                old_state=locked.alert_state,
                new_state=new_state,
                reason=reason,
                details=figures(status),
            )
            locked.alert_state = new_state
            locked.alert_since = minute
            _announce(locked, transition)
            alert_changed(
                source=locked,
                name=locked.name,
                old_state=transition.old_state,
                new_state=new_state,
                reason=reason,
                at=minute,
                started_at=burn_start(status, minute),
            )
        if not outage:
            locked.last_figures = figures(status)
        locked.last_error = outage
        locked.save(
            update_fields=[
                "alert_state",
                "alert_since",
                "last_data_at",
                "last_figures",
                "last_error",
            ]
        )
        slo.alert_state = locked.alert_state
    return status


def burn_start(status: SLOStatus, minute: datetime) -> datetime | None:
    """Where the burn began as the alerts saw it: the start of the shortest long window among
    the firing burn-rate alerts (a 1h/5m page: an hour before). Its burn rate alone is above
    the threshold, so the burn is at least that old as far as the alert can tell; a longer
    window also fires for a burn that has not lasted that long."""
    windows = [parse_duration(check.window.long) for check in status.checks if check.firing]
    if not windows:
        return None
    return minute - timedelta(milliseconds=min(windows))


def evaluate_all_slos(*, now: datetime | None = None) -> int:
    """Evaluate every enabled SLO; returns how many were evaluated this call."""
    done = 0
    source = new_source()
    minute = evaluation_minute(now)
    claimed = claim_due(SLO, minute)
    for slo in SLO.objects.filter(pk__in=claimed).select_related("service", "team"):
        if slo_evaluate(slo=slo, now=minute, source=source, claimed=True) is not None:
            done += 1
    return done
