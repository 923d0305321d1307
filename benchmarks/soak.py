"""`python -m benchmarks.soak [--minutes N]` (10 by default): one portal as the benchmarks run
it, under everything at once for the whole duration, with workers dying:

- remote write at 80 % of the maximum measured just before (15 s, as `remote_write.throughput`):
  paced clients, series of their own, samples in time order, each request once on a new
  connection, never retried;
- OTLP trace exports (`benchmarks.traces.trace_bodies`, 512 spans a request), one a second;
- 20 logged-in UI users (one account, 20 sessions, logged in through /login/) going round the
  pages an on-call engineer opens, with think time, every page timed;
- an SLO and alarm evaluation pass every minute, in one long-lived process, as a worker runs
  beat's tasks, over the evaluation benchmark's 1 000 SLOs and 1 000 alarms (written before the
  soak) and the demo's; each pass timed, none started after the end;
- a gunicorn worker killed with SIGKILL every 2 minutes (the first after one), which gunicorn
  replaces.

Every answer must be a success, a 503 with Retry-After (shed), or a connection cut by a kill (in
flight at a kill, or sent at most 3 s after it, as tests/faults/test_crash_recovery counts
them); anything else is an error. Afterwards every acknowledged remote-write body's samples
(counted per body through the query API) and every acknowledged span (read from PostgreSQL) must
be stored. Exits 1 if an error or a lost sample or span was seen. Not part of `make bench`.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import math
import os
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import numpy as np
import psycopg
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from benchmarks import evaluation
from benchmarks.common import Figure, percentile_ms, shell_results, shell_script
from benchmarks.ingest import (
    CLIENTS,
    REMOTE_WRITE_HEADERS,
    REQUESTS_PER_CLIENT,
    build_bodies,
    remote_write_accepted,
    warm_then_time,
)
from benchmarks.payloads import (
    SAMPLES_PER_SERIES,
    SCRAPE_INTERVAL_MS,
    SERIES_PER_REQUEST,
    remote_write_bodies,
    start_ms,
)
from benchmarks.query import Client
from benchmarks.session import WEB_CONCURRENCY, Session, open_session
from benchmarks.traces import BODY_SPACING_NS, SPANS_PER_REQUEST, trace_accepted, trace_bodies
from tests.support import child_pids

MINUTES = 10
MEASURE_S = 15.0
SHARE_OF_MAXIMUM = 0.8
PER_REQUEST = SERIES_PER_REQUEST * SAMPLES_PER_SERIES
BODY_MS = SAMPLES_PER_SERIES * SCRAPE_INTERVAL_MS  # the sample time one body covers
WRITER_CLIENTS_FROM = 100  # series `client-100:9100` ...: not the measurement's
BODIES_PER_BUILD = 40  # bodies are built as they are needed, this many at a time
EXPORTS_PER_SECOND = 1.0
TRACE_CLIENTS_FROM = 500  # seeds of trace_bodies: new trace and span ids in each build
USERS = 20
THINK_S = (2.0, 6.0)
PAGE_TARGET_MS = 500.0
EVALUATE_EVERY_S = 60
FIRST_KILL_S = 60
KILL_EVERY_S = 120
# A cut connection is the kill's if it ended after the kill and was sent at most this after it.
CUT_WINDOW_S = 3.0
REPLACED_WITHIN_S = 30.0
REQUEST_TIMEOUT_S = 60
VERIFY_BODIES = 100  # body windows counted per query_range
USERNAME = "soak-oncall"
RESULT = "SOAK-RESULT "
EXPLORE_QUERY = "sum by (instance) (rate(bench_rw_total_0[5m]))"

SETUP = """
import json
from django.contrib.auth import get_user_model
from coe_portal.accounts.models import Membership, Team
from incidents.incident.models import Incident
from metrics.slo.models import SLO

