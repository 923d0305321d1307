"""Properties of the decoders and the PromQL parser, in process (no server, no database): any
input either decodes or is refused with the protocol's own error, never another exception; and
well-formed input decodes to exactly what was sent."""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from coe_portal.safe_json import MAX_DEPTH, JSONInputError, load_json
from metrics.alarms.alertmanager import AlertmanagerPayloadError, parse_payload
from metrics.ingest.body import snappy_block_limited
from metrics.ingest.errors import IngestError
from metrics.ingest.otlp_json import parse_otlp_json
from metrics.ingest.otlp_metrics import convert_metrics_request
from metrics.ingest.remote_write import parse_write_request
from metrics.promql.ast import VectorSelector
from metrics.promql.errors import ParseError
from metrics.promql.lexer import tokenize
from metrics.promql.parser import parse
from metrics.traces.convert import convert_trace_request
from metrics.traces.zipkin import ZipkinError, convert_zipkin_spans
from tests.fuzz.generators import encode_write_request, snappy
from tests.fuzz.hostile import HOSTILE_NUMBERS, HOSTILE_STRINGS

# CI draws the same examples every run (a red CI is then a change, not luck); a developer's
# run explores new ones. HYPOTHESIS_EXAMPLES raises the count for a longer search.
PROPERTY = settings(
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "150")),
    derandomize=os.environ.get("CI", "").lower() == "true",
    deadline=None,
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Text the store keeps as it is: no NUL, no lone surrogate.
storable_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
any_text = st.text(st.characters(codec=None))
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text
    | st.sampled_from([*HOSTILE_STRINGS, *HOSTILE_NUMBERS])
)
json_documents = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4)
    ),
    max_leaves=30,
)


def _depth(node: object) -> int:
    if isinstance(node, dict):
        return 1 + max((_depth(v) for v in node.values()), default=0)
    if isinstance(node, list):
        return 1 + max((_depth(v) for v in node), default=0)
    return 0


def _storable(node: object) -> bool:
    if isinstance(node, str):
        return "\x00" not in node and not any(0xD800 <= ord(c) <= 0xDFFF for c in node)
    if isinstance(node, dict):
        return all(_storable(k) and _storable(v) for k, v in node.items())
    if isinstance(node, list):
        return all(_storable(v) for v in node)
    return True


def refusal(decode: Callable[[], object]) -> int | None:
    """The status an intake answers when decoding fails with its error, None when it decodes."""
    try:
        decode()
    except IngestError as error:
        return error.status
    return None


# The JSON reader ---------------------------------------------------------------------------


@PROPERTY
@given(st.binary(max_size=300))
def test_any_bytes_are_json_or_a_json_input_error(payload):
    with contextlib.suppress(JSONInputError):
        load_json(payload)


@PROPERTY
@given(json_documents)
def test_a_document_reads_back_as_sent_unless_it_cannot_be_stored(document):
    payload = json.dumps(document).encode()
    if _storable(document) and _depth(document) <= MAX_DEPTH:
        assert load_json(payload) == document
    else:
        with pytest.raises(JSONInputError):
            load_json(payload)


# PromQL ------------------------------------------------------------------------------------


promql_pieces = st.sampled_from(
    ["up", "(", ")", "{", "}", "[", "]", ",", '"a"', "'\\x00'", "=~", "!=", "=", "5m", "1e9",
     "0x1f", "sum", "by", "rate", "offset", "-", "+", "*", "/", "^", "and", "or", "bool", "@",
     ":", "#", "\n", " ", "1", "NaN", "Inf", "histogram_quantile", "without", "\\", "`"]
)  # fmt: skip


@PROPERTY
@given(st.lists(promql_pieces, max_size=40).map("".join) | any_text)
def test_any_query_text_parses_or_is_a_parse_error(query):
    with contextlib.suppress(ParseError):
        parse(query)


@PROPERTY
@given(
    st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,20}", fullmatch=True),
    st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,20}", fullmatch=True),
    storable_text,
)
def test_a_selector_keeps_its_label_value_exactly(name, label, value):
    assume(name.lower() not in {"inf", "nan", "by", "without", "on", "ignoring", "offset",
                                "bool", "and", "or", "unless", "atan2", "group_left",
                                "group_right"})  # fmt: skip
    assume(label.lower() not in {"inf", "nan"})
    # PromQL strings escape as Go's do: JSON's escapes are a subset.
    query = f"{name}{{{label}={json.dumps(value, ensure_ascii=False)}}}"
    expr = parse(query)
    assert isinstance(expr, VectorSelector)
    assert expr.name == name
    assert [(m.name, m.value) for m in expr.matchers if m.name == label] == [(label, value)]


@PROPERTY
@given(st.integers(min_value=1, max_value=400))
def test_nesting_is_answered_up_to_200_levels_and_refused_beyond(depth):
    query = "(" * depth + "1" + ")" * depth
    if depth < 200:
        assert parse(query) is not None
    else:
        with pytest.raises(ParseError, match="query is nested deeper than 200 levels"):
            parse(query)


@PROPERTY
@given(any_text)
def test_the_lexer_never_raises_anything_but_a_parse_error(text):
    with contextlib.suppress(ParseError):
        tokenize(text)


# Remote write --------------------------------------------------------------------------------


