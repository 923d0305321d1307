from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from coe_portal.accounts.models import ApiToken
from coe_portal.accounts.services import api_token_create, api_token_revoke, parse_scopes

WHOAMI = "/api/v1/whoami"


def bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_it_stores_only_a_hash_of_the_token(org):
    issued = api_token_create(team=org.checkout, name="collector", scopes=["ingest", "read"])
    token = ApiToken.objects.get(pk=issued.token.pk)
    assert issued.secret.startswith("coe_")
    assert token.token_hash == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert token.prefix == issued.secret[:12]
    stored = " ".join(str(value) for value in ApiToken.objects.values().get(pk=token.pk).values())
    assert issued.secret not in stored


def test_each_token_is_different(org):
    first = api_token_create(team=org.checkout, name="a", scopes=["read"])
    second = api_token_create(team=org.checkout, name="b", scopes=["read"])
    assert first.secret != second.secret


def test_a_read_token_answers_whoami(client, org):
    issued = api_token_create(team=org.checkout, name="grafana", scopes=["read", "ingest"])
    response = client.get(WHOAMI, **bearer(issued.secret))
    assert response.status_code == 200
    assert response.json() == {
        "team": "checkout",
        "token": "grafana",
        "prefix": issued.secret[:12],
        "scopes": ["ingest", "read"],
    }


def test_missing_header_is_401_with_a_challenge(client, org):
    response = client.get(WHOAMI)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_request"
    assert "Missing Authorization header" in response.json()["message"]
    assert response["WWW-Authenticate"].startswith('Bearer realm="coe-portal"')


def test_wrong_scheme_is_401(client, org):
    response = client.get(WHOAMI, HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    assert response.status_code == 401
    assert response.json()["message"] == "Authorization header must be 'Bearer <token>'."


def test_unknown_token_is_401(client, org):
    response = client.get(WHOAMI, **bearer("coe_not-a-real-token"))
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "message": "Unknown API token."}


def test_revoked_token_is_401(client, org):
    issued = api_token_create(team=org.checkout, name="old", scopes=["read"])
    api_token_revoke(token=issued.token)
    response = client.get(WHOAMI, **bearer(issued.secret))
    assert response.status_code == 401
    assert response.json()["message"] == "This API token has been revoked."


def test_token_without_the_scope_is_403(client, org):
    issued = api_token_create(team=org.checkout, name="collector", scopes=["ingest"])
    response = client.get(WHOAMI, **bearer(issued.secret))
    assert response.status_code == 403
    assert response.json() == {
        "error": "insufficient_scope",
        "message": "This token lacks the 'read' scope (it has: ingest).",
    }
    assert 'scope="read"' in response["WWW-Authenticate"]


def test_bearer_requests_need_no_csrf_token_or_session(org):
    from django.test import Client

    issued = api_token_create(team=org.checkout, name="script", scopes=["read"])
    strict = Client(enforce_csrf_checks=True)
    assert strict.get(WHOAMI, **bearer(issued.secret)).status_code == 200


def test_last_use_is_recorded_at_most_once_a_minute(client, org):
    issued = api_token_create(team=org.checkout, name="collector", scopes=["read"])
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        client.get(WHOAMI, **bearer(issued.secret))
    issued.token.refresh_from_db()
    assert issued.token.last_used_at == start

    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        client.get(WHOAMI, **bearer(issued.secret))
    issued.token.refresh_from_db()
    assert issued.token.last_used_at == start

    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        client.get(WHOAMI, **bearer(issued.secret))
    issued.token.refresh_from_db()
    assert issued.token.last_used_at == start + timedelta(seconds=61)


def test_revoking_twice_keeps_the_first_time(org):
    issued = api_token_create(team=org.checkout, name="x", scopes=["read"])
    first = api_token_revoke(token=issued.token).revoked_at
    assert api_token_revoke(token=issued.token).revoked_at == first


@pytest.mark.parametrize(
    ("given", "expected"),
    [(["write", "ingest"], ["ingest", "write"]), ([" read ", "read"], ["read"])],
)
def test_scopes_are_normalised(given, expected):
    assert parse_scopes(given) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (["admin"], "Unknown scope(s): admin. Valid scopes: ingest, read, write."),
        ([""], "Give at least one scope (ingest, read, write)."),
    ],
)
def test_bad_scopes_are_refused(given, message):
    with pytest.raises(ValidationError) as error:
        parse_scopes(given)
    assert error.value.messages == [message]


def test_whoami_is_not_a_page_that_redirects_to_login(client, org):
    # API endpoints answer 401 JSON rather than the UI's redirect to the login form.
    response = client.get(reverse("api-whoami"))
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
