"""The portal on an external metrics backend (`METRICS_BACKEND=prometheus`) against a real
VictoriaMetrics, each figure next to the same work sent to VictoriaMetrics directly:

- remote write forwarded through the portal (gunicorn, PostgreSQL for the series rows) vs the
  same bodies written to a VictoriaMetrics of their own, same clients; then every acknowledged
  sample is counted in each store, and a store that holds a different number fails the run;
- the evaluation benchmark's pass (1 000 SLOs + 1 000 alarms, `benchmarks.evaluation`) on raw
  samples read from VictoriaMetrics, with the HTTP requests a pass sends to it;
- the explorer's 7-day chart data (`/explore/data`, what the page fetches) vs the same
  `query_range` sent to VictoriaMetrics with the portal's parameters (`nocache=1`), and without
  `nocache` for context.

The portal is one of its own: a throwaway database and gunicorn as `benchmarks.session` starts
them, with the backend settings in its environment. `python -m benchmarks.backend [--profile]`
runs this part alone; `--profile` adds where the portal's time goes, under cProfile: remote
write in one process (the Django test client, the intake's whole request path but gunicorn),
a third evaluation pass, and the explorer's requests in one process.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from benchmarks import evaluation
from benchmarks.common import Figure, percentile_ms, shell_results, shell_script
from benchmarks.ingest import (
    CLIENTS,
    REMOTE_WRITE_HEADERS,
    build_bodies,
    remote_write_accepted,
    warm_then_time,
)
from benchmarks.load import LoadResult, send_all
from benchmarks.payloads import SAMPLES_PER_SERIES, SERIES_PER_REQUEST, remote_write_bodies
from benchmarks.query import Client, first_difference
from benchmarks.query_data import COUNTER_DAYS, DAY_MS, counters
from benchmarks.query_data import remote_write_bodies as week_bodies
from benchmarks.session import Session, open_session
from benchmarks.victoriametrics import VictoriaMetrics, victoria_metrics, victoria_metrics_binary
from metrics.promql.steps import choose_step

RESULT = "BACKEND-RESULT "
HOUR_MS = 3_600_000

# Remote write: the portal's clients stop at the deadline; VictoriaMetrics gets through every
# body well before it, so there are enough of them to keep it busy for a few seconds.
WRITE_SECONDS = 10.0
BODIES_PER_CLIENT = 200
WRITE_RATIO_TARGET = 0.5
WRITTEN = '{__name__=~"bench_rw_.+"}'

# Explorer: the page's 7-day range, the step it picks for it (about 400 points: 30 min).
EXPLORER_QUERIES = {
    "rate_by_service_7d": "sum by (service) (rate(x_requests_total[5m]))",
    "rate_7d": "rate(x_requests_total[5m])",
}
EXPLORER_WARM_UPS = 2
EXPLORER_REPETITIONS = 25
EXPLORER_OVERHEAD_TARGET = 0.20
QUERY_TIMEOUT = "30s"  # what the portal sends (METRICS_QUERY_TIMEOUT_SECONDS)

LOG_IN = """
import json
from django.contrib.auth import get_user_model
from django.test import Client
client = Client()
client.force_login(get_user_model().objects.get(username="demo"))
print(RESULT + json.dumps(client.cookies["sessionid"].value))
"""

PROFILE_WRITE = """
import cProfile, io, pstats, time
from django.test import Client
from benchmarks.payloads import remote_write_bodies, start_ms

first = start_ms(int(time.time() * 1000), BODIES + 1)
bodies = remote_write_bodies(CLIENT, BODIES + 1, first)
client = Client(HTTP_HOST="127.0.0.1")
headers = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}", "HTTP_CONTENT_ENCODING": "snappy",
           "HTTP_X_PROMETHEUS_REMOTE_WRITE_VERSION": "0.1.0"}

def post(body):
    response = client.post("/api/v1/write", data=body, content_type="application/x-protobuf",
                           **headers)
    assert response.status_code == 204, (response.status_code, response.content[:300])

