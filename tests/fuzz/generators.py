"""Seeded payload generators, one per intake or API endpoint.

Each generator builds a well-formed request first (unique names, so that what a 2xx stored can
be read back), then, most of the time, damages it: hostile field values, wrong types, byte-level
corruption of the encoded body, wrong content types or encodings. A payload left well-formed
carries a `verify` function that reads the data back through the portal's own API.
"""

from __future__ import annotations

import gzip
import json
import math
import random
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cramjam
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.fuzz.hostile import (
    HOSTILE_STRINGS,
    NUL,
    SURROGATE,
    deep_list,
    dumps,
    mutate_bytes,
    mutate_document,
)

# Reads back through the portal: (path, query parameters) -> (status, decoded JSON or None).
Fetch = Callable[[str, dict[str, str]], tuple[int, Any]]
# ... and the decoded JSON of the 2xx answer (None when it had none) -> a problem or None.
Verify = Callable[[Fetch, Any], str | None]


@dataclass
class Payload:
    endpoint: str
    path: str
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    params: dict[str, str] | None = None  # form fields (POST) or the query string (GET)
    label: str = "valid"  # what was done to it, for the report
    verify: Verify | None = None  # set on well-formed payloads only
    # For some damaged payloads, the exact refusal: (status, body) -> a problem or None.
    expect: Callable[[int, bytes], str | None] | None = None


@dataclass
class Context:
    """What the generators need to know about the server: the incident to change."""

    incident_id: int
    service: str = "cart"
    counter: int = 0

    def unique(self, rng: random.Random) -> str:
        self.counter += 1
        return f"{self.counter}x{rng.getrandbits(40):010x}"


def now_ms() -> int:
    return int(time.time() * 1000)


def _choose(rng: random.Random, mutation_rate: float) -> bool:
    return rng.random() < mutation_rate


def _float_equal(got: str, want: float) -> bool:
    value = float(got)
    return (math.isnan(value) and math.isnan(want)) or value == want


def _safe_text(rng: random.Random, size: int) -> str:
    """Text any store must keep as sent: printable ASCII and a few non-ASCII characters."""
    alphabet = "abcxyz019 _-./:é☕𝄞Ω"
    return "".join(rng.choice(alphabet) for _ in range(size))


