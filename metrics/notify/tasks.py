"""Celery tasks for notifications: each only calls a service."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from metrics.notify.delivery import RETRY, delivery_send, retry_delay, stalled_deliveries
from metrics.notify.models import Delivery


@shared_task(name="metrics.notify.deliver", bind=True, acks_late=True, max_retries=None)
def deliver(self: Any, delivery_id: int) -> str:
    outcome = delivery_send(delivery_id=delivery_id)
    if outcome == RETRY:
        attempts = Delivery.objects.values_list("attempts", flat=True).get(pk=delivery_id)
        raise self.retry(countdown=retry_delay(attempts))
    return outcome


@shared_task(name="metrics.notify.sweep")
def sweep() -> int:
    """Send again the deliveries whose task was lost (each send is claimed: never twice)."""
    stalled = stalled_deliveries()
    for delivery_id in stalled:
        deliver.delay(delivery_id)
    return len(stalled)
