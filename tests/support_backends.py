"""Real Prometheus-compatible stores for the backend tests: VictoriaMetrics and Prometheus from
Debian's packages, each on a free loopback port with a data directory of its own.

`COE_PORTAL_TEST_METRICS_BACKEND=victoriametrics` (set by `make test` for the backend suite)
makes every test that asks for `metrics_backend` run with the portal reading and writing that
store; without it they run on the embedded store, so the same test and the same expected
values cover both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support import free_port, skip_or_fail, wait_for_http

BACKEND_ENV = "COE_PORTAL_TEST_METRICS_BACKEND"


def wanted_backend() -> str:
    return os.environ.get(BACKEND_ENV, "embedded").strip().lower() or "embedded"


def embedded_only(reason: str) -> pytest.MarkDecorator:
    """For a test of a backend-suite module that is about the embedded store itself (its
    engine's own messages and limits, its tables): skipped when the suite runs on another."""
    return pytest.mark.skipif(
        wanted_backend() != "embedded", reason=f"embedded store only: {reason}"
    )


@dataclass
class Store:
    """One running store; `restart()` keeps its port and data (the fault tests stop it)."""

    kind: str  # victoriametrics | prometheus
    binary: str
    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    # Prometheus only: its configuration, `{port}` standing for its own port.
    config_template: str = "global:\n  scrape_interval: 15s\nscrape_configs: []\n"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def write_url(self) -> str:
        return f"{self.url}/api/v1/write"

    def settings(self, *, read_only: bool = False) -> dict[str, Any]:
        return {
            "METRICS_BACKEND": "prometheus",
            "METRICS_QUERY_URL": self.url,
            "METRICS_REMOTE_WRITE_URL": "" if read_only else self.write_url,
            "METRICS_QUERY_TIMEOUT_SECONDS": 10.0,
            "METRICS_REMOTE_WRITE_TIMEOUT_SECONDS": 5.0,
            "METRICS_BACKEND_CONNECT_TIMEOUT_SECONDS": 1.0,
        }

    def env(self, *, read_only: bool = False) -> dict[str, str]:
        return {key: str(value) for key, value in self.settings(read_only=read_only).items()}

    def command(self) -> list[str]:
        if self.kind == "victoriametrics":
            return [
                self.binary,
                f"-storageDataPath={self.data_dir}",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                "-retentionPeriod=100y",  # the suite writes samples of 2023
                "-search.latencyOffset=0s",
                "-search.disableCache",
                "-loggerLevel=WARN",
            ]
        config = self.data_dir / "prometheus.yml"
        config.write_text(self.config_template.replace("{port}", str(self.port)))
        return [
            self.binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.data_dir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-remote-write-receiver",
            "--web.enable-admin-api",
            "--log.level=warn",
        ]

    def start(self) -> None:
        log = open(self.data_dir.parent / f"{self.kind}-{self.port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        ready = "/health" if self.kind == "victoriametrics" else "/-/ready"
        wait_for_http(self.url + ready, timeout=30)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    # What the tests ask the store directly -----------------------------------------------------

    def get(self, path: str, **params: str) -> Any:
        import json

        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as response:
            return json.loads(response.read())

    def flush(self) -> None:
        """Make what the store acknowledged searchable now (VictoriaMetrics buffers ~1 s)."""
        if self.kind == "victoriametrics":
            urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10).read()

    def clear(self) -> None:
        """Delete every series: each test starts from an empty store."""
        match = urllib.parse.urlencode({"match[]": '{__name__=~".+"}'})
        request = urllib.request.Request(
            f"{self.url}/api/v1/admin/tsdb/delete_series?{match}", method="POST"
        )
        urllib.request.urlopen(request, timeout=30).read()
        if self.kind == "prometheus":
            request = urllib.request.Request(
                f"{self.url}/api/v1/admin/tsdb/clean_tombstones", method="POST"
            )
            urllib.request.urlopen(request, timeout=30).read()
        else:
            urllib.request.urlopen(f"{self.url}/internal/resetRollupResultCache", timeout=10).read()

    def samples(self, selector: str, at_s: float, range_s: int) -> int:
        """How many raw samples the store holds for the selector in (at - range, at]."""
        self.flush()
        data = self.get(
            "/api/v1/query", query=f"count_over_time({selector}[{range_s}s])", time=str(at_s)
        )
        return int(sum(float(item["value"][1]) for item in data["data"]["result"]))


def start_store(kind: str, base: Path, *, prometheus_config: str = "") -> Store:
    """Start a store of `kind` under `base`; a Prometheus may be given its configuration
    (`{port}` in it is the Prometheus's own port, to scrape itself)."""
    binary = shutil.which("victoria-metrics" if kind == "victoriametrics" else "prometheus")
    if binary is None:
        package = "victoria-metrics" if kind == "victoriametrics" else "prometheus"
        skip_or_fail(f"the {package} binary is not installed (apt-get install {package})")
    assert binary is not None
    store = Store(kind, binary, base / kind)
    store.data_dir.mkdir(parents=True, exist_ok=True)
    if prometheus_config:
        store.config_template = prometheus_config
    for attempt in range(3):  # another test run may take the port between choice and bind
        try:
            store.start()
            return store
        except TimeoutError:
            store.stop()
            if attempt == 2:
                raise
            store.port = free_port()
            time.sleep(0.5)
    return store
