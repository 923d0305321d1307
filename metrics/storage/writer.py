"""The write path shared by every intake: validate, find or create series, refuse out-of-order
and conflicting samples, pack the rest into chunks, all in one transaction.

A caller that gets a WriteResult back may answer 2xx: what it counts as written is committed.

Creating series is the slow part of a write (a row per series and one per label). An intake
passes `max_new_series`: a request that brings more new series than that creates that many,
stores none of its samples and raises NewSeriesPaced, which the intake answers with 503 and
Retry-After. The sender retries the same request, which finds those series and creates the
next ones, until it is stored whole: no request runs past a client's timeout, and nothing is
dropped.

With an external metrics backend (`metrics.backends`) the series rows stay here (identity,
the per-token limit, the running totals of delta sums and span metrics, the newest sample
for order checks) and the accepted samples are forwarded as remote write instead of packed
into chunks, inside the same transaction: the rows only move when the backend acknowledged
the samples, and a backend that fails rolls everything back (the intake answers 503).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from django.conf import settings
from django.db import connection, transaction

from coe_portal.accounts.models import ApiToken
from metrics.backends import remote
from metrics.backends.errors import MetricsReadOnly
from metrics.models import Series, SeriesLabel
from metrics.storage.cardinality import active_series_of
from metrics.storage.encoding import encode_raw_chunk
from metrics.storage.labels import InvalidSeries, series_hash, validate_series

BLOCK_MS = 2 * 60 * 60 * 1000
MAX_ERRORS_REPORTED = 10


@dataclass(slots=True)
class SeriesSamples:
    """Samples for one series, as an intake decoded them (timestamps in ms since the epoch)."""

    name: str
    labels: dict[str, str]
    timestamps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    # OTLP delta sums: each value is an increment to add to the series' running total.
    is_delta: bool = False
    # Increments counted as they are written (span metrics): a timestamp at or before the
    # series' newest sample (a concurrent writer got there first) moves just after it.
    counted_now: bool = False


@dataclass
class WriteResult:
    series: int = 0
    samples_written: int = 0
    samples_rejected: int = 0
    errors: list[str] = field(default_factory=list)
    error_count: int = 0

    def reject(self, samples: int, message: str) -> None:
        self.samples_rejected += samples
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_REPORTED:
            self.errors.append(message)

    def error_summary(self) -> str:
        more = self.error_count - len(self.errors)
        suffix = f"; and {more} more" if more > 0 else ""
        return "; ".join(self.errors) + suffix


class NewSeriesPaced(Exception):
    def __init__(self, created: int, remaining: int) -> None:
        super().__init__(
            f"this request brings {created + remaining} new series: {created} were created "
            f"now and nothing else stored; retry the same request for the next ones"
        )
        self.created = created
        self.remaining = remaining


def write_samples(
    batches: Iterable[SeriesSamples],
    *,
    token: ApiToken | None = None,
    max_new_series: int | None = None,
) -> WriteResult:
    backend = remote()
    if backend is not None and not backend.write_url:
        raise MetricsReadOnly(backend.query_url)
    result = WriteResult()
    grouped: dict[int, SeriesSamples] = {}
    for batch in batches:
        if not batch.timestamps:
            continue
        labels = {key: value for key, value in batch.labels.items() if value != ""}
        try:
            key = _identity(batch.name, tuple(sorted(labels.items())))
        except InvalidSeries as exc:
            result.reject(len(batch.timestamps), str(exc))
            continue
        target = grouped.get(key)
        if target is None:
            grouped[key] = SeriesSamples(
                batch.name, labels, list(batch.timestamps), list(batch.values), batch.is_delta,
                batch.counted_now,
            )  # fmt: skip
        else:
            target.timestamps.extend(batch.timestamps)
            target.values.extend(batch.values)
    if not grouped:
        return result

    with transaction.atomic():
        state = _lock_series(list(grouped))
        missing = [key for key in grouped if key not in state]
        paced = _paced(len(missing), token, max_new_series)
        if paced:
            _create_series(missing[:paced], grouped, token, WriteResult())
        else:
            if missing:
                state.update(_create_series(missing, grouped, token, result))
            _append(grouped, state, result, forward=backend.write if backend else None)
    if paced:
        raise NewSeriesPaced(paced, len(missing) - paced)
    return result


def _paced(missing: int, token: ApiToken | None, max_new_series: int | None) -> int:
    """How many series to create before answering "retry" (0: write the request now). Series
    the token's limit refuses anyway don't count: their refusal is the answer."""
    if not max_new_series or missing <= max_new_series:
        return 0
    limit = settings.METRICS_MAX_SERIES_PER_TOKEN
    if token is not None and limit:
        missing = min(missing, max(0, limit - active_series_of(token)))
    return max_new_series if missing > max_new_series else 0


Forward = Callable[[list[tuple[dict[str, str], list[int], list[float]]]], object]


def _append(
    grouped: dict[int, SeriesSamples],
    state: dict[int, tuple[int, int | None, float | None]],
    result: WriteResult,
    *,
    forward: Forward | None = None,
) -> None:
    chunk_rows: list[tuple[int, int, int, int, int, bytes]] = []
    forwarded: list[tuple[dict[str, str], list[int], list[float]]] = []
    last_rows: list[tuple[int, int, float | None]] = []
    for key, samples in grouped.items():
        if key not in state:
            continue
        series_id, last_timestamp, last_value = state[key]
        accepted = _accept(samples, last_timestamp, last_value, result)
        if accepted is None:
            continue
        timestamps, values = accepted
        if forward is None:
            chunk_rows.extend(_chunks(series_id, timestamps, values))
        else:
            forwarded.append(({"__name__": samples.name, **samples.labels}, timestamps, values))
        final = float(values[-1])
        last_rows.append((series_id, timestamps[-1], None if math.isnan(final) else final))
        result.samples_written += len(timestamps)
        result.series += 1
    if forward is not None and forwarded:
        forward(forwarded)  # raises unless the backend acknowledged every sample
    insert_chunks(chunk_rows)
    _update_last(last_rows)


@lru_cache(maxsize=200_000)
def _identity(name: str, labels: tuple[tuple[str, str], ...]) -> int:
    """Validated series hash; the same series arrive again and again, so it is remembered."""
    as_dict = dict(labels)
    validate_series(name, as_dict)
    return series_hash(name, as_dict)


def _lock_series(keys: list[int]) -> dict[int, tuple[int, int | None, float | None]]:
    # Locked in id order so two writers of overlapping series cannot deadlock.
    if connection.vendor == "postgresql":
        # One array parameter instead of one per series: much cheaper to bind and plan.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT labels_hash, id, last_timestamp, last_value FROM metrics_series "
                "WHERE labels_hash = ANY(%s) ORDER BY id FOR UPDATE",
                [keys],
            )
            rows = cursor.fetchall()
    else:
        rows = list(
            Series.objects.filter(labels_hash__in=keys)
            .order_by("id")
            .values_list("labels_hash", "id", "last_timestamp", "last_value")
        )
    return {key: (series_id, last_ts, last_value) for key, series_id, last_ts, last_value in rows}


def _create_series(
    missing: list[int],
    grouped: dict[int, SeriesSamples],
    token: ApiToken | None,
    result: WriteResult,
) -> dict[int, tuple[int, int | None, float | None]]:
    limit = settings.METRICS_MAX_SERIES_PER_TOKEN
    if token is not None and limit:
        allowed = max(0, limit - active_series_of(token))
        if len(missing) > allowed:
            for key in missing[allowed:]:
                result.reject(
                    len(grouped[key].timestamps),
                    f"series limit reached: token {token.prefix}… is at its limit of {limit} "
                    f"active series; new series {_describe(grouped[key])} was not stored (a "
                    f"series stops counting {settings.METRICS_ACTIVE_SERIES_MINUTES} minutes "
                    "after its last sample)",
                )
            missing = missing[:allowed]
    if not missing:
        return {}
    Series.objects.bulk_create(
        [
            Series(
                metric_name=grouped[key].name,
                labels=grouped[key].labels,
                labels_hash=key,
                team_id=token.team_id if token else None,
                created_by_token=token,
            )
            for key in missing
        ],
        ignore_conflicts=True,  # another writer may have created some of them meanwhile
    )
    created = _lock_series(missing)
    SeriesLabel.objects.bulk_create(
        [
            SeriesLabel(series_id=created[key][0], name=name, value=value)
            for key in missing
            for name, value in grouped[key].labels.items()
        ],
        ignore_conflicts=True,
    )
    return created


def _accept(
    samples: SeriesSamples,
    last_timestamp: int | None,
    last_value: float | None,
    result: WriteResult,
) -> tuple[list[int], list[float]] | None:
    """The samples that may be appended, in time order; refused ones are reported."""
    if samples.counted_now and last_timestamp is not None:
        floor = last_timestamp
        bumped = []
        for moment in sorted(samples.timestamps):
            floor = max(moment, floor + 1)
            bumped.append(floor)
        samples.timestamps = bumped
    ts = samples.timestamps
    if (
        not samples.is_delta
        and (last_timestamp is None or ts[0] > last_timestamp)
        and all(a < b for a, b in itertools.pairwise(ts))
    ):
        return ts, samples.values  # the common case: new samples, in order
    accepted = _accept_slow(samples, last_timestamp, last_value, result)
    if accepted is None:
        return None
    return accepted[0].tolist(), accepted[1].tolist()


def _accept_slow(
    samples: SeriesSamples,
    last_timestamp: int | None,
    last_value: float | None,
    result: WriteResult,
) -> tuple[np.ndarray, np.ndarray] | None:
    timestamps = np.asarray(samples.timestamps, dtype=np.int64)
    values = np.asarray(samples.values, dtype=np.float64)
    order = np.argsort(timestamps, kind="stable")
    timestamps, values = timestamps[order], values[order]
    keep = np.ones(len(timestamps), dtype=bool)
    # Repeats inside the batch: identical ones are harmless, different values conflict.
    repeat = np.zeros(len(timestamps), dtype=bool)
    repeat[1:] = timestamps[1:] == timestamps[:-1]
    if repeat.any():
        previous = np.roll(values, 1)
        conflicting = repeat & (values.view(np.uint64) != previous.view(np.uint64))
        if conflicting.any():
            first = int(timestamps[conflicting][0])
            result.reject(
                int(conflicting.sum()),
                f"duplicate sample for timestamp {first} with a different value in series "
                f"{_describe(samples)}",
            )
        keep &= ~repeat
    if last_timestamp is not None:
        old = timestamps < last_timestamp
        same = timestamps == last_timestamp
        if old.any():
            result.reject(
                int((old & keep).sum()),
                f"out of order sample: timestamp {int(timestamps[old][0])} is older than the "
                f"newest sample ({last_timestamp}) of series {_describe(samples)}",
            )
        if same.any():
            stored = np.float64(np.nan if last_value is None else last_value)
            differs = same & keep & (values != stored) & ~(np.isnan(values) & np.isnan(stored))
            if samples.is_delta:
                # An increment for a time already counted cannot be told from a repeat.
                differs = same & keep
            if differs.any():
                result.reject(
                    int(differs.sum()),
                    f"duplicate sample for timestamp {last_timestamp} with a different value "
                    f"in series {_describe(samples)}",
                )
        keep &= ~(old | same)
    if not keep.any():
        return None
    if samples.is_delta:
        # Only the increments that are kept add to the running total.
        return timestamps[keep], np.cumsum(values[keep]) + (last_value or 0.0)
    return timestamps[keep], values[keep]


def _describe(samples: SeriesSamples) -> str:
    inner = ",".join(f'{key}="{value}"' for key, value in sorted(samples.labels.items()))
    return f"{samples.name}{{{inner}}}"


def _chunks(
    series_id: int, timestamps: list[int], values: list[float]
) -> Iterable[tuple[int, int, int, int, int, bytes]]:
    first_block = timestamps[0] // BLOCK_MS
    if first_block == timestamps[-1] // BLOCK_MS:
        yield _chunk_row(series_id, first_block, timestamps, values)
        return
    start = 0
    for index in range(1, len(timestamps) + 1):
        if (
            index == len(timestamps)
            or timestamps[index] // BLOCK_MS != timestamps[start] // BLOCK_MS
        ):
            block = timestamps[start] // BLOCK_MS
            yield _chunk_row(series_id, block, timestamps[start:index], values[start:index])
            start = index


def _chunk_row(
    series_id: int, block: int, timestamps: list[int], values: list[float]
) -> tuple[int, int, int, int, int, bytes]:
    return (
        series_id,
        block * BLOCK_MS,
        timestamps[0],
        timestamps[-1],
        len(timestamps),
        encode_raw_chunk(timestamps, values),
    )


CHUNK_COLUMNS = "series_id, block, min_time, max_time, count, data"


def insert_chunks(rows: list[tuple[int, int, int, int, int, bytes]]) -> None:
    if not rows:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY in binary form: the fastest bulk path psycopg 3 offers. The raw cursor's
            # errors (disk full, a dropped connection) become Django's, as its own cursor's
            # are, so callers see one kind and Django drops a broken connection.
            raw = cursor.cursor
            with (
                connection.wrap_database_errors,
                raw.copy(
                    f"COPY metrics_chunk ({CHUNK_COLUMNS}) FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.set_types(["int8", "int8", "int8", "int8", "int4", "bytea"])
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(
                f"INSERT INTO metrics_chunk ({CHUNK_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)",  # noqa: S608
                rows,
            )


def _update_last(rows: list[tuple[int, int, float | None]]) -> None:
    if not rows:
        return
    if connection.vendor == "postgresql":
        ids, times, values = (list(column) for column in zip(*rows, strict=True))
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE metrics_series SET last_timestamp = v.t, last_value = v.v "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::double precision[]) AS v(id, t, v) "
                "WHERE metrics_series.id = v.id",
                [ids, times, values],
            )
        return
    # One statement for the whole batch (UPDATE ... FROM VALUES works on PostgreSQL and SQLite).
    values_sql = ", ".join(
        ["(CAST(%s AS BIGINT), CAST(%s AS BIGINT), CAST(%s AS DOUBLE PRECISION))"] * len(rows)
    )
    params = [item for row in rows for item in row]
    with connection.cursor() as cursor:
        sql = (
            "UPDATE metrics_series SET last_timestamp = v.column2, last_value = v.column3 "  # noqa: S608
            f"FROM (VALUES {values_sql}) AS v WHERE metrics_series.id = v.column1"
        )
        cursor.execute(sql, params)
