"""Trace pages: search (filters in the URL, field errors), one trace, the service map and a
service's RED dashboard from the span metrics."""

from __future__ import annotations

import json
import re
import time

import pytest
from django.urls import reverse

from metrics.storage.writer import SeriesSamples, write_samples
from metrics.traces.models import NANOS_PER_DAY, Span
from metrics.traces.page_forms import format_duration, parse_duration, parse_tags, promql_string
from metrics.views.service_pages import layered_layout, service_red_data
from tests.metrics.helpers import stored_resource

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.backend_suite,
    pytest.mark.usefixtures("metrics_backend"),
]

START = 1_764_000_000_000_000_000  # 2025-11-24 16:00:00 UTC, in ns
MS = 1_000_000
WINDOW = {"range": "custom", "start": "2025-11-24T15:00", "end": "2025-11-24T17:00"}
TRACE_A = "a" * 32
TRACE_B = "b" * 32
TRACE_C = "c" * 32


def span(trace_id: str, span_id: str, *, at_ms: float, ms: float, **fields) -> Span:
    start = START + int(at_ms * MS)
    return Span(
        trace_id=trace_id, span_id=span_id, parent_span_id=fields.pop("parent", ""),
        service=fields.pop("service", "cart"), name=fields.pop("name", "GET /cart"),
        kind=fields.pop("kind", Span.Kind.SERVER), start_ns=start, duration_ns=int(ms * MS),
        status_code=Span.StatusCode.ERROR if fields.pop("error", False) else Span.StatusCode.UNSET,
        resource_key=stored_resource(fields.pop("resource", {}), start // NANOS_PER_DAY),
        **fields,
    )  # fmt: skip


@pytest.fixture
def traces(org) -> None:
    """A: cart -> payments (error) -> an orphan whose parent is lost, 250 ms, 10 s in.
    B: search-api alone, 30 ms, 20 s in. C: cart, 5 ms, two hours before (outside WINDOW)."""
    Span.objects.bulk_create(
        [
            span(TRACE_A, "000000000000000a", at_ms=10_000, ms=250,
                 attributes={"http.route": "/cart", "http.status_code": 200}),
            span(TRACE_A, "000000000000000b", at_ms=10_020, ms=100, parent="000000000000000a",
                 service="payments", name="POST /pay", error=True, status_message="card declined",
                 attributes={"payment.provider": "acme bank"},
                 events=[{"time_ns": START + 10_050 * MS, "name": "retry", "attributes": {}}],
                 links=[{"trace_id": TRACE_B, "span_id": "0000000000000001", "attributes": {}}],
                 resource={"service.name": "payments", "host.name": "pay-1"}),
            # Clock skew: starts 5 ms before its parent.
            span(TRACE_A, "000000000000000c", at_ms=10_015, ms=20, parent="000000000000000b",
                 service="payments", name="SELECT card", kind=Span.Kind.CLIENT),
            span(TRACE_A, "000000000000000d", at_ms=10_100, ms=10, parent="00000000000000ff",
                 service="cart", name="cache get", kind=Span.Kind.INTERNAL),
            span(TRACE_B, "0000000000000001", at_ms=20_000, ms=30, service="search-api",
                 name="GET /search"),
            span(TRACE_C, "0000000000000002", at_ms=-7_200_000, ms=5),
        ]
    )  # fmt: skip


@pytest.fixture
def logged_in(client, org):
    client.force_login(org.teammate)
    return client


def results_table(response) -> list[list[str]]:
    html = response.content.decode()
    body = html.split('id="trace-results"', 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)[1:]  # the first is the header
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in rows
    ]


def search(client, **params):
    return client.get(reverse("metrics:trace-search"), {**WINDOW, **params})


# --- pure helpers -------------------------------------------------------------------------


def test_durations_read_and_print_with_units():
    assert parse_duration("250ms") == 250 * MS
    assert parse_duration("1.5s") == 1_500 * MS
    assert parse_duration(" 2m ") == 120_000 * MS
    assert parse_duration("100us") == parse_duration("100µs") == 100_000
    for bad in ("250", "fast", "1.2.3s", "-5ms", ""):
        with pytest.raises(ValueError, match="is not a duration"):
            parse_duration(bad)
    assert [format_duration(ns) for ns in (850, 12_500, 250 * MS, 1_500 * MS, 125_000 * MS)] == [
        "850 ns", "12.5 µs", "250 ms", "1.5 s", "2 m 5 s",
    ]  # fmt: skip


def test_tags_are_key_value_words_with_quotes_for_spaces():
    assert parse_tags('http.status_code=500 route="/a b" empty=') == {
        "http.status_code": "500", "route": "/a b", "empty": "",
    }  # fmt: skip
    for bad, message in (("oops", "is not key=value"), ("=5", "is not key=value"),
                         ("a=1 a=2", "given twice"), ('a="open', "could not be read")):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            parse_tags(bad)


