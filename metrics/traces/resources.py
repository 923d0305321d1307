"""A span resource's canonical text and key (no Django: the benchmarks use it too)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def resource_text(resource: dict[str, Any]) -> str:
    """The resource as canonical JSON: equal resources give equal text."""
    return json.dumps(resource, sort_keys=True, separators=(",", ":"))


def resource_key(text: str) -> int:
    """A 64-bit key for a resource's canonical JSON (a signed bigint)."""
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
