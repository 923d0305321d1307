"""Database helpers shared by the apps."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)


def insert_new_rows(
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    conflict: Sequence[str],
    returning: Sequence[str],
) -> list[tuple[Any, ...]]:
    """One multi-row `INSERT … ON CONFLICT (conflict) DO NOTHING RETURNING returning`: the
    `returning` columns of the rows this call created (a row that hits the unique `conflict`
    columns is skipped). PostgreSQL and SQLite 3.35+ both speak it. `table` and the column
    names must be constants; values go as parameters, already adapted for the backend."""
    if not rows:
        return []
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608 (constant names)
        + ", ".join([placeholders] * len(rows))
        + f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING RETURNING {', '.join(returning)}"
    )
    params = [value for row in rows for value in row]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(found) for found in cursor.fetchall()]


# The database is away or out of resources: the request may succeed if sent again later. ---

RETRY_AFTER_SECONDS = 5
# Class 53 "insufficient resources", by SQLSTATE: what a client reads in the 503.
INSUFFICIENT_RESOURCES = {
    "53000": "is out of resources",
    "53100": "is out of disk space",
    "53200": "is out of memory",
    "53300": "has too many connections",
    "53400": "has hit a configured limit",
}
# Django wraps what goes through its cursors; a raw psycopg cursor (COPY) raises psycopg's own.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


def is_retryable_database_error(exc: BaseException) -> bool:
    """True for an error a retry can get past: the database unreachable, restarting, out of
    disk, memory or connections (psycopg files SQLSTATE classes 08, 40, 53, 55, 57 and 58 as
    OperationalError). Class 54 "program limit exceeded" is OperationalError too, but sending
    the same request again meets the same limit: like every other error, it stays a 500, the
    mark of our own bugs."""
    if not isinstance(exc, UNAVAILABLE_ERRORS):
        return False
    return not (sqlstate(exc) or "").startswith("54")


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, looking through Django's wrapper to psycopg's."""
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return None
        code = getattr(seen, "sqlstate", None)
        if isinstance(code, str):
            return code
        seen = seen.__cause__ or seen.__context__
    return None


def unavailable_message(exc: BaseException, what: str = "the database") -> str:
    """What a 503 says: the class-53 condition when there is one, else "unavailable"."""
    condition = INSUFFICIENT_RESOURCES.get(sqlstate(exc) or "", "is unavailable")
    return f"{what} {condition}; retry later"


class DatabaseUnavailableMiddleware:
    """Any view whose database call fails with a retryable error answers 503 with Retry-After
    (JSON under /api/, text elsewhere) instead of a 500 page: clients and load balancers retry
    a 503, and a 500 stays the mark of our own bugs. Views with a protocol of their own (the
    intake, the Prometheus API) answer in that shape before this is reached. A failure in
    another middleware (the session's user is looked up before the view) never comes here: the
    500 handler answers the same 503 for it (`coe_portal.views.server_error`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not is_retryable_database_error(exc):
            return None
        logger.warning("%s: database unavailable: %s", request.path, exc)
        return unavailable_response(request, exc)


def unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """The 503 + Retry-After for a retryable database error: JSON under /api/, else a line."""
    message = unavailable_message(exc)
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"status": "error", "errorType": "unavailable", "error": message}, status=503
        )
    else:
        response = HttpResponse(message + "\n", status=503, content_type="text/plain")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
