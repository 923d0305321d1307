from __future__ import annotations

from django.test import Client

from tests.conftest import PASSWORD


def login(client: Client, username: str, password: str):
    return client.post("/login/", {"username": username, "password": password})


def test_the_right_password_logs_in_and_lands_on_the_dashboard(client, org):
    response = login(client, "theo", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_a_wrong_password_is_reported_on_the_form(client, org):
    response = login(client, "theo", "wrong")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert not response.wsgi_request.user.is_authenticated


def test_repeated_failures_lock_the_account_out_even_with_the_right_password(client, org):
    for _ in range(5):
        login(client, "theo", "wrong")
    response = login(client, "theo", PASSWORD)
    assert response.status_code == 429
    assert "Too many failed log-in attempts" in response.content.decode()
    # Another user from the same address is not locked out.
    assert login(Client(), "olivia", PASSWORD).status_code == 302


def test_logout_needs_post_and_ends_the_session(client, org):
    client.force_login(org.teammate)
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert client.get("/").status_code == 302


def test_login_page_has_a_csrf_token(org):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/login/", {"username": "theo", "password": PASSWORD}).status_code == 403
    page = strict.get("/login/")
    assert 'name="csrfmiddlewaretoken"' in page.content.decode()
