"""Trace reads: waterfall layout, trace search and its summaries, and the service graph."""

from __future__ import annotations

import pytest

from metrics.traces.models import NANOS_PER_DAY, Span
from metrics.traces.queries import (
    GraphEdge,
    GraphNode,
    SearchFilters,
    TraceSummary,
    nearest_rank,
    search_traces,
    service_graph,
    span_resources,
    trace_spans,
    waterfall,
)
from tests.metrics.helpers import stored_resource

START = 1_764_000_000_000_000_000  # 2025-11-24 16:00 UTC, in ns
MS = 1_000_000
SECOND = 1_000 * MS
CHECKOUT = "5b8efff798038103d269b633813fc60c"
HOME = "0af7651916cd43dd8448eb211c80319c"
CART = "4bf92f3577b34da6a3ce929d0e0e4736"
OLD = "11111111111111111111111111111111"
SERVER, CLIENT, INTERNAL = Span.Kind.SERVER, Span.Kind.CLIENT, Span.Kind.INTERNAL
ERROR = Span.StatusCode.ERROR


def add(trace_id: str, span_id: str, service: str, name: str, start_ms: float, ms: float,
        parent: str = "", kind: int = SERVER, status: int = 0, message: str = "",
        **attributes: object) -> Span:  # fmt: skip
    start = START + round(start_ms * MS)
    return Span.objects.create(
        trace_id=trace_id, span_id=span_id, parent_span_id=parent, service=service, name=name,
        kind=kind, start_ns=start, duration_ns=round(ms * MS), status_code=status,
        status_message=message, attributes=attributes,
        resource_key=stored_resource({"service.name": service}, start // NANOS_PER_DAY),
    )  # fmt: skip


def checkout_trace() -> None:
    """frontend → cart → payments, a span whose parent never arrived, and a skewed child."""
    add(CHECKOUT, "a000000000000001", "frontend", "GET /checkout", 0, 100)
    add(CHECKOUT, "b000000000000002", "frontend", "POST cart", 5, 80, "a000000000000001", CLIENT)
    add(CHECKOUT, "c000000000000003", "cart", "POST /cart", 10, 50, "b000000000000002")
    add(CHECKOUT, "d000000000000004", "cart", "charge", 20, 30, "c000000000000003", CLIENT)
    add(CHECKOUT, "e000000000000005", "payments", "POST /charge", 22, 25, "d000000000000004",
        status=ERROR, message="card declined", **{"payment.amount": 42, "retry": True,
                                                   "fx.rate": 0.25, "a__b": "x"})  # fmt: skip
    add(CHECKOUT, "f000000000000006", "frontend", "render", 70, 10, "a000000000000001", INTERNAL)
    # Starts 2 ms before its parent and ends 3 ms after it: another host's clock.
    add(CHECKOUT, "f000000000000007", "frontend", "template", 68, 15, "f000000000000006",
        INTERNAL)  # fmt: skip
    add(CHECKOUT, "9000000000000008", "cart", "async cleanup", 95, 10, "ffffffffffffffff",
        INTERNAL, status=ERROR)  # fmt: skip


def other_traces() -> None:
    add(HOME, "1000000000000001", "frontend", "GET /home", 1000, 30,
        **{"http.status_code": 200, "user.tier": "gold"})  # fmt: skip
    add(HOME, "1000000000000002", "cart", "GET /cart", 1003, 12, "1000000000000001")
    add(CART, "2000000000000001", "cart", "GET /cart", 2000, 400, status=ERROR,
        **{"http.status_code": 500, "cache.hit": False})  # fmt: skip
    add(OLD, "3000000000000001", "cart", "GET /cart", -7_200_000, 400, status=ERROR)


def search(**fields: object) -> list[str]:
    filters = SearchFilters(start_ns=START, end_ns=START + 3 * SECOND, **fields)
    return [summary.trace_id for summary in search_traces(filters)]


# --- waterfall ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_waterfall_is_depth_first_with_offsets_and_marks():
    checkout_trace()
    spans = trace_spans(CHECKOUT)
    data = waterfall(spans, span_resources(spans))
    rows = [
        (row["span_id"][0], row["depth"], row["start_offset_ns"] // MS, row["duration_ns"] // MS,
         row["kind"], row["missing_parent"], row["skew_ns"], row["critical"], row["error"])
        for row in data["rows"]
    ]  # fmt: skip
    assert rows == [
        ("a", 0, 0, 100, "server", False, 0, True, False),
        ("b", 1, 5, 80, "client", False, 0, True, False),
        ("c", 2, 10, 50, "server", False, 0, True, False),
        ("d", 3, 20, 30, "client", False, 0, True, False),
        ("e", 4, 22, 25, "server", False, 0, True, True),
        ("f", 1, 70, 10, "internal", False, 0, False, False),
        ("f", 2, 68, 15, "internal", False, 3 * MS, False, False),
        ("9", 0, 95, 10, "internal", True, 0, False, True),
    ]
    assert data["rows"][4]["status_message"] == "card declined"
    assert data["rows"][4]["attributes"]["payment.amount"] == 42
    assert data["rows"][0]["resource"] == {"service.name": "frontend"}
    assert {key: data[key] for key in data if key != "rows"} == {
        "trace_id": CHECKOUT,
        "start_ns": START,
        "duration_ns": 105 * MS,
        "services": ["cart", "frontend", "payments"],
        "span_count": 8,
        "error_count": 2,
        "missing_parents": 1,
        "critical_path": [
            "a000000000000001", "b000000000000002", "c000000000000003", "d000000000000004",
            "e000000000000005",
        ],
    }  # fmt: skip


@pytest.mark.django_db
def test_a_skewed_start_counts_when_it_overshoots_more_than_the_end():
    add(CHECKOUT, "a000000000000001", "frontend", "GET /", 10, 10)
    add(CHECKOUT, "b000000000000002", "cart", "GET /cart", 3, 8, "a000000000000001")
    rows = waterfall(trace_spans(CHECKOUT))["rows"]
    assert [(row["span_id"][0], row["start_offset_ns"], row["skew_ns"]) for row in rows] == [
        ("a", 7 * MS, 0),
        ("b", 0, 7 * MS),
    ]


def test_five_thousand_nested_spans_need_no_recursion():
    spans = [
        Span(trace_id=CHECKOUT, span_id=f"{i + 1:016x}", parent_span_id=f"{i:016x}" if i else "",
             service="deep", name=f"level {i}", kind=INTERNAL, start_ns=START + i,
             duration_ns=10_000 - 2 * i)
        for i in range(5000)
    ]  # fmt: skip
    data = waterfall(list(reversed(spans)))
    assert [row["depth"] for row in data["rows"]] == list(range(5000))
    assert len(data["critical_path"]) == 5000
    assert data["duration_ns"] == 10_000


def test_several_roots_keep_start_order_and_a_parent_cycle_still_shows_every_span():
    spans = [
        Span(trace_id=CHECKOUT, span_id=span_id, parent_span_id=parent, service="s", name=span_id,
             kind=INTERNAL, start_ns=START + start, duration_ns=5)
        for span_id, parent, start in [
            ("000000000000000b", "00000000000000ff", 20),
            ("000000000000000a", "00000000000000fe", 10),
            ("000000000000000c", "000000000000000d", 30),
            ("000000000000000d", "000000000000000c", 40),
        ]
    ]  # fmt: skip
    data = waterfall(spans)
    assert [(row["name"], row["depth"], row["missing_parent"]) for row in data["rows"]] == [
        ("000000000000000a", 0, True),
        ("000000000000000b", 0, True),
        ("000000000000000c", 0, False),
        ("000000000000000d", 1, False),
    ]
    assert data["missing_parents"] == 2
    assert data["critical_path"] == ["000000000000000a"]


def test_an_empty_trace_has_an_empty_waterfall():
    assert waterfall([])["rows"] == []


# --- search -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_search_by_time_range_newest_first_and_limit():
    checkout_trace()
    other_traces()
    assert search() == [CART, HOME, CHECKOUT]
    assert search(limit=2) == [CART, HOME]
    early = SearchFilters(start_ns=START - 3 * 3600 * SECOND, end_ns=START)
    assert [summary.trace_id for summary in search_traces(early)] == [OLD]
    # The end is exclusive: the cart trace's only span starts exactly there.
    assert search_traces(SearchFilters(start_ns=START, end_ns=START + 2 * SECOND)) == [
        summary for summary in search_traces(SearchFilters(START, START + 3 * SECOND))
        if summary.trace_id != CART
    ]  # fmt: skip


@pytest.mark.django_db
def test_summaries_give_root_duration_counts_and_services():
    checkout_trace()
    other_traces()
    assert search_traces(SearchFilters(start_ns=START, end_ns=START + 3 * SECOND)) == [
        TraceSummary(CART, "cart", "GET /cart", START + 2 * SECOND, 400 * MS, 1, 1, ["cart"]),
        TraceSummary(
            HOME, "frontend", "GET /home", START + SECOND, 30 * MS, 2, 0, ["cart", "frontend"]
        ),
        TraceSummary(
            CHECKOUT, "frontend", "GET /checkout", START, 105 * MS, 8, 2,
            ["cart", "frontend", "payments"],
        ),
    ]  # fmt: skip


@pytest.mark.django_db
def test_a_trace_without_its_root_has_an_empty_root_in_the_summary():
    add(HOME, "1000000000000002", "cart", "GET /cart", 1003, 12, "1000000000000001")
    [summary] = search_traces(SearchFilters(start_ns=START, end_ns=START + 3 * SECOND))
    assert (summary.root_service, summary.root_name, summary.span_count) == ("", "", 1)


@pytest.mark.django_db
def test_search_by_service_operation_errors_and_durations():
    checkout_trace()
    other_traces()
    assert search(service="payments") == [CHECKOUT]
    assert search(service="cart") == [CART, HOME, CHECKOUT]
    assert search(operation="GET /cart") == [CART, HOME]
    assert search(operation="GET /cart", service="frontend") == []
    assert search(errors_only=True) == [CART, CHECKOUT]
    assert search(errors_only=True, service="frontend") == []
    assert search(min_duration_ns=300 * MS) == [CART]
    assert search(max_duration_ns=12 * MS) == [HOME, CHECKOUT]  # bounds are inclusive
    assert search(min_duration_ns=25 * MS, max_duration_ns=30 * MS) == [HOME, CHECKOUT]
    assert search(min_duration_ns=101 * MS, max_duration_ns=399 * MS) == []


@pytest.mark.django_db
def test_search_by_tags_compares_attribute_values_as_text():
    checkout_trace()
    other_traces()
    assert search(tags={"http.status_code": "500"}) == [CART]
    assert search(tags={"http.status_code": "200", "user.tier": "gold"}) == [HOME]
    assert search(tags={"http.status_code": "200", "user.tier": "silver"}) == []
    assert search(tags={"cache.hit": "false"}) == [CART]
    assert search(tags={"retry": "true"}) == [CHECKOUT]
    assert search(tags={"retry": "1"}) == []
    assert search(tags={"payment.amount": "42"}) == [CHECKOUT]
    assert search(tags={"payment.amount": "42.0"}) == []
    assert search(tags={"fx.rate": "0.25"}) == [CHECKOUT]
    assert search(tags={"a__b": "x"}) == [CHECKOUT]
    assert search(tags={"missing": "x"}) == []
    # Every filter must hold for one and the same span.
    assert search(tags={"payment.amount": "42"}, service="payments", errors_only=True) == [CHECKOUT]
    assert search(tags={"payment.amount": "42"}, service="frontend") == []


@pytest.mark.django_db
def test_search_reads_more_spans_when_one_trace_fills_the_first_rounds():
    # 250 matching spans of one trace, all newer than the other trace's span: more than the
    # first round (limit 2 x headroom 10, at least 100 spans) reads; 200 share one start, more
    # than the second round reads past.
    add(HOME, "1000000000000001", "cart", "GET /cart", 0, 5)
    for i in range(250):
        add(CHECKOUT, f"{i + 1:016x}", "cart", "GET /cart", 100 + max(i - 199, 0), 5)
    assert search(limit=2) == [CHECKOUT, HOME]
    assert search(limit=3) == [CHECKOUT, HOME]


@pytest.mark.django_db
def test_search_summarises_any_number_of_traces_in_one_query(django_assert_max_num_queries):
    for trace in range(30):
        trace_id = f"{trace + 1:032x}"
        add(trace_id, "a000000000000001", "frontend", "GET /", trace, 20)
        for child in range(5):
            add(trace_id, f"{child + 2:016x}", "cart", "SELECT", trace + 1, 3, "a000000000000001")
    with django_assert_max_num_queries(2):  # the matching spans, then the summaries
        found = search_traces(SearchFilters(start_ns=START, end_ns=START + SECOND, limit=25))
    assert [summary.span_count for summary in found] == [6] * 25
    assert found[0].trace_id == f"{30:032x}"


def test_nearest_rank_percentiles():
    values = [float(v) for v in range(5, 101, 5)]  # 20 values
    assert [nearest_rank(values, p) for p in (50, 95, 99, 1)] == [50.0, 95.0, 100.0, 5.0]
    assert nearest_rank([7.0], 50) == 7.0


# --- service graph ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_service_graph_has_calls_between_services_with_percentiles():
    checkout_trace()
    # Twenty frontend → search calls of 5, 10, … 100 ms; the 30 ms and 70 ms ones fail.
    for i in range(20):
        trace_id = f"{i + 1:032x}"
        add(trace_id, "a000000000000001", "frontend", "GET /search", 1000 + i, 200)
        add(trace_id, "b000000000000002", "frontend", "GET search", 1001 + i, 150,
            "a000000000000001", CLIENT)  # fmt: skip
        add(trace_id, "c000000000000003", "search", "GET /query", 1002 + i, 5 * (i + 1),
            "b000000000000002", status=ERROR if i in (5, 13) else 0)  # fmt: skip
    # Outside the range: not counted.
    add(OLD, "a000000000000001", "frontend", "GET /search", -7_200_000, 200)
    add(OLD, "c000000000000003", "search", "GET /query", -7_199_999, 1, "a000000000000001")

    nodes, edges = service_graph(START, START + 3 * SECOND)
    assert nodes == [
        GraphNode("cart", requests=1, errors=0),  # the server span; "async cleanup" is internal
        GraphNode("frontend", requests=21, errors=0),
        GraphNode("payments", requests=1, errors=1),
        GraphNode("search", requests=20, errors=2),
    ]
    assert edges == [
        GraphEdge("cart", "payments", 1, 1, 25.0, 25.0, 25.0),
        GraphEdge("frontend", "cart", 1, 0, 50.0, 50.0, 50.0),
        GraphEdge("frontend", "search", 20, 2, 50.0, 95.0, 100.0),
    ]


@pytest.mark.django_db
def test_a_call_whose_client_span_started_shortly_before_the_range_still_counts():
    add(CHECKOUT, "b000000000000002", "frontend", "POST cart", -10, 80, kind=CLIENT)
    add(CHECKOUT, "c000000000000003", "cart", "POST /cart", 1, 50, "b000000000000002")
    # A client span more than five minutes before the range is not looked for.
    add(HOME, "b000000000000002", "frontend", "POST cart", -300_001, 301_000, kind=CLIENT)
    add(HOME, "c000000000000003", "cart", "POST /cart", 2, 7, "b000000000000002")
    nodes, edges = service_graph(START, START + SECOND)
    assert nodes == [GraphNode("cart", 2, 0), GraphNode("frontend", 0, 0)]
    assert edges == [GraphEdge("frontend", "cart", 1, 0, 50.0, 50.0, 50.0)]


@pytest.mark.django_db
def test_an_empty_range_has_an_empty_graph():
    checkout_trace()
    assert service_graph(START + SECOND, START + 2 * SECOND) == ([], [])
