"""Evaluating alarms once per minute, whatever the number of workers, and recording changes.

Threshold alarms first (each reads its datapoints with one range query), then composite alarms
over the states just decided. A failing query is recorded on its alarm and never stops the
others.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from incidents.incident.alerts import alert_changed
from metrics.alarms.composite import evaluate_rule, parse_rule
from metrics.alarms.evaluation import AlarmEvaluation, default_evaluation_range, evaluate_alarm
from metrics.alarms.models import Alarm, AlarmTransition
from metrics.backends.errors import BackendUnavailable
from metrics.claims import claim_due
from metrics.notify.events import StateChange
from metrics.notify.services import deliveries_for_change
from metrics.promql.engine import range_query
from metrics.promql.source import SampleSource, new_source
from metrics.promql.values import Scalar, Vector
from metrics.timeouts import query_time_limit

logger = logging.getLogger(__name__)


class AlarmQueryError(Exception):
    pass


def _minute(now: datetime | None) -> datetime:
    return (now or timezone.now()).replace(second=0, microsecond=0)


def _claim(alarm: Alarm, minute: datetime) -> bool:
    return (
        Alarm.objects.filter(
            Q(last_evaluated_at__isnull=True) | Q(last_evaluated_at__lt=minute), pk=alarm.pk
        ).update(last_evaluated_at=minute)
        == 1
    )


def datapoints(
    alarm: Alarm, minute: datetime, source: SampleSource | None = None
) -> tuple[list[float | None], list[datetime]]:
    """One value per period, oldest first, ending at the last period end at or before `minute`."""
    period_ms = alarm.period_seconds * 1000
    start_ms, end_ms, times = _periods(alarm, minute)
    count = len(times)
    # Never pushed down: an alarm is the portal's rule, evaluated alike on every backend.
    value = range_query(
        alarm.expression, start_ms, end_ms, period_ms, source=source or new_source()
    ).value
    if isinstance(value, Scalar):
        return [float(v) for v in value.values], times
    assert isinstance(value, Vector)
    if not value.series:
        return [None] * count, times
    if len(value.series) > 1:
        raise AlarmQueryError(
            f"the expression returns {len(value.series)} series; an alarm watches one: "
            "aggregate it, e.g. sum(...) or max(...)"
        )
    series = value.series[0]
    points = [
        float(v) if present and not math.isnan(v) else None
        for v, present in zip(series.values.tolist(), series.present.tolist(), strict=True)
    ]
    return points, times


def _periods(alarm: Alarm, minute: datetime) -> tuple[int, int, list[datetime]]:
    """The first and last period ends (ms) of an evaluation at `minute`, and all of them."""
    period_ms = alarm.period_seconds * 1000
    count = default_evaluation_range(alarm.evaluation_periods)
    end_ms = int(minute.timestamp() * 1000) // period_ms * period_ms
    start_ms = end_ms - (count - 1) * period_ms
    times = [
        datetime.fromtimestamp((start_ms + i * period_ms) / 1000, tz=minute.tzinfo)
        for i in range(count)
    ]
    return start_ms, end_ms, times


def record_state(
    alarm: Alarm,
    at: datetime,
    new_state: str,
    reason: str,
    points: list[dict[str, object]],
    *,
    error: str = "",
) -> bool:
    """Store an alarm's decided state; a change is recorded as a transition and announced.
    `error` says why the datapoints are missing when the metrics backend was unavailable.
    Returns whether the state changed."""
    if new_state == alarm.state:
        # The common case: no change, one statement.
        Alarm.objects.filter(pk=alarm.pk, state=new_state).update(
            last_datapoints=points, last_error=error
        )
        return False
    with transaction.atomic():
        locked = (
            Alarm.objects.select_for_update(of=("self",))
            .select_related("team", "service")
            .get(pk=alarm.pk)
        )
        changed = new_state != locked.state
        if changed:
            transition = AlarmTransition.objects.create(
                alarm=locked,
                at=at,
                old_state=locked.state,
                new_state=new_state,
                reason=reason,
                datapoints=points,
            )
            locked.state = new_state
            locked.state_changed_at = at
            locked.state_reason = reason
            locked.acknowledged_by = None
            locked.acknowledged_at = None
            _announce(locked, transition)
            alert_changed(
                source=locked,
                name=locked.name,
                old_state=transition.old_state,
                new_state=new_state,
                reason=reason,
                at=at,
                started_at=first_breaching(points),
            )
        locked.last_datapoints = points
        locked.last_error = error
        locked.save(
            update_fields=[
                "state",
                "state_changed_at",
                "state_reason",
                "last_datapoints",
                "last_error",
                "acknowledged_by",
                "acknowledged_at",
            ]
        )
        alarm.state = locked.state
    return changed


def _announce(alarm: Alarm, transition: AlarmTransition) -> None:
    """Owe a notification per channel of the alarm's team (sent after this transaction commits)."""
    change = StateChange(
        key=f"alarm-transition:{transition.pk}",
        source="alarm",
        name=alarm.name,
        team=alarm.team.name,
        service=alarm.service.name if alarm.service else None,
        old_state=transition.old_state,
        new_state=transition.new_state,
        reason=transition.reason,
        at=transition.at,
        url=f"{settings.SITE_URL}{alarm.get_absolute_url()}",
        severity="critical" if transition.new_state == Alarm.State.ALARM else "info",
        alarm_id=alarm.pk,
    )
    deliveries_for_change(
        change=change,
        team_id=alarm.team_id,
        channel_ids=list(alarm.notification_channels.values_list("pk", flat=True)),
    )


