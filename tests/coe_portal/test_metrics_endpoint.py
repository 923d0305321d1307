from __future__ import annotations

from prometheus_client import REGISTRY


def requests_counted(view: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "coe_portal_http_requests_total", {"view": view, "method": "GET", "status": status}
    )
    return value or 0.0


def test_metrics_are_prometheus_text_without_login(client, db):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    body = response.content.decode()
    assert "# TYPE coe_portal_http_requests_total counter" in body
    assert "# TYPE coe_portal_http_request_duration_seconds histogram" in body
    assert "# TYPE coe_portal_celery_tasks_total counter" in body


def test_metrics_speak_openmetrics_when_asked(client, db):
    response = client.get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert response.content.decode().endswith("# EOF\n")


def test_each_request_is_counted_by_view_and_status(client, db):
    before_ok = requests_counted("healthz", "200")
    before_missing = requests_counted("<unresolved>", "404")
    client.get("/healthz")
    client.get("/healthz")
    client.get("/no-such-page-1")
    client.get("/no-such-page-2")
    assert requests_counted("healthz", "200") == before_ok + 2
    # Unknown paths share one label, so scanning cannot create new series.
    assert requests_counted("<unresolved>", "404") == before_missing + 2


def test_latency_is_observed_per_view(client, db):
    labels = {"view": "healthz", "method": "GET"}
    before = (
        REGISTRY.get_sample_value("coe_portal_http_request_duration_seconds_count", labels) or 0
    )
    client.get("/healthz")
    after = REGISTRY.get_sample_value("coe_portal_http_request_duration_seconds_count", labels)
    assert after == before + 1
