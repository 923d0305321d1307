"""A real VictoriaMetrics for the external-backend benchmarks: Debian's `victoria-metrics` on a
free loopback port with an empty data directory, stopped and removed at the end of the block.

It runs with its defaults (a 30 s latency offset and the response cache on, as deployed), so
every query the benchmarks send it to count or compare passes `nocache=1`, as the portal does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.support import free_port

BINARY = "victoria-metrics"
# The benchmarks write samples from now back to a week ago; anything older would be dropped.
RETENTION = "1y"


def victoria_metrics_binary() -> str | None:
    return shutil.which(BINARY) or (
        f"/usr/bin/{BINARY}" if os.access(f"/usr/bin/{BINARY}", os.X_OK) else None
    )


@dataclass(frozen=True)
class VictoriaMetrics:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def write_url(self) -> str:
        return f"{self.url}/api/v1/write"

    def portal_env(self) -> dict[str, str]:
        """The settings that make a portal read and write this store."""
        return {
            "METRICS_BACKEND": "prometheus",
            "METRICS_QUERY_URL": self.url,
            "METRICS_REMOTE_WRITE_URL": self.write_url,
        }

    def get(self, path: str, timeout: float = 120) -> bytes:
        with urllib.request.urlopen(f"http://{self.host}:{self.port}{path}", timeout=timeout) as r:
            return bytes(r.read())

    def flush(self) -> None:
        """Make every acknowledged sample searchable now (it buffers them for about a second)."""
        self.get("/internal/force_flush", timeout=30)

    def api(self, path: str, params: dict[str, str]) -> Any:
        """The `data` of a Prometheus API answer (GET), raising on anything else."""
        document = json.loads(self.get(f"{path}?{urlencode(params)}"))
        if document.get("status") != "success":
            raise RuntimeError(f"{path} answered {document!r:.300}")
        return document["data"]

    def settled_count(
        self, selector: str, at_ms: int, range_ms: int, expected: int, *, wait_s: float = 30.0
    ) -> tuple[int, float]:
        """The count, asked again for up to `wait_s` while it is below `expected`: a backfill
        into an earlier month can take VictoriaMetrics a moment to show after its flush.
        Returns the count and how long it took to reach it."""
        began = time.monotonic()
        while True:
            found = self.count(selector, at_ms, range_ms)
            waited = time.monotonic() - began
            if found >= expected or waited >= wait_s:
                return found, waited
            time.sleep(0.5)

    def count(self, selector: str, at_ms: int, range_ms: int) -> int:
        """Raw samples stored for the selector in (at - range, at], every series summed."""
        self.flush()
        data = self.api(
            "/api/v1/query",
            {
                "query": f"sum(count_over_time({selector}[{range_ms}ms]))",
                "time": str(at_ms / 1000),
                "nocache": "1",
            },
        )
        return int(float(data["result"][0]["value"][1])) if data["result"] else 0


@contextmanager
def victoria_metrics(binary: str) -> Iterator[VictoriaMetrics]:
    """Yields a ready, empty VictoriaMetrics; its data and log are removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="coe-bench-vm-") as tmp:
        directory = Path(tmp)
        for attempt in range(3):  # another process may take the port between choice and bind
            port = free_port()
            command = [
                binary,
                f"-storageDataPath={directory / 'data'}",
                f"-httpListenAddr=127.0.0.1:{port}",
                f"-retentionPeriod={RETENTION}",
                "-loggerLevel=WARN",
            ]
            with open(directory / "victoria-metrics.log", "ab") as log:
                process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            try:
                if _ready(port, process):
                    yield VictoriaMetrics("127.0.0.1", port)
                    return
                if attempt == 2:
                    log_text = (directory / "victoria-metrics.log").read_text()[-2000:]
                    raise RuntimeError(f"VictoriaMetrics did not start:\n{log_text}")
            finally:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)


def _ready(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return False
