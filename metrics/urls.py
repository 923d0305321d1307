from __future__ import annotations

from django.urls import path

from metrics.views import (
    actions,
    alarms,
    api,
    editing,
    explorer,
    ingest,
    service_pages,
    slos,
    traces_api,
    traces_pages,
)

app_name = "metrics"

urlpatterns = [
    path("api/v1/write", ingest.remote_write, name="remote-write"),
    path("v1/metrics", ingest.otlp_metrics, name="otlp-metrics"),
    path("v1/traces", ingest.otlp_traces, name="otlp-traces"),
    path("api/v1/alertmanager", ingest.alertmanager_webhook, name="alertmanager-webhook"),
    path("explore/", explorer.explorer, name="explorer"),
    path("explore/data", explorer.explorer_data, name="explorer-data"),
    path("api/v1/query", api.query, name="api-query"),
    path("api/v1/query_range", api.query_range_view, name="api-query-range"),
    path("api/v1/series", api.series, name="api-series"),
    path("api/v1/labels", api.labels, name="api-labels"),
    path("api/v1/label/<str:name>/values", api.label_values, name="api-label-values"),
    path("api/v1/status/buildinfo", api.build_info, name="api-buildinfo"),
    path("api/v1/metadata", api.metadata, name="api-metadata"),
    path("api/v1/query_exemplars", api.query_exemplars, name="api-query-exemplars"),
    path("slos/", slos.slo_list_page, name="slo-list"),
    path("slos/new/", editing.slo_create, name="slo-create"),
    path("slos/<int:pk>/edit/", editing.slo_edit, name="slo-edit"),
    path("alarms/new/", editing.alarm_create, name="alarm-create"),
    path("alarms/<int:pk>/edit/", editing.alarm_edit, name="alarm-edit"),
    path("slos/<int:pk>/", slos.slo_detail_page, name="slo-detail"),
    path("slos/<int:pk>/charts", slos.slo_charts_data, name="slo-charts"),
    path("api/v1/slos", slos.slo_list_or_create_api, name="api-slo-list"),
    path("api/v1/slos/<int:pk>", slos.slo_detail_api, name="api-slo-detail"),
    path("alarms/", alarms.alarm_list_page, name="alarm-list"),
    path("alarms/<int:pk>/", alarms.alarm_detail_page, name="alarm-detail"),
    path("alarms/<int:pk>/chart", alarms.alarm_chart, name="alarm-chart"),
    path("alarms/<int:pk>/acknowledge", actions.alarm_acknowledge_view, name="alarm-acknowledge"),
    path("alarms/<int:pk>/silence", actions.alarm_silence_view, name="alarm-silence"),
    path("slos/<int:pk>/silence", actions.slo_silence_view, name="slo-silence"),
    path("silences/<int:pk>/end", actions.silence_end_view, name="silence-end"),
    path("api/v1/alarms", alarms.alarm_list_or_create_api, name="api-alarm-list"),
    path("api/v1/alarms/<int:pk>", alarms.alarm_detail_api, name="api-alarm-detail"),
    path("api/v1/traces", traces_api.trace_search_api, name="trace-api-search"),
    path("api/v1/traces/<str:trace_id>", traces_api.trace_detail_api, name="trace-api-detail"),
    path("traces/", traces_pages.trace_search_page, name="trace-search"),
    path("traces/map/", service_pages.service_map_page, name="service-map"),
    path("traces/services/<path:service>/", service_pages.service_red_page, name="service-red"),
    path("traces/<str:trace_id>/", traces_pages.trace_detail_page, name="trace-detail"),
]
