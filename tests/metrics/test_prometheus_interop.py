"""A real Prometheus server remote-writing its own metrics to a running portal."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request

import pytest

from tests.metrics.helpers import snappy, write_request
from tests.support import (
    BIN,
    free_port,
    portal_process,
    process_env,
    running,
    skip_or_fail,
    wait_for_http,
)

pytestmark = pytest.mark.integration

COUNT_SCRIPT = """
import json
from metrics.models import Series
names = sorted(set(Series.objects.values_list("metric_name", flat=True)))
up = Series.objects.filter(metric_name="up").values_list("labels", "last_value")
print(json.dumps({"names": names, "up": list(up)}))
"""


def gunicorn_command() -> list[str]:
    return [str(BIN / "gunicorn"), "coe_portal.wsgi", "--config", "coe_portal/gunicorn_conf.py"]


def test_prometheus_remote_writes_its_own_metrics_without_errors(tmp_path):
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        skip_or_fail("the prometheus binary is not installed (apt-get install prometheus)")
    prometheus_port = free_port()
    with portal_process(tmp_path) as portal:
        config = tmp_path / "prometheus.yml"
        config.write_text(
            json.dumps(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "scrape_configs": [
                        {
                            "job_name": "prometheus",
                            "static_configs": [{"targets": [f"127.0.0.1:{prometheus_port}"]}],
                        }
                    ],
                    "remote_write": [
                        {
                            "url": f"{portal.base_url}/api/v1/write",
                            "authorization": {"credentials": portal.token},
                            "queue_config": {"batch_send_deadline": "1s"},
                            "metadata_config": {"send_interval": "2s"},
                        }
                    ],
                }
            )
        )
        prometheus_log = tmp_path / "prometheus.log"
        command = [
            prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ]  # fmt: skip
        with running(command, portal.env, prometheus_log):
            deadline = time.monotonic() + 90
            while True:
                stored = json.loads(portal.shell(COUNT_SCRIPT))
                if "prometheus_build_info" in stored["names"] and stored["up"]:
                    break
                assert time.monotonic() < deadline, prometheus_log.read_text()[-3000:]
                time.sleep(2)
            time.sleep(4)  # a few more batches and at least one metadata request
    log = prometheus_log.read_text()
    assert "Starting WAL watcher" in log  # the remote-write queue really ran
    problems = [
        line for line in log.splitlines()
        if ("level=error" in line or "level=warn" in line) and "remote" in line.lower()
    ]  # fmt: skip
    assert problems == []
    assert stored["up"] == [
        [{"job": "prometheus", "instance": f"127.0.0.1:{prometheus_port}"}, 1.0]
    ]
    assert len(stored["names"]) > 50


def test_an_unreachable_database_is_503_with_retry_after(tmp_path):
    port = free_port()
    env = process_env(
        tmp_path,
        PORT=str(port),
        # Nothing listens on port 1: the connection is refused at once.
        DATABASE_URL="postgres://postgres@127.0.0.1:1/nothing",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom-multiproc"),
    )
    with running(gunicorn_command(), env, tmp_path / "gunicorn.log"):
        wait_for_http(f"http://127.0.0.1:{port}/healthz")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/write",
            data=snappy(write_request([({"__name__": "up"}, [(1, 1.0)])])),
            headers={
                "Content-Type": "application/x-protobuf",
                "Content-Encoding": "snappy",
                "Authorization": "Bearer coe_anything",
            },
        )
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(request, timeout=30)
    assert error.value.code == 503
    assert error.value.headers["Retry-After"] == "5"
    assert error.value.read().decode() == "the metric store is unavailable; retry later\n"
