"""Pull intake: scrape endpoints in Prometheus exposition format (text 0.0.4 or OpenMetrics),
the way Prometheus does.

Each scrape stores the exposed samples with the target's labels (`job`, `instance`, `service`
and the target's extra labels; an exposed label that clashes is kept as `exported_<name>`, as
with `honor_labels: false`), the meta series `up`, `scrape_duration_seconds` and
`scrape_samples_scraped`, and a stale marker for each series the previous scrape returned and
this one did not. A failed scrape (HTTP error, timeout, oversized or unparsable body) stores none
of its samples: `up` is 0 and every series of the previous scrape goes stale.

HTTP and parsing never touch the database, so due targets are fetched in parallel threads;
claims, writes and health updates stay on the calling thread.
"""

from __future__ import annotations

import http.client
import logging
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import slugify
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families as text_families
from prometheus_client.samples import Timestamp

from metrics.backends import is_read_only
from metrics.backends.errors import BackendRejectedWrite, BackendUnavailable
from metrics.models import ScrapeTarget, Series
from metrics.storage.encoding import STALE_NAN
from metrics.storage.labels import series_hash
from metrics.storage.writer import SeriesSamples, WriteResult, write_samples

logger = logging.getLogger(__name__)

ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
OPENMETRICS_TYPE = "application/openmetrics-text"
USER_AGENT = "coe-portal-scraper/1.0"
READ_CHUNK_BYTES = 64 * 1024
# Families whose `<name>_created` samples are start times (OpenMetrics), not measurements.
START_TIME_TYPES = frozenset({"counter", "histogram", "summary"})
# Bounds the `last_series` column; series beyond it get no stale marker when they go.
MAX_TRACKED_SERIES = 100_000
MAX_PARALLEL_SCRAPES = 16
LOOKUP_BATCH = 500

# Prometheus ignores proxy environment variables unless told otherwise; so do we.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ScrapeError(Exception):
    """Why a scrape failed, worded for the target's `last_error`."""


@dataclass(frozen=True, slots=True)
class ScrapedSample:
    name: str
    labels: dict[str, str]
    value: float
    timestamp_ms: int
    # Series with their own timestamps are left out of staleness tracking, as in Prometheus.
    has_timestamp: bool = False


@dataclass(slots=True)
class ParsedScrape:
    samples: list[ScrapedSample] = field(default_factory=list)


@dataclass(slots=True)
class ScrapeOutcome:
    target_labels: dict[str, str]
    timestamp_ms: int
    duration_seconds: float
    error: str = ""
    series: list[SeriesSamples] = field(default_factory=list)
    # Hashes of the series this scrape returned (those without explicit timestamps).
    tracked_series: list[int] = field(default_factory=list)

    @property
    def up(self) -> bool:
        return not self.error

    @property
    def samples_scraped(self) -> int:
        return len(self.series)

    def meta_series(self) -> list[SeriesSamples]:
        meta = {
            "up": 1.0 if self.up else 0.0,
            "scrape_duration_seconds": self.duration_seconds,
            "scrape_samples_scraped": float(self.samples_scraped),
        }
        return [
            SeriesSamples(name, dict(self.target_labels), [self.timestamp_ms], [value])
            for name, value in meta.items()
        ]


# Parsing -----------------------------------------------------------------------------------


def parse_exposition(text: str, content_type: str, *, default_timestamp_ms: int) -> ParsedScrape:
    """Samples of a scrape body; `*_created` start times are left out. Raises ScrapeError."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    parser = openmetrics_families if media_type == OPENMETRICS_TYPE else text_families
    try:
        families = list(parser(text))
    except Exception as exc:  # the parsers raise several types on malformed input
        raise ScrapeError(f"cannot parse the {media_type or 'text'} body: {exc}") from None
    # OpenMetrics reports them inside the counter's family; text 0.0.4 (prometheus_client's
    # output) as a gauge family of their own named after the counter, histogram or summary.
    start_time_names = {
        f"{family.name}_created" for family in families if family.type in START_TIME_TYPES
    }
    parsed = ParsedScrape()
    for family in families:
        for sample in family.samples:
            if sample.name in start_time_names:
                continue
            if sample.native_histogram is not None or sample.value is None:
                continue
            timestamp_ms = _timestamp_ms(sample.timestamp)
            parsed.samples.append(
                ScrapedSample(
                    name=sample.name,
                    labels=dict(sample.labels),
                    value=float(sample.value),
                    timestamp_ms=default_timestamp_ms if timestamp_ms is None else timestamp_ms,
                    has_timestamp=timestamp_ms is not None,
                )
            )
    return parsed


def _timestamp_ms(timestamp: float | Timestamp | None) -> int | None:
    """Both parsers give seconds: a float, or OpenMetrics's exact (sec, nsec)."""
    if timestamp is None:
        return None
    if isinstance(timestamp, Timestamp):
        return timestamp.sec * 1000 + timestamp.nsec // 1_000_000
    return round(timestamp * 1000)


