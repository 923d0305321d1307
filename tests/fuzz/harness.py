"""Runs payloads against a portal under gunicorn on PostgreSQL and checks the rule every answer
must meet: a 2xx, a 4xx, or a 503 with Retry-After, within 10 s; never another 5xx. A sample of
the well-formed payloads answered 2xx is read back through the API: 2xx means stored.
"""

from __future__ import annotations

import json
import os
import random
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.fuzz.generators import GENERATORS, Context, Payload
from tests.support import manage, running, wait_for_http

BIN = Path(sys.executable).parent
CORPUS = Path(__file__).resolve().parent / "corpus"
DEADLINE_SECONDS = 10.0
PORTS = range(18100, 18200)

SETUP = """
import json
import time
from metrics.storage.writer import SeriesSamples, write_samples
from coe_portal.accounts.models import Service, Team
from coe_portal.accounts.services import api_token_create
from django.utils import timezone
from incidents.incident.services import incident_open
team = Team.objects.create(name="fuzz", display_name="Fuzz")
service = Service.objects.create(name="cart", team=team, tier=1)
token = api_token_create(team=team, name="fuzz", scopes=["ingest", "read", "write"])
incident = incident_open(title="fuzzed", severity="SEV3", team=team, services=[service],
    started_at=timezone.now(), detected_at=None, summary="", restricted=False)
# Series the generated queries select, so that evaluation reaches the data.
now = int(time.time() * 1000)
steps = [now - 15_000 * i for i in range(240, 0, -1)]
write_samples([
    SeriesSamples(name, labels, steps, [float(i % 7) for i in range(len(steps))])
    for name, labels in [("up", {"job": "api"}), ("up", {"job": "web"}),
        ("http_requests_total", {"code": "500", "method": "POST"}),
        ("http_requests_total", {"code": "200", "method": "GET"}), ("queue_depth", {})]
], token=token.token)
print(json.dumps({"token": token.secret, "incident": incident.pk}))
"""


@dataclass
class Portal:
    base_url: str
    token: str
    incident_id: int
    log: Path


def _free_port() -> int:
    wanted = os.environ.get("FUZZ_PORT")
    candidates = [int(wanted)] if wanted else list(PORTS)
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {candidates[0]}-{candidates[-1]}")


