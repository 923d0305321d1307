"""A real Prometheus for reference figures: started on a free port with an empty TSDB that
accepts remote write (and week-old samples out of order), stopped at the end of the block."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support import free_port, running, wait_for_http

# The load sends whole series per body, so most samples reach the head out of order.
OUT_OF_ORDER_WINDOW = "8d"


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


@contextmanager
def prometheus_server(binary: str) -> Iterator[tuple[str, int]]:
    """Yields (host, port) of a ready Prometheus; its log and TSDB are removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="coe-bench-prometheus-") as tmp:
        directory = Path(tmp)
        config = directory / "prometheus.yml"  # JSON is valid YAML
        config.write_text(
            json.dumps({"storage": {"tsdb": {"out_of_order_time_window": OUT_OF_ORDER_WINDOW}}})
        )
        port = free_port()
        command = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-remote-write-receiver",
        ]
        with running(command, {"PATH": "/usr/bin:/bin"}, directory / "prometheus.log"):
            wait_for_http(f"http://127.0.0.1:{port}/-/ready", timeout=60)
            yield "127.0.0.1", port


def wait_for_compaction(host: str, port: int, *, quiet_s: float = 3.0, timeout: float = 60) -> int:
    """Waits until the TSDB has run no compaction for quiet_s (the head of a fresh load is cut
    into blocks right after it); returns the number of compactions run."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = _compactions(host, port)
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
        time.sleep(0.5)
    return last


def _compactions(host: str, port: int) -> int:
    url = f"http://{host}:{port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith("prometheus_tsdb_compactions_total "):
            return int(float(line.split()[1]))
    return 0
