"""What a stored sample costs on disk, before and after compaction."""

from __future__ import annotations

from benchmarks.common import Figure, stored_samples, table_sizes, vacuum_full
from benchmarks.session import Session

BYTES_PER_SAMPLE_TARGET = 16
# Far in the future: every block counts as closed, so compaction merges them all.
FAR_FUTURE_MS = 4_102_444_800_000  # 2100-01-01
COMPACT_ALL = f"""
from metrics.storage.maintenance import compact_chunks
merged = 0
while True:
    groups = compact_chunks(at_ms={FAR_FUTURE_MS}, max_groups=100_000)
    if not groups:
        break
    merged += groups
print(merged)
"""


def _growth_figure(session: Session, name: str, when: str) -> Figure:
    sizes = table_sizes(session.database_url)
    samples = stored_samples(session.database_url) - session.baseline_samples
    growth = {table: sizes[table] - session.baseline_sizes[table] for table in sizes}
    total = sum(growth.values())
    per_table = ", ".join(
        f"{table.removeprefix('metrics_')} {size / 1e6:.1f} MB" for table, size in growth.items()
    )
    return Figure(
        name,
        total / samples if samples else float("nan"),
        "bytes/sample",
        f"{when}; {samples} samples; growth: {per_table}; target <= {BYTES_PER_SAMPLE_TARGET}",
    )


def bytes_per_sample(session: Session) -> list[Figure]:
    """Growth of the three metrics tables over what the benchmarks before this one stored."""
    after_ingest = _growth_figure(
        session, "storage.bytes_per_sample_ingested", "right after ingest"
    )
    merged = int(session.shell(COMPACT_ALL).strip() or 0)
    vacuum_full(session.database_url)
    compacted = _growth_figure(
        session,
        "storage.bytes_per_sample_compacted",
        f"after compacting {merged} (series, block) groups and VACUUM FULL",
    )
    return [after_ingest, compacted]
