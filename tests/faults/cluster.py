"""A PostgreSQL cluster of the test's own (initdb into a temp directory), which a test may stop,
restart or crash without touching the database everyone else uses, and a portal under gunicorn
on it. Every server listens on a port in 18300-18399."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support import (
    BIN,
    child_pids,
    manage,
    process_env,
    running,
    skip_or_fail,
    wait_for_http,
)

PORTS = range(18300, 18400)


def free_port_in_range() -> int:
    for port in random.sample(list(PORTS), len(PORTS)):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18300-18399")


def postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        skip_or_fail("no PostgreSQL server binaries under /usr/lib/postgresql")
    return found[-1].parent


class Cluster:
    """`pg_ctl` on a data directory of its own. As root the server runs as `postgres`
    (initdb refuses root)."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.root = Path(tempfile.mkdtemp(prefix="coe-faults-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port_in_range()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str, timeout: float = 60) -> None:
        full = [str(self.bin / command[0]), *command[1:]]
        if self.as_postgres:
            full = ["runuser", "-u", "postgres", "--", *full]
        subprocess.run(full, check=True, capture_output=True, timeout=timeout)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nmax_connections = 40\n"
                "shared_buffers = 32MB\n"
            )

    def pg_ctl(self, action: str, *options: str) -> None:
        self._run("pg_ctl", action, "-D", str(self.data), "-l", str(self.log), "-w", *options)

    def start(self) -> None:
        self.pg_ctl("start")

    def stop(self) -> None:
        self.pg_ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self.pg_ctl("restart", "-m", "fast")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            self.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def own_cluster() -> Iterator[Cluster]:
    cluster = Cluster()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


TEMPLATE = "coe_faults_template"


def migrated_template(cluster: Cluster, tmp_path: Path) -> None:
    import psycopg

    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    manage(process_env(tmp_path, DATABASE_URL=cluster.url(TEMPLATE)), "migrate", "--noinput")


class Portal:
    def __init__(
        self, process: subprocess.Popen[bytes], port: int, token: str, env: dict[str, str],
        log: Path,
    ) -> None:  # fmt: skip
        self.process = process
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.token = token
        self.env = env
        self.log = log

    def worker_pids(self) -> list[int]:
        """The gunicorn workers: the master's children."""
        return child_pids(self.process.pid)


@contextmanager
def portal_on(
    cluster: Cluster, tmp_path: Path, database: str, **overrides: str
) -> Iterator[Portal]:
    """A migrated database `database` on the cluster (a copy of the template), a team with an
    ingest+read token, and gunicorn with the production config (two workers) serving it."""
    import psycopg

    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}" TEMPLATE "{TEMPLATE}"')
    port = free_port_in_range()
    env = process_env(
        tmp_path,
        DATABASE_URL=cluster.url(database),
        PORT=str(port),
        WEB_CONCURRENCY="2",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom-multiproc"),
        DATABASE_CONNECT_TIMEOUT="2",
        **overrides,
    )
    token = manage(
        env, "shell", "--no-imports", "-c",
        "from coe_portal.accounts.models import Team\n"
        "from coe_portal.accounts.services import api_token_create\n"
        "team = Team.objects.create(name='checkout', display_name='Checkout')\n"
        "print(api_token_create(team=team, name='faults', scopes=['ingest', 'read']).secret)",
    ).strip()  # fmt: skip
    log = tmp_path / "gunicorn.log"
    command = [str(BIN / "gunicorn"), "coe_portal.wsgi", "--config", "coe_portal/gunicorn_conf.py"]
    with running(command, env, log) as process:
        wait_for_http(f"http://127.0.0.1:{port}/healthz")
        yield Portal(process, port, token, env, log)