def first_breaching(points: list[dict[str, object]]) -> datetime | None:
    """The time of the earliest breaching datapoint of an evaluation, if any."""
    times = [str(p["at"]) for p in points if p.get("breaching") and p.get("at")]
    return min((datetime.fromisoformat(t) for t in times), default=None)


def _points_json(evaluation: AlarmEvaluation) -> list[dict[str, object]]:
    return [
        {
            "periods_ago": point.periods_ago,
            "value": point.value,
            "breaching": point.breaching,
            "filled": point.filled,
            "at": point.timestamp.isoformat() if point.timestamp else None,
        }
        for point in evaluation.datapoints
    ]


def alarm_evaluate(
    *,
    alarm: Alarm,
    now: datetime | None = None,
    states: dict[str, str] | None = None,
    source: SampleSource | None = None,
    claimed: bool = False,
) -> bool:
    """Evaluate one alarm for the current minute; False when already done this minute or the
    evaluation failed (the error is on the alarm)."""
    minute = _minute(now)
    if not claimed and not _claim(alarm, minute):
        return False
    try:
        if alarm.kind == Alarm.Kind.COMPOSITE:
            team_states = (
                states
                if states is not None
                else dict(Alarm.objects.filter(team_id=alarm.team_id).values_list("name", "state"))
            )
            firing = evaluate_rule(parse_rule(alarm.rule), team_states)
            new_state = Alarm.State.ALARM if firing else Alarm.State.OK
            record_state(
                alarm,
                minute,
                new_state,
                f"Rule {alarm.rule} is {'true' if firing else 'false'}.",
                [],
            )
            return True
        outage = ""
        try:
            with query_time_limit():
                values, times = datapoints(alarm, minute, source)
        except BackendUnavailable as exc:
            # Every datapoint is missing: the alarm's missing-data rule decides, as in CloudWatch.
            times = _periods(alarm, minute)[2]
            values, outage = [None] * len(times), str(exc)
        evaluation = evaluate_alarm(
            values,
            evaluation_periods=alarm.evaluation_periods,
            datapoints_to_alarm=alarm.datapoints_to_alarm,
            comparison=alarm.comparison,
            threshold=alarm.threshold,
            treat_missing_data=alarm.treat_missing_data,
            current_state=alarm.state,
            timestamps=times,
        )
    except Exception as exc:  # recorded on the alarm, shown on its page; the others go on
        logger.warning("alarm %s: evaluation failed: %s", alarm, exc)
        Alarm.objects.filter(pk=alarm.pk).update(last_error=f"{type(exc).__name__}: {exc}")
        return False
    reason = (
        f"{outage[0].upper()}{outage[1:]}. {evaluation.reason}" if outage else evaluation.reason
    )
    record_state(
        alarm, minute, str(evaluation.next_state), reason, _points_json(evaluation), error=outage
    )
    return True


def alarm_acknowledge(*, alarm: Alarm, user: User) -> Alarm:
    """Mark a firing alarm as taken care of (until its next state change)."""
    if alarm.state != Alarm.State.ALARM:
        raise ValidationError("Only an alarm in ALARM can be acknowledged.")
    updated = Alarm.objects.filter(
        pk=alarm.pk, state=Alarm.State.ALARM, acknowledged_at__isnull=True
    ).update(acknowledged_by=user, acknowledged_at=timezone.now())
    if not updated and not Alarm.objects.filter(pk=alarm.pk, state=Alarm.State.ALARM).exists():
        raise ValidationError("Only an alarm in ALARM can be acknowledged.")
    alarm.refresh_from_db(fields=["acknowledged_by", "acknowledged_at"])
    return alarm


def evaluate_all_alarms(*, now: datetime | None = None) -> int:
    minute = _minute(now)
    claimed = set(claim_due(Alarm, minute, extra_where="kind IN ('threshold', 'composite')"))
    alarms = list(Alarm.objects.filter(enabled=True).select_related("team", "service"))
    done = 0
    source = new_source()  # one pass reads each selector once
    for alarm in alarms:
        if (
            alarm.pk in claimed
            and alarm.kind == Alarm.Kind.THRESHOLD
            and alarm_evaluate(alarm=alarm, now=minute, source=source, claimed=True)
        ):
            done += 1
    states: dict[int, dict[str, str]] = {}
    for alarm in alarms:
        states.setdefault(alarm.team_id, {})[alarm.name] = alarm.state
    for alarm in alarms:
        if (
            alarm.pk in claimed
            and alarm.kind == Alarm.Kind.COMPOSITE
            and alarm_evaluate(alarm=alarm, now=minute, states=states[alarm.team_id], claimed=True)
        ):
            states[alarm.team_id][alarm.name] = alarm.state
            done += 1
    return done
