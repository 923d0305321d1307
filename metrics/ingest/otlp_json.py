"""The OTLP/JSON mapping differs from protobuf's canonical JSON in one way that matters:
trace and span ids are hex strings, where `json_format` expects base64 (and would silently
store garbage). This module rewrites them before parsing.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from metrics.ingest.body import json_document
from metrics.ingest.errors import malformed

ID_FIELDS = {"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}
M = TypeVar("M", bound=Message)


def _hex_ids_to_base64(node: Any) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ID_FIELDS and isinstance(value, str):
                try:
                    node[key] = base64.b64encode(bytes.fromhex(value)).decode()
                except ValueError:
                    raise malformed(f"{key} {value!r} is not a hex string") from None
            else:
                _hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            _hex_ids_to_base64(item)
    return node


def parse_otlp_json(payload: bytes, message: M) -> M:
    document = json_document(payload)
    if not isinstance(document, dict):
        raise malformed("body must be a JSON object")
    try:
        json_format.ParseDict(_hex_ids_to_base64(document), message, ignore_unknown_fields=True)
    except (json_format.ParseError, binascii.Error, ValueError, TypeError, OverflowError) as exc:
        raise malformed(f"body is not a valid OTLP JSON {message.DESCRIPTOR.name}: {exc}") from None
    return message


def to_otlp_json(message: Message) -> bytes:
    return json_format.MessageToJson(message, indent=None).encode()
