"""Shared fixtures: the personas every permission test uses, and test-run settings."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command

from coe_portal.accounts.models import Membership, Service, Team
from tests.support_backends import Store, start_store, wanted_backend

PASSWORD = "correct horse battery staple"
TEST_RETENTION_DAYS = 30 * 365


def pytest_configure() -> None:
    # The test client and the live server speak plain HTTP; production keeps these on.
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    # Static files of this test run only: a `make run` or another test run next to it may be
    # collecting into the default directory at the same time.
    settings.STATIC_ROOT = Path(tempfile.mkdtemp(prefix="coe-portal-static-"))
    # Deliberately slow password hashing would dominate the suite's run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Many tests write samples at fixed times of 2023 (T0 = 1_700_000_000_000): a 30-year
    # retention keeps them within what the intake accepts. Tests of the bounds set their own.
    settings.METRICS_RETENTION_DAYS = TEST_RETENTION_DAYS


def pytest_unconfigure() -> None:
    root = Path(settings.STATIC_ROOT)
    if root.name.startswith("coe-portal-static-"):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _collected_static() -> None:
    """Static files as production serves them (hashed names, manifest, compressed copies)."""
    call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(autouse=True)
def _empty_chunk_cache() -> None:
    """Each test starts with no decoded chunks remembered from another test's database."""
    from metrics.storage.chunk_cache import cache

    cache.clear()


@pytest.fixture(scope="session")
def external_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store | None]:
    """The external store COE_PORTAL_TEST_METRICS_BACKEND names, started once per run, or None
    for the embedded store."""
    kind = wanted_backend()
    if kind == "embedded":
        yield None
        return
    store = start_store(kind, tmp_path_factory.mktemp("stores"))
    try:
        yield store
    finally:
        store.stop()


@pytest.fixture(scope="session")
def victoria_metrics(
    external_store: Store | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """A VictoriaMetrics of the run (the backend suite's own when it runs on one)."""
    if external_store is not None and external_store.kind == "victoriametrics":
        yield external_store
        return
    store = start_store("victoriametrics", tmp_path_factory.mktemp("vm"))
    try:
        yield store
    finally:
        store.stop()


@pytest.fixture(scope="session")
def prometheus_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A Prometheus of the run, receiving remote write, with the admin API on."""
    store = start_store("prometheus", tmp_path_factory.mktemp("prometheus"))
    try:
        yield store
    finally:
        store.stop()


@pytest.fixture
def metrics_backend(
    external_store: Store | None, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> Store | None:
    """Where this test's metrics live: the embedded store, or the external store (emptied
    first) with the portal reading and writing it. A remote write the store acknowledged is
    made searchable at once, as a 2xx from the embedded store is."""
    if external_store is None:
        return None
    return use_store(external_store, settings, monkeypatch)


def use_store(
    store: Store, settings: Any, monkeypatch: pytest.MonkeyPatch, *, read_only: bool = False
) -> Store:
    """Point the portal at `store`, emptied, for one test."""
    from metrics.backends.prometheus import PrometheusBackend

    store.clear()
    for name, value in store.settings(read_only=read_only).items():
        setattr(settings, name, value)
    send = PrometheusBackend._send

    def send_and_flush(self: PrometheusBackend, payload: bytes) -> None:
        send(self, payload)
        store.flush()

    monkeypatch.setattr(PrometheusBackend, "_send", send_and_flush)
    return store


@dataclass
class Org:
    platform: Team
    checkout: Team
    search: Team
    cart: Service
    payments: Service
    search_api: Service
    owner: User  # lead of checkout
    teammate: User  # member of checkout
    outsider: User  # member of search only
    reviewer: User  # member of platform, reviews other teams' COEs


def _user(username: str) -> User:
    return User.objects.create_user(
        username=username, email=f"{username}@example.com", password=PASSWORD
    )


@pytest.fixture
def org(db: None) -> Org:
    platform = Team.objects.create(name="platform", display_name="Platform")
    checkout = Team.objects.create(name="checkout", display_name="Checkout")
    search = Team.objects.create(name="search", display_name="Search")
    owner, teammate, outsider, reviewer = (
        _user(name) for name in ("olivia", "theo", "oscar", "rita")
    )
    Membership.objects.create(team=checkout, user=owner, role=Membership.Role.LEAD)
    Membership.objects.create(team=checkout, user=teammate, role=Membership.Role.MEMBER)
    Membership.objects.create(team=search, user=outsider, role=Membership.Role.MEMBER)
    Membership.objects.create(team=platform, user=reviewer, role=Membership.Role.MEMBER)
    return Org(
        platform=platform,
        checkout=checkout,
        search=search,
        cart=Service.objects.create(name="cart", team=checkout, tier=1),
        payments=Service.objects.create(
            name="payments", team=checkout, tier=1, runbook_url="https://runbooks.example.com/pay"
        ),
        search_api=Service.objects.create(name="search-api", team=search, tier=2),
        owner=owner,
        teammate=teammate,
        outsider=outsider,
        reviewer=reviewer,
    )
