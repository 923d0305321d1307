"""Prometheus remote write 1.0 messages (`prometheus.WriteRequest`), built from a descriptor.

The message layout follows Prometheus's `prompb/types.proto` and `remote.proto`. Building the
classes from a descriptor at import keeps generated code out of the repository and needs no
protoc; parsing still runs in the fast upb backend.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _field(
    name: str, number: int, kind: int, *, repeated: bool = False, type_name: str = ""
) -> Any:
    return {
        "name": name,
        "number": number,
        "type": kind,
        "label": _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL,
        **({"type_name": type_name} if type_name else {}),
    }


_MESSAGES: dict[str, list[dict[str, Any]]] = {
    "Label": [_field("name", 1, _F.TYPE_STRING), _field("value", 2, _F.TYPE_STRING)],
    "Sample": [_field("value", 1, _F.TYPE_DOUBLE), _field("timestamp", 2, _F.TYPE_INT64)],
    "Exemplar": [
        _field("labels", 1, _F.TYPE_MESSAGE, repeated=True, type_name=".prometheus.Label"),
        _field("value", 2, _F.TYPE_DOUBLE),
        _field("timestamp", 3, _F.TYPE_INT64),
    ],
    # Native histograms are only counted (to refuse them by name), so no fields are declared.
    "Histogram": [],
    "TimeSeries": [
        _field("labels", 1, _F.TYPE_MESSAGE, repeated=True, type_name=".prometheus.Label"),
        _field("samples", 2, _F.TYPE_MESSAGE, repeated=True, type_name=".prometheus.Sample"),
        _field("exemplars", 3, _F.TYPE_MESSAGE, repeated=True, type_name=".prometheus.Exemplar"),
        _field("histograms", 4, _F.TYPE_MESSAGE, repeated=True, type_name=".prometheus.Histogram"),
    ],
    "MetricMetadata": [
        _field("type", 1, _F.TYPE_INT32),
        _field("metric_family_name", 2, _F.TYPE_STRING),
        _field("help", 4, _F.TYPE_STRING),
        _field("unit", 5, _F.TYPE_STRING),
    ],
    "WriteRequest": [
        _field("timeseries", 1, _F.TYPE_MESSAGE, repeated=True, type_name=".prometheus.TimeSeries"),
        _field(
            "metadata", 3, _F.TYPE_MESSAGE, repeated=True, type_name=".prometheus.MetricMetadata"
        ),
    ],
}


def _build() -> dict[str, Any]:
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="coe_portal/prometheus_remote_write.proto", package="prometheus", syntax="proto3"
    )
    for name, fields in _MESSAGES.items():
        message = file_proto.message_type.add(name=name)
        for spec in fields:
            message.field.add(**spec)
    pool = descriptor_pool.DescriptorPool()
    file_descriptor = pool.Add(file_proto)
    return {
        name: message_factory.GetMessageClass(file_descriptor.message_types_by_name[name])
        for name in _MESSAGES
    }


_classes = _build()
WriteRequest = _classes["WriteRequest"]
TimeSeries = _classes["TimeSeries"]
Label = _classes["Label"]
Sample = _classes["Sample"]
MetricMetadata = _classes["MetricMetadata"]
