"""Helpers for tests that start real processes or need real services.

A test that needs something missing (Redis, Chromium) skips with the reason on a developer's
machine; with COE_PORTAL_REQUIRE_INTEGRATION=1 (set by .ci/run) the same test fails instead.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REQUIRE_ENV = "COE_PORTAL_REQUIRE_INTEGRATION"
REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def integration_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> None:
    if integration_required():
        pytest.fail(f"{reason} ({REQUIRE_ENV} is set, so this test may not be skipped)")
    pytest.skip(reason)


def redis_url() -> str:
    """A Redis database for tests: TEST_REDIS_URL, else the configured broker if it is Redis."""
    explicit = os.environ.get("TEST_REDIS_URL")
    if explicit:
        return explicit
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if broker.startswith("redis://"):
        return broker
    return "redis://127.0.0.1:6379/15"


def require_redis() -> str:
    import redis

    url = redis_url()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis is not reachable at {url}: {exc}")
    return url


def free_port() -> int:
    """A free port: one the system picks, or one of TEST_PORTS (e.g. `18200-18299`) on a machine
    where servers may only listen on some ports."""
    first, _, last = os.environ.get("TEST_PORTS", "").partition("-")
    ports = range(int(first), int(last or first) + 1) if first else range(0, 1)
    candidates = random.sample(ports, len(ports))  # shuffled: two runs rarely pick the same
    for candidate in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError(f"no free port in TEST_PORTS={os.environ['TEST_PORTS']}")


def child_pids(parent: int) -> list[int]:
    """The processes whose parent is `parent` (gunicorn's workers, say), read from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return sorted(found)


def wait_for_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last_error = exc
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout}s: {last_error}")


def process_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """Environment for a portal process of its own: production settings, data under tmp_path."""
    from django.conf import settings

    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "coe_portal.settings",
            "DEBUG": "false",
            "SECRET_KEY": "test-only-" + "k" * 60,
            "SECURE_SSL_REDIRECT": "false",
            "DATA_DIR": str(tmp_path),
            "STATIC_ROOT": str(settings.STATIC_ROOT),
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            # As in-process tests (tests/conftest.py): fixed 2023 sample times stay accepted.
            "METRICS_RETENTION_DAYS": str(settings.METRICS_RETENTION_DAYS),
        }
    )
    env.pop("DATABASE_URL", None)
    env.update(overrides)
    return env


@contextmanager
def running(
    command: list[str], env: dict[str, str], log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a process for the duration of a block; its output goes to log_path."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@contextmanager
def portal_database(tmp_path: Path) -> Iterator[str]:
    """A migrated database of its own for a portal process: a fresh PostgreSQL database when
    DATABASE_URL points at PostgreSQL, else SQLite under tmp_path. Yields its URL."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp_path / 'portal.sqlite3'}"
        return
    import uuid

    import psycopg

    name = f"coe_it_{uuid.uuid4().hex[:10]}"
    server = base.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run a manage.py command in a portal process's environment; its stdout."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


class PortalProcess:
    """A portal under gunicorn with its own migrated database, demo data and an ingest token."""

    def __init__(self, env: dict[str, str], base_url: str, token: str, log: Path) -> None:
        self.env = env
        self.base_url = base_url
        self.token = token
        self.log = log

    def shell(self, script: str) -> str:
        return manage(self.env, "shell", "--no-imports", "-c", script)


@contextmanager
def portal_process(tmp_path: Path, **env_overrides: str) -> Iterator[PortalProcess]:
    port = free_port()
    with portal_database(tmp_path) as database_url:
        env = process_env(
            tmp_path,
            DATABASE_URL=database_url,
            PORT=str(port),
            PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom-multiproc"),
            **env_overrides,
        )
        manage(env, "migrate", "--noinput")
        manage(env, "demo")
        token = manage(env, "create_token", "--team", "platform", "--scopes", "ingest,read")
        command = [
            str(BIN / "gunicorn"), "coe_portal.wsgi", "--config", "coe_portal/gunicorn_conf.py",
        ]  # fmt: skip
        log = tmp_path / "gunicorn.log"
        with running(command, env, log):
            base_url = f"http://127.0.0.1:{port}"
            wait_for_http(f"{base_url}/healthz")
            yield PortalProcess(env, base_url, token.strip(), log)
