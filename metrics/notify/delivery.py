"""Sending one delivery exactly once: claim it, send it, record the outcome; retry a transient
failure with backoff; find the deliveries whose task was lost."""

from __future__ import annotations

import random
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from metrics.notify.models import Delivery
from metrics.notify.transport import DeliveryError, send

# A delivery claimed longer ago than this belongs to a worker that died mid-send.
SENDING_TIMEOUT = timedelta(minutes=2)
SENT, RETRY, DONE = "sent", "retry", "done"


def retry_delay(attempts: int) -> float:
    """Exponential backoff with full jitter, capped."""
    base = float(settings.NOTIFY_RETRY_BASE_SECONDS)
    cap = float(settings.NOTIFY_RETRY_CAP_SECONDS)
    return random.uniform(0, min(cap, base * 2 ** max(0, attempts - 1)))  # noqa: S311


def delivery_send(*, delivery_id: int) -> str:
    """Send one delivery if nobody else is: returns "sent", "retry" (a transient failure with
    attempts left) or "done" (nothing to do: delivered already, failed for good, or taken)."""
    now = timezone.now()
    claimed = Delivery.objects.filter(
        Q(status__in=[Delivery.Status.PENDING, Delivery.Status.RETRYING])
        | Q(status=Delivery.Status.SENDING, claimed_at__lt=now - SENDING_TIMEOUT),
        pk=delivery_id,
    ).update(status=Delivery.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if claimed != 1:
        return DONE
    delivery = Delivery.objects.select_related("channel").get(pk=delivery_id)
    channel = delivery.channel
    try:
        status_code = send(channel.kind, channel.target, delivery.payload, delivery.idempotency_key)
    except DeliveryError as exc:
        return _failed(delivery, exc)
    except Exception as exc:  # never leave a delivery claimed: retry it like a transient error
        return _failed(delivery, DeliveryError(f"{type(exc).__name__}: {exc}", permanent=False))
    Delivery.objects.filter(pk=delivery_id).update(
        status=Delivery.Status.DELIVERED,
        delivered_at=timezone.now(),
        last_status_code=status_code,
        last_error="",
    )
    return SENT


def _failed(delivery: Delivery, exc: DeliveryError) -> str:
    """Record a failed attempt: retry a transient failure while attempts remain."""
    out_of_attempts = delivery.attempts >= settings.NOTIFY_MAX_ATTEMPTS
    final = exc.permanent or out_of_attempts
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.FAILED if final else Delivery.Status.RETRYING,
        last_status_code=exc.status_code,
        last_error=str(exc)
        + (" (no attempts left)" if out_of_attempts and not exc.permanent else ""),
    )
    return DONE if final else RETRY


def stalled_deliveries(*, older_than: timedelta = SENDING_TIMEOUT) -> list[int]:
    """Deliveries whose task was lost (broker down at commit, worker killed): to send again."""
    cutoff = timezone.now() - older_than
    return list(
        Delivery.objects.filter(
            Q(status=Delivery.Status.PENDING, created_at__lt=cutoff)
            | Q(status=Delivery.Status.SENDING, claimed_at__lt=cutoff)
        ).values_list("pk", flat=True)[:500]
    )