user = get_user_model().objects.create_user(USERNAME, password=PASSWORD)
Membership.objects.bulk_create(Membership(team=team, user=user) for team in Team.objects.all())
print(RESULT + json.dumps({
    "slos": list(SLO.objects.order_by("pk").values_list("pk", flat=True)[:USERS]),
    "incidents": list(Incident.objects.order_by("pk").values_list("pk", flat=True)[:USERS]),
}))
"""

# One pass a minute in one process, as a worker runs beat's two evaluation tasks.
EVALUATE = """
import json, time
from metrics.alarms.services import evaluate_all_alarms
from metrics.slo.services import evaluate_all_slos

for minute in range(PASSES):
    time.sleep(max(0.0, STARTED + minute * EVERY - time.time()))
    if time.time() >= STARTED + SECONDS:
        break  # the last pass overran the soak
    began = time.perf_counter()
    slos = evaluate_all_slos()
    middle = time.perf_counter()
    alarms = evaluate_all_alarms()
    ended = time.perf_counter()
    print(RESULT + json.dumps({
        "at": time.time() - STARTED - (ended - began), "slos": slos, "alarms": alarms,
        "slo_s": middle - began, "alarm_s": ended - middle,
    }), flush=True)
"""


@dataclass
class Outcome:
    sent_at: float  # seconds into the soak
    done_at: float = 0.0
    status: int | None = None  # None: no answer (the connection was cut)
    retry_after: str | None = None
    error: str = ""
    ok: bool = False  # the stream's own check of the answer passed
    page: str = ""


@dataclass
class Stream:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)


@dataclass
class Writer:
    """One paced remote-write client: its series, and the bodies it got a 204 for."""

    client: int
    first_ms: int
    stream: Stream
    acknowledged: list[int] = field(default_factory=list)


@dataclass
class Soak:
    started: float  # time.monotonic() at the start
    seconds: float
    kills: list[float] = field(default_factory=list)  # seconds into the soak
    killed: list[str] = field(default_factory=list)  # "pid (replaced after x s)"
    acknowledged_spans: list[tuple[str, str]] = field(default_factory=list)  # (trace, span)

    def elapsed(self) -> float:
        return time.monotonic() - self.started


# --- requests ------------------------------------------------------------------------------


def exchange(
    session: Session,
    soak: Soak,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
) -> tuple[Outcome, bytes]:
    """One request on a new connection (a kept-alive one would be cut by a later kill)."""
    outcome = Outcome(sent_at=soak.elapsed())
    answer = b""
    connection = http.client.HTTPConnection(session.host, session.port, timeout=REQUEST_TIMEOUT_S)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        outcome.status, outcome.retry_after = response.status, response.getheader("Retry-After")
    except (OSError, http.client.HTTPException) as exc:
        outcome.error = type(exc).__name__
    finally:
        connection.close()
    outcome.done_at = soak.elapsed()
    return outcome, answer


def verdict(outcome: Outcome, kills: list[float]) -> str:
    if outcome.ok:
        return "accepted"
    if outcome.status == 503 and outcome.retry_after:
        return "shed"
    if outcome.status is None and any(
        outcome.done_at >= kill and outcome.sent_at <= kill + CUT_WINDOW_S for kill in kills
    ):
        return "cut"
    return "error"


def paced(soak: Soak, per_second: float, send: Callable[[int], None]) -> None:
    """send(0), send(1), … at `per_second` until the end; a late one goes at once, so a slow
    answer slows the stream down instead of piling requests up."""
    end = soak.started + soak.seconds
    for sequence in itertools.count():
        due = soak.started + sequence / per_second
        if due >= end or time.monotonic() >= end:
            return
        time.sleep(max(0.0, due - time.monotonic()))
        send(sequence)


# --- remote write --------------------------------------------------------------------------


def measure_maximum(session: Session) -> float:
    """Samples/s of CLIENTS unpaced clients for MEASURE_S, after a warm-up creating their series."""
    bodies = build_bodies(remote_write_bodies, CLIENTS, REQUESTS_PER_CLIENT + 1)
    _, timed = warm_then_time(
        session, path="/api/v1/write", content_headers=REMOTE_WRITE_HEADERS, bodies=bodies,
        accepted=remote_write_accepted, seconds=MEASURE_S,
    )  # fmt: skip
    return timed.accepted * PER_REQUEST / timed.elapsed_s


def writer_bodies(client: int, first_ms: int) -> Iterator[bytes]:
    """Body i holds the samples first_ms + i * BODY_MS + k * 15 s (k < 10) of the client's
    series; built BODIES_PER_BUILD at a time (the values repeat, time goes on)."""
    for build in itertools.count():
        yield from remote_write_bodies(
            client, BODIES_PER_BUILD, first_ms + build * BODIES_PER_BUILD * BODY_MS
        )


def write_steadily(session: Session, soak: Soak, writer: Writer, per_second: float) -> None:
    bodies = writer_bodies(writer.client, writer.first_ms)
    headers = {"Authorization": f"Bearer {session.token}", **REMOTE_WRITE_HEADERS}

    def send(sequence: int) -> None:
        outcome, _ = exchange(session, soak, "POST", "/api/v1/write", next(bodies), headers)
        outcome.ok = outcome.status == 204
        writer.stream.outcomes.append(outcome)
        if outcome.ok:
            writer.acknowledged.append(sequence)

    paced(soak, per_second, send)


def stored_per_body(client: Client, writer: Writer) -> dict[int, int]:
    """Samples stored in each body's window, summed over the client's series, by body index."""
    last = max(writer.acknowledged)
    # At the body's last sample, a range just under a body's span holds exactly its samples.
    at_last = (SAMPLES_PER_SERIES - 1) * SCRAPE_INTERVAL_MS
    query = (
        f'sum(count_over_time({{instance="client-{writer.client}:9100"}}[{BODY_MS // 1000 - 1}s]))'
    )
    counts: dict[int, int] = {}
    for first in range(0, last + 1, VERIFY_BODIES):
        start = writer.first_ms + first * BODY_MS + at_last
        end = start + (min(VERIFY_BODIES, last + 1 - first) - 1) * BODY_MS
        params = {"query": query, "start": str(start / 1000), "end": str(end / 1000)}
        _, status, answer = client.get(
            "/api/v1/query_range", {**params, "step": str(BODY_MS / 1000)}
        )
        if status != 200:
            raise RuntimeError(f"counting stored samples failed: HTTP {status} {answer[:300]!r}")
        for result in json.loads(answer)["data"]["result"]:
            for at, value in result["values"]:
                index = round((float(at) * 1000 - writer.first_ms - at_last) / BODY_MS)
                counts[index] = int(float(value))
    return counts


def lost_samples(session: Session, writers: list[Writer]) -> int:
    client = Client(session.host, session.port, {"Authorization": f"Bearer {session.token}"})
    lost = 0
    try:
        for writer in writers:
            if writer.acknowledged:
                stored = stored_per_body(client, writer)
                lost += sum(PER_REQUEST - stored.get(i, 0) for i in writer.acknowledged)
    finally:
        client.close()
    return lost


# --- traces --------------------------------------------------------------------------------


def export_bodies() -> Iterator[bytes]:
    """Trace exports without end, each build with new ids, its spans in the last minute."""
    for build in itertools.count():
        first_ns = time.time_ns() - (BODIES_PER_BUILD + 1) * BODY_SPACING_NS
        yield from trace_bodies(TRACE_CLIENTS_FROM + build, BODIES_PER_BUILD, first_ns)


def span_keys(body: bytes) -> list[tuple[str, str]]:
    export = ExportTraceServiceRequest.FromString(body)
    return [
        (span.trace_id.hex(), span.span_id.hex())
        for resource in export.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]


def export_steadily(session: Session, soak: Soak, stream: Stream) -> None:
    bodies = export_bodies()
    headers = {"Authorization": f"Bearer {session.token}", "Content-Type": "application/x-protobuf"}

    def send(_sequence: int) -> None:
        body = next(bodies)
        outcome, answer = exchange(session, soak, "POST", "/v1/traces", body, headers)
        outcome.ok = outcome.status is not None and trace_accepted(outcome.status, answer)
        stream.outcomes.append(outcome)
        if outcome.ok:
            soak.acknowledged_spans.extend(span_keys(body))

    paced(soak, EXPORTS_PER_SECOND, send)


def lost_spans(database_url: str, acknowledged: list[tuple[str, str]]) -> int:
    traces = sorted({trace for trace, _ in acknowledged})
    stored: set[tuple[str, str]] = set()
    with psycopg.connect(database_url) as conn:
        for first in range(0, len(traces), 5000):
            rows = conn.execute(
                "SELECT trace_id, span_id FROM metrics_span WHERE trace_id = ANY(%s)",
                [traces[first : first + 5000]],
            ).fetchall()
            stored.update((row[0], row[1]) for row in rows)
    return len(set(acknowledged) - stored)


# --- UI users ------------------------------------------------------------------------------


def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def log_in(session: Session, password: str) -> str:
    """A logged-in session's Cookie header, through the login form as a browser sends it: the
    CSRF cookie from GET /login/ and the form's token, then the session cookie of the 302."""
    connection = http.client.HTTPConnection(session.host, session.port, timeout=REQUEST_TIMEOUT_S)
    try:
        connection.request("GET", "/login/")
        response = connection.getresponse()
        page = response.read().decode()
        cookies = _cookies(response)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if token is None:
            raise RuntimeError(f"no CSRF token on /login/: HTTP {response.status} {page[:300]!r}")
        form = {"username": USERNAME, "password": password, "next": "/"}
        connection.request(
            "POST",
            "/login/",
            body=urlencode({**form, "csrfmiddlewaretoken": token.group(1)}),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items()),
            },
        )
        response = connection.getresponse()
        response.read()
        cookies.update(_cookies(response))
    finally:
        connection.close()
    if response.status != 302 or "sessionid" not in cookies:
        raise RuntimeError(f"login failed: HTTP {response.status}, cookies {sorted(cookies)}")
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


