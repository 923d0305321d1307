"""One evaluation pass, as the worker's once-a-minute tasks run it: every SLO (its window and
each burn-rate window, bad and total events) and every threshold alarm (one range query each),
in one process, against PostgreSQL.

Setup is not timed: 50 services with two request counters each (codes 200 and 500, 1 min over
3 days, written with `write_samples` and compacted), 20 SLOs and 20 threshold alarms per
service, no notification channels. The demo SLOs are disabled for the pass (and re-enabled
after it), so exactly the benchmark's 1 000 SLOs and 1 000 alarms are evaluated.

The timed process runs two passes, at minute t and t + 1 min: the first with a cold process
(no chunk decoded yet, nothing imported lazily) in which every alarm and SLO also leaves its
initial state (each change is recorded, announced and may open an incident: the count is
printed), the second warm and with few changes, as a worker runs after its first minute.
Each pass also counts the HTTP requests it sends to an external metrics backend (none on the
embedded store; `benchmarks.backend` runs the same passes on VictoriaMetrics and prints them).
`python -m benchmarks.evaluation [--profile]` runs this benchmark alone in a session of its own;
`--profile` adds a third pass under cProfile and prints its top functions.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from benchmarks.common import Figure
from benchmarks.query import vacuum_analyze
from benchmarks.session import Session, open_session
from benchmarks.storage import COMPACT_ALL

SERVICES = 50
PER_SERVICE = 20  # SLOs, and alarms, per service
DAYS = 3
MINUTE_MS = 60_000
TARGET_S = 10.0
METRIC = "bench_requests_total"
PREFIX = "bench-eval"  # teams; services are s0 .. s49, as their `service` label
RESULT = "EVALUATION-RESULT "

SETUP = """
import json
import numpy as np
from decimal import Decimal
from coe_portal.accounts.models import Service, Team
from metrics.alarms.models import Alarm
from metrics.slo.models import SLO
from metrics.storage.writer import SeriesSamples, write_samples

times = END_MS - 60_000 * np.arange(DAYS * 1440 - 1, -1, -1, dtype=np.int64)
rng = np.random.default_rng(5)
teams = [Team.objects.create(name=f"{PREFIX}-t{i}") for i in range(5)]
services = [
    Service.objects.create(name=f"s{i}", team=teams[i % len(teams)]) for i in range(SERVICES)
]
samples = 0
batch = []
for index, service in enumerate(services):
    # Error ratios from 0.05 % to 1.25 %: some SLOs burn their budget, some alarms fire.
    for code, rate in {"200": 600.0, "500": 0.3 * (1 + index % 25)}.items():
        values = np.cumsum(rng.poisson(rate, size=len(times)).astype(np.float64))
        labels = {"service": service.name, "code": code}
        batch.append(SeriesSamples(METRIC, labels, times.tolist(), values.tolist()))
    if len(batch) >= 20 or index == len(services) - 1:
        result = write_samples(batch)
        assert result.samples_rejected == 0, result.error_summary()
        samples += result.samples_written
        batch = []

OBJECTIVES = [Decimal("99"), Decimal("99.5"), Decimal("99.9"), Decimal("99.95")]
WINDOWS = ["7d", "28d", "30d"]
WINDOW = "{{window}}"
slos, alarms = [], []
for service in services:
    s = service.name
    for k in range(PER_SERVICE):
        slos.append(SLO(
            name=f"availability-{k}", service=service, team=service.team,
            objective_percent=OBJECTIVES[k % len(OBJECTIVES)], window=WINDOWS[k % len(WINDOWS)],
            sli_kind=SLO.SLIKind.RATIO,
            bad_query=f'sum(rate({METRIC}{{service="{s}",code=~"5.."}}[{WINDOW}]))',
            total_query=f'sum(rate({METRIC}{{service="{s}"}}[{WINDOW}]))',
        ))
        alarms.append(Alarm(
            name=f"{s}-errors-{k}", team=service.team, service=service,
            kind=Alarm.Kind.THRESHOLD,
            expression=f'sum(rate({METRIC}{{service="{s}",code="500"}}[5m]))',
            period_seconds=60, evaluation_periods=3, datapoints_to_alarm=2,
            comparison=Alarm.Comparison.GT, threshold=0.01 * (k + 1),
        ))
