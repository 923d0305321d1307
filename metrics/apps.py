from __future__ import annotations

from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = "Metrics, SLOs and alarms"

    def ready(self) -> None:
        from coe_portal.observability.prometheus import register_store_collector
        from metrics.storage.cardinality import ActiveSeriesCollector

        register_store_collector(ActiveSeriesCollector())
