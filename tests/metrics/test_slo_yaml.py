"""SLOs as code: OpenSLO v1 and Sloth prometheus/v1 files read into SLOSpecs, written back, and
refused with every problem on its line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from metrics.slo.spec import LatencySLI, RatioSLI, SLOSpec
from metrics.slo.yaml_io import (
    SLOExportError,
    SLOFileError,
    dump_openslo,
    dump_sloth,
    load_slos,
)

FILES = Path(__file__).parent / "slo_files"

CHECKOUT_COUNT = "http_server_request_duration_seconds_count"
CART_COUNT = 'sum(rate(http_server_request_duration_seconds_count{service="cart"}[{{window}}]))'

CHECKOUT_SPECS = [
    SLOSpec(
        name="checkout-availability",
        service="checkout",
        objective_percent=Decimal("99.9"),
        sli=RatioSLI(
            good_query=f'sum(rate({CHECKOUT_COUNT}{{service="checkout",'
            'http_response_status_code!~"5.."}[{{window}}]))',
            total_query=f'sum(rate({CHECKOUT_COUNT}{{service="checkout"}}[{{{{window}}}}]))',
        ),
        window="28d",
        description="Checkout requests that do not fail with a server error",
        labels=(("team", "payments"), ("tier", "1")),
    ),
    SLOSpec(
        name="payment-provider-errors",
        service="checkout",
        objective_percent=Decimal("99.5"),
        sli=RatioSLI(
            bad_query='payment_requests_total{outcome="error"}',
            total_query="payment_requests_total",
        ),
        window="month",
        description="The payment provider's monthly contract, judged per minute",
        time_zone="Europe/Berlin",
        budgeting="Timeslices",
        timeslice_target_percent=Decimal("95"),
        min_events=50,
    ),
    SLOSpec(
        name="checkout-latency",
        service="checkout",
        objective_percent=Decimal("99"),
        sli=LatencySLI(
            histogram="http_server_request_duration_seconds",
            threshold_seconds=Decimal("0.5"),
            matchers='service="checkout",http_route="/checkout"',
        ),
        window="7d",
        description="Checkout pages answered within half a second",
    ),
]

CART_SPECS = [
    SLOSpec(
        name="requests-availability",
        service="cart",
        objective_percent=Decimal("99.9"),
        sli=RatioSLI(
            bad_query='sum(rate(http_server_request_duration_seconds_count{service="cart",'
            'http_response_status_code=~"(5..|429)"}[{{window}}]))',
            total_query=CART_COUNT,
        ),
        window="30d",
        description="Cart API requests that do not fail with a 5xx or a 429.",
        labels=(("owner", "team-shop"), ("tier", "2")),
    ),
    SLOSpec(
        name="requests-latency",
        service="cart",
        objective_percent=Decimal("99"),
        sli=RatioSLI(
            bad_query="(\n"
            f"  {CART_COUNT}\n"
            "  -\n"
            '  sum(rate(http_server_request_duration_seconds_bucket{service="cart",le="0.3"}'
            "[{{window}}]))\n"
            ")",
            total_query=CART_COUNT,
        ),
        window="30d",
        description="Cart API requests served within 300ms.",
        labels=(("owner", "team-shop"), ("tier", "1"), ("category", "latency")),
    ),
]


def problems(text: str) -> list[str]:
    with pytest.raises(SLOFileError) as caught:
        load_slos(text)
    return str(caught.value).splitlines()


def openslo(
    *, service: str = "checkout", window: str = "", objective: str = "- target: 0.99"
) -> str:
    """A valid OpenSLO SLO (19 lines with the default window) to break one part of."""
    window = window or "- duration: 28d\n      isRolling: true"
    return (
        "apiVersion: openslo/v1\n"
        "kind: SLO\n"
        "metadata:\n"
        "  name: checkout-errors\n"
        "spec:\n"
        f"  service: {service}\n"
        "  indicator:\n"
        "    spec:\n"
        "      ratioMetric:\n"
        "        bad:\n"
        "          metricSource: {type: Prometheus, spec: {query: 'errors_total'}}\n"
        "        total:\n"
        "          metricSource: {type: Prometheus, spec: {query: 'requests_total'}}\n"
        "  timeWindow:\n"
        f"    {window}\n"
        "  budgetingMethod: Occurrences\n"
        "  objectives:\n"
        f"    {objective}\n"
    )


def sloth(*, objective: str = "99.9", sli: str = "") -> str:
    """A valid one-SLO Sloth file to break one part of; the SLI starts on line 7."""
    sli = sli or (
        "events:\n"
        '        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))\n'
        "        total_query: sum(rate(http_requests_total[{{.window}}]))"
    )
    return (
        "version: prometheus/v1\n"
        "service: cart\n"
        "slos:\n"
        "  - name: availability\n"
        f"    objective: {objective}\n"
        "    sli:\n"
        f"      {sli}\n"
    )


# Reading ----------------------------------------------------------------------------------


def test_it_reads_an_openslo_file_skipping_other_kinds():
    text = (FILES / "openslo_checkout.yaml").read_text()

    assert load_slos(text) == CHECKOUT_SPECS


def test_it_reads_a_sloth_file_into_one_spec_per_slo():
    text = (FILES / "sloth_cart.yaml").read_text()

    assert load_slos(text) == CART_SPECS


def test_objectives_keep_the_exact_text_of_the_yaml_number():
    [from_sloth] = load_slos(sloth(objective="99.95"))
    [from_target] = load_slos(openslo(objective="- target: 0.9995"))
    [from_percent] = load_slos(openslo(objective="- targetPercent: 99.95"))

    assert str(from_sloth.objective_percent) == "99.95"
    assert str(from_target.objective_percent) == "99.95"
    assert str(from_percent.objective_percent) == "99.95"


def test_a_stream_may_mix_formats_and_empty_documents():
    text = f"---\n{sloth()}---\n{openslo()}---\n"

    specs = load_slos(text)

    assert [(spec.service, spec.name, spec.window) for spec in specs] == [
        ("cart", "availability", "30d"),
        ("checkout", "checkout-errors", "28d"),
    ]
    assert specs[0].sli == RatioSLI(
        bad_query='sum(rate(http_requests_total{code=~"5.."}[{{window}}]))',
        total_query="sum(rate(http_requests_total[{{window}}]))",
    )


def test_an_empty_stream_holds_no_slos():
    assert load_slos("# nothing yet\n") == []


def test_a_missing_time_window_is_thirty_days_rolling():
    text = openslo().replace("  timeWindow:\n    - duration: 28d\n      isRolling: true\n", "")

    [spec] = load_slos(text)

    assert (spec.window, spec.time_zone) == ("30d", "UTC")


def test_a_calendar_quarter_keeps_its_time_zone():
    window = (
        "- duration: 1Q\n      calendar: {startTime: 2024-01-01 00:00:00, timeZone: Asia/Tokyo}"
    )

    [spec] = load_slos(openslo(window=window))

    assert (spec.window, spec.time_zone) == ("quarter", "Asia/Tokyo")


def test_sloth_slo_labels_override_the_file_labels_in_place():
    text = (
        "version: prometheus/v1\n"
        "service: cart\n"
        "labels: {team: shop, tier: '2'}\n"
        "slos:\n"
        "  - name: availability\n"
        "    objective: 99\n"
        "    labels: {tier: '1', region: eu}\n"
        "    sli:\n"
        "      events: {error_query: errors_total, total_query: requests_total}\n"
    )

    [spec] = load_slos(text)

    assert spec.labels == (("team", "shop"), ("tier", "1"), ("region", "eu"))


# Problems, each on its line ---------------------------------------------------------------


def test_it_lists_every_problem_in_a_sloth_file_with_its_line():
    text = (
        "version: prometheus/v1\n"
        "service: cart\n"
        "slos:\n"
        "  - name: availability\n"
        "    objective: 120\n"
        "    sli:\n"
        "      events:\n"
        "        error_query: sum(rate(http_requests_total{code=~'5..'}[{{.window}}]))\n"
        "        total_query: sum(rate(http_requests_total[{{.window}}])\n"
        "  - name: ratio\n"
        "    objective: 99.9\n"
        "    sli:\n"
        "      raw:\n"
        "        error_ratio_query: slo:error_ratio:rate5m\n"
        "  - objective: '99'\n"
        "    sli:\n"
        "      events:\n"
        "        total_query: requests_total\n"
    )

    assert problems(text) == [
        "line 5: objective 120 is not between 0 and 100",
        "line 9: invalid PromQL in total_query: expected ')' but found end of query at position 33",
        "line 13: raw error ratios (sli.raw.error_ratio_query) are not supported: the portal "
        "needs a ratio of counters, use sli.events with error_query and total_query",
        'line 15: missing required field "slos[2].name"',
        'line 15: "slos[2].objective" must be a number, not the string "99"',
        'line 17: missing required field "slos[2].sli.events.error_query"',
    ]


def test_it_lists_every_problem_in_an_openslo_file_with_its_line():
    text = (
        "apiVersion: openslo/v1\n"
        "kind: SLO\n"
        "metadata:\n"
        "  name: checkout\n"
        "spec:\n"
        "  indicator:\n"
        "    spec:\n"
        "      ratioMetric:\n"
        "        good:\n"
        "          metricSource: {type: Prometheus, spec: {query: ok_total}}\n"
        "        bad:\n"
        "          metricSource: {type: Prometheus, spec: {query: errors_total}}\n"
        "        total:\n"
        "          metricSource: {type: Datadog, spec: {query: requests_total}}\n"
        "  timeWindows:\n"
        "    - duration: 28d\n"
        "  budgetingMethod: Occurrences\n"
        "  objectives:\n"
        "    - target: 1.5\n"
    )

    assert problems(text) == [
        'line 5: missing required field "spec.service"',
        "line 11: set either good or bad, not both",
        'line 14: unsupported metricSource type "Datadog" (only Prometheus)',
        'line 15: unknown field "spec.timeWindows"',
        "line 19: target 1.5 is not between 0 and 1",
    ]


def test_it_names_the_unsupported_window():
    window = "- duration: 45d\n      isRolling: true"

    assert problems(openslo(window=window)) == [
        'line 15: unsupported window "45d" (use 7d, 28d, 30d, month or quarter)'
    ]


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        (
            "- duration: 1M\n      isRolling: true",
            'line 15: window "1M" must be calendar-aligned: set isRolling: false and add '
            "calendar with timeZone",
        ),
        (
            "- duration: 2M\n      calendar: {timeZone: UTC}",
            'line 15: unsupported calendar window "2M" (use 1M for a month or 1Q for a quarter)',
        ),
        (
            "- duration: 1M\n      calendar: {startTime: 2024-01-01, timeZone: Mars/Olympus}",
            'line 16: unknown time zone "Mars/Olympus"',
        ),
        (
            "- duration: 1M\n      isRolling: false",
            'line 15: missing required field "spec.timeWindow[0].calendar" (isRolling is false)',
        ),
    ],
)
def test_it_refuses_calendar_windows_it_cannot_keep(window, expected):
    assert problems(openslo(window=window)) == [expected]


def test_it_names_the_unknown_api_version_on_its_line():
    text = "# Checkout SLO, from the wiki\n\napiVersion: openslo/v2\nkind: SLO\n"

    assert problems(text) == ['line 3: unknown apiVersion "openslo/v2"']


def test_it_names_the_unknown_sloth_version():
    assert problems(sloth().replace("prometheus/v1", "prometheus/v2")) == [
        'line 1: unknown version "prometheus/v2"'
    ]


def test_it_reports_yaml_syntax_errors_on_their_line():
    text = "version: prometheus/v1\nservice: cart\n  slos: []\n"

    assert problems(text) == ["line 3: YAML syntax error: mapping values are not allowed here"]


def test_it_reports_control_characters_on_their_line():
    text = sloth().replace("service: cart", "service: ca\x00rt")

    assert problems(text) == [
        "line 2: YAML syntax error: unacceptable character #x0000: special characters are "
        "not allowed"
    ]


def test_it_refuses_a_document_that_is_neither_format():
    assert problems(f"{sloth()}---\nname: checkout\n") == [
        'line 11: not an SLO document: expected "apiVersion: openslo/v1" (OpenSLO) '
        'or "version: prometheus/v1" (Sloth)'
    ]


def test_it_refuses_the_same_slo_twice_in_a_stream():
    assert problems(f"{sloth()}---\n{sloth()}") == [
        'line 14: duplicate SLO "availability" of service "cart" (first defined on line 4)'
    ]
    assert problems(f"{openslo()}---\n{openslo()}") == [
        'line 24: duplicate SLO "checkout-errors" of service "checkout" (first defined on line 4)'
    ]


def test_it_refuses_duplicate_keys():
    text = sloth().replace("    objective: 99.9\n", "    objective: 99.9\n    objective: 99\n")

    assert problems(text) == ['line 6: duplicate field "slos[0].objective"']


@pytest.mark.parametrize(
    ("sli", "expected"),
    [
        (
            "plugin: {id: sloth-common/kubernetes/apiserver/availability}",
            "line 7: SLI plugins are not supported: use sli.events with error_query and "
            "total_query",
        ),
        (
            "events: {error_query: 'sum(rate(errors_total[5m]))', total_query: requests_total}",
            "line 7: invalid PromQL in error_query: a query without {{window}} must be a plain "
            'counter selector such as http_requests_total{code=~"5.."}',
        ),
        (
            "events: {error_query: 'errors_total[{{.window}}]', total_query: requests_total}",
            "line 7: invalid PromQL in error_query: expected an instant vector such as "
            "sum(rate(...[{{window}}])), got a range vector",
        ),
        (
            "events: {error_query: '{{ .Window }}', total_query: requests_total}",
            "line 7: invalid PromQL in error_query: unexpected character '.' at position 3",
        ),
    ],
)
def test_it_refuses_sloth_slis_it_cannot_evaluate(sli, expected):
    assert problems(sloth(sli=sli)) == [expected]


def test_it_refuses_openslo_indicators_it_cannot_evaluate():
    by_reference = openslo().replace(
        "  indicator:\n    spec:\n      ratioMetric:\n", "  indicatorRef: checkout-errors\n  x:\n"
    )
    threshold = openslo().replace("ratioMetric:", "thresholdMetric:")
    raw = openslo().replace("        bad:\n", "        rawType: failure\n        raw:\n")

    assert problems(by_reference) == [
        "line 7: indicatorRef is not supported: inline the SLI as indicator",
        'line 8: unknown field "spec.x"',
    ]
    assert problems(threshold) == [
        "line 9: thresholdMetric is not supported: use ratioMetric, or the "
        "coe-portal/latency-histogram and coe-portal/latency-threshold annotations for a "
        "latency SLI"
    ]
    assert problems(raw) == [
        "line 10: raw ratios are not supported: the portal needs a ratio of counters, "
        "use good or bad with total"
    ]


def test_timeslices_need_a_target_and_one_minute_slices():
    text = openslo(objective="- targetPercent: 99.9\n      timeSliceWindow: 5m").replace(
        "Occurrences", "Timeslices"
    )

    assert problems(text) == [
        'line 19: missing required field "spec.objectives[0].timeSliceTarget"',
        'line 20: unsupported timeSliceWindow "5m" (the portal judges one-minute slices: use 1m)',
    ]


def test_latency_annotations_are_checked():
    text = openslo().replace(
        "  name: checkout-errors\n",
        "  name: checkout-errors\n"
        "  annotations:\n"
        "    coe-portal/latency-histogram: http_request_duration_seconds_bucket\n"
        "    coe-portal/latency-threshold: half a second\n"
        "    coe-portal/latency-matchers: 'service=\"cart\"} or vector(1) or up{'\n",
    )

    assert problems(text) == [
        "line 6: coe-portal/latency-histogram names the histogram without the _bucket "
        'suffix: "http_request_duration_seconds"',
        'line 7: "metadata.annotations.coe-portal/latency-threshold" must be a number, '
        'not "half a second"',
        'line 8: coe-portal/latency-matchers must hold label matchers only, e.g. service="cart"',
    ]


def test_a_latency_slo_needs_its_threshold():
    text = openslo().replace(
        "  name: checkout-errors\n",
        "  name: checkout-errors\n"
        "  annotations:\n"
        "    coe-portal/latency-histogram: http_request_duration_seconds\n",
    )

    assert problems(text) == [
        'line 5: missing required field "metadata.annotations.coe-portal/latency-threshold"'
    ]


# Writing and round trips ------------------------------------------------------------------


def test_openslo_round_trip_keeps_every_spec():
    specs = [
        *CHECKOUT_SPECS,
        *CART_SPECS,
        SLOSpec(
            name="search-latency",
            service="search",
            objective_percent=Decimal("99.95"),
            sli=LatencySLI("search_duration_seconds", Decimal("0.25")),
            window="quarter",
            time_zone="America/New_York",
            budgeting="Timeslices",
            timeslice_target_percent=Decimal("99.5"),
        ),
    ]

    assert load_slos(dump_openslo(specs)) == specs


def test_sloth_round_trip_keeps_every_spec():
    other_service = SLOSpec(
        name="search-errors",
        service="search",
        objective_percent=Decimal("99.5"),
        sli=RatioSLI(total_query="search_requests_total", bad_query="search_errors_total"),
        labels=(("team", "discovery"),),
    )
    specs = [*CART_SPECS, other_service]

    text = dump_sloth(specs)

    assert load_slos(text) == specs
    assert text.count("version: prometheus/v1") == 2


def test_dump_sloth_writes_sloth_placeholders_and_hoists_shared_labels():
    assert dump_sloth(CART_SPECS[:1]) == (
        "---\n"
        "version: prometheus/v1\n"
        "service: cart\n"
        "labels:\n"
        "  owner: team-shop\n"
        "  tier: '2'\n"
        "slos:\n"
        "  - name: requests-availability\n"
        "    objective: 99.9\n"
        "    description: Cart API requests that do not fail with a 5xx or a 429.\n"
        "    sli:\n"
        "      events:\n"
        "        error_query: sum(rate(http_server_request_duration_seconds_count"
        '{service="cart",http_response_status_code=~"(5..|429)"}[{{.window}}]))\n'
        "        total_query: sum(rate(http_server_request_duration_seconds_count"
        '{service="cart"}[{{.window}}]))\n'
        "    alerting:\n"
        "      name: CartRequestsAvailability\n"
    )


def test_dump_openslo_writes_the_objective_as_an_exact_target():
    spec = SLOSpec(
        name="errors",
        service="cart",
        objective_percent=Decimal("99.9"),
        sli=RatioSLI(total_query="requests_total", bad_query="errors_total"),
    )

    assert dump_openslo([spec]) == (
        "---\n"
        "apiVersion: openslo/v1\n"
        "kind: SLO\n"
        "metadata:\n"
        "  name: errors\n"
        "spec:\n"
        "  service: cart\n"
        "  indicator:\n"
        "    metadata:\n"
        "      name: errors\n"
        "    spec:\n"
        "      ratioMetric:\n"
        "        counter: true\n"
        "        bad:\n"
        "          metricSource:\n"
        "            type: Prometheus\n"
        "            spec:\n"
        "              query: errors_total\n"
        "        total:\n"
        "          metricSource:\n"
        "            type: Prometheus\n"
        "            spec:\n"
        "              query: requests_total\n"
        "  timeWindow:\n"
        "    - duration: 30d\n"
        "      isRolling: true\n"
        "  budgetingMethod: Occurrences\n"
        "  objectives:\n"
        "    - target: 0.999\n"
    )


def test_dump_openslo_writes_a_latency_indicator_other_tools_can_read():
    text = dump_openslo(CHECKOUT_SPECS[2:])

    assert (
        "query: sum(rate(http_server_request_duration_seconds_bucket"
        '{service="checkout",http_route="/checkout",le="0.5"}[{{window}}]))'
    ) in text
    assert (
        "query: sum(rate(http_server_request_duration_seconds_count"
        '{service="checkout",http_route="/checkout"}[{{window}}]))'
    ) in text


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (CHECKOUT_SPECS[0], "Sloth counts bad events (error_query), and this SLO counts good ones"),
        (CHECKOUT_SPECS[2], "Sloth has no latency SLI"),
        (
            SLOSpec("e", "s", Decimal(99), RatioSLI("t", bad_query="b"), window="28d"),
            "a Sloth file carries no window (Sloth uses 30d), and this SLO's is 28d",
        ),
        (
            SLOSpec("e", "s", Decimal(99), RatioSLI("t", bad_query="b"), window="month"),
            "a Sloth file carries no window (Sloth uses 30d), and this SLO's is month",
        ),
        (
            SLOSpec(
                "e",
                "s",
                Decimal(99),
                RatioSLI("t", bad_query="b"),
                budgeting="Timeslices",
                timeslice_target_percent=Decimal(95),
            ),
            "Sloth budgets by occurrences only, and this SLO uses Timeslices",
        ),
        (
            SLOSpec("e", "s", Decimal(99), RatioSLI("t", bad_query="b"), min_events=10),
            "Sloth has no minimum event count",
        ),
    ],
)
def test_dump_sloth_refuses_what_sloth_cannot_express(spec, reason):
    with pytest.raises(SLOExportError) as caught:
        dump_sloth([spec])

    assert str(caught.value) == (
        f'SLO "{spec.name}" of service "{spec.service}": {reason}; export it as OpenSLO'
    )
