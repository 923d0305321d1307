"""The official PromQL compliance suite: the portal against a real Prometheus 2.x.

Every case of promql-test-queries.yml, expanded as the upstream tester expands it, runs as a
range query over 10 minutes at a 10 s step (the tester's defaults) against Prometheus's HTTP API
and the portal's /api/v1/query_range, on the same synthetic demo-service samples; the answers
are compared as the tester compares them (see comparer.py). Prints `promql compliance: N/M` and
writes each failing case to FAILURES_FILE.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.metrics.helpers import history_prometheus, prometheus_write, write_dataset
from tests.metrics.promql_compliance.answers import read_answer
from tests.metrics.promql_compliance.comparer import (
    Answer,
    ReferenceDisagrees,
    Result,
    compare,
)
from tests.metrics.promql_compliance.demo_data import MINUTE, Restart, build_dataset
from tests.metrics.promql_compliance.expansion import load_cases
from tests.support import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

FAILURES_FILE = Path(
    os.environ.get("PROMQL_COMPLIANCE_FAILURES", REPO_ROOT / "var" / "promql-compliance-failures")
)

DATA_MINUTES = 90
# Whole minutes three hours ago: history Prometheus takes in through its out-of-order window.
DATA_START = (int(time.time() * 1000) // MINUTE - 180) * MINUTE
# The tester's window: 10 minutes at a 10 s step, ending off the step grid as `now - 12m` does.
# An hour of data before it (for `[1h]` ranges) and ten minutes after (for `offset -10m`).
QUERY_END = DATA_START + 80 * MINUTE + 4_321
QUERY_START = QUERY_END - 10 * MINUTE
STEP_SECONDS = 10
# A restart before the window and one inside it: counters reset.
RESTARTS = (Restart(instance=1, scrape=500), Restart(instance=2, scrape=900))


def range_params(query: str) -> dict[str, str]:
    return {
        "query": query,
        "start": f"{QUERY_START / 1000:.3f}",
        "end": f"{QUERY_END / 1000:.3f}",
        "step": str(STEP_SECONDS),
    }


@pytest.fixture(scope="module")
def dataset() -> list[tuple[dict[str, str], list[tuple[int, float]]]]:
    return build_dataset(DATA_START, DATA_MINUTES, RESTARTS)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, dataset) -> Iterator[str]:
    with history_prometheus(tmp_path_factory.mktemp("prometheus-compliance")) as base:
        prometheus_write(base, dataset)
        yield base


def prometheus_answer(base: str, query: str) -> Answer:
    url = f"{base}/api/v1/query_range?{urllib.parse.urlencode(range_params(query))}"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return read_answer(response.status, response.read())
    except urllib.error.HTTPError as error:
        return read_answer(error.code, error.read())


def portal_answer(client: Client, query: str) -> Answer:
    response = client.get("/api/v1/query_range", range_params(query))
    return read_answer(response.status_code, response.content)


def describe(result: Result) -> str:
    lines = [f"query: {result.case.query}"]
    if result.unexpected_failure:
        lines.append(f"  portal failed: {result.unexpected_failure}")
    elif result.unexpected_success:
        lines.append("  portal succeeded where Prometheus fails")
    else:
        lines.append(f"  first difference: {result.diff}")
        for side, answer in (("expected", result.expected), ("got", result.got)):
            matrix = answer.matrix if answer else []
            head = [(s.metric, s.values[:3]) for s in matrix[:2]]
            lines.append(f"  {side}: {len(matrix)} series, first {head!r:.600}")
    return "\n".join(lines)


def test_prometheus_passes_its_own_suite_as_this_harness_reads_it(prometheus: str) -> None:
    """The harness itself: expansion, answer reading and comparison agree Prometheus is
    Prometheus (its matrices sort as client_golang sorts, its errors are where the YAML says)."""
    cases = load_cases()
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda case: prometheus_answer(prometheus, case.query), cases))
    failing = [
        describe(result)
        for case, answer in zip(cases, answers, strict=True)
        if not (result := compare(case, answer, answer)).success()
    ]
    assert not failing, failing


def test_the_portal_passes_the_promql_compliance_suite(
    prometheus: str, dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    written = write_dataset(dataset)
    assert written.samples_rejected == 0
    client = Client()
    client.force_login(User.objects.create_user("compliance"))

    cases = load_cases()
    with ThreadPoolExecutor(max_workers=20) as pool:  # the tester's default parallelism
        expected = list(pool.map(lambda case: prometheus_answer(prometheus, case.query), cases))
    # The data is where the queries look: Prometheus sees every memory series in the window.
    memory = expected[[c.query for c in cases].index("demo_memory_usage_bytes")]
    assert len(memory.matrix) == 12
    assert all(len(s.values) == 61 for s in memory.matrix)

    results, harness_errors = [], []
    for case, reference in zip(cases, expected, strict=True):
        try:
            results.append(compare(case, reference, portal_answer(client, case.query)))
        except ReferenceDisagrees as exc:
            harness_errors.append(str(exc))
    assert not harness_errors, harness_errors

    failing = [r for r in results if not r.success()]
    passed = len(results) - len(failing)
    FAILURES_FILE.parent.mkdir(parents=True, exist_ok=True)
    FAILURES_FILE.write_text(
        f"promql compliance: {passed}/{len(cases)} "
        f"(range {QUERY_START}..{QUERY_END} ms, step {STEP_SECONDS}s)\n\n"
        + "\n\n".join(describe(r) for r in failing)
        + "\n"
    )
    with capsys.disabled():
        print(
            f"\npromql compliance: {passed}/{len(cases)} in {time.monotonic() - started:.0f}s"
            f" (failing cases in {FAILURES_FILE})"
        )
    # Every case, as Prometheus answers it.
    assert passed == len(cases), f"{len(failing)} cases fail; see {FAILURES_FILE}"
