"""Span durations as people type them: "250ms", "1.5s", "1m30s" (PromQL's units plus ns and us,
and, as Tempo and Jaeger accept, fractions), in nanoseconds."""

from __future__ import annotations

import re
from decimal import Decimal

from metrics.promql.lexer import DURATION_UNITS

NANOS_PER_MS = 1_000_000
UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    **{unit: ms * NANOS_PER_MS for unit, ms in DURATION_UNITS.items()},
}
_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h|d|w|y)")
_WHOLE = re.compile(rf"(?:{_PART.pattern})+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?|\.\d+")
MAX_NS = 2**63 - 1


def parse_span_duration(text: str, *, bare_number_ms: bool = False) -> int:
    """Nanoseconds; with `bare_number_ms`, a plain number counts as milliseconds. ValueError
    says what is wrong."""
    raw = text.strip().replace(" ", "")
    if bare_number_ms and _NUMBER.fullmatch(raw):
        nanos = Decimal(raw) * NANOS_PER_MS
    elif _WHOLE.fullmatch(raw):
        nanos = sum((Decimal(n) * UNITS_NS[unit] for n, unit in _PART.findall(raw)), Decimal(0))
    else:
        plain = "a number of milliseconds or " if bare_number_ms else ""
        raise ValueError(
            f'"{text}" is not a duration: write {plain}a number with a unit '
            "(ns, us, ms, s, m, h, d, w, y), e.g. 250ms, 1.5s"
        )
    if nanos > MAX_NS:
        raise ValueError(f'"{text}" is too long a duration')
    return int(nanos)