Pages = list[tuple[str, str]]  # (name, path)


def on_call_pages(slo: int, incident: int) -> Pages:
    explore = urlencode({"query": EXPLORE_QUERY, "range": "6h"})
    return [
        ("home", "/"),
        ("slos", "/slos/"),
        ("slo", f"/slos/{slo}/"),
        ("slo_charts", f"/slos/{slo}/charts"),
        ("alarms", "/alarms/"),
        ("incidents", "/incidents/"),
        ("incident", f"/incidents/{incident}/"),
        ("explore_data", f"/explore/data?{explore}"),
        ("traces", "/traces/"),
        ("traces_map", "/traces/map/"),
    ]


def browse(
    session: Session,
    soak: Soak,
    user: int,
    cookie: str,
    pages: Pages,
    stream: Stream,
) -> None:
    """Round the pages, each user from a page of its own, thinking between them."""
    rng = np.random.default_rng(user)
    time.sleep(rng.uniform(0, THINK_S[1]))
    for step in itertools.count(user):
        name, path = pages[step % len(pages)]
        outcome, _ = exchange(session, soak, "GET", path, None, {"Cookie": cookie})
        outcome.ok, outcome.page = outcome.status == 200, name
        stream.outcomes.append(outcome)
        think = float(rng.uniform(*THINK_S))
        if soak.elapsed() + think >= soak.seconds:
            return
        time.sleep(think)


