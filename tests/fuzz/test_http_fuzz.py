"""The HTTP fuzz against gunicorn on PostgreSQL: FUZZ_COUNT seeded payloads per endpoint (200 in
`make test`; `make fuzz` runs 10 000) and the regression corpus. Every answer is a 2xx, a 4xx or
a 503 with Retry-After within 10 s, and a sample of the well-formed payloads answered 2xx reads
back as sent."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.fuzz.generators import GENERATORS
from tests.fuzz.harness import Runner, portal
from tests.support import skip_or_fail

pytestmark = pytest.mark.integration

COUNT = int(os.environ.get("FUZZ_COUNT", "200"))
SEED = int(os.environ.get("FUZZ_SEED", "1"))


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        skip_or_fail("the HTTP fuzz runs gunicorn on PostgreSQL: set DATABASE_URL")
    with portal() as target:
        yield Runner(target)


def report(runner: Runner, endpoint: str) -> str:
    tally = runner.tallies[endpoint]
    lines = [f"{f.label}: {f.problem[:300]}" for f in tally.findings[:20]]
    return f"{len(tally.findings)} problems on {endpoint}:\n" + "\n".join(lines)


def test_every_regression_payload_is_refused_with_a_4xx_or_in_partial_success(runner):
    assert runner.run_corpus() == 69
    findings = [f for f in runner.findings() if f.endpoint.startswith("corpus:")]
    assert [f"{f.endpoint} {f.label}: {f.problem[:200]}" for f in findings] == []
    assert {e: t.server_error + t.hangs for e, t in runner.tallies.items()} == {
        e: 0 for e in runner.tallies
    }


@pytest.mark.parametrize("endpoint", list(GENERATORS))
def test_fuzzed_payloads_never_get_a_5xx_and_2xx_means_stored(runner, endpoint):
    runner.run_generated(endpoint, count=COUNT, seed=SEED, mutation_rate=0.8)
    tally = runner.tallies[endpoint]
    assert tally.sent == COUNT
    assert not tally.findings, report(runner, endpoint)
    assert (tally.server_error, tally.hangs) == (0, 0)
    # The well-formed fifth of the payloads is stored: some of it was read back.
    assert tally.ok > 0
    if endpoint not in ("incident_status", "query", "query_range"):
        assert tally.verified > 0
