"""Reading an ingest request's body safely: size limits before and after decompression,
content types, and chunked uploads.

Under gunicorn a `Transfer-Encoding: chunked` request has no Content-Length, and Django then
reads an empty body: the data would be dropped while the client hears 200. Such bodies are read
from the WSGI input stream instead (gunicorn de-chunks it).

A body over the limit is read to its end and thrown away (within a bound) before the 413 goes
out: most clients send the whole body before they read the answer, and a server that closes
with unread bytes resets the connection, so the client would see a broken pipe, not the 413.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from typing import Any

import cramjam
from django.conf import settings
from django.http import HttpRequest

from coe_portal.safe_json import JSONInputError, load_json
from metrics.ingest.errors import IngestError, malformed

READ_BLOCK = 1 << 16
# A body over the limit is drained up to this many times the limit and for this long; past
# either, the server closes without reading the rest.
DRAIN_LIMIT_FACTOR = 4
DRAIN_SECONDS = 10.0


def max_body_bytes() -> int:
    return int(settings.INGEST_MAX_BODY_BYTES)


def media_type(request: HttpRequest) -> str:
    return request.content_type.split(";")[0].strip().lower() if request.content_type else ""


def require_media_type(request: HttpRequest, allowed: tuple[str, ...]) -> str:
    found = media_type(request)
    if found not in allowed:
        raise IngestError(
            415, f"unsupported Content-Type {found or '(none)'!r}: use {' or '.join(allowed)}"
        )
    return found


def read_raw_body(request: HttpRequest) -> bytes:
    """The body as sent (still compressed), refusing more than the limit with 413."""
    limit = max_body_bytes()
    length_header = request.META.get("CONTENT_LENGTH") or ""
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    if length_header:
        try:
            length = int(length_header)
        except ValueError:
            raise malformed(f"invalid Content-Length {length_header!r}") from None
        if length > limit:
            if length <= drain_bound():
                drain(request.read)
            raise too_large(length)
        body = request.read(length)
        if len(body) != length:
            raise malformed(f"body ended after {len(body)} of {length} bytes")
        return body
    if chunked:
        stream = request.META["wsgi.input"]
        parts: list[bytes] = []
        size = 0
        while True:
            block = stream.read(READ_BLOCK)
            if not block:
                break
            size += len(block)
            if size > limit:
                drain(stream.read, already=size)
                raise too_large(size)
            parts.append(block)
        return b"".join(parts)
    return request.read(limit + 1)


def discard_unread_body(request: HttpRequest) -> None:
    """A request answered before its body was read (shed by the bulkhead, a wrong token or
    Content-Type): read and drop the body within the drain bound, so that a client still
    sending reads the answer instead of a reset connection."""
    if getattr(request, "_read_started", False) or hasattr(request, "_body"):
        return  # read (and drained where refused) already
    length_header = request.META.get("CONTENT_LENGTH") or ""
    if length_header:
        if length_header.isdigit() and int(length_header) <= drain_bound():
            drain(request.read)
    elif "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        drain(request.META["wsgi.input"].read)


def drain_bound() -> int:
    return max_body_bytes() * DRAIN_LIMIT_FACTOR


def drain(read: Callable[[int], bytes], *, already: int = 0) -> None:
    """Read and drop the rest of a refused body, so the client gets to read the answer; stop
    at the bound (bytes or time), after which the server closes the connection."""
    bound = drain_bound()
    deadline = time.monotonic() + DRAIN_SECONDS
    size = already
    while size <= bound and time.monotonic() < deadline:
        try:
            block = read(READ_BLOCK)
        except Exception:  # the client went away or garbled the rest: the 413 stands as it is
            return
        if not block:
            return
        size += len(block)


def json_document(payload: bytes) -> Any:
    """The body as JSON the store can hold (`coe_portal.safe_json`), or a 400 naming why not."""
    try:
        return load_json(payload)
    except JSONInputError as exc:
        raise malformed(str(exc)) from None


def decode_content_encoding(request: HttpRequest, body: bytes) -> bytes:
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        return gunzip_limited(body)
    raise IngestError(415, f"unsupported Content-Encoding {encoding!r}: use gzip or none")


def gunzip_limited(body: bytes) -> bytes:
    """gzip (all members, as `cat a.gz b.gz` makes), stopping at the limit so a small bomb
    cannot expand into gigabytes."""
    limit = max_body_bytes()
    parts: list[bytes] = []
    size = 0
    rest = body
    while rest:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            out = inflater.decompress(rest, limit - size + 1)
        except zlib.error as exc:
            raise malformed(f"body is not valid gzip: {exc}") from None
        size += len(out)
        if size > limit or inflater.unconsumed_tail:
            raise too_large(limit + 1, after_decompression=True)
        if not inflater.eof:
            raise malformed("gzip body is truncated")
        parts.append(out)
        rest = inflater.unused_data
    return b"".join(parts)


def snappy_block_limited(body: bytes) -> bytes:
    """Snappy block format (remote write), checking the declared size before inflating."""
    declared = _snappy_declared_length(body)
    if declared > max_body_bytes():
        raise too_large(declared, after_decompression=True)
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as exc:
        raise malformed(f"body is not snappy block-compressed data: {exc}") from None


def _snappy_declared_length(body: bytes) -> int:
    # The block format starts with the uncompressed length as a little-endian base-128 varint.
    result = shift = 0
    for index, byte in enumerate(body[:10]):
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result
        shift += 7
        if index == 9:
            break
    raise malformed("body is not snappy block-compressed data: bad length header")


def too_large(size: int, *, after_decompression: bool = False) -> IngestError:
    what = "decompressed body" if after_decompression else "body"
    return IngestError(
        413, f"{what} is at least {size} bytes, over the limit of {max_body_bytes()} bytes"
    )