@PROPERTY
@given(st.binary(max_size=400))
def test_any_remote_write_body_decodes_or_is_a_400(payload):
    for body in (payload, snappy(payload)):
        assert refusal(lambda body=body: parse_write_request(snappy_block_limited(body))) in (
            None, 400, 413,
        )  # fmt: skip


label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,15}", fullmatch=True).filter(
    lambda name: name != "__name__"
)


@PROPERTY
@given(
    st.dictionaries(label_names, storable_text.filter(bool), max_size=5),
    st.lists(
        st.tuples(
            st.floats(allow_nan=False),
            st.integers(min_value=-600_000 * 2, max_value=600_000 - 1_000),
        ),
        min_size=1,
        max_size=20,
    ),
)
def test_remote_write_decodes_in_bounds_samples_exactly_and_refuses_the_rest(labels, offsets):
    now = int(time.time() * 1000)
    samples = [(value, now + offset) for value, offset in offsets]
    sent = [(b"__name__", b"up")] + [(k.encode(), v.encode()) for k, v in sorted(labels.items())]
    batches, problems = parse_write_request(encode_write_request([(sent, samples)]))
    assert problems == []
    [batch] = batches
    assert (batch.name, batch.labels) == ("up", labels)
    assert batch.timestamps == [timestamp for _, timestamp in samples]
    assert batch.values == [value for value, _ in samples]


@PROPERTY
@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_a_remote_write_sample_is_kept_exactly_when_in_bounds(timestamp):
    now = int(time.time() * 1000)
    batches, problems = parse_write_request(
        encode_write_request([([(b"__name__", b"up")], [(1.0, timestamp)])])
    )
    within = now - 30 * 365 * 86_400_000 + 60_000 <= timestamp <= now + 590_000
    beyond = timestamp < now - 30 * 365 * 86_400_000 - 60_000 or timestamp > now + 610_000
    assume(within or beyond)  # not within a minute of a bound the clock moves
    if within:
        assert ([b.timestamps for b in batches], problems) == ([[timestamp]], [])
    else:
        assert batches == []
        assert len(problems) == 1
        assert problems[0].startswith("out of bounds: 1 sample outside ")


# OTLP --------------------------------------------------------------------------------------


@PROPERTY
@given(st.binary(max_size=400))
def test_any_otlp_protobuf_body_converts_or_fails_to_parse(payload):
    from google.protobuf.message import DecodeError

    for message, convert in (
        (ExportTraceServiceRequest(), convert_trace_request),
        (ExportMetricsServiceRequest(), convert_metrics_request),
    ):
        try:
            message.ParseFromString(payload)
        except DecodeError:
            continue
        convert(message)


@PROPERTY
@given(json_documents)
def test_any_otlp_json_document_converts_or_is_a_400(document):
    payload = json.dumps({"resourceSpans": document, "resourceMetrics": document}).encode()
    for message, convert in (
        (ExportTraceServiceRequest(), convert_trace_request),
        (ExportMetricsServiceRequest(), convert_metrics_request),
    ):
        assert refusal(lambda m=message, c=convert: c(parse_otlp_json(payload, m))) in (None, 400)


# Zipkin and Alertmanager ---------------------------------------------------------------------

zipkin_span = st.fixed_dictionaries(
    {
        "traceId": st.sampled_from(["463ac35c9f6413ad", "0" * 32, "xyz", 1]) | any_text,
        "id": st.sampled_from(["a2fb4a1d1a96d312", "a2fb"]) | json_scalars,
        "timestamp": st.integers(min_value=-(2**64), max_value=2**65) | json_scalars,
        "kind": st.sampled_from(["SERVER", "CLIENT", None, "server"]) | json_documents,
    },
    optional={
        "name": json_scalars,
        "duration": json_scalars,
        "parentId": json_scalars,
        "tags": json_documents,
        "annotations": json_documents,
        "localEndpoint": json_documents,
        "remoteEndpoint": json_documents,
    },
)


@PROPERTY
@given(st.lists(zipkin_span, max_size=3) | json_documents)
def test_any_zipkin_document_converts_or_is_a_zipkin_error(document):
    assume(_storable(document) and _depth(document) <= MAX_DEPTH)
    try:
        conversion = convert_zipkin_spans(document)
    except ZipkinError:
        return
    for row in conversion.rows:
        assert 0 <= row.start_ns <= 2**63 - 1
        assert 0 <= row.duration_ns <= 2**63 - 1
        assert not math.isnan(row.start_ns)


alert = st.fixed_dictionaries(
    {"status": st.sampled_from(["firing", "resolved"]) | json_scalars},
    optional={
        "labels": st.dictionaries(any_text, json_scalars, max_size=3) | json_documents,
        "annotations": json_documents,
        "startsAt": json_scalars,
        "endsAt": json_scalars,
        "fingerprint": json_scalars,
    },
)


@PROPERTY
@given(
    st.fixed_dictionaries(
        {"version": st.sampled_from(["4", 4, "3"]), "alerts": st.lists(alert, max_size=3)}
    )
    | json_documents
)
def test_any_alertmanager_document_is_read_or_refused_by_name(document):
    try:
        alerts = parse_payload(document)
    except AlertmanagerPayloadError:
        return
    for item in alerts:
        assert isinstance(item["labels"]["alertname"], str)
        assert all(isinstance(value, str) for value in item["labels"].values())
