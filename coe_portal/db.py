"""Database helpers shared by the apps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection


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
