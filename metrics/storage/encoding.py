"""The chunk format: timestamps and values of one series, packed and compressed.

Layouts, each starting with a version byte and the sample count (uint32):
- version 3 (compacted): the first timestamp and the first value (int64 each), then LZ4 (which
  decodes several times faster than zstd here, for a slightly larger chunk) of the timestamp
  deltas and of the values, each column in the narrowest integer type that holds
  it: value deltas when every value is a whole number (counters: a byte or two a sample before
  compression), else the values XORed with their predecessor, byte-shuffled (mode 0: the
  IEEE-754 bits, so NaN payloads such as Prometheus's stale marker survive exactly). Narrow
  columns need no shuffling and decode with one cumulative sum.
- version 2 (older): a value-mode byte, then zstd of two byte-shuffled columns: timestamp
  deltas (int64, the first one absolute) and the values, either as integer deltas (mode 1, when
  every value is a whole number, as counters' are: small deltas compress to a byte or two) or
  XORed with their predecessor (mode 0: the IEEE-754 bits, so NaN payloads such as Prometheus's
  stale marker survive exactly). Regular intervals make the deltas repeat and slowly moving
  values share their high bits, which the shuffle lines up for zstd. Version 1 is version 2's
  XOR mode without the mode byte; it is still read.
- version 0 (fresh): the raw int64 timestamps and float64 values. Ingestion writes these
  because they cost almost nothing to pack; compaction turns them into version 1.
Pure functions, no database.
"""

from __future__ import annotations

import struct

import cramjam
import numpy as np
import numpy.typing as npt

VERSION = 3
MODE_VERSION = 2
XOR_VERSION = 1
NARROW = struct.Struct("<qqBBB")  # first timestamp, first whole value, widths, mode
_WIDTHS = (np.int8, np.int16, np.int32, np.int64)
RAW_VERSION = 0
HEADER = struct.Struct("<BI")
MODE = struct.Struct("<B")
MODE_XOR, MODE_INTEGER = 0, 1
_EXACT_INTEGERS = 2.0**53
STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN = np.array([STALE_NAN_BITS], dtype=np.uint64).view(np.float64)[0]

Timestamps = npt.NDArray[np.int64]
Values = npt.NDArray[np.float64]


class CorruptChunk(ValueError):
    pass


def _shuffle(column: npt.NDArray[np.uint64]) -> bytes:
    return column.view(np.uint8).reshape(-1, 8).T.tobytes()


def _unshuffle(raw: bytes, count: int) -> npt.NDArray[np.uint64]:
    return np.frombuffer(raw, dtype=np.uint8).reshape(8, count).T.copy().view(np.uint64).ravel()


def _width(column: npt.NDArray[np.int64]) -> int:
    """Index into _WIDTHS of the narrowest integer type that holds every value."""
    if len(column) == 0:
        return 0
    low, high = int(column.min()), int(column.max())
    for index, kind in enumerate(_WIDTHS):
        info = np.iinfo(kind)  # type: ignore[type-var]
        if info.min <= low and high <= info.max:
            return index
    return len(_WIDTHS) - 1


def encode_chunk(timestamps: Timestamps, values: Values) -> bytes:
    count = len(timestamps)
    if count != len(values):
        raise ValueError("timestamps and values differ in length")
    if count == 0:
        return HEADER.pack(VERSION, 0) + NARROW.pack(0, 0, 0, MODE_XOR, 0)
    timestamps = timestamps.astype(np.int64)
    values = values.astype(np.float64)
    time_deltas = np.diff(timestamps)
    time_width = _width(time_deltas)
    with np.errstate(invalid="ignore"):
        whole = bool(
            np.all(np.isfinite(values))
            and np.all(np.abs(values) < _EXACT_INTEGERS)
            and np.all(values == np.floor(values))
            and not np.any(np.signbit(values) & (values == 0))  # keep -0.0 exact
        )
    first_value = 0
    if whole:
        mode = MODE_INTEGER
        integers = values.astype(np.int64)
        first_value = int(integers[0])
        value_deltas = np.diff(integers)
        value_width = _width(value_deltas)
        value_column = value_deltas.astype(_WIDTHS[value_width]).tobytes()
    else:
        mode = MODE_XOR
        value_width = 3
        bits = values.view(np.uint64)
        xored = bits ^ np.concatenate((np.zeros(1, dtype=np.uint64), bits[:-1]))
        value_column = _shuffle(xored)
    body = time_deltas.astype(_WIDTHS[time_width]).tobytes() + value_column
    header = NARROW.pack(int(timestamps[0]), first_value, time_width, mode, value_width)
    return HEADER.pack(VERSION, count) + header + bytes(cramjam.lz4.compress_block(body))