def test_label_values_are_escaped_in_promql():
    assert promql_string('we"b\\svc\n') == '"we\\"b\\\\svc\\n"'


def test_the_map_layers_services_by_call_depth():
    placed = layered_layout(
        ["web", "cart", "payments", "db", "cron", "loop-a", "loop-b"],
        [("web", "cart"), ("web", "payments"), ("cart", "db"), ("payments", "db"),
         ("loop-a", "loop-b"), ("loop-b", "loop-a"), ("db", "db")],
    )  # fmt: skip
    assert placed == {
        "cron": (0, -1.0), "loop-a": (0, 0.0), "web": (0, 1.0),
        "cart": (1, -1.0), "loop-b": (1, 0.0), "payments": (1, 1.0),
        "db": (2, 0.0),
    }  # fmt: skip


# --- search -------------------------------------------------------------------------------


def test_pages_need_a_login(client, org):
    for url in (
        reverse("metrics:trace-search"),
        reverse("metrics:trace-detail", args=[TRACE_A]),
        reverse("metrics:service-map"),
        reverse("metrics:service-red", args=["cart"]),
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/"), url


def test_search_lists_the_traces_in_the_range_newest_first(logged_in, traces):
    response = search(logged_in)
    assert response.status_code == 200
    assert results_table(response) == [
        ["2025-11-24 16:00:20.000", "search-api: GET /search", "30 ms", "1", "0", "search-api"],
        ["2025-11-24 16:00:10.000", "cart: GET /cart", "250 ms", "4", "1", "cart, payments"],
    ]
    html = response.content.decode()
    assert f'href="/traces/{TRACE_A}/"' in html
    assert "2 traces, newest first." in html
    # The scatter's data: one point per trace, duration in ms, the trace's page to open.
    scatter = json.loads(re.search(r'id="trace-scatter-data"[^>]*>(.*?)</script>', html, re.S)[1])
    points = [
        (t["trace_id"], t["duration_ms"], t["start_iso"], t["url"]) for t in scatter["traces"]
    ]
    assert points == [
        (TRACE_B, 30.0, "2025-11-24T16:00:20.000Z", f"/traces/{TRACE_B}/"),
        (TRACE_A, 250.0, "2025-11-24T16:00:10.000Z", f"/traces/{TRACE_A}/"),
    ]  # fmt: skip
    # The service menu offers the services with spans in the range, and keeps the choice.
    menu = html.split('name="service"', 1)[1].split("</select>")[0]
    assert re.findall(r'<option value="([^"]*)"', menu) == [
        "", "cart", "payments", "search-api",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"service": "payments"}, [TRACE_A]),
        ({"service": "search-api"}, [TRACE_B]),
        ({"operation": "GET /search"}, [TRACE_B]),
        ({"tags": "http.route=/cart http.status_code=200"}, [TRACE_A]),
        ({"tags": 'payment.provider="acme bank"'}, [TRACE_A]),
        ({"tags": "http.route=/nowhere"}, []),
        ({"min_duration": "200ms"}, [TRACE_A]),
        ({"min_duration": "25ms", "max_duration": "0.05s"}, [TRACE_B]),
        ({"errors_only": "on"}, [TRACE_A]),
        ({"limit": "1"}, [TRACE_B]),
        ({"start": "2025-11-24T13:59", "end": "2025-11-24T14:01"}, [TRACE_C]),
    ],
)
def test_filters_in_the_url_narrow_the_search(logged_in, traces, params, expected):
    response = search(logged_in, **params)
    assert response.status_code == 200
    found = re.findall(r'href="/traces/([0-9a-f]{32})/"', response.content.decode())
    assert found == expected