SLO.objects.bulk_create(slos)
Alarm.objects.bulk_create(alarms)
# Only the benchmark's SLOs and alarms are evaluated: the demo's are disabled for the pass.
others = list(
    SLO.objects.filter(enabled=True).exclude(team__name__startswith=PREFIX)
    .values_list("pk", flat=True)
)
SLO.objects.filter(pk__in=others).update(enabled=False)
other_alarms = list(
    Alarm.objects.filter(enabled=True).exclude(team__name__startswith=PREFIX)
    .values_list("pk", flat=True)
)
Alarm.objects.filter(pk__in=other_alarms).update(enabled=False)
print(RESULT + json.dumps({"samples": samples, "slos": others, "alarms": other_alarms}))
"""

PASSES = """
import json, time
from datetime import datetime, timedelta, timezone
from metrics.alarms.models import AlarmTransition
from metrics.alarms.services import evaluate_all_alarms
from metrics.backends.client import Client
from metrics.backends.prometheus import PrometheusBackend
from metrics.slo.burn import BURN_WINDOWS
from metrics.slo.models import SLOAlertTransition
from metrics.slo.services import evaluate_all_slos

# Every HTTP request to an external metrics backend (none on the embedded store): how many,
# the bytes of their answers, the time spent waiting for them, and the time raw reads took in
# all (the requests, then decoding the JSON into arrays).
backend = {"requests": 0, "bytes": 0, "request_s": 0.0, "raw_s": 0.0}
send, raw = Client.request, PrometheusBackend.raw
def counted_request(self, *args, **kwargs):
    began = time.perf_counter()
    response = send(self, *args, **kwargs)
    backend["request_s"] += time.perf_counter() - began
    backend["requests"] += 1
    backend["bytes"] += len(response.body)
    return response
def timed_raw(self, *args, **kwargs):
    began = time.perf_counter()
    try:
        return raw(self, *args, **kwargs)
    finally:
        backend["raw_s"] += time.perf_counter() - began
Client.request, PrometheusBackend.raw = counted_request, timed_raw

def changes():
    return AlarmTransition.objects.count() + SLOAlertTransition.objects.count()

first = datetime.fromtimestamp(END_MS / 1000, tz=timezone.utc)
passes = []
for minute in (first, first + timedelta(minutes=1)):
    before, sent = changes(), dict(backend)
    began = time.perf_counter()
    slos = evaluate_all_slos(now=minute)
    middle = time.perf_counter()
    alarms = evaluate_all_alarms(now=minute)
    ended = time.perf_counter()
    passes.append({"slos": slos, "alarms": alarms, "slo_s": middle - began,
                   "alarm_s": ended - middle, "burn_windows": len(BURN_WINDOWS),
                   "changes": changes() - before,
                   **{f"backend_{key}": backend[key] - sent[key] for key in backend}})
if PROFILE:
    import cProfile, io, pstats
    profiler = cProfile.Profile()
    minute = first + timedelta(minutes=2)
    profiler.runcall(lambda: (evaluate_all_slos(now=minute), evaluate_all_alarms(now=minute)))
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(30)
        print(out.getvalue())
