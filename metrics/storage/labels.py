"""Series names and labels: validation (Prometheus's rules) and the series identity hash.

Pure functions, no database.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
INVALID_NAME_CHARS_RE = re.compile(r"[^a-zA-Z0-9_:]")
INVALID_LABEL_CHARS_RE = re.compile(r"[^a-zA-Z0-9_]")

MAX_NAME_LENGTH = 200
MAX_LABEL_NAME_LENGTH = 128
MAX_LABEL_VALUE_LENGTH = 2048
MAX_LABELS_PER_SERIES = 40


class InvalidSeries(ValueError):
    """A series that cannot be stored; the message names the series and the rule."""


def validate_series(name: str, labels: Mapping[str, str]) -> None:
    if not name:
        raise InvalidSeries("series has no metric name (__name__ label)")
    if len(name) > MAX_NAME_LENGTH or not METRIC_NAME_RE.match(name):
        raise InvalidSeries(
            f"invalid metric name {name[:MAX_NAME_LENGTH]!r}: must match [a-zA-Z_:][a-zA-Z0-9_:]* "
            f"and be at most {MAX_NAME_LENGTH} characters"
        )
    if len(labels) > MAX_LABELS_PER_SERIES:
        raise InvalidSeries(
            f"series {name} has {len(labels)} labels, "
            f"more than the limit of {MAX_LABELS_PER_SERIES}"
        )
    for label, value in labels.items():
        if len(label) > MAX_LABEL_NAME_LENGTH or not LABEL_NAME_RE.match(label):
            raise InvalidSeries(
                f"series {name}: invalid label name {label[:MAX_LABEL_NAME_LENGTH]!r}: "
                "must match [a-zA-Z_][a-zA-Z0-9_]*"
            )
        if label.startswith("__"):
            raise InvalidSeries(
                f"series {name}: label names starting with __ are reserved ({label})"
            )
        if len(value) > MAX_LABEL_VALUE_LENGTH:
            raise InvalidSeries(
                f"series {name}: value of label {label} is longer than {MAX_LABEL_VALUE_LENGTH} "
                "characters"
            )
        if "\x00" in value:
            raise InvalidSeries(f"series {name}: value of label {label} contains a NUL character")


def series_hash(name: str, labels: Mapping[str, str]) -> int:
    """A signed 64-bit identity for name + label set (order-independent; empty values dropped)."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(name.encode())
    for key in sorted(labels):
        if labels[key] == "":
            continue
        digest.update(b"\xff" + key.encode() + b"\xfe" + labels[key].encode())
    return int.from_bytes(digest.digest(), "big", signed=True)


def sanitize_metric_name(name: str) -> str:
    """OpenTelemetry names to Prometheus names: dots and other characters become underscores."""
    cleaned = INVALID_NAME_CHARS_RE.sub("_", name)
    if cleaned and cleaned[0].isdigit():
        cleaned = "_" + cleaned
    return cleaned


def sanitize_label_name(name: str) -> str:
    cleaned = INVALID_LABEL_CHARS_RE.sub("_", name)
    if cleaned and cleaned[0].isdigit():
        cleaned = "key_" + cleaned
    return cleaned
