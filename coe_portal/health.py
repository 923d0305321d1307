"""Liveness and readiness probes for load balancers and orchestrators.

`/healthz` only says the process answers. `/readyz` checks the database, that the tables the
intake appends to take a row, and the Celery broker, each with a short timeout, and answers 503
naming the one that failed (never a traceback).

The storage check writes one row into the chunk table and one into the spans' default partition
inside a transaction it always rolls back: a full tablespace, exhausted memory or connections
show in every worker and on every host at once, and readiness comes back the moment a write
would succeed again, with no failure mark to share between processes or to expire.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.contrib.auth.decorators import login_not_required
from django.db import OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import resolve
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from coe_portal.celery import app as celery_app
from coe_portal.db import sqlstate

logger = logging.getLogger(__name__)


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


class _ProbeWritten(Exception):
    """Leaves the probe's transaction by rolling it back."""


LOCK_NOT_AVAILABLE = "55P03"
# The series id is no series: Django's foreign keys are checked at commit, which never comes.
CHUNK_PROBE = (
    "INSERT INTO metrics_chunk (series_id, block, min_time, max_time, count, data) "
    "VALUES (0, 0, 0, 0, 0, %s)"
)
SPAN_PROBE = (
    "INSERT INTO {table} (trace_id, span_id, parent_span_id, service, name, kind, start_ns, "
    "duration_ns, status_code, status_message, attributes, resource_key, events, links) "
    "VALUES ('0', '0', '', 'readyz', 'readyz', 0, 0, 0, 0, '', '{{}}', 0, '[]', '[]')"
)


def check_storage() -> None:
    postgresql = connection.vendor == "postgresql"
    table = "metrics_span_default" if postgresql else "metrics_span"
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if postgresql:
                cursor.execute("SET LOCAL statement_timeout = 3000")
                cursor.execute("SET LOCAL lock_timeout = 1000")
            cursor.execute(CHUNK_PROBE, [b""])
            cursor.execute(SPAN_PROBE.format(table=table))
            raise _ProbeWritten
    except _ProbeWritten:
        return
    except OperationalError as exc:
        # A partition being made or dropped holds the table for a moment: busy is not full.
        if sqlstate(exc) != LOCK_NOT_AVAILABLE:
            raise


def check_broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=3)


CHECKS = {"database": check_database, "storage": check_storage, "broker": check_broker}


def failure_reason(exc: Exception) -> str:
    code = sqlstate(exc)
    return f"unavailable: {type(exc).__name__}" + (f" (SQLSTATE {code})" if code else "")


@require_GET
@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
@login_not_required
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # any failure means "not ready"; the reason is logged
            logger.warning("readiness check %s failed: %s", name, exc)
            results[name] = failure_reason(exc)
        else:
            results[name] = "ok"
    ready = all(value == "ok" for value in results.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": results},
        status=200 if ready else 503,
    )


class ProbesAnswerAnyHostMiddleware:
    """Load balancers and Kubernetes probe by address (`Host: 10.0.3.7:8000`), which
    ALLOWED_HOSTS refuses with a 400 before any view runs. The probes answer here, before the
    host is checked: they say only whether the portal is up and ready, never anything a host
    name could protect."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.probes = {"/healthz": healthz, "/readyz": readyz}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info not in self.probes:
            return self.get_response(request)
        request.resolver_match = resolve(request.path_info)  # labels the request metrics
        return self.probes[request.path_info](request)
