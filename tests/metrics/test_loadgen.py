from __future__ import annotations

import json
import sys
import time

import numpy as np
import pytest

from metrics.loadgen.shop import BUCKETS_S, Incident, bucket_counts, parse_incident, simulate
from tests.support import (
    BIN,
    free_port,
    manage,
    portal_database,
    portal_process,
    process_env,
    running,
)

NOW = 1_700_000_000_000


def test_incidents_are_read_from_their_spec():
    assert parse_incident("checkout:errors=5%:for=20m", NOW) == Incident(
        "checkout", 0.05, 0.0, NOW, NOW + 20 * 60_000
    )
    assert parse_incident("search:latency=+800ms", NOW) == Incident(
        "search", None, 800.0, NOW, None
    )
    assert parse_incident("cart:errors=20%:for=10m:at=-2h", NOW).start_ms == NOW - 7_200_000


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("shipping:errors=5%", "unknown service 'shipping'"),
        ("cart:errors=lots", "cannot read 'errors=lots'"),
        ("cart:for=5m", "changes nothing"),
    ],
)
def test_bad_incident_specs_are_explained(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_incident(spec, NOW)


def test_an_error_incident_raises_the_error_ratio_only_while_it_lasts():
    incident = parse_incident("checkout:errors=50%:for=10m", NOW)
    rng = np.random.default_rng(1)

    def error_ratio(at_ms: int) -> float:
        [traffic] = [
            t for t in simulate(3600, at_ms, [incident], rng) if t.route.service == "checkout"
        ]
        errors = sum(len(v) for status, v in traffic.latencies_by_status.items() if status != "200")
        return errors / sum(len(v) for v in traffic.latencies_by_status.values())

    assert error_ratio(NOW + 60_000) == pytest.approx(0.5, abs=0.05)
    assert error_ratio(NOW + 3_600_000) < 0.01


def test_bucket_counts_put_each_latency_in_its_bucket():
    counts = bucket_counts(np.array([0.001, 0.005, 0.006, 0.3, 20.0]))
    assert len(counts) == len(BUCKETS_S) + 1
    assert counts[0] == 2  # <= 0.005 (bounds are inclusive upper limits)
    assert counts[1] == 1  # (0.005, 0.01]
    assert counts[7] == 1  # (0.25, 0.5]
    assert counts[-1] == 1  # over 10 s


STORED = """
import json
from metrics.promql.engine import instant_query
from metrics.promql.format import instant_data
result = instant_data(instant_query('sum by (service) (increase(http_server_requests_total[20m]))'))
print(json.dumps(sorted(r["metric"]["service"] for r in result["result"])))
"""


@pytest.mark.integration
def test_loadgen_backfills_through_the_otlp_intake(tmp_path):
    with portal_process(tmp_path) as portal:
        manage(
            portal.env, "loadgen", "--endpoint", portal.base_url, "--token", portal.token,
            "--backfill", "30m", "--duration", "0", "--wait", "30",
        )  # fmt: skip
        services = json.loads(portal.shell(STORED))
    assert services == ["cart", "checkout", "frontend", "payments", "search"]


@pytest.mark.integration
def test_with_keep_running_it_outlives_its_wait_and_sends_once_the_portal_is_up(tmp_path):
    """As in `make run`, where honcho stops every process when one exits: a portal that is not
    up within --wait is reported and waited for again, and the traffic goes out when it is."""
    port = free_port()
    with portal_database(tmp_path) as database_url:
        env = process_env(
            tmp_path,
            DATABASE_URL=database_url,
            PORT=str(port),
            PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom-multiproc"),
        )
        manage(env, "migrate", "--noinput")
        manage(env, "demo")
        loadgen_command = [
            sys.executable, "manage.py", "loadgen", "--endpoint", f"http://127.0.0.1:{port}",
            "--backfill", "30m", "--duration", "0", "--wait", "1", "--keep-running",
        ]  # fmt: skip
        loadgen_log = tmp_path / "loadgen.log"
        with running(loadgen_command, env, loadgen_log) as loadgen:
            deadline = time.monotonic() + 60
            while loadgen_log.read_text().count("did not become ready within 1 s") < 2:
                assert loadgen.poll() is None, loadgen_log.read_text()
                assert time.monotonic() < deadline, loadgen_log.read_text()
                time.sleep(0.2)
            assert f"The portal at http://127.0.0.1:{port} did not" in loadgen_log.read_text()
            gunicorn = [
                str(BIN / "gunicorn"), "coe_portal.wsgi", "--config", "coe_portal/gunicorn_conf.py",
            ]  # fmt: skip
            with running(gunicorn, env, tmp_path / "gunicorn.log"):
                assert loadgen.wait(timeout=120) == 0, loadgen_log.read_text()
                services = json.loads(manage(env, "shell", "--no-imports", "-c", STORED))
    assert services == ["cart", "checkout", "frontend", "payments", "search"]
