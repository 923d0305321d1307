"""The read path: select series by label matchers, then load their samples for a time range."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from django.db import connection

from metrics.models import Chunk, Series, SeriesLabel
from metrics.storage.chunk_cache import cache as chunk_cache
from metrics.storage.encoding import Timestamps, Values, decode_chunk
from metrics.storage.matchers import EQUAL, NAME, NOT_EQUAL, NOT_REGEX, REGEX, Matcher

__all__ = ["EQUAL", "NAME", "NOT_EQUAL", "NOT_REGEX", "REGEX", "Matcher", "SeriesRef"]


@dataclass(frozen=True, slots=True)
class SeriesRef:
    id: int
    name: str
    labels: dict[str, str]

    def all_labels(self) -> dict[str, str]:
        return {NAME: self.name, **self.labels}


def select_series(matchers: Sequence[Matcher]) -> list[SeriesRef]:
    """Series whose labels satisfy every matcher (a missing label counts as the empty string).

    Matchers that cannot match the empty string narrow the candidates in SQL through the label
    index; every matcher is then checked on the candidates' full label sets.
    """
    queryset = Series.objects.all()
    narrowed = False
    for matcher in matchers:
        if matcher.matches(""):
            continue
        narrowed = True
        if matcher.name == NAME:
            if matcher.op == EQUAL:
                queryset = queryset.filter(metric_name=matcher.value)
            else:
                names = Series.objects.values_list("metric_name", flat=True).distinct()
                queryset = queryset.filter(metric_name__in=[n for n in names if matcher.matches(n)])
        elif matcher.op == EQUAL:
            queryset = queryset.filter(
                id__in=SeriesLabel.objects.filter(name=matcher.name, value=matcher.value).values(
                    "series_id"
                )
            )
        else:
            values = (
                SeriesLabel.objects.filter(name=matcher.name)
                .values_list("value", flat=True)
                .distinct()
            )
            wanted = [value for value in values if matcher.matches(value)]
            queryset = queryset.filter(
                id__in=SeriesLabel.objects.filter(name=matcher.name, value__in=wanted).values(
                    "series_id"
                )
            )
    if not narrowed:
        raise ValueError(
            "a selector needs at least one matcher that does not match the empty string"
        )
    found = []
    for series_id, name, labels in queryset.values_list("id", "metric_name", "labels"):
        full = {NAME: name, **labels}
        if all(matcher.matches(full.get(matcher.name, "")) for matcher in matchers):
            found.append(SeriesRef(series_id, name, labels))
    return found


def read_samples(
    series_ids: Iterable[int], start_ms: int, end_ms: int
) -> dict[int, tuple[Timestamps, Values]]:
    """Samples with start_ms <= t <= end_ms, per series id, in time order.

    Chunks already decoded in this process come from the chunk cache; only the others are
    fetched (one array parameter, no ORDER BY: pieces are put in order in memory)."""
    ids = list(series_ids)
    if not ids:
        return {}
    try:
        return _read_samples(ids, start_ms, end_ms)
    except _ChunkGone:
        # Compaction replaced chunks between our two queries: read again, once.
        return _read_samples(ids, start_ms, end_ms)


class _ChunkGone(Exception):
    pass


def _read_samples(
    ids: list[int], start_ms: int, end_ms: int
) -> dict[int, tuple[Timestamps, Values]]:
    chunks_of: dict[int, list[tuple[int, int, int, int, int]]] = defaultdict(list)
    for key in _chunk_keys(ids, start_ms, end_ms):
        chunks_of[key[1]].append(key)

    # A series whose chunks were all read together before is found assembled in the cache
    # (a dashboard refreshing the same range); otherwise its chunks are gathered.
    assembled: dict[int, tuple[Timestamps, Values]] = {}
    wanted: dict[int, tuple[int, int, int, int, int]] = {}
    for series_id, keys in chunks_of.items():
        keys.sort(key=lambda key: key[2])
        if len(keys) > 1 and (hit := chunk_cache.get(tuple(keys))) is not None:
            assembled[series_id] = hit
        else:
            wanted.update((key[0], key) for key in keys)
    decoded_chunks: dict[int, tuple[Timestamps, Values]] = {}
    missing = []
    for chunk_id, key in wanted.items():
        decoded = chunk_cache.get(key)
        if decoded is None:
            missing.append(chunk_id)
        else:
            decoded_chunks[chunk_id] = decoded
    for chunk_id, _, data in _chunk_data(missing):
        decoded_chunks[chunk_id] = decode_chunk(bytes(data))
        chunk_cache.put(wanted[chunk_id], decoded_chunks[chunk_id])
    if len(decoded_chunks) < len(wanted):
        raise _ChunkGone

    result: dict[int, tuple[Timestamps, Values]] = {}
    for series_id, keys in chunks_of.items():
        if series_id in assembled:
            timestamps, values = assembled[series_id]
        elif len(keys) == 1:
            timestamps, values = decoded_chunks[keys[0][0]]
        else:
            pieces = [decoded_chunks[key[0]] for key in keys]
            timestamps = np.concatenate([piece[0] for piece in pieces])
            values = np.concatenate([piece[1] for piece in pieces])
            if not bool(np.all(timestamps[1:] > timestamps[:-1])):
                order = np.argsort(timestamps, kind="stable")
                timestamps, values = timestamps[order], values[order]
            chunk_cache.put(tuple(keys), (timestamps, values))
        low = int(np.searchsorted(timestamps, start_ms, side="left"))
        high = int(np.searchsorted(timestamps, end_ms, side="right"))
        result[series_id] = (timestamps[low:high], values[low:high])
    return result


def _chunk_keys(ids: list[int], start_ms: int, end_ms: int) -> list[tuple[int, int, int, int, int]]:
    """(id, series, first and last time, count) of each chunk: the cache's key. The times and
    count guard against an id that SQLite hands out again after the row with it was deleted."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, series_id, min_time, max_time, count FROM metrics_chunk "
                "WHERE series_id = ANY(%s) AND max_time >= %s AND min_time <= %s",
                [ids, start_ms, end_ms],
            )
            return cursor.fetchall()
    return list(
        Chunk.objects.filter(
            series_id__in=ids, max_time__gte=start_ms, min_time__lte=end_ms
        ).values_list("id", "series_id", "min_time", "max_time", "count")
    )


def _chunk_data(chunk_ids: list[int]) -> list[tuple[int, int, bytes | memoryview]]:
    if not chunk_ids:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, series_id, data FROM metrics_chunk WHERE id = ANY(%s)", [chunk_ids]
            )
            return cursor.fetchall()
    return list(Chunk.objects.filter(id__in=chunk_ids).values_list("id", "series_id", "data"))
