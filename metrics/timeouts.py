"""A time limit on the queries of one SLO or alarm evaluation, so a slow one cannot hold up the
rest of the pass. On PostgreSQL each statement is cancelled past the limit (the error is then
recorded on the SLO or alarm); SQLite has no such setting, so there the limit is not enforced."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection, transaction


@contextmanager
def query_time_limit() -> Iterator[None]:
    from metrics.backends import remote

    seconds = float(settings.EVALUATION_QUERY_TIMEOUT_SECONDS)
    # An external backend's reads are HTTP, bounded by METRICS_QUERY_TIMEOUT_SECONDS; holding
    # a transaction open across them would only tie up a database connection.
    if connection.vendor != "postgresql" or seconds <= 0 or remote() is not None:
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('statement_timeout', %s, true)", [f"{int(seconds * 1000)}ms"]
        )
        yield
