"""Prometheus remote write 1.0: snappy block-compressed `WriteRequest` protobuf.

Answers like Prometheus's own receiver: 204 when everything was stored; 400 (which senders do
not retry) naming the samples refused, after storing the rest (samples out of bounds among them,
see `sample_bounds`); metadata-only requests (sent every minute) are accepted. Stale markers are
kept as Prometheus's special NaN so that queries see the series end.
"""

from __future__ import annotations

import json

from google.protobuf.message import DecodeError

from metrics.ingest.errors import malformed
from metrics.ingest.remote_write_proto import WriteRequest
from metrics.ingest.sample_bounds import sample_bounds
from metrics.storage.writer import SeriesSamples

NAME = "__name__"


def parse_write_request(payload: bytes) -> tuple[list[SeriesSamples], list[str]]:
    """Decoded series and the problems found while decoding (refused series)."""
    try:
        request = WriteRequest.FromString(payload)
    except DecodeError as exc:
        raise malformed(f"body is not a valid prometheus.WriteRequest: {exc}") from None
    batches: list[SeriesSamples] = []
    problems: list[str] = []
    bounds = sample_bounds()
    for series in request.timeseries:
        name = ""
        labels: dict[str, str] = {}
        for label in series.labels:
            if label.name == NAME:
                name = label.value
            else:
                labels[label.name] = label.value
        if len(series.histograms):
            problems.append(
                f"series {name}: native histograms are not supported; send classic ones"
            )
        samples = series.samples
        if not len(samples):
            continue
        timestamps = [sample.timestamp for sample in samples]
        values = [sample.value for sample in samples]
        # min and max run in C: the common case (all in bounds) costs two passes, no calls.
        if min(timestamps) < bounds.oldest_ms or max(timestamps) > bounds.newest_ms:
            kept = [i for i, timestamp in enumerate(timestamps) if bounds.accepts(timestamp)]
            bounds.refuse(describe_series(name, labels), len(timestamps) - len(kept))
            timestamps = [timestamps[i] for i in kept]
            values = [values[i] for i in kept]
            if not kept:
                continue
        batches.append(
            SeriesSamples(name=name, labels=labels, timestamps=timestamps, values=values)
        )
    if bounds.refused:
        problems.append(bounds.problem())
    return batches, problems


def describe_series(name: str, labels: dict[str, str]) -> str:
    inner = ",".join(f"{key}={json.dumps(value)}" for key, value in sorted(labels.items()))
    return f"{name[:200]}{{{inner[:400]}}}"
