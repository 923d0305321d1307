"""Decoded chunks kept in memory per process (cache-aside), so a dashboard that refreshes, or
several panels over the same week, do not fetch and decode the same chunks again. A series
assembled from several chunks is kept too, under the keys of its chunks.

Safe because a chunk row is never changed after it is written: compaction and retention delete
rows and write new ones with new ids. Bounded by METRICS_CHUNK_CACHE_MB; least recently used
chunks go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from django.conf import settings

from metrics.storage.encoding import Timestamps, Values

Decoded = tuple[Timestamps, Values]
# A chunk: (id, series id, min_time, max_time, count); a series assembled from several
# chunks: the tuple of their keys.
Key = tuple[int, int, int, int, int] | tuple[tuple[int, int, int, int, int], ...]


class ChunkCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[Key, Decoded] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key) -> Decoded | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: Key, decoded: Decoded) -> None:
        timestamps, values = decoded
        cost = timestamps.nbytes + values.nbytes
        if cost > self.max_bytes:
            return
        timestamps.flags.writeable = False
        values.flags.writeable = False
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = decoded
            self.size += cost
            while self.size > self.max_bytes:
                _, (old_times, old_values) = self._entries.popitem(last=False)
                self.size -= old_times.nbytes + old_values.nbytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.size = 0


cache = ChunkCache(settings.METRICS_CHUNK_CACHE_MB * 1024 * 1024)