# Labels ------------------------------------------------------------------------------------


def instance_label(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{host}:{port}"


def target_labels(target: ScrapeTarget) -> dict[str, str]:
    return {
        "instance": instance_label(target.url),
        **target.labels,
        "job": target.job or slugify(target.service.name),
        "service": target.service.name,
    }


def merge_target_labels(exposed: dict[str, str], target: dict[str, str]) -> dict[str, str]:
    """Target labels win; an exposed label they replace is kept as `exported_<name>`."""
    labels = dict(exposed)
    for name, value in target.items():
        if name in labels:
            renamed = f"exported_{name}"
            while renamed in labels:
                renamed = f"exported_{renamed}"
            labels[renamed] = labels.pop(name)
        labels[name] = value
    return labels


# HTTP --------------------------------------------------------------------------------------


def fetch(url: str, *, timeout: float, max_bytes: int) -> tuple[str, str]:
    """The body as text and its Content-Type. Raises ScrapeError."""
    request = urllib.request.Request(  # noqa: S310 (URLValidator allows http and https only)
        url,
        headers={
            "Accept": ACCEPT,
            "Accept-Encoding": "gzip",
            "User-Agent": USER_AGENT,
            "X-Prometheus-Scrape-Timeout-Seconds": str(timeout),
        },
    )
    deadline = time.monotonic() + timeout
    try:
        with _opener.open(request, timeout=timeout) as response:
            content_type = response.headers.get("Content-Type", "")
            encoding = response.headers.get("Content-Encoding", "").strip().lower()
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise ScrapeError(f"body of {declared} bytes exceeds the limit of {max_bytes}")
            body = _read_capped(response, max_bytes=max_bytes, deadline=deadline)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise ScrapeError(f"server returned HTTP status {exc.code} {exc.reason}") from None
    except TimeoutError:
        raise ScrapeError(f"scrape timed out after {timeout:g}s") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise ScrapeError(f"scrape timed out after {timeout:g}s") from None
        raise ScrapeError(f"cannot reach {url}: {exc.reason}") from None
    except (http.client.HTTPException, OSError, ValueError) as exc:
        raise ScrapeError(f"request to {url} failed: {exc!r}") from None
    if encoding == "gzip":
        body = _gunzip(body, max_bytes=max_bytes)
    elif encoding not in ("", "identity"):
        raise ScrapeError(f"unsupported Content-Encoding {encoding!r}")
    try:
        return body.decode("utf-8"), content_type
    except UnicodeDecodeError as exc:
        raise ScrapeError(f"body is not UTF-8 text: {exc}") from None


def _read_capped(response: http.client.HTTPResponse, *, max_bytes: int, deadline: float) -> bytes:
    # The socket timeout bounds each read; the deadline bounds a server that trickles bytes.
    parts: list[bytes] = []
    size = 0
    while chunk := response.read(READ_CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise ScrapeError(f"body exceeds the limit of {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise TimeoutError
        parts.append(chunk)
    return b"".join(parts)


def _gunzip(body: bytes, *, max_bytes: int) -> bytes:
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        text = decompressor.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise ScrapeError(f"invalid gzip body: {exc}") from None
    if len(text) > max_bytes:
        raise ScrapeError(f"uncompressed body exceeds the limit of {max_bytes} bytes")
    if not decompressor.eof:
        raise ScrapeError("truncated gzip body")
    return text


def scrape_target(target: ScrapeTarget, *, now_ms: int) -> ScrapeOutcome:
    """Fetch and parse one target (no database access: load `target.service` beforehand)."""
    labels = target_labels(target)
    started = time.monotonic()
    try:
        text, content_type = fetch(
            target.url,
            timeout=float(target.timeout_seconds),
            max_bytes=settings.SCRAPE_MAX_BODY_BYTES,
        )
        parsed = parse_exposition(text, content_type, default_timestamp_ms=now_ms)
    except ScrapeError as exc:
        return ScrapeOutcome(labels, now_ms, time.monotonic() - started, error=str(exc))
    outcome = ScrapeOutcome(labels, now_ms, time.monotonic() - started)
    for sample in parsed.samples:
        series = SeriesSamples(
            sample.name,
            merge_target_labels(sample.labels, labels),
            [sample.timestamp_ms],
            [sample.value],
        )
        outcome.series.append(series)
        if not sample.has_timestamp and len(outcome.tracked_series) < MAX_TRACKED_SERIES:
            outcome.tracked_series.append(series_hash(series.name, series.labels))
    return outcome


# Scheduling and recording ------------------------------------------------------------------


def next_scrape_time(slot: datetime | None, interval_seconds: int, now: datetime) -> datetime:
    """The first slot after `now` in the target's rhythm (missed slots are skipped)."""
    interval = timedelta(seconds=interval_seconds)
    if slot is None:
        return now + interval
    missed = max(0, (now - slot) // interval)
    return slot + (missed + 1) * interval


def scrape_target_claim(*, target: ScrapeTarget, now: datetime) -> bool:
    """Move the target's slot forward if nobody else did: True means this caller scrapes it."""
    slot = target.next_scrape_at
    next_slot = next_scrape_time(slot, target.interval_seconds, now)
    claimed = ScrapeTarget.objects.filter(id=target.id, next_scrape_at=slot).update(
        next_scrape_at=next_slot
    )
    if claimed == 1:
        target.next_scrape_at = next_slot
    return claimed == 1


def scrape_record(*, target: ScrapeTarget, outcome: ScrapeOutcome, now: datetime) -> WriteResult:
    """Store a scrape's samples, meta series and stale markers; update the target's health."""
    current = set(outcome.tracked_series)
    gone = set(target.last_series) - current
    with transaction.atomic():
        result = write_samples(
            [
                *outcome.series,
                *outcome.meta_series(),
                *_stale_markers(gone, timestamp_ms=outcome.timestamp_ms),
            ]
        )
        ScrapeTarget.objects.filter(id=target.id).update(
            last_scrape_at=now,
            last_duration_seconds=outcome.duration_seconds,
            last_error=outcome.error,
            last_samples=outcome.samples_scraped,
            last_series=sorted(current),
        )
    if result.samples_rejected:
        logger.warning(
            "scrape of %s: %d samples not stored: %s",
            target.url,
            result.samples_rejected,
            result.error_summary(),
        )
    return result


def _stale_markers(hashes: Iterable[int], *, timestamp_ms: int) -> list[SeriesSamples]:
    wanted = list(hashes)
    markers = []
    for start in range(0, len(wanted), LOOKUP_BATCH):
        rows = Series.objects.filter(labels_hash__in=wanted[start : start + LOOKUP_BATCH])
        for name, labels in rows.values_list("metric_name", "labels"):
            markers.append(SeriesSamples(name, labels, [timestamp_ms], [STALE_NAN]))
    return markers


def scrape_due_targets(*, now: datetime | None = None, limit: int = 50) -> int:
    """Claim up to `limit` due targets, scrape them in parallel and record each. Returns how
    many this call scraped; targets another worker claimed for the same slot are skipped."""
    if is_read_only():
        return 0  # nowhere to write: the store the portal reads does its own scraping
    now = now or timezone.now()
    due = (
        ScrapeTarget.objects.filter(enabled=True)
        .filter(Q(next_scrape_at__isnull=True) | Q(next_scrape_at__lte=now))
        .select_related("service")
        .order_by(F("next_scrape_at").asc(nulls_first=True), "id")[:limit]
    )
    claimed = [target for target in due if scrape_target_claim(target=target, now=now)]
    if not claimed:
        return 0
    now_ms = int(now.timestamp() * 1000)
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_SCRAPES, len(claimed))) as pool:
        outcomes = list(pool.map(lambda target: scrape_target(target, now_ms=now_ms), claimed))
    for target, outcome in zip(claimed, outcomes, strict=True):
        try:
            scrape_record(target=target, outcome=outcome, now=now)
        except (BackendUnavailable, BackendRejectedWrite) as exc:
            # Not stored: the target's page says why, and the other targets are still recorded.
            logger.warning("scrape of %s: %s", target.url, exc)
            ScrapeTarget.objects.filter(id=target.id).update(
                last_scrape_at=now, last_error=f"samples not stored: {exc}"
            )
    return len(claimed)
