from __future__ import annotations

import cramjam

from metrics.ingest.remote_write_proto import WriteRequest


def write_request(series: list[tuple[dict[str, str], list[tuple[int, float]]]]) -> bytes:
    request = WriteRequest()
    for labels, samples in series:
        timeseries = request.timeseries.add()
        for name, value in sorted(labels.items()):
            timeseries.labels.add(name=name, value=value)
        for timestamp, value in samples:
            timeseries.samples.add(timestamp=timestamp, value=value)
    return request.SerializeToString()


def snappy(payload: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(payload))
