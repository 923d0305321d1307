"""Keeping the store small: merge the small chunks ingestion writes, drop data past retention."""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Count

from metrics.models import Chunk, Series
from metrics.storage.encoding import decode_chunk, encode_chunk
from metrics.storage.writer import BLOCK_MS, insert_chunks

# A block still being written is merged too once it holds this many chunks.
OPEN_BLOCK_MERGE_AT = 30
# Whole days that have ended are merged into one chunk per series: long-range queries then
# read a few large chunks instead of twelve per series per day.
DAY_MS = 24 * 60 * 60 * 1000


def now_ms() -> int:
    return int(time.time() * 1000)


def target_block(block: int, now: int) -> int:
    """Where a chunk of `block` belongs once compacted: its day if the day has ended, else its
    2-hour block."""
    day = block - block % DAY_MS
    return day if day + DAY_MS <= now else block


def compact_chunks(*, at_ms: int | None = None, max_groups: int = 50_000, batch: int = 200) -> int:
    """Merge chunks: a 2-hour block's once it has ended (or holds OPEN_BLOCK_MERGE_AT chunks),
    then a whole day's once the day has ended. Batches of groups, each one transaction.
    Returns the number of merged chunks written."""
    now = at_ms or now_ms()
    current_block = (now // BLOCK_MS) * BLOCK_MS
    counts: dict[tuple[int, int], int] = defaultdict(int)
    per_block = (
        Chunk.objects.values_list("series_id", "block").annotate(chunks=Count("id")).order_by()
    )
    for series_id, block, chunks in per_block:
        target = target_block(block, now)
        if target == block and block >= current_block and chunks < OPEN_BLOCK_MERGE_AT:
            continue  # the open block, still small
        counts[(series_id, target)] += chunks
    due = [key for key, chunks in counts.items() if chunks > 1][:max_groups]
    merged = 0
    for start in range(0, len(due), batch):
        merged += _merge_groups(due[start : start + batch], now)
    return merged


@transaction.atomic
def _merge_groups(groups: list[tuple[int, int]], now: int) -> int:
    series_ids = sorted({series_id for series_id, _ in groups})
    wanted = set(groups)
    low = min(target for _, target in groups)
    high = max(target for _, target in groups) + DAY_MS
    parts: dict[tuple[int, int], list[tuple[int, bytes]]] = defaultdict(list)
    rows = (
        Chunk.objects.select_for_update()
        .filter(series_id__in=series_ids, block__gte=low, block__lt=high)
        .values_list("id", "series_id", "block", "data")
    )
    for chunk_id, series_id, block, data in rows:
        key = (series_id, target_block(block, now))
        if key in wanted:
            parts[key].append((chunk_id, bytes(data)))
    obsolete: list[int] = []
    new_rows: list[tuple[int, int, int, int, int, bytes]] = []
    for (series_id, block), chunks in parts.items():
        if len(chunks) < 2:
            continue
        decoded = [decode_chunk(data) for _, data in chunks]
        timestamps = np.concatenate([part[0] for part in decoded])
        values = np.concatenate([part[1] for part in decoded])
        order = np.argsort(timestamps, kind="stable")
        timestamps, values = timestamps[order], values[order]
        obsolete.extend(chunk_id for chunk_id, _ in chunks)
        new_rows.append(
            (
                series_id,
                block,
                int(timestamps[0]),
                int(timestamps[-1]),
                len(timestamps),
                encode_chunk(timestamps, values),
            )
        )
    Chunk.objects.filter(id__in=obsolete).delete()
    insert_chunks(new_rows)
    return len(new_rows)


def enforce_retention(*, at_ms: int | None = None) -> tuple[int, int]:
    """Drop whole blocks older than the retention period, then series left with no samples.

    Returns (chunks deleted, series deleted)."""
    cutoff = (at_ms or now_ms()) - settings.METRICS_RETENTION_DAYS * 86_400_000
    # Whole chunks only (a 2-hour block, or a day once compacted): never a partial one.
    chunks_deleted, _ = Chunk.objects.filter(max_time__lt=cutoff).delete()
    # The conditions are checked again in the deleting statement: a series written to meanwhile
    # has a newer last_timestamp or a chunk, and stays.
    candidates = list(
        Series.objects.filter(last_timestamp__lt=cutoff, chunks__isnull=True).values_list(
            "id", flat=True
        )
    )
    with transaction.atomic():
        _, per_model = (
            Series.objects.filter(id__in=candidates, last_timestamp__lt=cutoff)
            .exclude(id__in=Chunk.objects.filter(series_id__in=candidates).values("series_id"))
            .delete()
        )
    return chunks_deleted, per_model.get("metrics.Series", 0)
