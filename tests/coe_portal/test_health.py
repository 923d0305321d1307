from __future__ import annotations

import pytest

from coe_portal.celery import app as celery_app


def test_healthz_answers_without_login(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_and_broker(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "storage": "ok", "broker": "ok"},
    }


@pytest.fixture
def unreachable_broker(monkeypatch):
    # Nothing listens on port 1: a real connection refusal, not a mock. Celery reads the
    # variable before its configuration, so this wins whatever the settings say.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    assert celery_app.conf.broker_url == "redis://127.0.0.1:1/0"


def test_readyz_is_503_naming_the_broker_when_it_is_down(client, db, unreachable_broker):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("unavailable: ")
    assert "Traceback" not in response.content.decode()


def test_probes_are_not_cached(client, db):
    assert "no-cache" in client.get("/readyz")["Cache-Control"]


def test_probes_answer_a_load_balancer_that_sends_an_address_as_host(client, db, settings):
    settings.ALLOWED_HOSTS = ["portal.example.com"]
    for path in ("/healthz", "/readyz"):
        assert client.get(path, HTTP_HOST="10.0.3.7:8000").status_code == 200
    # Every other page still refuses a host it does not know.
    assert client.get("/login/", HTTP_HOST="10.0.3.7:8000").status_code == 400
