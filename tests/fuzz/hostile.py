"""Hostile values and mutations shared by the generators: what senders get wrong (types, ranges,
encodings) and what attackers try (NUL, lone surrogates, depth, size)."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

NUL = "\x00"
SURROGATE = "\ud800"

HOSTILE_STRINGS = [
    "", " ", NUL, f"a{NUL}b", SURROGATE, f"x{SURROGATE}y", "\udfff", "\ufffd", "\u202e",
    "é☕𝄞", "\n\r\t", "'\"\\", "%s%n", "${jndi:x}", "../../etc/passwd", "<script>",
    "a" * 201, "b" * 4097, "c" * 70_000, "9" * 5000, "-1", "NaN", "1e400", "0x10",
    "2026-13-45T99:99:99Z", "9999-12-31T23:59:59-23:00", "0001-01-01T00:00:00+14:00",
]  # fmt: skip
HOSTILE_NUMBERS: list[Any] = [
    0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**62), -(2**63),
    -(2**64), 10**30, 1e308, -1e308, 5e-324, 0.5, -0.0,
]  # fmt: skip
HOSTILE_OTHERS: list[Any] = [None, True, False, [], {}, [None], {"": None}, [[[[]]]]]


def hostile_value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(HOSTILE_STRINGS)
    if roll < 0.8:
        return rng.choice(HOSTILE_NUMBERS)
    if roll < 0.95:
        return copy.deepcopy(rng.choice(HOSTILE_OTHERS))
    return deep_list(rng.choice([63, 64, 65, 200]))


def deep_list(depth: int) -> Any:
    node: Any = 1
    for _ in range(depth):
        node = [node]
    return node


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_paths(value, (*path, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_paths(value, (*path, index)))
    return found


def mutate_document(rng: random.Random, document: Any, rounds: int = 1) -> Any:
    """The document (a copy) with `rounds` random changes: a value replaced by a hostile one, a
    key removed or added, a list emptied or repeated."""
    document = json.loads(json.dumps(document))
    for _ in range(rounds):
        paths = _paths(document)
        path = rng.choice(paths)
        if not path:
            if rng.random() < 0.5:
                document = hostile_value(rng)
            continue
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        roll = rng.random()
        if roll < 0.7:
            parent[last] = hostile_value(rng)
        elif roll < 0.8 and isinstance(parent, dict):
            del parent[last]
        elif roll < 0.9 and isinstance(parent, dict):
            parent[rng.choice(HOSTILE_STRINGS[:12])] = hostile_value(rng)
        elif isinstance(parent[last], list) and parent[last]:
            parent[last] = parent[last] * rng.choice([0, 2, 50])
        else:
            parent[last] = hostile_value(rng)
    return document


def dumps(document: Any) -> bytes:
    """JSON as a sender would write it; lone surrogates come out as `\\ud800` escapes."""
    return json.dumps(document, allow_nan=True).encode()


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """Byte-level damage: truncation, flipped bytes, inserted garbage, invalid UTF-8."""
    if not data:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))
    roll = rng.random()
    buffer = bytearray(data)
    if roll < 0.3:
        return bytes(buffer[: rng.randrange(len(buffer))])
    if roll < 0.6:
        for _ in range(rng.randint(1, 8)):
            buffer[rng.randrange(len(buffer))] = rng.getrandbits(8)
        return bytes(buffer)
    if roll < 0.8:
        at = rng.randrange(len(buffer) + 1)
        junk = rng.choice([b"\xff\xfe", b"\xc0\x80", b"\xed\xa0\x80", b"\x00", b"\x80" * 11])
        return bytes(buffer[:at]) + junk + bytes(buffer[at:])
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 512)))
