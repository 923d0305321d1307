from __future__ import annotations

import json

import numpy as np
import pytest

from metrics.loadgen.shop import BUCKETS_S, Incident, bucket_counts, parse_incident, simulate
from tests.support import manage, portal_process

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
