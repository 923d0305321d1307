"""Counts finished Celery tasks for `/metrics`."""

from __future__ import annotations

from typing import Any

from celery import signals

from coe_portal.observability.prometheus import CELERY_TASKS


@signals.task_postrun.connect
def _count_task(sender: Any = None, state: str | None = None, **_: Any) -> None:
    name = getattr(sender, "name", None) or "<unknown>"
    CELERY_TASKS.labels(name, state or "UNKNOWN").inc()
