from __future__ import annotations

import gzip
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from metrics.ingest.scrape import (
    ACCEPT,
    ScrapeError,
    merge_target_labels,
    next_scrape_time,
    parse_exposition,
    scrape_due_targets,
    scrape_target_claim,
)
from metrics.models import ScrapeTarget
from metrics.storage.encoding import Timestamps, Values, is_stale
from metrics.storage.reader import Matcher, read_samples, select_series

NOW = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"

CLASSIC_BODY = """\
# HELP http_requests_total Requests handled.
# TYPE http_requests_total counter
http_requests_total{code="200",path="/"} 1027
http_requests_total{code="500",path="/"} 3
# HELP http_requests_created Requests handled.
# TYPE http_requests_created gauge
http_requests_created{code="200",path="/"} 1.7e+09
http_requests_created{code="500",path="/"} 1.7e+09
# TYPE queue_depth gauge
queue_depth 7
"""


def as_tuples(text: str, content_type: str) -> list[tuple[str, dict[str, str], float, int]]:
    parsed = parse_exposition(text, content_type, default_timestamp_ms=NOW_MS)
    return [(s.name, s.labels, s.value, s.timestamp_ms) for s in parsed.samples]


# Parsing ------------------------------------------------------------------------------------


def test_classic_text_keeps_counter_names_and_drops_created_start_times():
    assert as_tuples(CLASSIC_BODY, TEXT) == [
        ("http_requests_total", {"code": "200", "path": "/"}, 1027.0, NOW_MS),
        ("http_requests_total", {"code": "500", "path": "/"}, 3.0, NOW_MS),
        ("queue_depth", {}, 7.0, NOW_MS),
    ]


def test_a_gauge_that_merely_ends_in_created_is_kept():
    body = '# TYPE kube_pod_created gauge\nkube_pod_created{pod="a"} 1.6e+09\n'
    assert as_tuples(body, TEXT) == [("kube_pod_created", {"pod": "a"}, 1.6e9, NOW_MS)]


def test_openmetrics_skips_created_samples_of_counters_histograms_and_summaries():
    body = """\
# TYPE jobs counter
# HELP jobs Jobs run.
jobs_total{queue="mail"} 12.0
jobs_created{queue="mail"} 1.7e+09
# TYPE latency_seconds histogram
latency_seconds_bucket{le="0.5"} 3.0
latency_seconds_bucket{le="+Inf"} 4.0
latency_seconds_count 4.0
latency_seconds_sum 2.5
latency_seconds_created 1.7e+09
# EOF
"""
    assert as_tuples(body, OPENMETRICS) == [
        ("jobs_total", {"queue": "mail"}, 12.0, NOW_MS),
        ("latency_seconds_bucket", {"le": "0.5"}, 3.0, NOW_MS),
        ("latency_seconds_bucket", {"le": "+Inf"}, 4.0, NOW_MS),
        ("latency_seconds_count", {}, 4.0, NOW_MS),
        ("latency_seconds_sum", {}, 2.5, NOW_MS),
    ]


def test_openmetrics_without_eof_is_a_parse_error():
    with pytest.raises(ScrapeError, match="cannot parse the application/openmetrics-text body"):
        parse_exposition("# TYPE a gauge\na 1\n", OPENMETRICS, default_timestamp_ms=NOW_MS)


def test_sample_timestamps_are_used_when_present():
    # text 0.0.4 timestamps are milliseconds, OpenMetrics ones seconds (with a fraction).
    assert as_tuples("a 1 1700000000500\nb 2\n", TEXT) == [
        ("a", {}, 1.0, 1_700_000_000_500),
        ("b", {}, 2.0, NOW_MS),
    ]
    body = "# TYPE a gauge\na 1 1700000000.25\n# TYPE b gauge\nb 2\n# EOF\n"
    assert as_tuples(body, OPENMETRICS) == [
        ("a", {}, 1.0, 1_700_000_000_250),
        ("b", {}, 2.0, NOW_MS),
    ]


def test_clashing_exposed_labels_are_renamed_exported():
    exposed = {"job": "worker", "exported_job": "older", "instance": "pod-1", "code": "200"}
    target = {"instance": "api:9100", "job": "api", "service": "cart"}
    assert merge_target_labels(exposed, target) == {
        "exported_job": "older",
        "exported_exported_job": "worker",
        "exported_instance": "pod-1",
        "code": "200",
        "instance": "api:9100",
        "job": "api",
        "service": "cart",
    }


def test_next_slot_keeps_the_rhythm_and_skips_missed_slots():
    slot = NOW - timedelta(seconds=40)
    assert next_scrape_time(slot, 15, NOW) == NOW + timedelta(seconds=5)
    assert next_scrape_time(NOW, 15, NOW) == NOW + timedelta(seconds=15)
    assert next_scrape_time(None, 15, NOW) == NOW + timedelta(seconds=15)


# A real exposition endpoint ----------------------------------------------------------------


