"""Claiming a minute's evaluation of many rows in one statement (SLOs, alarms): the rows whose
`last_evaluated_at` is before the minute get it, and only the ids this statement changed come
back, so two workers running the same pass never both evaluate a row."""

from __future__ import annotations

from datetime import datetime

from django.db import connection, models
from django.db.models import Model


def claim_due(model: type[Model], minute: datetime, *, extra_where: str = "") -> list[int]:
    table = model._meta.db_table
    field = model._meta.get_field("last_evaluated_at")
    assert isinstance(field, models.DateTimeField)
    value = field.get_db_prep_value(minute, connection)
    where = f" AND {extra_where}" if extra_where else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_evaluated_at = %s "  # noqa: S608 (names from the model)
            f"WHERE enabled AND (last_evaluated_at IS NULL OR last_evaluated_at < %s){where} "
            "RETURNING id",
            [value, value],
        )
        return [row[0] for row in cursor.fetchall()]