def encode_raw_chunk(timestamps: list[int], values: list[float]) -> bytes:
    """The fresh layout, from plain lists (the hot path of ingestion: no numpy, no zstd)."""
    count = len(timestamps)
    return struct.pack(f"<BI{count}q{count}d", RAW_VERSION, count, *timestamps, *values)


def decode_chunk(data: bytes) -> tuple[Timestamps, Values]:
    try:
        version, count = HEADER.unpack_from(data)
        if version == RAW_VERSION:
            body = bytes(data[HEADER.size :])
            if len(body) != 16 * count:
                raise CorruptChunk(f"raw chunk with {len(body)} bytes for {count} samples")
            timestamps = np.frombuffer(body, dtype="<i8", count=count).astype(np.int64)
            values = np.frombuffer(body, dtype="<f8", offset=8 * count).astype(np.float64)
            return timestamps, values
        if version == VERSION:
            return _decode_narrow(data, count)
        offset = HEADER.size
        mode = MODE_XOR
        if version == MODE_VERSION:
            (mode,) = MODE.unpack_from(data, offset)
            offset += MODE.size
        raw = bytes(cramjam.zstd.decompress(bytes(data[offset:])))
    except (struct.error, cramjam.DecompressionError) as exc:
        raise CorruptChunk(f"unreadable chunk: {exc}") from exc
    if version not in (MODE_VERSION, XOR_VERSION) or len(raw) != 16 * count:
        raise CorruptChunk(f"chunk version {version} with {len(raw)} bytes for {count} samples")
    deltas = _unshuffle(raw[: 8 * count], count).view(np.int64)
    column = _unshuffle(raw[8 * count :], count)
    timestamps = np.cumsum(deltas, dtype=np.int64)
    if mode == MODE_INTEGER:
        return timestamps, np.cumsum(column.view(np.int64)).astype(np.float64)
    bits = np.bitwise_xor.accumulate(column) if count else column
    return timestamps, bits.view(np.float64)


def _decode_narrow(data: bytes, count: int) -> tuple[Timestamps, Values]:
    try:
        first_time, first_value, time_width, mode, value_width = NARROW.unpack_from(
            data, HEADER.size
        )
        if count == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        raw = bytes(cramjam.lz4.decompress_block(bytes(data[HEADER.size + NARROW.size :])))
        time_kind, value_kind = _WIDTHS[time_width], _WIDTHS[value_width]
    except (struct.error, cramjam.DecompressionError, IndexError) as exc:
        raise CorruptChunk(f"unreadable chunk: {exc}") from exc
    time_bytes = (count - 1) * np.dtype(time_kind).itemsize
    value_bytes = (count - 1) * np.dtype(value_kind).itemsize if mode == MODE_INTEGER else 8 * count
    if len(raw) != time_bytes + value_bytes:
        raise CorruptChunk(f"chunk with {len(raw)} bytes for {count} samples")
    timestamps = np.empty(count, dtype=np.int64)
    timestamps[0] = first_time
    np.cumsum(
        np.frombuffer(raw, dtype=time_kind, count=count - 1), dtype=np.int64, out=timestamps[1:]
    )
    timestamps[1:] += first_time
    if mode == MODE_INTEGER:
        values = np.empty(count, dtype=np.float64)
        integers = np.empty(count, dtype=np.int64)
        integers[0] = first_value
        np.cumsum(
            np.frombuffer(raw, dtype=value_kind, count=count - 1, offset=time_bytes),
            dtype=np.int64,
            out=integers[1:],
        )
        integers[1:] += first_value
        values[:] = integers
        return timestamps, values
    column = _unshuffle(raw[time_bytes:], count)
    return timestamps, np.bitwise_xor.accumulate(column).view(np.float64)


def is_stale(values: Values) -> npt.NDArray[np.bool_]:
    """Where a value is Prometheus's stale marker (a NaN with a particular payload)."""
    return values.view(np.uint64) == STALE_NAN_BITS
