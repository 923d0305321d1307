from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cramjam

from metrics.ingest.remote_write_proto import WriteRequest
from tests.support import free_port, running, skip_or_fail, wait_for_http

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


@contextmanager
def history_prometheus(directory: Path) -> Iterator[str]:
    """A real Prometheus (Debian's) taking samples by remote write, with an out-of-order window
    of a day so that hours of history can be written at once; yields its base URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        skip_or_fail("the prometheus binary is not installed (apt-get install prometheus)")
    config = directory / "prometheus.yml"
    config.write_text(json.dumps({"storage": {"tsdb": {"out_of_order_time_window": "1d"}}}))
    port = free_port()
    command = [
        str(binary), f"--config.file={config}", f"--storage.tsdb.path={directory / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}", "--web.enable-remote-write-receiver",
    ]  # fmt: skip
    with running(command, {"PATH": "/usr/bin:/bin"}, directory / "prometheus.log"):
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/-/ready")
        yield base


def prometheus_write(base: str, series: Series, per_request: int = 50) -> None:
    """Remote-write the series to Prometheus at `base`, `per_request` series at a time."""
    for first in range(0, len(series), per_request):
        request = urllib.request.Request(
            f"{base}/api/v1/write",
            data=snappy(write_request(series[first : first + per_request])),
            headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 204


def write_dataset(series: Series) -> Any:
    """Store `(labels with __name__, [(t, v), ...])` series through the portal's write path, as
    remote write would (the same shape `write_request` and `prometheus_write` send)."""
    from metrics.storage.writer import SeriesSamples, write_samples

    return write_samples(
        SeriesSamples(
            labels["__name__"],
            {k: v for k, v in labels.items() if k != "__name__"},
            [t for t, _ in points],
            [v for _, v in points],
        )
        for labels, points in series
    )