# --- evaluation and kills --------------------------------------------------------------------


def evaluate_every_minute(session: Session, soak: Soak, passes: list[dict[str, float]]) -> None:
    started = time.time() - soak.elapsed()
    count = math.ceil(soak.seconds / EVALUATE_EVERY_S)
    script = shell_script(
        EVALUATE,
        PASSES=count,
        STARTED=started,
        SECONDS=soak.seconds,
        EVERY=EVALUATE_EVERY_S,
        RESULT=RESULT,
    )
    output = session.shell(script, timeout=soak.seconds + 600)
    passes.extend(shell_results(output, RESULT))


def kill_workers(session: Session, soak: Soak) -> None:
    for at in range(FIRST_KILL_S, int(soak.seconds), KILL_EVERY_S):
        time.sleep(max(0.0, soak.started + at - time.monotonic()))
        victim = child_pids(session.gunicorn_pid)[0]
        os.kill(victim, signal.SIGKILL)
        soak.kills.append(soak.elapsed())
        killed_at = time.monotonic()
        while time.monotonic() < killed_at + REPLACED_WITHIN_S:
            workers = child_pids(session.gunicorn_pid)
            if victim not in workers and len(workers) == WEB_CONCURRENCY:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"gunicorn did not replace worker {victim}")
        soak.killed.append(f"{victim} (replaced after {time.monotonic() - killed_at:.1f} s)")


