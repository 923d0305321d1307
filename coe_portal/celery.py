"""The Celery app. Tasks live in each app's `tasks.py` and are found by autodiscovery.

Settings come from Django's settings (the CELERY_ namespace): JSON only, late acks, tasks
re-queued when a worker dies mid-task. Tasks enqueue after commit with `delay_on_commit`.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coe_portal.settings")

app = Celery("coe_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["coe_portal", "metrics.notify"])


@signals.worker_process_init.connect
def _init_worker_process(**_: Any) -> None:
    # Each forked worker process gets its own exporter (threads do not survive fork).
    from coe_portal.observability.tracing import configure_tracing

    configure_tracing()


@signals.worker_process_shutdown.connect
def _shutdown_worker_process(pid: int | None = None, **_: Any) -> None:
    from coe_portal.observability.prometheus import mark_process_dead

    mark_process_dead(pid or os.getpid())


# Imported for its signal handlers: finished tasks are counted on `/metrics`.
from coe_portal.observability import celery_signals  # noqa: E402,F401
