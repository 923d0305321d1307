from __future__ import annotations

from typing import Any

import cramjam

from metrics.ingest.remote_write_proto import WriteRequest

Series = list[tuple[dict[str, str], list[tuple[int, float]]]]


def write_request(series: Series) -> bytes:
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


def stored_resource(resource: dict[str, Any], day: int) -> int:
    """Store a span resource for the day, as the intake does; returns its key for Span rows."""
    from metrics.traces.models import SpanResource
    from metrics.traces.resources import resource_key, resource_text

    key = resource_key(resource_text(resource))
    SpanResource.objects.get_or_create(key=key, day=day, defaults={"attributes": resource})
    return key


def remote_write(
    client: Any, token: Any, series: list[tuple[dict[str, str], list[tuple[int, float]]]]
) -> Any:
    """POST the series to /api/v1/write as Prometheus does, with `token` (an IssuedToken)."""
    return client.post(
        "/api/v1/write", data=snappy(write_request(series)), content_type="application/x-protobuf",
        HTTP_CONTENT_ENCODING="snappy", HTTP_AUTHORIZATION=f"Bearer {token.secret}",
    )  # fmt: skip