@dataclass
class Exporter:
    """What a local HTTP server in a thread answers on /metrics."""

    body: str = CLASSIC_BODY
    content_type: str = TEXT
    status: int = 200
    delay_seconds: float = 0.0
    gzip: bool = False
    requests: list[dict[str, str]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def exporter() -> Iterator[Exporter]:
    state = Exporter()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(dict(self.headers))
            if state.delay_seconds:
                time.sleep(state.delay_seconds)
            payload = state.body.encode()
            if state.gzip:
                payload = gzip.compress(payload)
            self.send_response(state.status)
            self.send_header("Content-Type", state.content_type)
            if state.gzip:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/metrics"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def target(org, exporter) -> ScrapeTarget:
    return ScrapeTarget.objects.create(
        service=org.cart, url=exporter.url, labels={"env": "prod"}, timeout_seconds=1
    )


def stored(name: str, **labels: str) -> list[tuple[int, float]]:
    timestamps, values = stored_arrays(name, **labels)
    return list(zip(timestamps.tolist(), values.tolist(), strict=True))


def stale_flags(name: str, **labels: str) -> list[bool]:
    return is_stale(stored_arrays(name, **labels)[1]).tolist()


def stored_arrays(name: str, **labels: str) -> tuple[Timestamps, Values]:
    matchers = [Matcher("__name__", "=", name)] + [Matcher(k, "=", v) for k, v in labels.items()]
    [series] = select_series(matchers)
    return read_samples([series.id], 0, 2**62)[series.id]


def series_labels(name: str) -> list[dict[str, str]]:
    return sorted(
        (ref.labels for ref in select_series([Matcher("__name__", "=", name)])),
        key=lambda labels: sorted(labels.items()),
    )


@pytest.mark.django_db
def test_a_scrape_stores_samples_with_target_labels_and_up(target, exporter):
    assert scrape_due_targets(now=NOW) == 1

    instance = exporter.url.removeprefix("http://").removesuffix("/metrics")
    target_labels = {"job": "cart", "instance": instance, "service": "cart", "env": "prod"}
    assert series_labels("http_requests_total") == [
        {"code": "200", "path": "/", **target_labels},
        {"code": "500", "path": "/", **target_labels},
    ]
    assert stored("http_requests_total", code="200") == [(NOW_MS, 1027.0)]
    assert stored("queue_depth") == [(NOW_MS, 7.0)]
    assert select_series([Matcher("__name__", "=", "http_requests_created")]) == []
    assert series_labels("up") == [target_labels]
    assert stored("up", job="cart") == [(NOW_MS, 1.0)]
    assert stored("scrape_samples_scraped", job="cart") == [(NOW_MS, 3.0)]
    [(timestamp, duration)] = stored("scrape_duration_seconds", job="cart")
    assert timestamp == NOW_MS
    assert 0 < duration < 1

    target.refresh_from_db()
    assert (target.job, target.last_scrape_at, target.last_samples, target.last_error) == (
        "cart",
        NOW,
        3,
        "",
    )
    assert target.last_duration_seconds == duration
    assert target.next_scrape_at == NOW + timedelta(seconds=15)
    assert target.health == "up"
    assert exporter.requests[0]["Accept"] == ACCEPT


@pytest.mark.django_db
def test_openmetrics_and_gzip_bodies_are_scraped(target, exporter):
    exporter.body = "# TYPE jobs counter\njobs_total 5.0\njobs_created 1.7e+09\n# EOF\n"
    exporter.content_type = OPENMETRICS
    exporter.gzip = True
    assert scrape_due_targets(now=NOW) == 1
    assert stored("jobs_total") == [(NOW_MS, 5.0)]
    assert stored("scrape_samples_scraped") == [(NOW_MS, 1.0)]
    assert stored("up") == [(NOW_MS, 1.0)]


@pytest.mark.django_db
def test_a_server_error_records_up_zero_and_the_error(target, exporter):
    exporter.status = 500
    assert scrape_due_targets(now=NOW) == 1
    assert stored("up") == [(NOW_MS, 0.0)]
    assert stored("scrape_samples_scraped") == [(NOW_MS, 0.0)]
    assert len(stored("scrape_duration_seconds")) == 1
    assert select_series([Matcher("__name__", "=", "queue_depth")]) == []
    target.refresh_from_db()
    assert target.last_error == "server returned HTTP status 500 Internal Server Error"
    assert (target.last_samples, target.health) == (0, "down")


@pytest.mark.django_db
def test_a_slow_target_times_out_with_up_zero(target, exporter):
    exporter.delay_seconds = 2.0
    assert scrape_due_targets(now=NOW) == 1
    assert stored("up") == [(NOW_MS, 0.0)]
    [(_, duration)] = stored("scrape_duration_seconds")
    assert 1.0 <= duration < 2.0
    target.refresh_from_db()
    assert target.last_error == "scrape timed out after 1s"


@pytest.mark.django_db
def test_a_target_that_does_not_listen_is_down(org):
    from tests.support import free_port

    ScrapeTarget.objects.create(service=org.cart, url=f"http://127.0.0.1:{free_port()}/metrics")
    assert scrape_due_targets(now=NOW) == 1
    assert stored("up") == [(NOW_MS, 0.0)]
    assert ScrapeTarget.objects.get().last_error.startswith("cannot reach http://127.0.0.1:")


@pytest.mark.django_db
def test_a_series_that_disappears_gets_a_stale_marker(target, exporter):
    scrape_due_targets(now=NOW)
    exporter.body = CLASSIC_BODY.replace('http_requests_total{code="500",path="/"} 3\n', "")
    later = NOW + timedelta(seconds=15)
    later_ms = NOW_MS + 15_000
    assert scrape_due_targets(now=later) == 1

    [first, (timestamp, value)] = stored("http_requests_total", code="500")
    assert (first, timestamp, math.isnan(value)) == ((NOW_MS, 3.0), later_ms, True)
    assert stale_flags("http_requests_total", code="500") == [False, True]
    assert stored("http_requests_total", code="200") == [(NOW_MS, 1027.0), (later_ms, 1027.0)]
    assert stored("scrape_samples_scraped") == [(NOW_MS, 3.0), (later_ms, 2.0)]


@pytest.mark.django_db
def test_a_failed_scrape_makes_every_previous_series_stale(target, exporter):
    scrape_due_targets(now=NOW)
    exporter.status = 503
    scrape_due_targets(now=NOW + timedelta(seconds=15))
    for name, labels in [
        ("http_requests_total", {"code": "200"}),
        ("http_requests_total", {"code": "500"}),
        ("queue_depth", {}),
    ]:
        [_, (timestamp, _)] = stored(name, **labels)
        assert timestamp == NOW_MS + 15_000
        assert stale_flags(name, **labels) == [False, True]
    target.refresh_from_db()
    assert target.last_series == []


@pytest.mark.django_db
def test_the_same_slot_is_scraped_once(target, exporter):
    assert scrape_due_targets(now=NOW) == 1
    assert scrape_due_targets(now=NOW) == 0
    assert scrape_due_targets(now=NOW + timedelta(seconds=14)) == 0
    assert len(exporter.requests) == 1
    assert scrape_due_targets(now=NOW + timedelta(seconds=15)) == 1
    assert len(exporter.requests) == 2


@pytest.mark.django_db
def test_two_workers_that_read_the_same_slot_claim_it_once(target):
    first = ScrapeTarget.objects.get(id=target.id)
    second = ScrapeTarget.objects.get(id=target.id)
    assert scrape_target_claim(target=first, now=NOW) is True
    assert scrape_target_claim(target=second, now=NOW) is False


@pytest.mark.django_db
def test_disabled_targets_are_not_scraped(target, exporter):
    ScrapeTarget.objects.filter(id=target.id).update(enabled=False)
    assert scrape_due_targets(now=NOW) == 0
    assert exporter.requests == []


# The model ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_timeout_may_not_exceed_the_interval(org):
    target = ScrapeTarget(
        service=org.cart, url="http://cart:9100/metrics", interval_seconds=5, timeout_seconds=6
    )
    with pytest.raises(ValidationError) as raised:
        target.full_clean()
    assert raised.value.message_dict == {
        "timeout_seconds": ["The timeout may not be longer than the interval."]
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"1bad": "x"}, "Invalid label name '1bad': must match [a-zA-Z_][a-zA-Z0-9_]*."),
        ({"__meta": "x"}, "Label names starting with __ are reserved (__meta)."),
        ({"job": "x"}, "Label 'job' comes from the target's own field."),
        ({"env": 3}, "Label 'env' needs a non-empty string value."),
    ],
)
def test_extra_labels_follow_the_label_rules(org, labels, message):
    target = ScrapeTarget(service=org.cart, url="http://cart:9100/metrics", labels=labels)
    with pytest.raises(ValidationError) as raised:
        target.full_clean()
    assert raised.value.message_dict == {"labels": [message]}


@pytest.mark.django_db
def test_demo_scrapes_the_portals_own_metrics_once(settings):
    call_command("demo", stdout=StringIO())
    call_command("demo", stdout=StringIO())
    [target] = ScrapeTarget.objects.all()
    assert (target.url, target.service.name, target.job, target.interval_seconds) == (
        f"{settings.SITE_URL}/metrics",
        "coe-portal",
        "coe-portal",
        15,
    )


def test_the_beat_schedule_runs_the_scrape_task_every_five_seconds(settings):
    from metrics.tasks import scrape_due_targets as task

    entry = settings.CELERY_BEAT_SCHEDULE["metrics-scrape"]
    assert (entry["task"], entry["schedule"], entry["options"]) == (
        task.name,
        timedelta(seconds=5),
        {"expires": 4},
    )
    assert task.name == "metrics.scrape.due_targets"
