"""The PromQL an SLO needs, built from its spec: bad events and total events over a window.

Ratio SLIs follow Sloth: queries carry a `{{window}}` (or `{{.window}}`) placeholder and
return per-second rates (`sum(rate(x[{{window}}]))`) or counts (`increase`). A query without
the placeholder must be a plain counter selector; it is wrapped in `sum(increase(...[window]))`.
Latency SLIs count requests in the histogram bucket at the threshold against all requests.
Pure functions: the only I/O is the caller's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from metrics.promql.ast import VectorSelector
from metrics.promql.errors import ParseError
from metrics.promql.lexer import parse_duration
from metrics.promql.parser import parse
from metrics.slo.spec import LatencySLI, RatioSLI, SLOSpec

PLACEHOLDER = re.compile(r"\{\{\s*\.?window\s*\}\}")


class SLIError(ValueError):
    pass


@dataclass(frozen=True)
class EventQueries:
    """PromQL for bad and total events over one window, and the factor turning each result into
    a count of events (the window's seconds for per-second rates, 1 for counts)."""

    bad: str
    total: str
    bad_scale: float
    total_scale: float
    # When the SLI counts good events, bad = total - good is computed by the caller.
    bad_is_good: bool = False


def _windowed(query: str, window: str) -> tuple[str, float]:
    seconds = parse_duration(window) / 1000
    if PLACEHOLDER.search(query):
        text = PLACEHOLDER.sub(window, query)
        scale = seconds if re.search(r"\b(i?rate)\s*\(", text) else 1.0
        return text, scale
    try:
        expr = parse(query)
    except ParseError as exc:
        raise SLIError(f"invalid PromQL {query!r}: {exc}") from None
    if not isinstance(expr, VectorSelector):
        raise SLIError(
            f"query {query!r} has no {{{{window}}}} placeholder, so it must be a plain counter "
            'selector such as http_requests_total{code=~"5.."}'
        )
    return f"sum(increase({query}[{window}]))", 1.0


def event_queries(spec: SLOSpec, window: str) -> EventQueries:
    sli = spec.sli
    if isinstance(sli, RatioSLI):
        total, total_scale = _windowed(sli.total_query, window)
        if sli.bad_query is not None:
            bad, bad_scale = _windowed(sli.bad_query, window)
            return EventQueries(bad, total, bad_scale, total_scale)
        if sli.good_query is None:
            raise SLIError("a ratio SLI needs a good or a bad query")
        good, good_scale = _windowed(sli.good_query, window)
        return EventQueries(good, total, good_scale, total_scale, bad_is_good=True)
    assert isinstance(sli, LatencySLI)
    matchers = f"{sli.matchers}," if sli.matchers else ""
    bound = format_bound(float(sli.threshold_seconds))
    good = f'sum(increase({sli.histogram}_bucket{{{matchers}le="{bound}"}}[{window}]))'
    total = f"sum(increase({sli.histogram}_count{{{sli.matchers}}}[{window}]))"
    return EventQueries(good, total, 1.0, 1.0, bad_is_good=True)


def format_bound(value: float) -> str:
    """A bucket boundary as exporters write `le`: 0.5, 1, 2.5."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def bucket_query(sli: LatencySLI) -> str:
    """The selector listing the histogram's buckets, to check the threshold is one of them."""
    return f"{sli.histogram}_bucket{{{sli.matchers}}}"


def check_threshold(sli: LatencySLI, bucket_bounds: set[str]) -> None:
    """The threshold must be a bucket boundary: between two boundaries the fraction of fast
    requests is unknown (interpolating would make the SLO lie)."""
    wanted = float(sli.threshold_seconds)
    bounds = sorted(float(b) for b in bucket_bounds if b != "+Inf")
    if wanted not in bounds:
        shown = ", ".join(format_bound(b) for b in bounds) or "none found"
        raise SLIError(
            f"latency threshold {format_bound(wanted)} s is not a bucket boundary of "
            f"{sli.histogram} (boundaries: {shown})"
        )


def validate_queries(spec: SLOSpec) -> None:
    """Every query the SLO will run must parse (checked with a 5m window)."""
    queries = event_queries(spec, "5m")
    for text in (queries.bad, queries.total):
        try:
            parse(text)
        except ParseError as exc:
            raise SLIError(f"invalid PromQL {text!r}: {exc}") from None
