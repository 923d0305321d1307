"""Celery tasks of the metrics app: each only calls a service."""

from __future__ import annotations

from celery import shared_task

from metrics.ingest import scrape
from metrics.storage import maintenance


@shared_task(name="metrics.storage.compact")
def compact_chunks() -> int:
    return maintenance.compact_chunks()


@shared_task(name="metrics.storage.enforce_retention")
def enforce_retention() -> tuple[int, int]:
    return maintenance.enforce_retention()


@shared_task(name="metrics.traces.enforce_retention")
def enforce_trace_retention() -> int:
    from metrics.traces.retention import enforce_trace_retention

    return enforce_trace_retention()


@shared_task(name="metrics.traces.fold_span_metrics")
def fold_span_metrics() -> int:
    from metrics.traces.span_metrics import fold_span_metrics

    return fold_span_metrics()


@shared_task(name="metrics.scrape.due_targets")
def scrape_due_targets() -> int:
    return scrape.scrape_due_targets()


@shared_task(name="metrics.slo.evaluate_all")
def evaluate_slos() -> int:
    from metrics.slo.services import evaluate_all_slos

    return evaluate_all_slos()


@shared_task(name="metrics.alarms.evaluate_all")
def evaluate_alarms() -> int:
    from metrics.alarms.services import evaluate_all_alarms

    return evaluate_all_alarms()
