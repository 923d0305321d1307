"""Notification writes: the deliveries a state change owes, written in the caller's
transaction (the outbox) and handed to the worker once it commits. Sending them is `delivery`."""

from __future__ import annotations

from django.db import transaction

from metrics.notify.events import StateChange, payload_for
from metrics.notify.models import Delivery, NotificationChannel
from metrics.notify.silences import Silence, active_silence
from metrics.notify.tasks import deliver


def deliveries_for_change(
    *, change: StateChange, team_id: int, channel_ids: list[int] | None = None
) -> list[Delivery]:
    """Create the deliveries for a state change, one per enabled channel (the alarm's or SLO's
    own choice, else all of the team's), and have them sent once the transaction commits."""
    # Only the owning team's channels, even when an alarm names its own.
    found = NotificationChannel.objects.filter(enabled=True, team_id=team_id)
    if channel_ids:
        found = found.filter(pk__in=channel_ids)
    channels = list(found)
    if not channels:
        return []
    silence = active_silence(alarm_id=change.alarm_id, slo_id=change.slo_id, at=change.at)
    created = []
    for channel in channels:
        delivery, was_created = Delivery.objects.get_or_create(
            idempotency_key=f"{change.key}:channel:{channel.pk}",
            defaults={
                "channel": channel,
                "source_key": change.key,
                "subject": change.subject[:300],
                "payload": payload_for(channel.kind, change),
                "status": Delivery.Status.SILENCED if silence else Delivery.Status.PENDING,
                "last_error": _silenced_note(silence) if silence else "",
            },
        )
        if was_created and not silence:
            created.append(delivery)
    if created:
        ids = [delivery.pk for delivery in created]
        transaction.on_commit(lambda: [deliver.delay(delivery_id) for delivery_id in ids])
    return created


def _silenced_note(silence: Silence) -> str:
    return f"silenced until {silence.ends_at:%Y-%m-%d %H:%M} UTC: {silence.reason}"