# --- figures -------------------------------------------------------------------------------


def stream_figure(name: str, outcomes: list[Outcome], kills: list[float], unit: str) -> Figure:
    verdicts = Counter(verdict(outcome, kills) for outcome in outcomes)
    slowest = max((o.done_at - o.sent_at for o in outcomes), default=0.0)
    return Figure(
        f"soak.{name}.requests",
        len(outcomes),
        "requests",
        f"accepted {verdicts['accepted']}, shed (503 + Retry-After) {verdicts['shed']}, "
        f"cut by a kill {verdicts['cut']}, errors {verdicts['error']}; {unit}; "
        f"slowest answer {slowest:.1f} s",
    )


def errors_figure(streams: list[Stream], kills: list[float]) -> tuple[int, Figure]:
    errors = [
        (stream.name, outcome)
        for stream in streams
        for outcome in stream.outcomes
        if verdict(outcome, kills) == "error"
    ]
    kinds = Counter(
        f"{name} {outcome.page} {outcome.status or outcome.error}".replace("  ", " ")
        for name, outcome in errors
    )
    shown = ", ".join(f"{count} x {kind}" for kind, count in kinds.most_common(5))
    details = "must be 0: answers neither accepted, nor 503 + Retry-After, nor cut by a kill"
    return len(errors), Figure(
        "soak.errors", len(errors), "", details + (f"; {shown}" if shown else "")
    )


def page_figures(pages: Stream) -> list[Figure]:
    timed = [o for o in pages.outcomes if o.ok]
    latencies = [o.done_at - o.sent_at for o in timed]
    figures = [
        Figure("soak.pages.latency_p50", percentile_ms(latencies, 50), "ms", f"{len(timed)} pages"),
        Figure(
            "soak.pages.latency_p95",
            percentile_ms(latencies, 95),
            "ms",
            f"{len(timed)} pages, {USERS} users, think {THINK_S[0]:.0f}-{THINK_S[1]:.0f} s; "
            f"target <= {PAGE_TARGET_MS:.0f} ms",
        ),
    ]
    for name in dict.fromkeys(o.page for o in timed):
        own = [o.done_at - o.sent_at for o in timed if o.page == name]
        figures.append(
            Figure(
                f"soak.pages.{name}.latency_p95",
                percentile_ms(own, 95),
                "ms",
                f"p50 {percentile_ms(own, 50):.0f} ms, {len(own)} pages",
            )
        )
    return figures


def evaluation_figures(passes: list[dict[str, float]]) -> list[Figure]:
    figures = []
    for number, run in enumerate(passes, start=1):
        total = run["slo_s"] + run["alarm_s"]
        within = "within" if total < EVALUATE_EVERY_S else "OVER"
        figures.append(
            Figure(
                f"soak.evaluation.pass_{number}",
                round(total, 2),
                "s",
                f"at {run['at']:.0f} s; {int(run['slos'])} SLOs in {run['slo_s']:.2f} s, "
                f"{int(run['alarms'])} alarms in {run['alarm_s']:.2f} s; "
                f"target < {EVALUATE_EVERY_S} s ({within} its minute)",
            )
        )
    return figures