@contextmanager
def _server_database() -> Iterator[str]:
    """A database of its own next to DATABASE_URL's (its name + `_fuzz` + this process's id, so a
    `make fuzz` and a test run side by side never share one), dropped after."""
    import psycopg

    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        raise RuntimeError("the HTTP fuzz runs on PostgreSQL: set DATABASE_URL=postgres://…")
    server, name = base.rsplit("/", 1)
    name = f"{name.split('?')[0]}_fuzz{os.getpid()}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def portal() -> Iterator[Portal]:
    """gunicorn with the project's configuration (the Procfile's web command), on PostgreSQL."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="coe-fuzz-") as data, _server_database() as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FUZZ_"))}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env.update(
            DJANGO_SETTINGS_MODULE="coe_portal.settings", DEBUG="false",
            SECRET_KEY="fuzz-only-" + "k" * 60, SECURE_SSL_REDIRECT="false", DATA_DIR=data,
            DATABASE_URL=url, HOST="127.0.0.1", PORT=str(port),
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        )  # fmt: skip
        manage(env, "migrate", "--noinput", timeout=300)
        setup = json.loads(manage(env, "shell", "--no-imports", "-c", SETUP).strip())
        log = Path(data) / "gunicorn.log"
        command = [
            str(BIN / "gunicorn"),
            "coe_portal.wsgi",
            "--config",
            "coe_portal/gunicorn_conf.py",
        ]
        with running(command, env, log):
            base_url = f"http://127.0.0.1:{port}"
            wait_for_http(f"{base_url}/healthz", timeout=60)
            yield Portal(base_url, setup["token"], setup["incident"], log)


# Sending and judging -------------------------------------------------------------------------


@dataclass
class Finding:
    endpoint: str
    label: str
    problem: str
    payload: Payload


@dataclass
class Tally:
    sent: int = 0
    ok: int = 0
    client_error: int = 0
    unavailable: int = 0
    server_error: int = 0
    hangs: int = 0
    verified: int = 0
    findings: list[Finding] = field(default_factory=list)


class Runner:
    # Three at a time: the intake's bulkhead (INGEST_MAX_CONCURRENCY) takes three per process,
    # so the answers are the payloads' own rather than mostly 503s.
    def __init__(self, target: Portal, *, threads: int = 3, verify_every: int = 5) -> None:
        self.target = target
        self.threads = threads
        self.verify_every = verify_every
        self.tallies: dict[str, Tally] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {self.target.token}"
            self._local.session = session
        return session

    def fetch(self, path: str, params: dict[str, str]) -> tuple[int, Any]:
        response = self._session().get(
            self.target.base_url + path, params=params, timeout=DEADLINE_SECONDS
        )
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text[:300]

    def send(self, payload: Payload, *, verify: bool) -> None:
        tally = self.tallies.setdefault(payload.endpoint, Tally())
        url = self.target.base_url + payload.path
        headers = dict(payload.headers)
        body: bytes | None = payload.body
        if payload.params is not None:
            if payload.method == "GET":
                url += "?" + urllib.parse.urlencode(payload.params, errors="surrogatepass")
                body = None
            else:
                body = urllib.parse.urlencode(payload.params, errors="surrogatepass").encode()
        if payload.content_type:
            headers["Content-Type"] = payload.content_type
        started = time.monotonic()
        problem = ""
        response: requests.Response | None = None
        for attempt in (1, 2):
            try:
                response = self._session().request(
                    payload.method, url, data=body, headers=headers, timeout=DEADLINE_SECONDS
                )
                break
            except requests.Timeout:
                problem = f"no answer within {DEADLINE_SECONDS:.0f} s"
                break
            except requests.ConnectionError as exc:
                # Once on a new connection: a kept-alive one may have been closed by the server
                # just as the request went out (nothing was read). Twice is a finding.
                self._local.session = None
                problem = f"connection failed twice: {exc}" if attempt == 2 else ""
                started = time.monotonic()
        elapsed = time.monotonic() - started
        status = response.status_code if response is not None else 0
        if response is not None and elapsed > DEADLINE_SECONDS:
            problem = f"answered after {elapsed:.1f} s"
        elif response is not None:
            problem = self._judge(payload, response, verify=verify, tally=tally)
        with self._lock:
            tally.sent += 1
            if response is None or elapsed > DEADLINE_SECONDS:
                tally.hangs += 1
            elif 200 <= status < 300:
                tally.ok += 1
            elif 400 <= status < 500:
                tally.client_error += 1
            elif status == 503 and response.headers.get("Retry-After"):
                tally.unavailable += 1
            else:
                tally.server_error += 1
            if problem:
                tally.findings.append(Finding(payload.endpoint, payload.label, problem, payload))

    def _judge(
        self, payload: Payload, response: requests.Response, *, verify: bool, tally: Tally
    ) -> str:
        status = response.status_code
        if status >= 500 and not (status == 503 and response.headers.get("Retry-After")):
            return f"{status}: {response.text[:300]}"
        if payload.expect is not None and status != 503:
            return payload.expect(status, response.content) or ""
        if payload.verify is None or status == 503:
            return ""
        if not 200 <= status < 300:
            return f"a well-formed payload was refused with {status}: {response.text[:300]}"
        if not verify:
            return ""
        try:
            answer = response.json() if response.content else None
        except ValueError:
            answer = None
        try:
            found = payload.verify(self.fetch, answer)
        except (KeyError, TypeError, IndexError, requests.RequestException) as exc:
            found = f"reading back failed: {exc!r}"
        if found:
            return f"answered {status} but {found}"
        with self._lock:
            tally.verified += 1
        return ""

    def run_generated(self, endpoint: str, *, count: int, seed: int, mutation_rate: float) -> None:
        rng = random.Random(f"{seed}:{endpoint}")
        context = Context(incident_id=self.target.incident_id)
        generate = GENERATORS[endpoint]
        payloads = [generate(rng, context, mutation_rate) for _ in range(count)]
        valid = 0
        jobs: list[tuple[Payload, bool]] = []
        for payload in payloads:
            if payload.verify is not None:
                valid += 1
            jobs.append((payload, payload.verify is not None and valid % self.verify_every == 1))
        with ThreadPoolExecutor(self.threads) as pool:
            list(pool.map(lambda job: self.send(job[0], verify=job[1]), jobs))

    def run_corpus(self) -> int:
        payloads = load_corpus(self.target.incident_id)
        with ThreadPoolExecutor(self.threads) as pool:
            list(pool.map(lambda payload: self.send(payload, verify=False), payloads))
        return len(payloads)

    def findings(self) -> list[Finding]:
        return [finding for tally in self.tallies.values() for finding in tally.findings]

    def table(self) -> str:
        head = f"{'endpoint':<30}{'sent':>7}{'2xx':>7}{'4xx':>7}{'503':>6}{'5xx':>6}{'hangs':>6}"
        lines = [head + f"{'read back':>10}{'problems':>9}", "-" * (len(head) + 19)]
        for endpoint, tally in sorted(self.tallies.items()):
            lines.append(
                f"{endpoint:<30}{tally.sent:>7}{tally.ok:>7}{tally.client_error:>7}"
                f"{tally.unavailable:>6}{tally.server_error:>6}{tally.hangs:>6}"
                f"{tally.verified:>10}{len(tally.findings):>9}"
            )
        return "\n".join(lines)


# The corpus --------------------------------------------------------------------------------

# Per corpus folder: the path (with the incident's id), the content type and extra headers.
CORPUS_TARGETS: dict[str, tuple[str, str, dict[str, str]]] = {
    "remote_write": ("/api/v1/write", "application/x-protobuf", {"Content-Encoding": "snappy"}),
    "otlp_metrics_protobuf": ("/v1/metrics", "application/x-protobuf", {}),
    "otlp_metrics_json": ("/v1/metrics", "application/json", {}),
    "otlp_traces_protobuf": ("/v1/traces", "application/x-protobuf", {}),
    "otlp_traces_json": ("/v1/traces", "application/json", {}),
    "zipkin": ("/api/v2/spans", "application/json", {}),
    "alertmanager": ("/api/v1/alertmanager", "application/json", {}),
    "incidents": ("/api/v1/incidents", "application/json", {}),
    "incident_status": ("/api/v1/incidents/{incident}/status", "application/json", {}),
    "incident_timeline": ("/api/v1/incidents/{incident}/timeline", "application/json", {}),
    "slos": ("/api/v1/slos", "application/json", {}),
    "alarms": ("/api/v1/alarms", "application/json", {}),
    "query": ("/api/v1/query", "application/x-www-form-urlencoded", {}),
    "query_range": ("/api/v1/query_range", "application/x-www-form-urlencoded", {}),
}


def _refused(endpoint: str) -> Callable[[int, bytes], str | None]:
    """Every corpus payload is refused: whole with a 4xx, or (OTLP protobuf, whose requests
    here are otherwise well-formed) in part, counted in partial_success."""

    def expect(status: int, body: bytes) -> str | None:
        if endpoint == "otlp_traces_protobuf":
            rejected = ExportTraceServiceResponse.FromString(body).partial_success.rejected_spans
        elif endpoint == "otlp_metrics_protobuf":
            answer = ExportMetricsServiceResponse.FromString(body)
            rejected = answer.partial_success.rejected_data_points
        else:
            refused = 400 <= status < 500 and status not in (401, 403)  # not the token's fault
            return None if refused else f"answered {status}, not a 4xx: {body[:200]!r}"
        if status != 200 or rejected < 1:
            return f"answered {status} with {rejected} rejected, not 200 refusing it"
        return None

    return expect


def load_corpus(incident_id: int) -> list[Payload]:
    """Every regression payload, as it is stored: a folder per endpoint, a file per payload
    (for the query endpoints the file is the PromQL text, sent with a fixed time or range)."""
    payloads = []
    for folder in sorted(CORPUS.iterdir()):
        if not folder.is_dir():
            continue
        path, content_type, headers = CORPUS_TARGETS[folder.name]
        for item in sorted(folder.iterdir()):
            data = item.read_bytes()
            payload = Payload(
                f"corpus:{folder.name}", path.format(incident=incident_id), data, content_type,
                dict(headers), label=item.name, expect=_refused(folder.name),
            )  # fmt: skip
            if folder.name in ("query", "query_range"):
                params = {"query": data.decode("utf-8", "surrogatepass")}
                if folder.name == "query":
                    params["time"] = "1764000000"
                else:
                    params.update(start="1764000000", end="1764003600", step="60")
                payload.params = params
                payload.body = b""
            payloads.append(payload)
    return payloads


def save_findings(findings: list[Finding], folder: Path) -> None:
    """Each failing payload as a file, to add to the corpus once fixed."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, finding in enumerate(findings):
        stem = f"{finding.endpoint.replace(':', '_')}-{index:04d}-{finding.label.replace(':', '_')}"
        data = finding.payload.body
        if finding.payload.params is not None:
            data = finding.payload.params.get("query", "").encode("utf-8", "surrogatepass")
        (folder / f"{stem}.bin").write_bytes(data)
        meta = {
            "endpoint": finding.endpoint, "label": finding.label, "problem": finding.problem,
            "path": finding.payload.path, "content_type": finding.payload.content_type,
            "headers": finding.payload.headers, "method": finding.payload.method,
            "params": finding.payload.params,
        }  # fmt: skip
        (folder / f"{stem}.json").write_text(json.dumps(meta, indent=1, ensure_ascii=True))
