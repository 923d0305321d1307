"""One portal for a whole run: a throwaway PostgreSQL database, migrated, with demo data and an
ingest token, served by gunicorn as in production. Benchmarks share it, in the order they run."""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import (
    server_url,
    stored_samples,
    table_sizes,
    throwaway_database,
    vacuum_full,
)
from tests.support import free_port, manage, running, wait_for_http

BIN = Path(sys.executable).parent
WEB_CONCURRENCY = 2
WEB_THREADS = 4


@dataclass
class Session:
    base_url: str
    host: str
    port: int
    token: str
    database_url: str
    env: dict[str, str]
    # Taken before any benchmark wrote, after VACUUM FULL, so growth counts only what they stored.
    baseline_sizes: dict[str, int] = field(default_factory=dict)
    baseline_samples: int = 0
    # The gunicorn master: its children are the workers (a soak kills them one at a time).
    gunicorn_pid: int = 0

    def shell(self, script: str, timeout: float = 300) -> str:
        return manage(self.env, "shell", "--no-imports", "-c", script, timeout=timeout)


def portal_env(data_dir: Path, database_url: str, port: int) -> dict[str, str]:
    """Production settings (DEBUG off), data under data_dir; as tests.support.process_env."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "coe_portal.settings",
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-" + "k" * 60,
            "SECURE_SSL_REDIRECT": "false",
            "DATA_DIR": str(data_dir),
            "STATIC_ROOT": str(data_dir / "static"),
            "DATABASE_URL": database_url,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "PROMETHEUS_MULTIPROC_DIR": str(data_dir / "prom-multiproc"),
            "WEB_CONCURRENCY": str(WEB_CONCURRENCY),
            "WEB_THREADS": str(WEB_THREADS),
            # Well above the threads of a worker: the bulkhead must not shed benchmark load.
            "INGEST_MAX_CONCURRENCY": str(4 * WEB_THREADS),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    return env


@contextmanager
def open_session(
    *, pages: bool = False, settings: dict[str, str] | None = None
) -> Iterator[Session]:
    """With `pages`, static files are collected first: with DEBUG off, a page renders only if
    the static manifest lists what it links (the API and intake need none). `settings` are set
    in the environment of every process of the portal (an external metrics backend, say)."""
    port = free_port()
    name = f"coe_bench_{uuid.uuid4().hex[:10]}"
    with (
        tempfile.TemporaryDirectory(prefix="coe-bench-") as tmp,
        throwaway_database(server_url(), name) as database_url,
    ):
        data_dir = Path(tmp)
        env = {**portal_env(data_dir, database_url, port), **(settings or {})}
        manage(env, "migrate", "--noinput", timeout=300)
        manage(env, "demo", timeout=300)
        if pages:
            manage(env, "collectstatic", "--noinput", "--verbosity", "0", timeout=300)
        token = manage(env, "create_token", "--team", "platform", "--scopes", "ingest,read")
        vacuum_full(database_url)
        command = [
            str(BIN / "gunicorn"),
            "coe_portal.wsgi",
            "--config",
            "coe_portal/gunicorn_conf.py",
        ]
        with running(command, env, data_dir / "gunicorn.log") as gunicorn:
            base_url = f"http://127.0.0.1:{port}"
            wait_for_http(f"{base_url}/healthz")
            yield Session(
                base_url=base_url,
                host="127.0.0.1",
                port=port,
                token=token.strip(),
                database_url=database_url,
                env=env,
                baseline_sizes=table_sizes(database_url),
                baseline_samples=stored_samples(database_url),
                gunicorn_pid=gunicorn.pid,
            )