# --- the soak ------------------------------------------------------------------------------


def load_evaluation_set(session: Session) -> int:
    """The evaluation benchmark's services, SLOs and alarms (their data ending now), with the
    demo's kept enabled: each pass evaluates both. Returns the samples written."""
    end_ms = int(time.time() * 1000) // evaluation.MINUTE_MS * evaluation.MINUTE_MS
    script = shell_script(
        evaluation.SETUP,
        END_MS=end_ms,
        RESULT=evaluation.RESULT,
        DAYS=evaluation.DAYS,
        SERVICES=evaluation.SERVICES,
        PER_SERVICE=evaluation.PER_SERVICE,
        METRIC=evaluation.METRIC,
        PREFIX=evaluation.PREFIX,
    )
    loaded = shell_results(session.shell(script), evaluation.RESULT)[0]
    session.shell(shell_script(evaluation.RESTORE, DISABLED=loaded))
    return int(loaded["samples"])


def prepare_users(session: Session) -> tuple[list[str], list[Pages]]:
    """The account (a member of every team), each user's Cookie header and pages."""
    password = os.urandom(12).hex()
    ids = shell_results(
        session.shell(
            shell_script(SETUP, USERNAME=USERNAME, PASSWORD=password, USERS=USERS, RESULT=RESULT)
        ),
        RESULT,
    )[0]
    cookies = [log_in(session, password) for _ in range(USERS)]
    pages = [
        on_call_pages(
            ids["slos"][user % len(ids["slos"])], ids["incidents"][user % len(ids["incidents"])]
        )
        for user in range(USERS)
    ]
    return cookies, pages