def test_a_preset_range_ends_now(logged_in, org):
    now = time.time_ns()
    recent, old = "1" * 32, "2" * 32
    Span.objects.bulk_create(
        [
            Span(trace_id=recent, span_id="0000000000000001", service="cart", name="GET /",
                 start_ns=now - 5 * 60 * 10**9, duration_ns=MS),
            Span(trace_id=old, span_id="0000000000000001", service="cart", name="GET /",
                 start_ns=now - 30 * 60 * 10**9, duration_ns=MS),
        ]
    )  # fmt: skip
    found = {
        preset: re.findall(
            r'href="/traces/([0-9a-f]{32})/"',
            logged_in.get(reverse("metrics:trace-search"), {"range": preset}).content.decode(),
        )
        for preset in ("15m", "1h")
    }
    assert found == {"15m": [recent], "1h": [recent, old]}
    # Without parameters: the last hour.
    page = logged_in.get(reverse("metrics:trace-search")).content.decode()
    assert re.findall(r'href="/traces/([0-9a-f]{32})/"', page) == [recent, old]
    assert '<option value="1h" selected>' in page


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"min_duration": "fast"}, "min_duration", "&quot;fast&quot; is not a duration"),
        ({"max_duration": "250"}, "max_duration", "write a number with a unit"),
        ({"min_duration": "2s", "max_duration": "1s"}, "max_duration", "below the minimum"),
        ({"tags": "oops"}, "tags", "&quot;oops&quot; is not key=value."),
        ({"limit": "0"}, "limit", "greater than or equal to 1"),
        ({"limit": "many"}, "limit", "Enter a whole number."),
        ({"range": "1y"}, "range", "Select a valid choice."),
        ({"end": "2025-11-24T14:00"}, "end", "must be after its start"),
        ({"start": "yesterday"}, "start", "Enter a valid date/time."),
        ({"start": ""}, "start", "Give the start of a custom range."),
    ],
)
def test_a_bad_filter_is_a_field_error_not_a_crash(logged_in, traces, params, field, message):
    response = search(logged_in, **params)
    assert response.status_code == 400
    html = response.content.decode()
    field_html = html.split(f'class="trace-field trace-field-{field}"', 1)[-1]
    if field in ("start", "end"):
        field_html = html.split("data-custom-range", 1)[1]
    assert message in field_html.split("</div>", 1)[0]
    assert "Correct the filters above to search." in html


# --- one trace ----------------------------------------------------------------------------


def trace_json(response) -> dict:
    html = response.content.decode()
    return json.loads(re.search(r'id="trace-data"[^>]*>(.*?)</script>', html, re.S)[1])


def test_a_trace_shows_its_header_numbers_and_every_span(logged_in, traces):
    response = logged_in.get(reverse("metrics:trace-detail", args=[TRACE_A]))
    assert response.status_code == 200
    html = response.content.decode()
    facts = dict(re.findall(r'data-fact="([a-z-]+)"[^>]*>([^<]*)<', html))
    assert facts == {
        "duration": "250 ms", "spans": "4", "services": "2", "errors": "1",
        "missing-parents": "1", "skew": "1",
    }  # fmt: skip
    assert "Started (UTC)</dt><dd>2025-11-24 16:00:10.000" in html
    assert "<h1>cart: GET /cart" in html
    data = trace_json(response)
    rows = [(r["span_id"], r["depth"], r["missing_parent"], r["skew_ns"]) for r in data["rows"]]
    assert rows == [
        ("000000000000000a", 0, False, 0),
        ("000000000000000b", 1, False, 0),
        ("000000000000000c", 2, False, 5 * MS),
        ("000000000000000d", 0, True, 0),
    ]  # fmt: skip
    payments = data["rows"][1]
    assert payments["attributes"] == {"payment.provider": "acme bank"}
    # Event times as offsets from their span's start: JavaScript cannot hold Unix ns exactly.
    assert payments["events"] == [
        {"time_ns": START + 10_050 * MS, "name": "retry", "attributes": {}, "offset_ns": 30 * MS}
    ]
    assert data["trace_url_template"] == "/traces/" + "0" * 32 + "/"
    assert "<script>" not in html.split('id="trace-data"')[1]  # data only, never inline code


def test_an_unknown_or_malformed_trace_id_is_a_404(logged_in, traces):
    assert logged_in.get(reverse("metrics:trace-detail", args=["d" * 32])).status_code == 404
    assert logged_in.get("/traces/not-a-trace/").status_code == 404
    # Upper-case hex is the same trace.
    assert logged_in.get(f"/traces/{TRACE_A.upper()}/").status_code == 200


# --- service map --------------------------------------------------------------------------


def table_rows(html: str, table_id: str) -> list[list[str]]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</tbody>", 1)[0].split("<tbody>", 1)[1]
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def test_the_service_map_counts_requests_and_calls(logged_in, traces):
    response = logged_in.get(reverse("metrics:service-map"), WINDOW)
    assert response.status_code == 200
    html = response.content.decode()
    # Two hours: 7 200 s. Requests are server (and consumer) spans.
    assert table_rows(html, "map-services") == [
        ["cart", "1", "0.000139", "0", "0 %"],
        ["payments", "1", "0.000139", "1", "100 %"],
        ["search-api", "1", "0.000139", "0", "0 %"],
    ]
    assert table_rows(html, "map-edges") == [
        ["cart", "payments", "1", "0.000139", "1", "100 %", "100", "100", "100"],
    ]
    assert (
        'href="/traces/services/payments/?range=custom&amp;start=2025-11-24T15%3A00%3A00&amp;'
        'end=2025-11-24T17%3A00%3A00"' in html
    )
    data = json.loads(re.search(r'id="service-map-data"[^>]*>(.*?)</script>', html, re.S)[1])
    assert [(n["service"], n["x"], n["y"]) for n in data["nodes"]] == [
        ("cart", 0, -0.5), ("payments", 1, 0.0), ("search-api", 0, 0.5),
    ]  # fmt: skip
    assert data["edges"][0]["from"] == [0, -0.5]


