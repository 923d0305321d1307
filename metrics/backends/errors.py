"""What a backend's answers become: the user's query refused (4xx), the backend unreachable
or failing (5xx, timeouts), a write refused, or writes not accepted at all."""

from __future__ import annotations

from metrics.promql.errors import PromQLError

UNAVAILABLE = "metrics backend unavailable"


class BackendUnavailable(PromQLError):
    """The backend did not answer, timed out, or failed on its side: nobody's query is wrong,
    and the same request may succeed later. Pages show the message where the chart would be;
    evaluation treats it as missing data; the API and the intake answer 503 + Retry-After."""

    error_type = "unavailable"

    def __init__(self, reason: str) -> None:
        super().__init__(f"{UNAVAILABLE}: {reason}")
        self.reason = reason


def error_status(exc: Exception) -> int:
    """The status of a page's JSON answer for a failed query: 503 when the backend is away
    (a retry may work), 400 when the query itself is wrong."""
    return 503 if isinstance(exc, BackendUnavailable) else 400


class BackendQueryError(PromQLError):
    """The backend refused the query itself (HTTP 400/422): shown to the user as it said it."""

    def __init__(self, message: str, *, status: int, error_type: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type


class BackendRejectedWrite(Exception):
    """The backend answered a remote write with 4xx: the client's samples are at fault (out of
    order, too old, bad labels), so sending them again cannot help. The intake answers 400."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class MetricsReadOnly(Exception):
    """The portal reads an external store and has no remote-write URL: intake is refused with
    a message saying where metrics should go instead."""

    def __init__(self, query_url: str) -> None:
        super().__init__(
            "this portal reads metrics from the Prometheus-compatible store at "
            f"{query_url} and does not accept them itself (no METRICS_REMOTE_WRITE_URL is set): "
            "send metrics to that store, or to whatever it scrapes or receives from"
        )