def run_all(workers: list[Callable[[], None]]) -> None:
    """Each in a thread of its own until all are done; the first failure, if any, is raised."""
    failures: list[BaseException] = []

    def guarded(work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:  # re-raised below, in the caller's thread
            failures.append(exc)

    threads = [threading.Thread(target=guarded, args=(work,), daemon=True) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


@dataclass
class Run:
    """What the soak sent and saw, stream by stream."""

    soak: Soak
    writers: list[Writer]
    per_client: float  # requests/s of each writer
    exports: Stream = field(default_factory=lambda: Stream("traces"))
    browsing: Stream = field(default_factory=lambda: Stream("pages"))
    passes: list[dict[str, float]] = field(default_factory=list)

    def writes(self) -> Stream:
        return Stream("remote_write", [o for w in self.writers for o in w.stream.outcomes])

    def accepted_bodies(self) -> int:
        return sum(len(writer.acknowledged) for writer in self.writers)


def soak_all(session: Session, seconds: float, per_client: float) -> Run:
    """Everything at once for `seconds`: writes, exports, users, evaluation, kills."""
    planned = math.ceil(per_client * seconds) + 1
    first_ms = start_ms(int(time.time() * 1000), planned)
    writers = [
        Writer(WRITER_CLIENTS_FROM + n, first_ms, Stream("remote_write")) for n in range(CLIENTS)
    ]
    cookies, pages = prepare_users(session)
    run = Run(Soak(started=time.monotonic(), seconds=seconds), writers, per_client)
    soak = run.soak
    run_all(
        [
            *(lambda w=w: write_steadily(session, soak, w, per_client) for w in writers),
            lambda: export_steadily(session, soak, run.exports),
            *(
                lambda u=u: browse(session, soak, u, cookies[u], pages[u], run.browsing)
                for u in range(USERS)
            ),
            lambda: evaluate_every_minute(session, soak, run.passes),
            lambda: kill_workers(session, soak),
        ]
    )
    return run


def intake_figures(run: Run, maximum: float, elapsed: float) -> list[Figure]:
    target = SHARE_OF_MAXIMUM * maximum
    achieved = run.accepted_bodies() * PER_REQUEST / run.soak.seconds
    due = math.ceil(run.per_client * run.soak.seconds) * CLIENTS
    kills = run.soak.kills
    return [
        Figure(
            "soak.duration",
            round(elapsed),
            "s",
            f"{CLIENTS} remote-write clients, {EXPORTS_PER_SECOND:g} trace export/s, {USERS} UI "
            f"users, evaluation every {EVALUATE_EVERY_S} s, a worker killed every {KILL_EVERY_S} s "
            f"from {FIRST_KILL_S} s",
        ),
        Figure(
            "soak.remote_write.maximum",
            maximum,
            "samples/s",
            f"{CLIENTS} unpaced clients, {MEASURE_S:.0f} s before the soak, "
            f"{SERIES_PER_REQUEST} series x {SAMPLES_PER_SERIES} samples a request",
        ),
        Figure(
            "soak.remote_write.rate",
            achieved,
            "samples/s",
            f"accepted over the soak; target {target:,.0f} ({SHARE_OF_MAXIMUM:.0%} of the "
            f"maximum), reached {achieved / target:.0%}; {len(run.writes().outcomes)} of the "
            f"{due} requests due at that pace were sent (a client waits for each answer)",
        ),
        stream_figure("remote_write", run.writes().outcomes, kills, f"{CLIENTS} paced clients"),
        stream_figure("traces", run.exports.outcomes, kills, f"{SPANS_PER_REQUEST} spans each"),
        stream_figure("pages", run.browsing.outcomes, kills, f"{USERS} users"),
    ]


def loss_figures(session: Session, run: Run) -> tuple[bool, list[Figure]]:
    """Whether every must-be-0 figure is 0, and the figures: errors, cuts, losses."""
    streams = [run.writes(), run.exports, run.browsing]
    errors, errors_line = errors_figure(streams, run.soak.kills)
    cuts = sum(verdict(o, run.soak.kills) == "cut" for s in streams for o in s.outcomes)
    lost = lost_samples(session, run.writers)
    spans_lost = lost_spans(session.database_url, run.soak.acknowledged_spans)
    accepted = run.accepted_bodies()
    return (errors, lost, spans_lost) == (0, 0, 0), [
        errors_line,
        Figure(
            "soak.cut_by_kill",
            cuts,
            "requests",
            f"no answer, in flight at a kill or sent <= {CUT_WINDOW_S:.0f} s after it; "
            f"{len(run.soak.kills)} worker(s) killed: {', '.join(run.soak.killed) or 'none'}",
        ),
        Figure(
            "soak.remote_write.lost",
            lost,
            "samples",
            f"must be 0; of {accepted * PER_REQUEST} acknowledged in {accepted} bodies, "
            "counted per body through /api/v1/query_range",
        ),
        Figure(
            "soak.traces.lost",
            spans_lost,
            "spans",
            f"must be 0; of {len(run.soak.acknowledged_spans)} acknowledged, read from "
            "metrics_span",
        ),
    ]


def soak_run(session: Session, seconds: float) -> tuple[list[Figure], bool]:
    """The figures, and whether every must-be-0 figure is 0."""
    maximum = measure_maximum(session)
    evaluation_samples = load_evaluation_set(session)
    per_client = SHARE_OF_MAXIMUM * maximum / PER_REQUEST / CLIENTS  # requests/s
    run = soak_all(session, seconds, per_client)
    elapsed = run.soak.elapsed()
    clean, losses = loss_figures(session, run)
    count = evaluation.SERVICES * evaluation.PER_SERVICE
    figures = [
        *intake_figures(run, maximum, elapsed),
        *losses,
        *page_figures(run.browsing),
        Figure(
            "soak.evaluation.dataset",
            evaluation_samples,
            "samples",
            f"the evaluation benchmark's {count} SLOs and {count} alarms over "
            f"{evaluation.SERVICES} services, written before the soak, and the demo's",
        ),
        *evaluation_figures(run.passes),
    ]
    return figures, clean


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=MINUTES)
    minutes = parser.parse_args().minutes
    with open_session(pages=True) as session:
        figures, clean = soak_run(session, minutes * 60)
    for figure in figures:
        print(figure.line(), flush=True)
    return 0 if clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
