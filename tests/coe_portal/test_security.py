from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import ImproperlyConfigured
from django.templatetags.static import static

from coe_portal.env import env_bool, env_int, env_list
from coe_portal.static_finders import plotly_file
from tests.support import REPO_ROOT

PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "production-like-" + "x" * 60,
    "ALLOWED_HOSTS": "portal.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://portal.example.com",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env}
    full_env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT, env=full_env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_production_settings_pass_check_deploy_with_no_warning(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={**PRODUCTION_ENV, "DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_a_short_secret_key_is_refused(tmp_path):
    result = manage(
        "check", env={**PRODUCTION_ENV, "SECRET_KEY": "short", "DATA_DIR": str(tmp_path)}
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be at least 50 characters long" in result.stderr


def test_a_bad_boolean_is_refused(tmp_path):
    result = manage("check", env={"DEBUG": "maybe", "DATA_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_env_helpers(monkeypatch):
    monkeypatch.setenv("X_BOOL", "Yes")
    monkeypatch.setenv("X_INT", "12")
    monkeypatch.setenv("X_LIST", " a, b ,,c ")
    assert env_bool("X_BOOL", False) is True
    assert env_int("X_INT", 0) == 12
    assert env_list("X_LIST", []) == ["a", "b", "c"]
    assert env_int("X_MISSING", 7) == 7
    monkeypatch.setenv("X_INT", "twelve")
    with pytest.raises(ImproperlyConfigured, match="X_INT='twelve' is not an integer"):
        env_int("X_INT", 0)


def test_pages_carry_a_content_security_policy(client, org):
    client.force_login(org.teammate)
    policy = client.get("/")["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split("; ")}
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]


def test_pages_have_no_inline_scripts(client, org):
    client.force_login(org.teammate)
    html = client.get("/").content.decode()
    assert "<script>" not in html
    assert "onclick=" not in html


def test_unknown_page_is_a_styled_404(client, org):
    client.force_login(org.teammate)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html
    assert "portal" in html
    assert "css/portal" in html


def test_unknown_page_is_404_for_anonymous_users_too(client, db):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


@pytest.mark.urls("tests.coe_portal.failing_urls")
def test_a_server_error_shows_no_traceback(client, org):
    client.raise_request_exception = False
    client.force_login(org.teammate)
    response = client.get("/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html
    assert "Traceback" not in html
    assert "ZeroDivisionError" not in html


def test_static_files_and_plotly_are_served_locally(client, db):
    plotly_url = static("vendor/plotly.min.js")
    assert plotly_url.startswith("/static/vendor/plotly.min.")  # hashed name from the manifest
    response = client.get(plotly_url)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert b"plotly.js" in body[:500]
    assert client.get(static("css/portal.css")).status_code == 200


def test_plotly_comes_from_the_installed_package_not_from_a_copy_in_the_checkout():
    """A checkout as git has it (no copied file): runserver and collectstatic find it alike."""
    assert not (settings.BASE_DIR / "static" / "vendor" / "plotly.min.js").exists()
    found = finders.find("vendor/plotly.min.js")
    assert found == str(plotly_file())
    assert Path(settings.STATIC_ROOT, "staticfiles.json").read_text().count("vendor/plotly.min.js")


def test_unknown_api_paths_answer_json(client, db):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {
        "status": "error",
        "errorType": "not_found",
        "error": "no endpoint at /api/v1/nothing-here",
    }


def test_stored_urls_become_links_only_for_http_and_https(client, org):
    """Whatever got a `javascript:` URL stored (the ORM, an import, an old row), the pages show
    it as text: no link a click would run."""
    from coe_portal.accounts.models import Service
    from incidents.action_items.models import ActionItem
    from tests.incidents.coe_support import written_coe

    Service.objects.filter(pk=org.payments.pk).update(runbook_url="javascript:alert(1)")
    coe = written_coe(org)
    item = coe.action_items.get()
    ActionItem.objects.filter(pk=item.pk).update(
        tracker_url="JavaScript:fetch('/x')", verification_url="https://ci.example.com/run/7"
    )
    client.force_login(org.owner)
    pages = [
        "/services/payments/", "/teams/checkout/", f"/action-items/{item.pk}/", f"/coes/{coe.pk}/",
    ]  # fmt: skip
    for url in pages:
        html = client.get(url).content.decode()
        assert 'href="javascript' not in html.lower(), url
    service = client.get("/services/payments/").content.decode()
    assert '<span class="help" title="Not a web link">javascript:alert(1)</span>' in service
    detail = client.get(f"/action-items/{item.pk}/").content.decode()
    assert (
        '<a href="https://ci.example.com/run/7" rel="noopener noreferrer">'
        "https://ci.example.com/run/7</a>"
    ) in detail
