"""The span table's day partitions on PostgreSQL: `metrics_span_YYYYMMDD` holds the spans that
start on that UTC day; `metrics_span_default` catches spans written before their day had a
partition (by the ORM, say). The intake makes sure the days of a batch have partitions before
it writes; beat creates today's and tomorrow's ahead of time; retention drops whole days.
Elsewhere (SQLite) there is one table and these functions do nothing."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable

from django.db import connection, transaction

from metrics.traces.models import NANOS_PER_DAY

PARENT = "metrics_span"
DEFAULT = "metrics_span_default"
NAME_RE = re.compile(r"metrics_span_(\d{8})")
EPOCH = datetime.date(1970, 1, 1)
# pg_advisory_xact_lock key serialising partition changes (ascii "spanpart").
LOCK_KEY = 0x7370616E70617274
# Retention waits at most this long for the table lock a drop needs, then tries next pass.
DROP_LOCK_TIMEOUT = "5s"


def partitioned() -> bool:
    return connection.vendor == "postgresql"


def partition_name(day: int) -> str:
    return f"{PARENT}_{EPOCH + datetime.timedelta(days=day):%Y%m%d}"


def partition_day(name: str) -> int | None:
    match = NAME_RE.fullmatch(name)
    if match is None:
        return None
    return (datetime.datetime.strptime(match[1], "%Y%m%d").date() - EPOCH).days


# Days whose partition this process saw committed: the intake asks the catalog only about
# others. Should retention drop one meanwhile, its late spans land in the default partition,
# which retention empties too: a stale entry costs nothing.
_existing: set[int] = set()


def ensure_span_partitions(days: Iterable[int]) -> list[int]:
    """Create the missing partitions of these days (each in a short transaction of its own,
    moving the day's spans out of the default partition); returns the days created."""
    if not partitioned():
        return []
    names = {partition_name(day): day for day in set(days) - _existing}
    if not names:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NULL",
            [list(names)],
        )
        missing = sorted(names[name] for (name,) in cursor.fetchall())
    created = [day for day in missing if _create_partition(day)]
    seen = set(names.values())
    transaction.on_commit(lambda: _existing.update(seen))
    return created


def _create_partition(day: int) -> bool:
    """Attach a new partition for the day. ATTACH takes a lighter lock on the span table than
    CREATE TABLE … PARTITION OF, so writers of other days go on meanwhile."""
    name = partition_name(day)
    low, high = day * NANOS_PER_DAY, (day + 1) * NANOS_PER_DAY
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        cursor.execute("SELECT to_regclass(%s)", [name])
        if cursor.fetchone()[0] is not None:
            return False  # another process made it meanwhile
        cursor.execute(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS)")
        cursor.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT} WHERE start_ns >= %s AND start_ns < %s "  # noqa: S608 (constant names)
            f"RETURNING *) INSERT INTO {name} SELECT * FROM moved",
            [low, high],
        )
        cursor.execute(
            f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ({low}) TO ({high})"
        )
    return True


def day_partitions() -> dict[int, str]:
    """The day partitions that exist, by day."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [PARENT],
        )
        found = ((partition_day(name), name) for (name,) in cursor.fetchall())
        return {day: name for day, name in found if day is not None}


def drop_span_partitions_before(first_kept_day: int) -> int:
    """Drop the day partitions before `first_kept_day`; returns how many spans they held."""
    dropped = 0
    for day, name in sorted(day_partitions().items()):
        if day >= first_kept_day:
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
            cursor.execute(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'")
            cursor.execute(f"SELECT count(*) FROM {name}")  # noqa: S608 (a partition's name)
            dropped += cursor.fetchone()[0]
            cursor.execute(f"DROP TABLE {name}")
    return dropped
