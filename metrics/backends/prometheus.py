"""An external Prometheus-compatible store: queries over its HTTP API, raw samples for the
portal's own rules, series and label lookups, and remote-write 1.0 for the intake.

The dialects differ (VictoriaMetrics answers MetricsQL), so the portal's own SLOs and alarms
are evaluated by the portal's engine on raw samples read here (`RemoteSource`): their figures
are the same on every backend. A query a person types runs on the backend, as it would in
Grafana against the same store. docs/backends.md says what that means for users' queries.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import cramjam
import numpy as np
from django.conf import settings

from metrics.backends.client import Client, describe_failure
from metrics.backends.errors import BackendRejectedWrite, BackendUnavailable
from metrics.backends.results import instant_value, range_value, raw_series
from metrics.backends.source import Loaded, RemoteSource
from metrics.promql.errors import ExecutionError
from metrics.promql.printer import matchers_text
from metrics.promql.values import IntArray, Value
from metrics.storage.encoding import STALE_NAN
from metrics.storage.matchers import Matcher

USER_AGENT = "coe-portal"
WRITE_HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": USER_AGENT,
}


def seconds(ms: int) -> str:
    """A timestamp as the API takes it: seconds, exact to the millisecond."""
    whole, rest = divmod(ms, 1000)
    return f"{whole}.{rest:03d}" if rest else str(whole)


class PrometheusBackend:
    def __init__(
        self,
        *,
        query_url: str,
        write_url: str,
        client: Client,
        query_timeout: float,
        write_timeout: float,
        max_samples_per_send: int,
    ) -> None:
        self.query_url = query_url.rstrip("/")
        self.write_url = write_url
        self.client = client
        self.query_timeout = query_timeout
        self.write_timeout = write_timeout
        self.max_samples_per_send = max(1, max_samples_per_send)

    @classmethod
    def from_settings(cls) -> PrometheusBackend:
        return cls(
            query_url=settings.METRICS_QUERY_URL,
            write_url=settings.METRICS_REMOTE_WRITE_URL,
            client=Client.from_settings(),
            query_timeout=settings.METRICS_QUERY_TIMEOUT_SECONDS,
            write_timeout=settings.METRICS_REMOTE_WRITE_TIMEOUT_SECONDS,
            max_samples_per_send=settings.METRICS_REMOTE_WRITE_MAX_SAMPLES_PER_SEND,
        )

    # Queries ---------------------------------------------------------------------------------

    def _api(self, path: str, fields: list[tuple[str, str]], method: str = "POST") -> Any:
        return self.client.api(
            f"{self.query_url}/api/v1/{path}", fields, timeout=self.query_timeout, method=method
        )

    def _query_fields(self) -> list[tuple[str, str]]:
        # nocache: VictoriaMetrics would otherwise answer "now" from 30 s ago and move a range
        # query's steps onto its cache grid; other stores ignore it.
        return [("timeout", f"{self.query_timeout:g}s"), ("nocache", "1")]

    def instant(self, query: str, at_ms: int) -> tuple[Value, IntArray]:
        """The backend's answer at `at_ms` and the steps it is for (one)."""
        data = self.instant_answer(query, at_ms)
        return instant_value(data), np.array([at_ms], dtype=np.int64)

    def range(self, query: str, start_ms: int, end_ms: int, step_ms: int) -> tuple[Value, IntArray]:
        """The backend's answer, one value per step, and the steps."""
        steps = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
        data = self.range_answer(query, start_ms, end_ms, step_ms)
        return range_value(data, steps, step_ms), steps

    def instant_answer(self, query: str, at_ms: int, *, stats: str = "") -> Any:
        """The `data` of the backend's `/api/v1/query`, as it answered it."""
        fields = [("query", query), ("time", seconds(at_ms)), *self._query_fields()]
        return self._api("query", fields + ([("stats", stats)] if stats else []))

    def range_answer(
        self, query: str, start_ms: int, end_ms: int, step_ms: int, *, stats: str = ""
    ) -> Any:
        """The `data` of the backend's `/api/v1/query_range`, as it answered it."""
        fields = [
            ("query", query),
            ("start", seconds(start_ms)),
            ("end", seconds(end_ms)),
            ("step", seconds(step_ms)),
            *self._query_fields(),
        ]
        return self._api("query_range", fields + ([("stats", stats)] if stats else []))

    def raw(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> Loaded:
        """Every stored sample of the matching series in [start_ms, end_ms], in time order."""
        # A range selector covers (end - range, end] on some stores and [end - range, end] on
        # others: ask for one millisecond more and cut at start_ms here.
        width = end_ms - start_ms + 1
        query = f"{matchers_text(matchers)}[{width}ms]"
        data = self._api(
            "query", [("query", query), ("time", seconds(end_ms)), *self._query_fields()]
        )
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            raise BackendUnavailable("a range selector did not answer a matrix")
        loaded: Loaded = []
        for item in data.get("result") or ():
            series = raw_series(item)
            # VictoriaMetrics keeps no NaN but staleness markers and answers those as "NaN"
            # (Prometheus leaves them out): mark them stale, so a series that ended ends here
            # as in the embedded store, instead of a NaN spoiling every window it is in.
            nan = np.isnan(series.values)
            if nan.any():
                series.values[nan] = STALE_NAN
            keep = series.timestamps >= start_ms
            if not keep.all():
                series.timestamps, series.values = series.timestamps[keep], series.values[keep]
            if len(series.timestamps):
                loaded.append((series.labels, series.timestamps, series.values))
        limit = settings.PROMQL_MAX_SERIES
        if len(loaded) > limit:
            raise ExecutionError(
                f"the selector {matchers_text(matchers)} matches {len(loaded)} series, more "
                f"than the limit of {limit}"
            )
        # Sorted by labels, as Prometheus orders series (it decides topk's ties).
        loaded.sort(key=lambda item: sorted(item[0].items()))
        return loaded

    def source(self) -> RemoteSource:
        return RemoteSource(self)

    # Series and labels -----------------------------------------------------------------------

    def series(self, fields: list[tuple[str, str]]) -> Any:
        return self._api("series", fields)

    def labels(self, fields: list[tuple[str, str]]) -> Any:
        return self._api("labels", fields)

    def label_values(self, name: str, fields: list[tuple[str, str]]) -> Any:
        from urllib.parse import quote

        return self._api(f"label/{quote(name, safe='')}/values", fields, method="GET")

    # Remote write ----------------------------------------------------------------------------

    def write(self, series: Sequence[tuple[dict[str, str], Sequence[int], Sequence[float]]]) -> int:
        """Send the samples as remote-write 1.0 requests of at most max_samples_per_send; return
        only when the backend acknowledged every one. Returns the number of requests sent."""
        from metrics.ingest.remote_write_proto import WriteRequest

        sent = 0
        request = WriteRequest()
        in_request = 0
        for labels, timestamps, values in series:
            start = 0
            while start < len(timestamps):
                room = self.max_samples_per_send - in_request
                end = min(len(timestamps), start + room)
                timeseries = request.timeseries.add()
                for name, label_value in sorted(labels.items()):
                    timeseries.labels.add(name=name, value=label_value)
                add = timeseries.samples.add
                for moment, number in zip(timestamps[start:end], values[start:end], strict=True):
                    add(timestamp=moment, value=number)
                in_request += end - start
                start = end
                if in_request >= self.max_samples_per_send:
                    self._send(request.SerializeToString())
                    sent += 1
                    request = WriteRequest()
                    in_request = 0
        if in_request:
            self._send(request.SerializeToString())
            sent += 1
        return sent

    def _send(self, payload: bytes) -> None:
        body = bytes(cramjam.snappy.compress_raw(payload))
        started = time.monotonic()
        response = self.client.request(
            "POST", self.write_url, body=body, headers=WRITE_HEADERS, timeout=self.write_timeout
        )
        if 200 <= response.status < 300:
            return
        message = response.text()
        if 400 <= response.status < 500 and response.status not in (401, 403, 404, 408, 429):
            raise BackendRejectedWrite(
                f"the metrics backend refused the samples (HTTP {response.status}): {message}",
                status=response.status,
            )
        waited = time.monotonic() - started
        raise BackendUnavailable(
            describe_failure(self.write_url, response.status, message)
            + (f" after {waited:.1f} s" if waited > 1 else "")
        )