def test_the_service_map_rejects_a_bad_range(logged_in, org):
    response = logged_in.get(reverse("metrics:service-map"), {"range": "custom", "start": "x"})
    assert response.status_code == 400
    assert "From (UTC): Enter a valid date/time." in response.content.decode()


# --- RED dashboard ------------------------------------------------------------------------


def span_metrics(service: str, now_ms: int, *, ok_per_s: float, error_per_s: float) -> list:
    """An hour of span metrics every 15 s: `ok_per_s` fast calls (< 100 ms) and `error_per_s`
    failing ones between 100 and 200 ms, for GET /x served by `service`."""
    times = [now_ms - 3_600_000 + i * 15_000 for i in range(241)]

    def counter(name, status, per_s, **extra):
        labels = {"service": service, "span_name": "GET /x", "span_kind": "SPAN_KIND_SERVER",
                  "status_code": status, **extra}  # fmt: skip
        return SeriesSamples(name, labels, times, [per_s * 15 * i for i in range(241)])

    series = []
    for status, per_s, fast in (("STATUS_CODE_UNSET", ok_per_s, True),
                                ("STATUS_CODE_ERROR", error_per_s, False)):  # fmt: skip
        series.append(counter("traces_spanmetrics_calls_total", status, per_s))
        for le, share in (("0.1", 1 if fast else 0), ("0.2", 1), ("+Inf", 1)):
            series.append(
                counter("traces_spanmetrics_duration_seconds_bucket", status, per_s * share, le=le)
            )
    return series


def test_the_red_numbers_come_from_the_span_metrics(org):
    now_ms = int(time.time() * 1000)
    odd = 'we"b\\svc'  # quotes and backslashes must reach the engine escaped
    write_samples(span_metrics(odd, now_ms, ok_per_s=0.9, error_per_s=0.1))
    write_samples(span_metrics("other", now_ms, ok_per_s=5, error_per_s=5))
    data = service_red_data(odd, now_ms - 3_600_000, now_ms)
    assert data["step_seconds"] == 15
    assert data["window"] == "300s"
    last = {name: values[-1] for name, values in data["series"].items()}
    assert last == {
        "requests": pytest.approx(1.0), "errors": pytest.approx(0.1),
        "p50": pytest.approx(100 * 0.5 / 0.9), "p95": pytest.approx(150.0),
        "p99": pytest.approx(190.0),
    }  # fmt: skip
    [operation] = data["operations"]
    assert operation["name"] == "GET /x"
    assert operation["requests"] == pytest.approx(3600)
    assert operation["errors"] == pytest.approx(360)
    assert operation["rate"] == pytest.approx(1.0)
    assert operation["p95_ms"] == pytest.approx(150.0)
    assert operation["error_percent"] == "10 %"
    assert 'service="we\\"b\\\\svc"' in data["queries"]["requests"]


def test_the_red_page_draws_from_the_span_metrics_and_links_to_traces(logged_in, org):
    write_samples(span_metrics("cart", int(time.time() * 1000), ok_per_s=0.9, error_per_s=0.1))
    response = logged_in.get(reverse("metrics:service-red", args=["cart"]), {"range": "1h"})
    assert response.status_code == 200
    html = response.content.decode()
    assert table_rows(html, "red-operations") == [["GET /x", "3600", "1", "360", "10 %", "150"]]
    assert 'href="/traces/?service=cart&amp;range=1h" id="red-search-link"' in html
    assert 'href="/traces/?service=cart&amp;operation=GET+%2Fx&amp;range=1h"' in html
    data = json.loads(re.search(r'id="red-data"[^>]*>(.*?)</script>', html, re.S)[1])
    assert set(data["series"]) == {"requests", "errors", "p50", "p95", "p99"}
    assert len(data["times"]) == len(data["series"]["p95"]) == 241


def test_a_red_page_without_metrics_says_so(logged_in, org):
    response = logged_in.get(reverse("metrics:service-red", args=["nobody/at home"]))
    assert response.status_code == 200
    assert "No span metrics for nobody/at home in this time range." in response.content.decode()
    assert (
        logged_in.get(
            reverse("metrics:service-red", args=["cart"]), {"range": "custom"}
        ).status_code
        == 400
    )
