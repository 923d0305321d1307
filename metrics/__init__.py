"""Telemetry: ingestion, storage, queries, SLOs, alarms, notifications and dashboards."""
