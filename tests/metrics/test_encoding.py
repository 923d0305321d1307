from __future__ import annotations

import math

import numpy as np
import pytest

from metrics.storage.encoding import STALE_NAN, CorruptChunk, decode_chunk, encode_chunk, is_stale


def test_timestamps_and_values_come_back_bit_for_bit():
    timestamps = np.array([1_700_000_000_000, 1_700_000_015_000, 1_700_000_030_001], dtype=np.int64)
    values = np.array([1.5, -0.0, math.inf])
    decoded_ts, decoded_values = decode_chunk(encode_chunk(timestamps, values))
    assert decoded_ts.tolist() == timestamps.tolist()
    assert decoded_values.view(np.uint64).tolist() == values.view(np.uint64).tolist()


def test_the_stale_marker_survives_as_a_distinct_nan():
    values = np.array([1.0, STALE_NAN, math.nan])
    _, decoded = decode_chunk(encode_chunk(np.array([1, 2, 3], dtype=np.int64), values))
    assert is_stale(decoded).tolist() == [False, True, False]
    assert math.isnan(decoded[2])


def test_a_regular_counter_costs_a_few_bytes_per_sample():
    timestamps = np.arange(120, dtype=np.int64) * 60_000 + 1_700_000_000_000
    values = np.cumsum(np.full(120, 37.0))
    assert len(encode_chunk(timestamps, values)) / 120 < 3


def test_a_damaged_chunk_is_refused():
    data = encode_chunk(np.array([1, 2], dtype=np.int64), np.array([1.0, 2.0]))
    with pytest.raises(CorruptChunk):
        decode_chunk(data[:-3])