post(bodies[0])  # creates the series
profiler = cProfile.Profile()
began = time.perf_counter()
profiler.runcall(lambda: [post(body) for body in bodies[1:]])
elapsed = time.perf_counter() - began
print(f"{BODIES} remote-write requests of {SAMPLES} samples in one process, one at a time: "
      f"{elapsed:.2f} s under cProfile, {BODIES * SAMPLES / elapsed:.0f} samples/s")
for order in ("cumulative", "tottime"):
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(30)
    print(out.getvalue())
"""

PROFILE_EXPLORER = """
import cProfile, io, pstats, time
from django.contrib.auth import get_user_model
from django.test import Client

client = Client(HTTP_HOST="127.0.0.1")
client.force_login(get_user_model().objects.get(username="demo"))
def get():
    response = client.get("/explore/data", PARAMS)
    assert response.status_code == 200, (response.status_code, response.content[:300])
get()
profiler = cProfile.Profile()
began = time.perf_counter()
profiler.runcall(lambda: [get() for _ in range(TIMES)])
elapsed = time.perf_counter() - began
print(f"{TIMES} GET /explore/data {PARAMS['query']} in one process: "
      f"{elapsed / TIMES * 1000:.0f} ms each under cProfile")
for order in ("cumulative", "tottime"):
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(30)
    print(out.getvalue())
