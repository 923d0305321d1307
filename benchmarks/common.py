"""What every benchmark shares: the figure format, the PostgreSQL server and small statistics."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
from psycopg import sql

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
METRIC_TABLES = ("metrics_series", "metrics_serieslabel", "metrics_chunk")


@dataclass(frozen=True)
class Figure:
    """One printed line: `name: value unit (details)`, stable so runs can be compared."""

    name: str
    value: float | str
    unit: str = ""
    details: str = ""

    def line(self) -> str:
        if isinstance(self.value, str):
            number = self.value
        elif isinstance(self.value, float) and not self.value.is_integer():
            number = f"{self.value:.3g}" if abs(self.value) < 100 else f"{self.value:.0f}"
        else:
            number = f"{self.value:.0f}"
        suffix = f" ({self.details})" if self.details else ""
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.name}: {number}{unit}{suffix}"


def server_url() -> str:
    """The PostgreSQL server to create throwaway databases in: DATABASE_URL if it is PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else DEFAULT_SERVER


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def throwaway_database(server: str, name: str) -> Iterator[str]:
    """A new, empty database on the server for the duration of a block; yields its URL."""
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(server, name)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def environment(server: str) -> list[Figure]:
    with psycopg.connect(server) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    version = row[0] if row else "unknown"
    host = urlsplit(server).hostname or "local socket"
    return [
        Figure("env.cpu_count", os.cpu_count() or 0, "cpus", platform.machine()),
        Figure("env.python", platform.python_version(), "", platform.python_implementation()),
        Figure("env.postgresql", version.split()[0], "", f"server at {host}"),
    ]


def percentile_ms(latencies_s: Sequence[float], percent: float) -> float:
    if not latencies_s:
        return float("nan")
    return float(np.percentile(np.asarray(latencies_s), percent) * 1000)


def table_sizes(database_url: str) -> dict[str, int]:
    """pg_total_relation_size (heap, TOAST and indexes) of each metrics table."""
    with psycopg.connect(database_url) as conn:
        return {
            table: int(
                conn.execute("SELECT pg_total_relation_size(%s::regclass)", [table]).fetchone()[0]  # type: ignore[index]
            )
            for table in METRIC_TABLES
        }


def stored_samples(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT coalesce(sum(count), 0) FROM metrics_chunk").fetchone()
    return int(row[0]) if row else 0


def vacuum_full(database_url: str) -> None:
    """Rewrites the metrics tables, so that sizes count live rows only, not dead tuples."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for table in METRIC_TABLES:
            conn.execute(sql.SQL("VACUUM FULL ANALYZE {}").format(sql.Identifier(table)))


def shell_script(body: str, **names: object) -> str:
    """A `manage.py shell` script with its parameters assigned first (as Python literals)."""
    preamble = "".join(f"{name} = {value!r}\n" for name, value in names.items())
    return preamble + body


def shell_results(output: str, marker: str) -> list[Any]:
    """The JSON after `marker` on each line of a script's output that starts with it."""
    return [
        json.loads(line.removeprefix(marker))
        for line in output.splitlines()
        if line.startswith(marker)
    ]
