"""PromQL tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass

from metrics.promql.errors import ParseError

KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
    "and", "or", "unless", "atan2",
}  # fmt: skip
DURATION_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000,
                  "w": 604_800_000, "y": 31_536_000_000}  # fmt: skip

# ASCII digits only, as in Prometheus: `\d` and str.isdigit() also take "¹" or "٣".
# As Prometheus (a Go time.Duration, int64 nanoseconds): longer ones would overflow the int64
# millisecond arithmetic of evaluation.
MAX_DURATION_MS = (2**63 - 1) // 1_000_000
_DURATION_RE = re.compile(r"(?:[0-9]+(?:ms|s|m|h|d|w|y))+")
_DURATION_PART_RE = re.compile(r"([0-9]+)(ms|s|m|h|d|w|y)")
_NUMBER_RE = re.compile(
    r"0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"|(?i:inf|nan)(?![A-Za-z0-9_:])"
)
_DIGITS = frozenset("0123456789")
_IDENT_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_OPERATORS = ["=~", "!~", "!=", "==", ">=", "<=", "+", "-", "*", "/", "%", "^", ">", "<", "=",
              "(", ")", "{", "}", "[", "]", ",", "@", ":"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # NUMBER, STRING, IDENT, KEYWORD, DURATION, OP, EOF
    text: str
    pos: int
    value: object = None


def parse_duration(text: str) -> int:
    """'1h30m' -> milliseconds."""
    if not _DURATION_RE.fullmatch(text):
        raise ParseError(f'bad duration "{text}": use units ms, s, m, h, d, w, y')
    total = sum(int(n) * DURATION_UNITS[unit] for n, unit in _DURATION_PART_RE.findall(text))
    if total > MAX_DURATION_MS:
        raise ParseError(f'bad duration "{text[:40]}": out of range (at most 292 years)')
    return total


def tokenize(query: str) -> list[Token]:
    if "\x00" in query:
        raise ParseError(f"unexpected NUL character at position {query.index(chr(0))}")
    tokens: list[Token] = []
    pos = 0
    length = len(query)
    while pos < length:
        char = query[pos]
        if char.isspace():
            pos += 1
            continue
        if char == "#":  # comment to end of line
            end = query.find("\n", pos)
            pos = length if end < 0 else end
            continue
        if char in "\"'`":
            value, pos_after = _string(query, pos)
            tokens.append(Token("STRING", query[pos:pos_after], pos, value))
            pos = pos_after
            continue
        if char in _DIGITS or (char == "." and pos + 1 < length and query[pos + 1] in _DIGITS):
            duration = _DURATION_RE.match(query, pos)
            number = _NUMBER_RE.match(query, pos)
            if duration and (not number or duration.end() > number.end()):
                text = duration.group()
                tokens.append(Token("DURATION", text, pos, parse_duration(text)))
                pos = duration.end()
                continue
            assert number is not None
            text = number.group()
            tokens.append(Token("NUMBER", text, pos, _number(text)))
            pos = number.end()
            continue
        ident = _IDENT_RE.match(query, pos)
        if ident:
            text = ident.group()
            lowered = text.lower()
            if lowered in ("inf", "nan"):
                tokens.append(Token("NUMBER", text, pos, float(lowered)))
            elif lowered in KEYWORDS:
                tokens.append(Token("KEYWORD", lowered, pos))
            else:
                tokens.append(Token("IDENT", text, pos))
            pos = ident.end()
            continue
        for operator in _OPERATORS:
            if query.startswith(operator, pos):
                tokens.append(Token("OP", operator, pos))
                pos += len(operator)
                break
        else:
            raise ParseError(f"unexpected character {char!r} at position {pos}")
    tokens.append(Token("EOF", "", length))
    return tokens


def _number(text: str) -> float:
    if text[:2].lower() == "0x":
        try:
            return float(int(text, 16))
        except OverflowError:
            raise ParseError(f'number "{text[:40]}" is out of range') from None
    return float(text)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a",
            "b": "\b", "f": "\f", "v": "\v"}  # fmt: skip


_HEX_RE = re.compile(r"[0-9a-fA-F]+")


def _storable(value: str, start: int) -> str:
    """A string can only match what the store holds: no NUL, no lone surrogate (from escapes
    such as \\x00 or \\ud800; the database and UTF-8 refuse both)."""
    if "\x00" in value:
        raise ParseError(f"string at position {start} contains a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ParseError(
                f"string at position {start} contains a lone surrogate (\\ud800-\\udfff)"
            ) from None
    return value


def _string(query: str, start: int) -> tuple[str, int]:
    quote = query[start]
    pos = start + 1
    out: list[str] = []
    while pos < len(query):
        char = query[pos]
        if char == quote:
            return _storable("".join(out), start), pos + 1
        if char == "\\" and quote != "`":
            pos += 1
            if pos >= len(query):
                break
            escape = query[pos]
            if escape in _ESCAPES:
                out.append(_ESCAPES[escape])
            elif escape in "xuU":
                size = {"x": 2, "u": 4, "U": 8}[escape]
                code = query[pos + 1 : pos + 1 + size]
                try:
                    if len(code) != size or not _HEX_RE.fullmatch(code):
                        raise ValueError(code)
                    out.append(chr(int(code, 16)))
                except ValueError:
                    raise ParseError(f"bad escape \\{escape}{code} in string") from None
                pos += size
            else:
                # Like Prometheus (Go's strconv): write regex escapes doubled, "5\\d\\d".
                raise ParseError(f"unknown escape sequence \\{escape} in string at position {pos}")
            pos += 1
            continue
        if char == "\n" and quote != "`":
            break
        out.append(char)
        pos += 1
    raise ParseError(f"unterminated string starting at position {start}")
