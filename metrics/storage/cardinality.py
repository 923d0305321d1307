"""How many series the store holds and who made them: the active-series limit per token, the
`/api/v1/status/tsdb` figures and the `coe_portal_active_series` gauge.

A series is active while it has had a sample (by sample time) or was created within the last
METRICS_ACTIVE_SERIES_MINUTES; one that stops receiving samples stops counting against its
token's limit, as Mimir counts active series. Counting creation time too keeps a backfill of
old samples from creating series without limit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from coe_portal.accounts.models import ApiToken
from metrics.models import Chunk, Series, SeriesLabel

WARN_AT = 0.8  # the token page warns from 80 % of the limit
logger = logging.getLogger(__name__)


def _window_start_ms() -> int:
    return int((time.time() - settings.METRICS_ACTIVE_SERIES_MINUTES * 60) * 1000)


def _active() -> Q:
    window = timedelta(minutes=settings.METRICS_ACTIVE_SERIES_MINUTES)
    return Q(last_timestamp__gte=_window_start_ms()) | Q(created_at__gte=timezone.now() - window)


def active_series() -> QuerySet[Series]:
    return Series.objects.filter(_active())


def active_series_of(token: ApiToken) -> int:
    return active_series().filter(created_by_token=token).count()


@dataclass(frozen=True)
class TokenUsage:
    token: ApiToken
    active: int
    limit: int  # 0: no limit

    @property
    def fraction(self) -> float | None:
        return self.active / self.limit if self.limit else None

    @property
    def near_limit(self) -> bool:
        return self.limit > 0 and self.active >= WARN_AT * self.limit

    @property
    def at_limit(self) -> bool:
        return self.limit > 0 and self.active >= self.limit


def token_usage(tokens: QuerySet[ApiToken]) -> list[TokenUsage]:
    """Active series per token, in one query."""
    counts = dict(
        active_series()
        .filter(created_by_token__in=tokens)
        .values("created_by_token")
        .annotate(n=Count("id"))
        .values_list("created_by_token", "n")
    )
    limit = settings.METRICS_MAX_SERIES_PER_TOKEN
    return [TokenUsage(token, counts.get(token.pk, 0), limit) for token in tokens]


def _estimated_rows(table: str, exact: QuerySet[Any]) -> int:
    """PostgreSQL's row estimate for a big table (counting chunks exactly would scan it)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [table])
            row = cursor.fetchone()
        if row and row[0] >= 0:
            return int(row[0])
    return exact.count()


def _top(rows: Any, limit: int) -> list[dict[str, object]]:
    return [{"name": name, "value": value} for name, value in rows[:limit]]


def tsdb_status(limit: int = 10) -> dict[str, object]:
    """The shape of Prometheus's `/api/v1/status/tsdb`. Its "head" is our active series: minTime
    is where the active window starts, maxTime the newest sample."""
    active = active_series()
    newest = (
        active.filter(last_timestamp__isnull=False)
        .order_by("-last_timestamp")
        .values_list("last_timestamp", flat=True)
        .first()
    )
    labels = SeriesLabel.objects.filter(series__in=active)
    return {
        "headStats": {
            "numSeries": active.count(),
            "numLabelPairs": labels.values("name", "value").distinct().count(),
            "chunkCount": _estimated_rows(Chunk._meta.db_table, Chunk.objects.all()),
            "minTime": _window_start_ms(),
            "maxTime": newest,
        },
        "seriesCountByMetricName": _top(
            active.values("metric_name")
            .annotate(n=Count("id"))
            .order_by("-n", "metric_name")
            .values_list("metric_name", "n"),
            limit,
        ),
        "labelValueCountByLabelName": _top(
            labels.values("name")
            .annotate(n=Count("value", distinct=True))
            .order_by("-n", "name")
            .values_list("name", "n"),
            limit,
        ),
        "seriesCountByLabelValuePair": [
            {"name": f"{name}={value}", "value": n}
            for name, value, n in labels.values("name", "value")
            .annotate(n=Count("series", distinct=True))
            .order_by("-n", "name", "value")
            .values_list("name", "value", "n")[:limit]
        ],
        "memoryInBytesByLabelName": [],
    }


class ActiveSeriesCollector:
    """`coe_portal_active_series{team,token}` and the limit, read from the store when scraped."""

    def collect(self) -> Iterator[Metric]:
        active = GaugeMetricFamily(
            "coe_portal_active_series",
            "Series with a sample (or created) in the active window, by the token that made them.",
            labels=["team", "token"],
        )
        try:
            tokens = ApiToken.objects.filter(revoked_at__isnull=True).select_related("team")
            for usage in token_usage(tokens.order_by("team__name", "name")):
                active.add_metric([usage.token.team.name, usage.token.prefix], usage.active)
        except DatabaseError:
            logger.warning("active series not counted: the database is unavailable")
            return
        yield active
        yield GaugeMetricFamily(
            "coe_portal_series_limit_per_token",
            "Active series one token may have (0: no limit).",
            value=settings.METRICS_MAX_SERIES_PER_TOKEN,
        )
        yield GaugeMetricFamily(
            "coe_portal_active_series_window_seconds",
            "How long after its last sample a series still counts as active.",
            value=settings.METRICS_ACTIVE_SERIES_MINUTES * 60,
        )
