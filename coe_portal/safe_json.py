"""JSON from clients, checked for what the database cannot store before anything reaches it.

`json.loads` accepts documents PostgreSQL refuses and Python cannot encode: NUL characters
(`"\\u0000"`: text and jsonb columns reject them) and lone surrogates (`"\\ud800"`: valid JSON
escapes, but not Unicode scalar values, so UTF-8 encoding fails). Deep nesting makes the parser,
and any code walking the result, recurse until `RecursionError`. `load_json` refuses all three
with a message naming the place, so an endpoint can answer 400 instead of 500 (and senders do
not retry a poison payload forever).
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64  # OTLP JSON needs about 12; nobody's webhook needs 64


class JSONInputError(ValueError):
    """The body is not JSON this service can take; the message says why and where."""


def load_json(payload: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    try:
        document = json.loads(payload)
    except RecursionError:
        raise _too_deep(max_depth) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an int of 4 300+ digits
        raise JSONInputError(f"body is not valid JSON: {exc}") from None
    check_document(document, max_depth=max_depth)
    return document


def check_document(document: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Walk the document without recursion; raise JSONInputError at the first string (key or
    value) that cannot be stored, or at nesting deeper than `max_depth`."""
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, str):
            _check_text(node, path or "body")
        elif isinstance(node, dict):
            if depth >= max_depth:
                raise _too_deep(max_depth)
            for key, value in node.items():
                where = f"{path}.{_printable(key)}" if path else _printable(key)
                _check_text(key, where, key=True)
                stack.append((value, where, depth + 1))
        elif isinstance(node, list):
            if depth >= max_depth:
                raise _too_deep(max_depth)
            stack.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(node))


def _too_deep(max_depth: int) -> JSONInputError:
    return JSONInputError(f"body is not valid JSON: nested deeper than {max_depth}")


def _printable(key: str) -> str:
    """A key as it can appear in a message: plain ASCII names as they are, anything else (NUL,
    surrogates, quotes) escaped the way JSON writes it, and long keys cut."""
    if key.isascii() and key.replace("_", "").replace("-", "").isalnum() and len(key) <= 64:
        return key
    return json.dumps(key[:64])


def _check_text(text: str, where: str, *, key: bool = False) -> None:
    what = "key" if key else "value"
    if "\x00" in text:
        raise JSONInputError(f"{where}: the {what} contains a NUL character (\\u0000)")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise JSONInputError(
                f"{where}: the {what} contains a lone surrogate (\\ud800-\\udfff), "
                "which is not a Unicode character"
            ) from None