print(RESULT + json.dumps(passes))
"""

RESTORE = """
from metrics.alarms.models import Alarm
from metrics.slo.models import SLO
SLO.objects.filter(pk__in=DISABLED["slos"]).update(enabled=True)
Alarm.objects.filter(pk__in=DISABLED["alarms"]).update(enabled=True)
"""


def _script(body: str, **names: object) -> str:
    """The script with its parameters assigned first (as Python literals)."""
    preamble = "".join(f"{name} = {value!r}\n" for name, value in names.items())
    return preamble + body


def _result(output: str) -> object:
    line = next(line for line in output.splitlines() if line.startswith(RESULT))
    return json.loads(line.removeprefix(RESULT))


def pass_figures(prefix: str, suffix: str, when: str, run: dict[str, float]) -> list[Figure]:
    slos, alarms = int(run["slos"]), int(run["alarms"])
    expected = SERVICES * PER_SERVICE
    if (slos, alarms) != (expected, expected):
        raise AssertionError(f"evaluated {slos} SLOs and {alarms} alarms, not {expected} each")
    total = run["slo_s"] + run["alarm_s"]
    windows = int(run["burn_windows"])
    return [
        Figure(
            f"{prefix}.slos_and_alarms{suffix}",
            round(total, 2),
            "s",
            f"{when}; {slos} SLOs x {windows} burn windows + SLO window, {alarms} alarms; "
            f"{int(run['changes'])} state changes recorded and announced; one process; "
            f"target <= {TARGET_S:.0f} s",
        ),
        Figure(f"{prefix}.slos{suffix}", round(run["slo_s"], 2), "s", f"{slos} SLOs"),
        Figure(f"{prefix}.alarms{suffix}", round(run["alarm_s"], 2), "s", f"{alarms} alarms"),
        Figure(f"{prefix}.slo_mean{suffix}", run["slo_s"] / slos * 1000, "ms", "per SLO"),
        Figure(f"{prefix}.alarm_mean{suffix}", run["alarm_s"] / alarms * 1000, "ms", "per alarm"),
    ]


def last_minute_ms() -> int:
    """The last whole minute: the data ends there and the first pass evaluates at it."""
    return int(time.time() * 1000) // MINUTE_MS * MINUTE_MS


def load_services(session: Session, end_ms: int) -> dict[str, Any]:
    """Writes the services' counters (through `write_samples`, so with an external backend they
    land there), creates the SLOs and alarms and disables the demo's; returns what to restore."""
    loaded = _result(
        session.shell(
            _script(
                SETUP,
                END_MS=end_ms,
                RESULT=RESULT,
                DAYS=DAYS,
                SERVICES=SERVICES,
                PER_SERVICE=PER_SERVICE,
                METRIC=METRIC,
                PREFIX=PREFIX,
            )
        )
    )
    assert isinstance(loaded, dict)
    return loaded


def timed_passes(
    session: Session, end_ms: int, loaded: dict[str, Any], *, profile: bool = False
) -> list[dict[str, float]]:
    """The two passes (cold, then warm a minute later) in one process; the demo's SLOs and
    alarms are enabled again afterwards. With `profile`, a third pass's profile is printed."""
    try:
        output = session.shell(
            _script(PASSES, END_MS=end_ms, RESULT=RESULT, PROFILE=profile), timeout=600
        )
    finally:
        session.shell(_script(RESTORE, DISABLED=loaded))
    if profile:
        print(output[: output.find(RESULT)], flush=True)
    passes = _result(output)
    assert isinstance(passes, list)
    return passes


def dataset_details(prepared: str) -> str:
    count = SERVICES * PER_SERVICE
    return (
        f"{SERVICES} services x 2 counters at 1 min over {DAYS} d, {prepared}; {count} SLOs "
        f"(7d/28d/30d, 99-99.95 %), {count} threshold alarms (3 periods of 60 s, 2 to alarm), "
        "no notification channels"
    )


def evaluation_pass(session: Session, *, profile: bool = False) -> list[Figure]:
    end_ms = last_minute_ms()
    loaded = load_services(session, end_ms)
    merged = int(session.shell(COMPACT_ALL).strip() or 0)
    vacuum_analyze(session.database_url)
    passes = timed_passes(session, end_ms, loaded, profile=profile)
    return [
        Figure(
            "evaluation.dataset",
            int(loaded["samples"]),
            "samples",
            dataset_details(f"written then {merged} (series, block) groups compacted"),
        ),
        # The first pass is also where every alarm and SLO leaves its initial state.
        *pass_figures("evaluation", "", "first pass, cold process", passes[0]),
        *pass_figures(
            "evaluation", "_warm", "second pass, the next minute, same process", passes[1]
        ),
    ]


def main() -> int:
    with open_session() as session:
        for figure in evaluation_pass(session, profile="--profile" in sys.argv[1:]):
            print(figure.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
