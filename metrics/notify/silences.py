"""Silences: mute an alarm's or an SLO's notifications for a while, with a reason and an author.
State changes still happen and are recorded; only their notifications are held back (and the
delivery log says so)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from metrics.alarms.models import Alarm
from metrics.slo.models import SLO

MAX_SILENCE = timedelta(days=14)


class Silence(models.Model):
    alarm = models.ForeignKey(
        Alarm, null=True, blank=True, on_delete=models.CASCADE, related_name="silences"
    )
    slo = models.ForeignKey(
        SLO, null=True, blank=True, on_delete=models.CASCADE, related_name="silences"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=300)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "metrics"
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(alarm__isnull=False, slo__isnull=True)
                | models.Q(alarm__isnull=True, slo__isnull=False),
                name="silence_one_target",
            )
        ]

    def __str__(self) -> str:
        target = self.alarm or self.slo
        return f"silence of {target} until {self.ends_at:%Y-%m-%d %H:%M}"

    def active_at(self, moment: datetime) -> bool:
        return self.starts_at <= moment < self.ends_at


def active_silence(
    *, alarm_id: int | None = None, slo_id: int | None = None, at: datetime
) -> Silence | None:
    silences = Silence.objects.filter(starts_at__lte=at, ends_at__gt=at)
    if alarm_id is not None:
        return silences.filter(alarm_id=alarm_id).first()
    if slo_id is not None:
        return silences.filter(slo_id=slo_id).first()
    return None


@transaction.atomic
def silence_create(
    *,
    alarm: Alarm | None = None,
    slo: SLO | None = None,
    duration: timedelta,
    reason: str,
    user: User,
) -> Silence:
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why it is silenced: the next on-call will read it."})
    if not timedelta(0) < duration <= MAX_SILENCE:
        raise ValidationError({"duration": "A silence lasts between a minute and 14 days."})
    now = timezone.now()
    return Silence.objects.create(
        alarm=alarm, slo=slo, starts_at=now, ends_at=now + duration, reason=reason, created_by=user
    )


@transaction.atomic
def silence_end(*, silence: Silence) -> Silence:
    now = timezone.now()
    if silence.ends_at > now:
        silence.ends_at = max(now, silence.starts_at)
        silence.save(update_fields=["ends_at"])
    return silence