# Prometheus remote write -------------------------------------------------------------------


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field_bytes(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def encode_write_request(
    series: list[tuple[list[tuple[bytes, bytes]], list[tuple[float, int]]]],
    *,
    histograms: int = 0,
) -> bytes:
    """A `prometheus.WriteRequest` by hand, so that it can hold what the protobuf library
    refuses to build (invalid UTF-8, any int64)."""
    out = bytearray()
    for labels, samples in series:
        body = bytearray()
        for name, value in labels:
            body += _field_bytes(1, _field_bytes(1, name) + _field_bytes(2, value))
        for value, timestamp in samples:
            sample = b"\x09" + struct.pack("<d", value) + b"\x10" + _varint(timestamp)
            body += _field_bytes(2, sample)
        for _ in range(histograms):
            body += _field_bytes(4, b"")
        out += _field_bytes(1, bytes(body))
    return bytes(out)


def snappy(data: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(data))


def _bad_timestamps() -> list[int]:
    now = now_ms()
    return [
        -(2**62), -1, 0, 1, 2**63 - 1, 2**64 - 1, now + 366 * 86_400_000,
        now + 3_600_000, now - 400 * 86_400_000,
    ]  # fmt: skip


def remote_write(rng: random.Random, context: Context, mutation_rate: float) -> Payload:
    unique = context.unique(rng)
    name = f"fuzz_rw_{unique}"
    base = now_ms() - rng.randint(1_000, 600_000)
    series: list[tuple[list[tuple[bytes, bytes]], list[tuple[float, int]]]] = []
    expected: list[tuple[dict[str, str], int, float]] = []
    for index in range(rng.randint(1, 4)):
        labels = {"__name__": name, "fuzz": str(index), "text": _safe_text(rng, rng.randint(0, 40))}
        count = rng.randint(1, 20)
        samples = [(rng.uniform(-1e6, 1e6), base + step * 1_000) for step in range(count)]
        series.append(([(k.encode(), v.encode()) for k, v in sorted(labels.items())], samples))
        expected.append((labels, samples[-1][1], samples[-1][0]))
    headers = {"Content-Encoding": "snappy", "X-Prometheus-Remote-Write-Version": "0.1.0"}
    payload = Payload("remote_write", "/api/v1/write", content_type="application/x-protobuf")
    payload.headers = headers
    histograms = 0
    if not _choose(rng, mutation_rate):
        payload.body = snappy(encode_write_request(series))
        payload.verify = _verify_series(expected)
        return payload
    kind = rng.choice(
        ["label", "label_name", "timestamp", "value", "histogram", "bytes", "snappy",
         "content_type", "encoding", "empty", "many_labels"]
    )  # fmt: skip
    payload.label = kind
    labels, samples = series[0]
    if kind == "label":
        bad = rng.choice([b"a\x00b", b"\x00", b"\xff\xfe", b"\xed\xa0\x80", b"x" * 70_000, b""])
        labels.append((b"zz_bad", bad))
    elif kind == "label_name":
        labels.append((rng.choice([b"", b"0abc", b"a-b", b"\x00", b"\xc3\x28", b"__name__"]), b"v"))
    elif kind == "timestamp":
        samples[0] = (samples[0][0], rng.choice(_bad_timestamps()))
        payload.expect = _expect_out_of_bounds
    elif kind == "value":
        samples[0] = (rng.choice([math.nan, math.inf, -math.inf, 1e308, -0.0]), samples[0][1])
    elif kind == "histogram":
        histograms = 1
    elif kind == "many_labels":
        labels.extend((f"l{i}".encode(), b"v") for i in range(rng.choice([100, 1000])))
    encoded = encode_write_request(series, histograms=histograms)
    if kind == "bytes":
        encoded = mutate_bytes(rng, encoded)
    payload.body = snappy(encoded)
    if kind == "snappy":
        payload.body = mutate_bytes(rng, payload.body)
    elif kind == "content_type":
        payload.content_type = rng.choice(["application/json", "text/plain", "", "x/y; q=1"])
    elif kind == "encoding":
        payload.headers = {**headers, "Content-Encoding": rng.choice(["gzip", "zstd", "", "br"])}
        if payload.headers["Content-Encoding"] == "gzip":
            payload.body = gzip.compress(encoded)
    elif kind == "empty":
        payload.body = rng.choice([b"", b"\x00", snappy(b""), b"\xff\xff\xff\xff\xff\x0f"])
    return payload


def _expect_out_of_bounds(status: int, body: bytes) -> str | None:
    if status != 400 or not body.startswith(b"out of bounds: 1 sample outside "):
        return f"a sample out of bounds was answered {status} {body[:200]!r}"
    return None


def _expect_rejected_point(encoding: str) -> Callable[[int, bytes], str | None]:
    def expect(status: int, body: bytes) -> str | None:
        if status != 200:
            return f"a point out of bounds was answered {status} {body[:200]!r}"
        if encoding == "protobuf":
            answer = ExportMetricsServiceResponse.FromString(body).partial_success
            rejected, message = answer.rejected_data_points, answer.error_message
        else:
            answer = json.loads(body).get("partialSuccess", {})
            rejected = int(answer.get("rejectedDataPoints", 0))
            message = answer.get("errorMessage", "")
        if rejected != 1 or not message.startswith("out of bounds: 1 data point outside"):
            return f"a point out of bounds was counted {rejected}: {message[:200]!r}"
        return None

    return expect


def _verify_series(expected: list[tuple[dict[str, str], int, float]]) -> Verify:
    def verify(fetch: Fetch, answer: Any) -> str | None:
        for labels, timestamp, value in expected:
            matchers = ",".join(
                f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in labels.items() if k != "fuzz"
            )
            query = f'{{{matchers},fuzz="{labels.get("fuzz", "")}"}}'
            status, answer = fetch("/api/v1/query", {"query": query, "time": f"{timestamp / 1000}"})
            if status != 200:
                return f"query {query} answered {status}: {answer}"
            result = answer["data"]["result"]
            if len(result) != 1:
                return f"query {query} found {len(result)} series, not 1"
            stored_labels = dict(result[0]["metric"])
            # An empty label value is no label, in Prometheus as here.
            if stored_labels != {k: v for k, v in labels.items() if v}:
                return f"stored labels {stored_labels} differ from the sent {labels}"
            if not _float_equal(result[0]["value"][1], value):
                return f"stored value {result[0]['value'][1]} differs from the sent {value!r}"
        return None

    return verify


# OTLP metrics ------------------------------------------------------------------------------


def _otlp_metrics_request(
    rng: random.Random, name: str, service: str, time_ns: int
) -> tuple[ExportMetricsServiceRequest, float, dict[str, str]]:
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    attribute = resource_metrics.resource.attributes.add()
    attribute.key, attribute.value.string_value = "service.name", service
    scope = resource_metrics.scope_metrics.add()
    scope.scope.name = "fuzz"
    value = round(rng.uniform(-1e6, 1e6), 3)
    route = _safe_text(rng, rng.randint(1, 30))
    gauge = scope.metrics.add(name=f"{name}.level", unit=rng.choice(["", "{request}"]))
    point = gauge.gauge.data_points.add(time_unix_nano=time_ns, as_double=value)
    point_attribute = point.attributes.add()
    point_attribute.key, point_attribute.value.string_value = "route", route
    counter = scope.metrics.add(name=f"{name}.requests", unit="{request}")
    counter.sum.is_monotonic = True
    counter.sum.aggregation_temporality = rng.choice([1, 2])
    counter.sum.data_points.add(time_unix_nano=time_ns, as_int=rng.randint(0, 10**6))
    histogram = scope.metrics.add(name=f"{name}.duration", unit="s")
    histogram.histogram.aggregation_temporality = 2
    histogram.histogram.data_points.add(
        time_unix_nano=time_ns,
        count=6,
        sum=3.5,
        explicit_bounds=[0.1, 1.0],
        bucket_counts=[1, 2, 3],
    )
    return request, value, {"service": service, "route": route}


def _mutate_metrics_proto(rng: random.Random, request: ExportMetricsServiceRequest) -> str:
    scope = request.resource_metrics[0].scope_metrics[0]
    gauge_point = scope.metrics[0].gauge.data_points[0]
    kind = rng.choice(
        ["name_nul", "attr_nul", "resource_nul", "time", "buckets", "exp_histogram", "deep_attr",
         "huge_attr", "no_data", "summary", "unit", "value"]
    )  # fmt: skip
    if kind == "name_nul":
        scope.metrics[0].name = rng.choice([f"a{NUL}b", "", "0" * 300, "é.☕"])
    elif kind == "attr_nul":
        gauge_point.attributes[0].value.string_value = rng.choice([f"x{NUL}", NUL, "y" * 70_000])
    elif kind == "resource_nul":
        request.resource_metrics[0].resource.attributes[0].value.string_value = f"s{NUL}"
    elif kind == "time":
        gauge_point.time_unix_nano = rng.choice([0, 1, 2**64 - 1, 2**63, 10**18])
    elif kind == "buckets":
        point = scope.metrics[2].histogram.data_points[0]
        del point.bucket_counts[:]
        point.bucket_counts.extend(rng.choice([[1], [2**64 - 1, 1, 1], [1] * 50]))
    elif kind == "exp_histogram":
        scope.metrics.add(name="exp").exponential_histogram.data_points.add(count=1)
    elif kind == "deep_attr":
        value = gauge_point.attributes.add(key="deep").value
        for _ in range(rng.choice([10, 60, 120])):
            value = value.kvlist_value.values.add(key="k").value
        value.string_value = "leaf"
    elif kind == "huge_attr":
        for index in range(rng.choice([200, 2000])):
            extra = gauge_point.attributes.add(key=f"k{index}")
            extra.value.int_value = -(2**63)
    elif kind == "no_data":
        scope.metrics.add(name="empty")
    elif kind == "summary":
        summary = scope.metrics.add(name="sum.mary").summary.data_points.add(count=2**64 - 1)
        summary.quantile_values.add(quantile=math.nan, value=math.inf)
    elif kind == "unit":
        scope.metrics[0].unit = rng.choice(["{", "}", "{{}", "/", NUL, "a" * 500])
    else:
        gauge_point.as_double = rng.choice([math.nan, math.inf, -math.inf])
        gauge_point.flags = rng.choice([1, 2**32 - 1])
    return kind


def otlp_metrics(encoding: str) -> Callable[[random.Random, Context, float], Payload]:
    def generate(rng: random.Random, context: Context, mutation_rate: float) -> Payload:
        unique = context.unique(rng)
        time_ms = now_ms() - rng.randint(1_000, 600_000)
        request, value, labels = _otlp_metrics_request(
            rng, f"fuzz.otlp.{unique}", f"svc-{unique}", time_ms * 1_000_000
        )
        payload = Payload(
            f"otlp_metrics_{encoding}", "/v1/metrics", content_type=_otlp_type(encoding)
        )
        mutated = _choose(rng, mutation_rate)
        if mutated and rng.random() < 0.5:
            payload.label = "proto:" + _mutate_metrics_proto(rng, request)
            if payload.label == "proto:time":
                payload.expect = _expect_rejected_point(encoding)
        payload.body = _otlp_encode(request, encoding)
        if not mutated:
            payload.verify = _verify_gauge(f"fuzz_otlp_{unique}_level", labels, time_ms, value)
        elif payload.label == "valid":
            payload.label = _damage_otlp_body(rng, payload, encoding)
        return payload

    return generate


def _otlp_type(encoding: str) -> str:
    return "application/x-protobuf" if encoding == "protobuf" else "application/json"


def _otlp_encode(message: Any, encoding: str) -> bytes:
    if encoding == "protobuf":
        return bytes(message.SerializeToString())
    # json_format recurses a few frames per level of a deeply nested attribute.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 5000))
    try:
        return otlp_json(message)
    finally:
        sys.setrecursionlimit(limit)


def otlp_json(message: Any) -> bytes:
    """OTLP/JSON as exporters write it: hex ids, camelCase names, int64 as strings."""
    document = json_format.MessageToDict(message)
    _ids_to_hex(document)
    return json.dumps(document).encode()


def _ids_to_hex(node: Any) -> None:
    import base64

    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                node[key] = base64.b64decode(value).hex()
            else:
                _ids_to_hex(value)
    elif isinstance(node, list):
        for item in node:
            _ids_to_hex(item)


def _damage_otlp_body(rng: random.Random, payload: Payload, encoding: str) -> str:
    roll = rng.random()
    if roll < 0.15:
        payload.content_type = rng.choice(["text/plain", "application/protobuf", "", "*/*"])
        return "content_type"
    if roll < 0.25:
        payload.headers = {"Content-Encoding": rng.choice(["gzip", "deflate", "snappy", "GZIP"])}
        if rng.random() < 0.5:
            payload.body = gzip.compress(payload.body)
            if rng.random() < 0.5:
                payload.body = mutate_bytes(rng, payload.body)
        return "encoding"
    if roll < 0.35:
        payload.body = rng.choice([b"", b"{}", b"[]", b"null", b"\x00", b"\xef\xbb\xbf{}"])
        return "empty"
    if encoding == "json" and roll < 0.8:
        document = mutate_document(rng, json.loads(payload.body), rounds=rng.randint(1, 4))
        payload.body = dumps(document)
        return "json_fields"
    if encoding == "json" and roll < 0.9:
        payload.body = rng.choice(
            [b"[" * 10_000 + b"]" * 10_000, b'{"resourceMetrics": ' + b"[" * 70 + b"]" * 70 + b"}"]
        )
        return "deep"
    payload.body = mutate_bytes(rng, payload.body)
    return "bytes"


def _verify_gauge(name: str, labels: dict[str, str], time_ms: int, value: float) -> Verify:
    def verify(fetch: Fetch, answer: Any) -> str | None:
        query = f"{name}{{service={json.dumps(labels['service'], ensure_ascii=False)}}}"
        status, answer = fetch("/api/v1/query", {"query": query, "time": f"{time_ms / 1000}"})
        if status != 200:
            return f"query {query} answered {status}: {answer}"
        result = answer["data"]["result"]
        if len(result) != 1:
            return f"query {query} found {len(result)} series, not 1"
        if result[0]["metric"] != {"__name__": name, **labels}:
            return f"stored labels {result[0]['metric']} differ from the sent {labels}"
        if not _float_equal(result[0]["value"][1], value):
            return f"stored value {result[0]['value'][1]} differs from the sent {value!r}"
        return None

    return verify


# OTLP traces -------------------------------------------------------------------------------


def _trace_request(
    rng: random.Random, service: str
) -> tuple[ExportTraceServiceRequest, str, dict[str, str]]:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    attribute = resource_spans.resource.attributes.add()
    attribute.key, attribute.value.string_value = "service.name", service
    spans = resource_spans.scope_spans.add().spans
    trace_id = rng.getrandbits(128).to_bytes(16, "big")
    start = (now_ms() - rng.randint(1_000, 600_000)) * 1_000_000
    names: dict[str, str] = {}
    for index in range(rng.randint(1, 5)):
        span_id = rng.getrandbits(64).to_bytes(8, "big")
        name = _safe_text(rng, rng.randint(1, 40))
        span = spans.add(
            trace_id=trace_id, span_id=span_id, name=name, kind=rng.randint(1, 5),
            start_time_unix_nano=start + index, end_time_unix_nano=start + index + 5_000_000,
        )  # fmt: skip
        span_attribute = span.attributes.add(key="http.route")
        span_attribute.value.string_value = _safe_text(rng, 10)
        span.events.add(name="ev", time_unix_nano=start + 1)
        names[span_id.hex()] = name
    return request, trace_id.hex(), names


def _mutate_trace_proto(rng: random.Random, request: ExportTraceServiceRequest) -> str:
    span = request.resource_spans[0].scope_spans[0].spans[0]
    kind = rng.choice(
        ["name_nul", "attr_nul", "event_nul", "time", "end_before", "ids", "kind", "status",
         "resource_nul", "deep_attr", "many", "huge"]
    )  # fmt: skip
    if kind == "name_nul":
        span.name = rng.choice([f"GET{NUL}", NUL, ""])
    elif kind == "attr_nul":
        extra = span.attributes.add(key=rng.choice(["user", f"k{NUL}"]))
        extra.value.string_value = f"a{NUL}b"
    elif kind == "event_nul":
        span.events.add(name=f"retry{NUL}", time_unix_nano=span.start_time_unix_nano)
    elif kind == "time":
        choice = rng.choice([2**64 - 1, 2**63, 0, 1])
        target = rng.choice(["start", "end", "event"])
        if target == "start":
            span.start_time_unix_nano = choice
        elif target == "end":
            span.end_time_unix_nano = choice
        else:
            span.events.add(name="late", time_unix_nano=choice)
    elif kind == "end_before":
        span.end_time_unix_nano = span.start_time_unix_nano - 1
    elif kind == "ids":
        span.trace_id = rng.choice([b"", b"\x00" * 16, b"\x01" * 8, b"\x01" * 17])
        span.span_id = rng.choice([b"", b"\x01" * 7, b"\x00" * 8])
    elif kind == "kind":
        span.kind = rng.choice([-1, 6, 2**31 - 1])
    elif kind == "status":
        span.status.code = rng.choice([3, -5, 2**31 - 1])
        span.status.message = rng.choice([f"m{NUL}", "x" * 70_000])
    elif kind == "resource_nul":
        request.resource_spans[0].resource.attributes.add(key="host").value.string_value = NUL
    elif kind == "deep_attr":
        value = span.attributes.add(key="deep").value
        for _ in range(rng.choice([30, 70, 120])):
            value = value.array_value.values.add()
        value.int_value = 2**63 - 1
    elif kind == "many":
        for index in range(rng.choice([129, 1000])):
            span.events.add(name=f"e{index}", time_unix_nano=span.start_time_unix_nano)
            span.links.add(trace_id=span.trace_id, span_id=span.span_id)
    else:
        span.attributes.add(key="big").value.string_value = "z" * rng.choice([4097, 300_000])
        span.attributes.add(key="bytes").value.bytes_value = b"\xff" * 100
        span.attributes.add(key="double").value.double_value = math.nan
    return kind


def otlp_traces(encoding: str) -> Callable[[random.Random, Context, float], Payload]:
    def generate(rng: random.Random, context: Context, mutation_rate: float) -> Payload:
        request, trace_id, names = _trace_request(rng, f"svc-{context.unique(rng)}")
        payload = Payload(
            f"otlp_traces_{encoding}", "/v1/traces", content_type=_otlp_type(encoding)
        )
        mutated = _choose(rng, mutation_rate)
        if mutated and rng.random() < 0.5:
            payload.label = "proto:" + _mutate_trace_proto(rng, request)
        payload.body = _otlp_encode(request, encoding)
        if not mutated:
            payload.verify = _verify_trace(trace_id, names)
        elif payload.label == "valid":
            payload.label = _damage_otlp_body(rng, payload, encoding)
        return payload

    return generate


def _verify_trace(trace_id: str, names: dict[str, str]) -> Verify:
    def verify(fetch: Fetch, answer: Any) -> str | None:
        status, answer = fetch(f"/api/v1/traces/{trace_id}", {})
        if status != 200:
            return f"trace {trace_id} answered {status}: {answer}"
        stored = {span["span_id"]: span["name"] for span in answer["data"]["spans"]}
        if stored != names:
            return f"trace {trace_id} holds {stored}, not the sent {names}"
        return None

    return verify


# Zipkin ------------------------------------------------------------------------------------


def zipkin(rng: random.Random, context: Context, mutation_rate: float) -> Payload:
    trace_id = (
        f"{rng.getrandbits(128):032x}" if rng.random() < 0.5 else f"{rng.getrandbits(64):016x}"
    )
    start_us = (now_ms() - rng.randint(1_000, 600_000)) * 1_000
    spans = []
    names: dict[str, str] = {}
    for _ in range(rng.randint(1, 4)):
        span_id = f"{rng.getrandbits(64):016x}"
        name = _safe_text(rng, rng.randint(1, 30))
        names[span_id] = name
        spans.append(
            {
                "traceId": trace_id, "id": span_id, "name": name, "timestamp": start_us,
                "duration": rng.randint(1, 10**7), "kind": rng.choice(["SERVER", "CLIENT", None]),
                "localEndpoint": {"serviceName": f"zip-{context.unique(rng)}"},
                "remoteEndpoint": {"serviceName": "db"},
                "tags": {"http.path": _safe_text(rng, 12), "error": ""},
                "annotations": [{"timestamp": start_us + 1, "value": "ws"}],
            }
        )  # fmt: skip
    payload = Payload("zipkin", "/api/v2/spans")
    if not _choose(rng, mutation_rate):
        payload.body = dumps(spans)
        payload.verify = _verify_trace(trace_id.rjust(32, "0"), names)
        return payload
    _damage_json(rng, payload, spans)
    return payload


def _damage_json(rng: random.Random, payload: Payload, document: Any) -> None:
    roll = rng.random()
    if roll < 0.75:
        payload.body = dumps(mutate_document(rng, document, rounds=rng.randint(1, 4)))
        payload.label = "json_fields"
    elif roll < 0.82:
        payload.body = rng.choice(
            [
                b"[" * 10_000 + b"]" * 10_000,
                dumps(deep_list(65)),
                b'{"a":' * 5000 + b"1" + b"}" * 5000,
            ]
        )
        payload.label = "deep"
    elif roll < 0.88:
        payload.body = mutate_bytes(rng, dumps(document))
        payload.label = "bytes"
    elif roll < 0.94:
        payload.body = dumps(document)
        payload.content_type = rng.choice(["text/plain", "application/x-protobuf", ""])
        payload.label = "content_type"
    else:
        payload.body = dumps(document)
        payload.headers = {"Content-Encoding": rng.choice(["gzip", "br", "identity"])}
        payload.label = "encoding"


# Alertmanager webhook -----------------------------------------------------------------------


def alertmanager(rng: random.Random, context: Context, mutation_rate: float) -> Payload:
    unique = context.unique(rng)
    status = rng.choice(["firing", "resolved"])
    alerts = []
    for index in range(rng.randint(1, 3)):
        labels = {"alertname": f"Fuzz{unique}", "index": str(index), "severity": "page"}
        alerts.append(
            {
                "status": status, "labels": labels, "annotations": {"summary": _safe_text(rng, 20)},
                "startsAt": "2026-11-23T12:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": f"{rng.getrandbits(64):016x}",
            }
        )  # fmt: skip
    body = {
        "version": "4", "groupKey": f'{{}}:{{alertname="Fuzz{unique}"}}', "status": status,
        "receiver": "portal", "groupLabels": {"alertname": f"Fuzz{unique}"},
        "commonLabels": {"alertname": f"Fuzz{unique}"}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093", "alerts": alerts, "truncatedAlerts": 0,
    }  # fmt: skip
    payload = Payload("alertmanager", "/api/v1/alertmanager")
    if not _choose(rng, mutation_rate):
        payload.body = dumps(body)
        payload.verify = _verify_alerts(len(alerts))
        return payload
    _damage_json(rng, payload, body)
    return payload


def _verify_alerts(count: int) -> Verify:
    def verify(fetch: Fetch, answer: Any) -> str | None:
        if answer["data"]["alerts"] != count:
            return f"the webhook took {answer['data']['alerts']} alerts of {count}"
        return None

    return verify


# REST API ------------------------------------------------------------------------------------


def incidents(rng: random.Random, context: Context, mutation_rate: float) -> Payload:
    title = f"fuzz {context.unique(rng)} {_safe_text(rng, rng.randint(0, 100))}".strip()
    body: dict[str, Any] = {
        "title": title, "severity": rng.choice(["SEV1", "SEV2", "SEV3", "SEV4"]),
        "services": [context.service], "summary": _safe_text(rng, 50),
        "started_at": "2026-11-23T10:00:00Z", "restricted": False,
    }  # fmt: skip
    payload = Payload("incidents", "/api/v1/incidents")
    if not _choose(rng, mutation_rate):
        payload.body = dumps(body)
        payload.verify = _verify_incident_title(title)
        return payload
    _damage_json(rng, payload, body)
    return payload


def _verify_incident_title(title: str) -> Verify:
    def verify(fetch: Fetch, answer: Any) -> str | None:
        status, answer = fetch(f"/api/v1/incidents/{answer['data']['id']}", {})
        if status != 200:
            return f"incident answered {status}: {answer}"
        if answer["data"]["title"] != title:
            return f"stored title {answer['data']['title']!r} differs from the sent {title!r}"
        return None

    return verify


def incident_status(rng: random.Random, context: Context, mutation_rate: float) -> Payload:
    body = {"status": rng.choice(["investigating", "identified", "mitigated", "resolved"])}
    payload = Payload("incident_status", f"/api/v1/incidents/{context.incident_id}/status")
    if not _choose(rng, mutation_rate):
        payload.body = dumps(body)
        return payload
    _damage_json(rng, payload, body)
    return payload


def incident_timeline(rng: random.Random, context: Context, mutation_rate: float) -> Payload:
    text = f"note {context.unique(rng)} {_safe_text(rng, rng.randint(0, 200))}".strip()
    body = {"kind": rng.choice(["note", "deploy", "action"]), "text": text}
    if rng.random() < 0.3:
        body["at"] = "2026-11-23T10:05:00+01:00"
    payload = Payload("incident_timeline", f"/api/v1/incidents/{context.incident_id}/timeline")
    if not _choose(rng, mutation_rate):
        payload.body = dumps(body)
        payload.verify = _verify_timeline(context.incident_id, text)
        return payload
    _damage_json(rng, payload, body)
    return payload


def _verify_timeline(incident_id: int, text: str) -> Verify:
    def verify(fetch: Fetch, answer: Any) -> str | None:
        status, answer = fetch(f"/api/v1/incidents/{incident_id}", {})
        if status != 200:
            return f"incident answered {status}: {answer}"
        if text not in [entry["text"] for entry in answer["data"]["timeline"]]:
            return f"the timeline lacks the note {text!r}"
        return None

    return verify


GOOD_SLO: dict[str, Any] = {
    "sli_kind": "ratio",
    "bad_query": 'sum(rate(http_requests_total{code=~"5.."}[{{window}}]))',
    "total_query": "sum(rate(http_requests_total[{{window}}]))",
    "objective_percent": "99.9", "window": "30d", "time_zone": "UTC", "min_events": "0",
    "no_data_after_minutes": "15", "enabled": True,
}  # fmt: skip
GOOD_ALARM: dict[str, Any] = {
    "kind": "threshold", "expression": "max(queue_depth)", "period_seconds": "60",
    "evaluation_periods": "3", "datapoints_to_alarm": "2", "comparison": ">", "threshold": "100",
    "treat_missing_data": "missing", "enabled": True,
}  # fmt: skip


def slos(rng: random.Random, context: Context, mutation_rate: float) -> Payload:
    name = f"fuzz-slo-{context.unique(rng)}"
    body = {**GOOD_SLO, "name": name, "service": context.service}
    payload = Payload("slos", "/api/v1/slos")
    if not _choose(rng, mutation_rate):
        payload.body = dumps(body)
        payload.verify = _verify_named("/api/v1/slos/{id}", name)
        return payload
    _damage_json(rng, payload, body)
    return payload


def alarms(rng: random.Random, context: Context, mutation_rate: float) -> Payload:
    name = f"fuzz-alarm-{context.unique(rng)}"
    body = {**GOOD_ALARM, "name": name}
    payload = Payload("alarms", "/api/v1/alarms")
    if not _choose(rng, mutation_rate):
        payload.body = dumps(body)
        payload.verify = _verify_named("/api/v1/alarms/{id}", name)
        return payload
    _damage_json(rng, payload, body)
    return payload


def _verify_named(path: str, name: str) -> Verify:
    def verify(fetch: Fetch, answer: Any) -> str | None:
        status, answer = fetch(path.format(id=answer["data"]["id"]), {})
        if status != 200:
            return f"{path} answered {status}: {answer}"
        if answer["data"]["name"] != name:
            return f"stored name {answer['data']['name']!r} differs from the sent {name!r}"
        return None

    return verify


# PromQL --------------------------------------------------------------------------------------

_FUNCTIONS = ["rate", "irate", "increase", "delta", "avg_over_time", "max_over_time"]
_AGGREGATIONS = ["sum", "avg", "min", "max", "count", "stddev", "group"]


def promql(rng: random.Random, depth: int = 0) -> str:
    """A random, mostly well-formed PromQL expression."""
    roll = rng.random()
    if depth > 3 or roll < 0.25:
        return rng.choice(
            ["up", 'up{job="api"}', 'http_requests_total{code=~"5..",method!="GET"}', "1", "2.5",
             "-3", "time()", 'vector(1)', "NaN", "Inf", '{__name__=~"fuzz_rw_.*"}']
        )  # fmt: skip
    if roll < 0.45:
        window = rng.choice(["5m", "1h", "30s", "1d", "1h30m", "100ms"])
        selector = rng.choice(["up", 'http_requests_total{code="500"}', "queue_depth"])
        return f"{rng.choice(_FUNCTIONS)}({selector}[{window}])"
    if roll < 0.65:
        grouping = rng.choice(["", " by (job)", " without (instance)", " by ()"])
        return f"{rng.choice(_AGGREGATIONS)}{grouping} ({promql(rng, depth + 1)})"
    if roll < 0.85:
        operator = rng.choice(["+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", "and", "or",
                               "unless", "> bool", "atan2"])  # fmt: skip
        return f"{promql(rng, depth + 1)} {operator} {promql(rng, depth + 1)}"
    if roll < 0.92:
        quantile = rng.choice(["0.99", "2", "-1", "NaN"])
        return f"histogram_quantile({quantile}, {promql(rng, depth + 1)})"
    return f"({promql(rng, depth + 1)}){rng.choice(['', ' offset 5m', ' offset -1h'])}"


def _mutate_query(rng: random.Random, query: str) -> tuple[str, str]:
    kind = rng.choice(
        ["chars", "truncate", "parens", "minus", "number", "duration", "regex", "string",
         "subquery", "hostile"]
    )  # fmt: skip
    if kind == "chars":
        at = rng.randrange(len(query) + 1)
        junk = rng.choice([*"(){}[]\"'`,=~!@:;#\\\x00", SURROGATE, "é", "\n"])
        return kind, query[:at] + junk * rng.randint(1, 5) + query[at:]
    if kind == "truncate":
        return kind, query[: rng.randrange(len(query) + 1)]
    if kind == "parens":
        depth = rng.choice([150, 201, 5000, 120_000])
        return kind, "(" * depth + query + ")" * rng.choice([0, depth])
    if kind == "minus":
        return kind, "-" * rng.choice([199, 201, 10_000]) + query
    if kind == "number":
        return kind, rng.choice(["1e400", "0x" + "f" * 100, "9" * 5000, "-0x8000000000000000",
                                 "1_000", ".e5", "Infinity", "0b101"])  # fmt: skip
    if kind == "duration":
        return kind, f"rate(up[{rng.choice(['0s', '99999999999999y', '-5m', '1e3m', '5', 'm'])}])"
    if kind == "regex":
        pattern = rng.choice(["(a+)+$", "[", "(?P<x>", "\\", "(a|a)*" * 5, "x{99999}", ".*" * 50])
        return kind, f"up{{job=~{json.dumps(pattern)}}}"
    if kind == "string":
        return kind, rng.choice(['"unterminated', "'\\x'", '"\\u00"', '"\\ud800"', "`raw"])
    if kind == "subquery":
        return kind, f"{query}[1h:5m]" if rng.random() < 0.5 else f"{query} @ 1700000000"
    return kind, str(rng.choice(HOSTILE_STRINGS))


def _query_time(rng: random.Random) -> str:
    return str(
        rng.choice(
            ["abc", "", "1e400", "-1e20", "NaN", "inf", "2026-11-23T10:00:00Z", "2**64",
             "18446744073709551615", "-9223372036854775808", "1.5e9", "9999-12-31T23:59:59Z"]
        )
    )  # fmt: skip


def query(rng: random.Random, context: Context, mutation_rate: float) -> Payload:
    text = promql(rng)
    params = {"query": text, "time": f"{time.time() - rng.randint(0, 3600):.3f}"}
    payload = Payload("query", "/api/v1/query", content_type="application/x-www-form-urlencoded")
    if _choose(rng, mutation_rate):
        if rng.random() < 0.75:
            payload.label, params["query"] = _mutate_query(rng, text)
        else:
            payload.label, params["time"] = "time", _query_time(rng)
    payload.params = params
    payload.method = rng.choice(["GET", "POST"]) if len(params["query"]) < 4000 else "POST"
    return payload


def query_range(rng: random.Random, context: Context, mutation_rate: float) -> Payload:
    text = promql(rng)
    end = time.time() - rng.randint(0, 3600)
    params = {"query": text, "start": f"{end - 3600:.3f}", "end": f"{end:.3f}", "step": "60"}
    payload = Payload(
        "query_range", "/api/v1/query_range", content_type="application/x-www-form-urlencoded"
    )
    if _choose(rng, mutation_rate):
        roll = rng.random()
        if roll < 0.5:
            payload.label, params["query"] = _mutate_query(rng, text)
        elif roll < 0.8:
            payload.label = "step"
            params["step"] = rng.choice(
                ["0", "-60", "0.001", "1e-300", "NaN", "inf", "1e400", "5m", "abc", "", "1h30m"]
            )
        else:
            payload.label = "range"
            key = rng.choice(["start", "end"])
            params[key] = _query_time(rng)
            if rng.random() < 0.3:
                params["start"], params["end"] = params["end"], params["start"]
    payload.params = params
    payload.method = rng.choice(["GET", "POST"]) if len(params["query"]) < 4000 else "POST"
    return payload


GENERATORS: dict[str, Callable[[random.Random, Context, float], Payload]] = {
    "remote_write": remote_write,
    "otlp_metrics_protobuf": otlp_metrics("protobuf"),
    "otlp_metrics_json": otlp_metrics("json"),
    "otlp_traces_protobuf": otlp_traces("protobuf"),
    "otlp_traces_json": otlp_traces("json"),
    "zipkin": zipkin,
    "alertmanager": alertmanager,
    "incidents": incidents,
    "incident_status": incident_status,
    "incident_timeline": incident_timeline,
    "slos": slos,
    "alarms": alarms,
    "query": query,
    "query_range": query_range,
}
