"""Writes tests/fuzz/corpus/: the known poison payloads, one file each, replayed on every run.

Run `python -m tests.fuzz.build_corpus` after adding a case; the files are committed so that a
payload stays exactly what once broke the portal, whatever the generators become.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.fuzz.generators import encode_write_request, otlp_json, snappy
from tests.fuzz.harness import CORPUS

DEEP = b"[" * 10_000 + b"]" * 10_000
START_NS = 1_764_000_000_000_000_000
SURROGATE_JSON = '"\\ud800"'


def traces(mutate: Any) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    attribute = resource_spans.resource.attributes.add()
    attribute.key, attribute.value.string_value = "service.name", "cart"
    span = resource_spans.scope_spans.add().spans.add(
        trace_id=bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736"),
        span_id=bytes.fromhex("00f067aa0ba902b7"), name="GET /cart", kind=2,
        start_time_unix_nano=START_NS, end_time_unix_nano=START_NS + 20_000_000,
    )  # fmt: skip
    mutate(span)
    return request


def metrics(mutate: Any) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    attribute = resource_metrics.resource.attributes.add()
    attribute.key, attribute.value.string_value = "service.name", "cart"
    point = resource_metrics.scope_metrics.add().metrics.add(name="queue.depth").gauge
    mutate(point.data_points.add(time_unix_nano=START_NS, as_double=1.0))
    return request


def _set(**fields: Any) -> Any:
    def mutate(message: Any) -> None:
        for key, value in fields.items():
            setattr(message, key, value)

    return mutate


def _attribute(key: str, value: str) -> Any:
    def mutate(message: Any) -> None:
        message.attributes.add(key=key).value.string_value = value

    return mutate


def _event(name: str, time_ns: int) -> Any:
    def mutate(span: Any) -> None:
        span.events.add(name=name, time_unix_nano=time_ns)

    return mutate


def zipkin(**fields: Any) -> str:
    span = {
        "traceId": "463ac35c9f6413ad", "id": "a2fb4a1d1a96d312", "name": "get /stock",
        "timestamp": 1_764_000_000_000_000, "duration": 2_500, "kind": "SERVER",
        "localEndpoint": {"serviceName": "inventory"}, **fields,
    }  # fmt: skip
    return json.dumps([span])


def alert(**fields: Any) -> str:
    body: dict[str, Any] = {
        "version": "4", "status": "firing", "receiver": "portal",
        "alerts": [{
            "status": "firing", "labels": {"alertname": "HighLatency"},
            "annotations": {"summary": "p99 above 1 s"}, "startsAt": "2026-11-23T12:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "c4f3d2a1b0e9f8a7",
        }],
    }  # fmt: skip
    for key, value in fields.items():
        if value is None:
            del body["alerts"][0][key]
        else:
            body["alerts"][0][key] = value
    return json.dumps(body)


def rw(labels: list[tuple[bytes, bytes]], timestamp: int) -> bytes:
    return snappy(encode_write_request([([(b"__name__", b"up"), *labels], [(1.0, timestamp)])]))


def cases() -> dict[str, dict[str, bytes | str]]:
    nul_name = _set(name="GET /cart\x00")
    return {
        "remote_write": {
            "nul-label-value.bin": rw([(b"job", b"api\x00")], 1_764_000_000_000),
            "invalid-utf8-label-value.bin": rw([(b"job", b"\xed\xa0\x80")], 1_764_000_000_000),
            "time-minus-2-62-ms.bin": rw([(b"job", b"api")], -(2**62)),
            "time-1-ms.bin": rw([(b"job", b"api")], 1),
            "time-2-64-minus-1-ms.bin": rw([(b"job", b"api")], 2**64 - 1),
            "time-2-63-minus-1-ms.bin": rw([(b"job", b"api")], 2**63 - 1),
            "snappy-length-16-eib.bin": b"\xff\xff\xff\xff\xff\xff\xff\xff\x7f",
            "truncated.bin": rw([(b"job", b"api")], 1)[:-3],
        },
        "otlp_traces_protobuf": {
            "nul-span-name.bin": traces(nul_name).SerializeToString(),
            "nul-attribute.bin": traces(_attribute("user", "a\x00b")).SerializeToString(),
            "nul-attribute-key.bin": traces(_attribute("k\x00", "v")).SerializeToString(),
            "nul-event-name.bin": traces(_event("retry\x00", START_NS)).SerializeToString(),
            "event-time-2-64-minus-1-ns.bin": traces(_event("late", 2**64 - 1)).SerializeToString(),
            "end-2-64-minus-1-ns.bin": traces(
                _set(end_time_unix_nano=2**64 - 1)
            ).SerializeToString(),
            "start-2-64-minus-1-ns.bin": traces(
                _set(start_time_unix_nano=2**64 - 1, end_time_unix_nano=2**64 - 1)
            ).SerializeToString(),
        },
        "otlp_traces_json": {
            "deep-10000.json": DEEP,
            "nul-span-name.json": otlp_json(traces(nul_name)),
            "surrogate-span-name.json": otlp_json(traces(_set(name="x"))).replace(
                b'"name": "x"', b'"name": ' + SURROGATE_JSON.encode()
            ),
            "start-as-huge-string.json": otlp_json(traces(_set(name="x"))).replace(
                str(START_NS).encode(), b"1" + b"0" * 400
            ),
        },
        "otlp_metrics_protobuf": {
            "nul-attribute.bin": metrics(_attribute("job", "a\x00")).SerializeToString(),
            "time-2-64-minus-1-ns.bin": metrics(_set(time_unix_nano=2**64 - 1)).SerializeToString(),
            "time-0.bin": metrics(_set(time_unix_nano=0)).SerializeToString(),
        },
        "otlp_metrics_json": {
            "deep-10000.json": DEEP,
            "time-negative.json": otlp_json(metrics(_set(time_unix_nano=1))).replace(
                b'"timeUnixNano": "1"', b'"timeUnixNano": "-4611686018427387904"'
            ),
            "surrogate-attribute.json": otlp_json(metrics(_attribute("job", "x"))).replace(
                b'"stringValue": "x"', b'"stringValue": ' + SURROGATE_JSON.encode()
            ),
        },
        "zipkin": {
            "deep-10000.json": DEEP,
            "surrogate-name.json": zipkin(name="x").replace('"x"', SURROGATE_JSON),
            "nul-name.json": zipkin(name="get\x00"),
            "nul-tag.json": zipkin(tags={"user": "a\x00"}),
            "timestamp-2-64-minus-1.json": zipkin(timestamp=2**64 - 1),
            "kind-list.json": zipkin(kind=["SERVER"]),
            "annotations-object.json": zipkin(annotations={"value": 1}),
        },
        "alertmanager": {
            "deep-10000.json": DEEP,
            "labels-list.json": alert(labels=["alertname"]),
            "labels-number-value.json": alert(labels={"alertname": "A", "n": 1}),
            "no-labels.json": alert(labels=None),
            "startsAt-number.json": alert(startsAt=1_764_000_000),
            "startsAt-zero-and-garbage.json": alert(startsAt="0001-01-01T00:00:00Z" + "x" * 100),
            "fingerprint-object.json": alert(fingerprint={"a": 1}),
            "startsAt-year-10000.json": alert(startsAt="9999-12-31T23:59:59-23:00"),
            "nul-alertname.json": alert(labels={"alertname": "A\x00"}),
        },
        "incidents": {
            "deep-10000.json": DEEP,
            "title-201-characters.json": json.dumps({"title": "t" * 201}),
            "title-surrogate.json": '{"title": ' + SURROGATE_JSON + "}",
            "title-nul.json": '{"title": "checkout\\u0000down"}',
            "services-numbers.json": json.dumps({"title": "x", "services": [0, None]}),
            "services-lists.json": json.dumps({"title": "x", "services": [["cart"]]}),
            "started-at-year-10000.json": json.dumps(
                {"title": "x", "started_at": "9999-12-31T23:59:59-23:00"}
            ),
            "started-at-month-13.json": json.dumps(
                {"title": "x", "started_at": "2026-13-45T10:00:00Z"}
            ),
        },
        "incident_status": {
            "status-object.json": json.dumps({"status": {"to": "resolved"}}),
            "status-nul.json": '{"status": "resolved\\u0000"}',
        },
        "incident_timeline": {
            "text-number.json": json.dumps({"text": 5}),
            "kind-list.json": json.dumps({"text": "x", "kind": ["note"]}),
            "at-year-0.json": json.dumps({"text": "x", "at": "0001-01-01T00:00:00+14:00"}),
        },
        "slos": {
            "name-300-characters.json": json.dumps({"name": "s" * 300, "service": "cart"}),
            "objective-huge.json": json.dumps({"name": "s", "objective_percent": 10**400}),
            "service-list.json": json.dumps({"name": "s", "service": ["cart"]}),
        },
        "alarms": {
            "name-300-characters.json": json.dumps({"name": "a" * 300, "kind": "threshold"}),
            "threshold-2-64.json": json.dumps(
                {"name": "a", "threshold": 2**64, "period_seconds": 2**63}
            ),
        },
        "query": {
            "parens-120kb.promql": "(" * 120_000,
            "minus-10kb.promql": "-" * 10_000 + "1",
            "nul-in-string.promql": 'up{job="a\\x00"}',
            "surrogate-in-string.promql": 'up{job="\\ud800"}',
            "hex-overflow.promql": "0x" + "f" * 300,
            "sum-of-300.promql": " + ".join(["1"] * 300),
            "range-99999999999999y.promql": "rate(up[99999999999999y])",
            "offset-293y.promql": "up offset 293y",
        },
        "query_range": {
            "parens-120kb.promql": "(" * 120_000,
            "minus-10kb.promql": "-" * 10_000 + "1",
        },
    }


def main() -> None:
    shutil.rmtree(CORPUS, ignore_errors=True)
    for endpoint, files in cases().items():
        folder = CORPUS / endpoint
        folder.mkdir(parents=True)
        for name, data in files.items():
            (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())
    print(f"wrote {sum(len(files) for files in cases().values())} payloads to {CORPUS}")


if __name__ == "__main__":
    main()