"""


def backend_victoriametrics(
    _session: Session | None = None, *, profile: bool = False
) -> list[Figure]:
    """Every figure of this module, on a portal of its own (the shared one keeps the embedded
    store, so the other benchmarks' figures are unchanged)."""
    binary = victoria_metrics_binary()
    if binary is None:
        return [Figure("backend", "skipped", "", "no victoria-metrics binary on PATH")]
    began = time.perf_counter()
    with victoria_metrics(binary) as store, open_session(settings=store.portal_env()) as portal:
        figures = remote_write_forwarding(portal, store, binary)
        if profile:
            profile_remote_write(portal)
        figures += evaluation_pass(portal, store, profile=profile)
        figures += explorer_latency(portal, store, profile=profile)
    figures.append(
        Figure("backend.duration", round(time.perf_counter() - began, 1), "s", "this part")
    )
    return figures


# Remote write -----------------------------------------------------------------------------


def remote_write_forwarding(session: Session, store: VictoriaMetrics, binary: str) -> list[Figure]:
    bodies = build_bodies(remote_write_bodies, CLIENTS, BODIES_PER_CLIENT + 1)
    per_body = SERIES_PER_REQUEST * SAMPLES_PER_SERIES
    warm_up, timed = warm_then_time(
        session, path="/api/v1/write", content_headers=REMOTE_WRITE_HEADERS, bodies=bodies,
        accepted=remote_write_accepted, seconds=WRITE_SECONDS,
    )  # fmt: skip
    portal_acknowledged = (warm_up.accepted + timed.accepted) * per_body
    portal_stored = store.count(WRITTEN, int(time.time() * 1000), DAY_MS)

    with victoria_metrics(binary) as direct:
        direct_warm_up, direct_timed = _warm_then_time_direct(direct, bodies)
        direct_acknowledged = (direct_warm_up.accepted + direct_timed.accepted) * per_body
        direct_stored = direct.count(WRITTEN, int(time.time() * 1000), DAY_MS)

    portal_rate = _rate(timed, per_body)
    direct_rate = _rate(direct_timed, per_body)
    ratio = portal_rate / direct_rate if direct_rate else 0.0
    shape = f"{SERIES_PER_REQUEST} series x {SAMPLES_PER_SERIES} samples/request, {CLIENTS} clients"
    figures = [
        Figure(
            "backend.remote_write.portal",
            portal_rate,
            "samples/s",
            f"POST /api/v1/write forwarded to VictoriaMetrics; {_requests(timed)}, {shape}; "
            f"p50 {percentile_ms(timed.latencies_s, 50):.0f} ms, "
            f"p95 {percentile_ms(timed.latencies_s, 95):.0f} ms{_refusals(warm_up, timed)}",
        ),
        Figure(
            "backend.remote_write.direct",
            direct_rate,
            "samples/s",
            f"the same bodies to a VictoriaMetrics of their own; {_requests(direct_timed)}, "
            f"{shape}; p50 {percentile_ms(direct_timed.latencies_s, 50):.0f} ms, "
            f"p95 {percentile_ms(direct_timed.latencies_s, 95):.0f} ms"
            f"{_refusals(direct_warm_up, direct_timed)}",
        ),
        Figure(
            "backend.remote_write.ratio",
            round(ratio, 3),
            "",
            f"portal / direct, same run; target >= {WRITE_RATIO_TARGET}",
        ),
        _stored_figure("portal", portal_acknowledged, portal_stored),
        _stored_figure("direct", direct_acknowledged, direct_stored),
    ]
    if portal_stored != portal_acknowledged or direct_stored != direct_acknowledged:
        for figure in figures:
            print(figure.line(), flush=True)
        raise AssertionError("VictoriaMetrics does not hold exactly the acknowledged samples")
    return figures


def _warm_then_time_direct(
    store: VictoriaMetrics, bodies: list[list[bytes]]
) -> tuple[LoadResult, LoadResult]:
    """As `warm_then_time` does for the portal: each client's first body (it creates the
    client's series) untimed, then the rest for WRITE_SECONDS."""
    results = []
    for part, seconds in ((slice(0, 1), 120.0), (slice(1, None), WRITE_SECONDS)):
        results.append(
            send_all(
                host=store.host,
                port=store.port,
                path="/api/v1/write",
                headers=REMOTE_WRITE_HEADERS,
                bodies_per_client=[client[part] for client in bodies],
                accepted=remote_write_accepted,
                seconds=seconds,
            )
        )
    return results[0], results[1]


def _rate(result: LoadResult, per_body: int) -> float:
    return result.accepted * per_body / result.elapsed_s if result.elapsed_s else 0.0


def _requests(result: LoadResult) -> str:
    return (
        f"{result.accepted}/{len(result.latencies_s)} requests acknowledged (204) in "
        f"{result.elapsed_s:.1f} s after one warm-up request a client"
    )


def _refusals(warm_up: LoadResult, timed: LoadResult) -> str:
    refused = f", refused: {timed.refusals()}" if timed.refused else ""
    return refused + (f", warm-up refused: {warm_up.refusals()}" if warm_up.refused else "")


def _stored_figure(side: str, acknowledged: int, stored: int) -> Figure:
    verdict = "exactly the acknowledged" if stored == acknowledged else "NOT the acknowledged"
    return Figure(
        f"backend.remote_write.{side}_stored",
        stored,
        "samples",
        f"{verdict} {acknowledged} (warm-up included), counted in VictoriaMetrics with "
        "sum(count_over_time(...)) after /internal/force_flush",
    )


def profile_remote_write(session: Session) -> None:
    script = shell_script(
        PROFILE_WRITE,
        TOKEN=session.token,
        CLIENT=CLIENTS + 100,  # series of its own
        BODIES=100,
        SAMPLES=SERIES_PER_REQUEST * SAMPLES_PER_SERIES,
    )
    print(session.shell(script, timeout=600), flush=True)


# Evaluation -------------------------------------------------------------------------------


def evaluation_pass(
    session: Session, store: VictoriaMetrics, *, profile: bool = False
) -> list[Figure]:
    end_ms = evaluation.last_minute_ms()
    began = time.perf_counter()
    loaded = evaluation.load_services(session, end_ms)
    load_s = time.perf_counter() - began
    stored, _ = store.settled_count(
        evaluation.METRIC, end_ms, evaluation.DAYS * DAY_MS, int(loaded["samples"])
    )
    if stored != int(loaded["samples"]):
        raise AssertionError(f"VictoriaMetrics holds {stored} of {loaded['samples']} samples")
    passes = evaluation.timed_passes(session, end_ms, loaded, profile=profile)
    figures = [
        Figure(
            "backend.evaluation.dataset",
            stored,
            "samples",
            evaluation.dataset_details(
                f"written with write_samples in {load_s:.1f} s (forwarded: VictoriaMetrics "
                "holds every one)"
            ),
        ),
        *evaluation.pass_figures(
            "backend.evaluation", "", "first pass, cold process, on VictoriaMetrics", passes[0]
        ),
        *evaluation.pass_figures(
            "backend.evaluation", "_warm", "second pass, the next minute, same process", passes[1]
        ),
    ]
    for suffix, run in (("", passes[0]), ("_warm", passes[1])):
        figures.append(
            Figure(
                f"backend.evaluation.requests{suffix}",
                int(run["backend_requests"]),
                "requests",
                f"HTTP requests the pass sent to VictoriaMetrics (one raw read per distinct "
                f"selector and range), {run['backend_bytes'] / 1e6:.0f} MB of answers; "
                f"{run['backend_request_s']:.2f} s waiting for them, "
                f"{run['backend_raw_s']:.2f} s in raw reads with decoding",
            )
        )
    return figures


# Explorer ---------------------------------------------------------------------------------


def explorer_latency(
    session: Session, store: VictoriaMetrics, *, profile: bool = False
) -> list[Figure]:
    end_ms = int(time.time() * 1000) // HOUR_MS * HOUR_MS
    series = counters(end_ms)
    samples = sum(len(data.timestamps) for data in series)
    bodies = week_bodies(series)
    portal = Client(session.host, session.port, {"Authorization": f"Bearer {session.token}"})
    try:
        began = time.perf_counter()
        for body in bodies:
            status, answer = portal.post("/api/v1/write", body, REMOTE_WRITE_HEADERS)
            if status != 204:
                raise RuntimeError(f"remote write refused: HTTP {status}: {answer[:300]!r}")
        load_s = time.perf_counter() - began
    finally:
        portal.close()
    stored, settled_s = store.settled_count(
        "x_requests_total", end_ms, COUNTER_DAYS * DAY_MS, samples
    )
    if stored != samples:
        raise AssertionError(f"VictoriaMetrics holds {stored} of {samples} samples after 30 s")
    figures = [
        Figure(
            "backend.explorer.dataset",
            stored,
            "samples",
            f"{len(series)} series of x_requests_total at 1 min over {COUNTER_DAYS} d, "
            f"remote-written through the portal in {len(bodies)} bodies in {load_s:.1f} s; "
            f"all counted in VictoriaMetrics {settled_s:.1f} s after the last 204",
        )
    ]
    cookie = shell_results(session.shell(shell_script(LOG_IN, RESULT=RESULT)), RESULT)[0]
    for name, query in EXPLORER_QUERIES.items():
        figures += _explorer_figures(session, store, cookie, name, query, end_ms)
        if profile:
            window = {
                "start": str((end_ms - COUNTER_DAYS * DAY_MS) // 1000),
                "end": str(end_ms // 1000),
            }
            script = shell_script(PROFILE_EXPLORER, PARAMS={"query": query, **window}, TIMES=20)
            print(session.shell(script, timeout=600), flush=True)
    return figures


def _explorer_figures(
    session: Session, store: VictoriaMetrics, cookie: str, name: str, query: str, end_ms: int
) -> list[Figure]:
    start_ms = end_ms - COUNTER_DAYS * DAY_MS
    step_s = choose_step(end_ms - start_ms) // 1000
    window = {"start": str(start_ms // 1000), "end": str(end_ms // 1000)}
    # What the portal sends VictoriaMetrics for the page (PrometheusBackend.range).
    sent = {"query": query, **window, "step": str(step_s), "timeout": QUERY_TIMEOUT}
    page = Client(session.host, session.port, {"Cookie": f"sessionid={cookie}"})
    api = Client(session.host, session.port, {"Authorization": f"Bearer {session.token}"})
    direct = Client(store.host, store.port, {})
    ways: dict[str, tuple[Client, str, dict[str, str]]] = {
        "portal": (page, "/explore/data", {"query": query, **window}),
        "direct": (direct, "/api/v1/query_range", {**sent, "nocache": "1"}),
        "direct_cached": (direct, "/api/v1/query_range", sent),
        "portal_api": (api, "/api/v1/query_range", {"query": query, **window, "step": str(step_s)}),
    }
    latencies: dict[str, list[float]] = {way: [] for way in ways}
    answers: dict[str, bytes] = {}
    try:
        # Round robin, so that a slower moment of the machine weighs on every way alike.
        for attempt in range(EXPLORER_WARM_UPS + EXPLORER_REPETITIONS):
            for way, (client, path, params) in ways.items():
                seconds, status, answer = client.get(path, params)
                if status != 200:
                    raise RuntimeError(f"{way} {path}: HTTP {status}: {answer[:300]!r}")
                if attempt >= EXPLORER_WARM_UPS:
                    latencies[way].append(seconds)
                answers[way] = answer
    finally:
        for client in (page, api, direct):
            client.close()
    shape = _check_answers(answers, step_s)
    p50 = {way: percentile_ms(times, 50) for way, times in latencies.items()}
    p95 = {way: percentile_ms(times, 95) for way, times in latencies.items()}
    overhead = p50["portal"] / p50["direct"] - 1
    runs = f"{EXPLORER_REPETITIONS} sequential requests after {EXPLORER_WARM_UPS} warm-ups each"
    prefix = f"backend.explorer.{name}"
    return [
        Figure(
            f"{prefix}.portal_p50",
            p50["portal"],
            "ms",
            f"GET /explore/data (logged in) for {query}, range {COUNTER_DAYS} d, step {step_s} "
            f"s, {shape}; p95 {p95['portal']:.1f} ms; {runs}, round robin with the others",
        ),
        Figure(
            f"{prefix}.direct_p50",
            p50["direct"],
            "ms",
            f"VictoriaMetrics query_range with the portal's parameters (nocache=1); "
            f"p95 {p95['direct']:.1f} ms",
        ),
        Figure(
            f"{prefix}.overhead",
            f"{overhead * 100:+.0f}",
            "%",
            f"portal p50 over direct p50 ({p50['portal'] - p50['direct']:.1f} ms more); p95 "
            f"{(p95['portal'] / p95['direct'] - 1) * 100:+.0f} %; "
            f"target <= {EXPLORER_OVERHEAD_TARGET * 100:.0f} %",
        ),
        Figure(
            f"{prefix}.direct_cached_p50",
            p50["direct_cached"],
            "ms",
            f"the same without nocache, for context (its response cache answers); "
            f"p95 {p95['direct_cached']:.1f} ms",
        ),
        Figure(
            f"{prefix}.portal_api_p50",
            p50["portal_api"],
            "ms",
            f"the same range through the portal's GET /api/v1/query_range (read token), for "
            f"context: no chart built; p95 {p95['portal_api']:.1f} ms; "
            f"{(p50['portal_api'] / p50['direct'] - 1) * 100:+.0f} % over direct",
        ),
    ]


def _check_answers(answers: dict[str, bytes], step_s: int) -> str:
    """The chart's series and the API's values, checked against VictoriaMetrics's answer."""
    direct = json.loads(answers["direct"])["data"]
    difference = first_difference(json.loads(answers["portal_api"])["data"], direct)
    if difference:
        raise AssertionError(f"the portal's query_range differs from VictoriaMetrics: {difference}")
    drawn = json.loads(answers["portal"])
    result: Sequence[dict[str, Any]] = direct["result"]
    if drawn["series_count"] != len(result) or drawn["step_seconds"] != step_s:
        raise AssertionError(
            f"the explorer drew {drawn['series_count']} series at {drawn['step_seconds']} s, "
            f"VictoriaMetrics answered {len(result)} at {step_s} s"
        )
    points = sum(len(item["values"]) for item in result)
    drawn_points = sum(
        sum(value is not None for value in trace["y"]) for trace in drawn["figure"]["data"]
    )
    return (
        f"{len(result)} series, {points} points ({drawn['drawn']} series, {drawn_points} points "
        "drawn)"
    )


def main() -> int:
    for figure in backend_victoriametrics(profile="--profile" in sys.argv[1:]):
        print(figure.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
