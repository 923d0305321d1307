"""HTTP to the backend: one pooled, keep-alive urllib3 pool per process, the configured
credentials, TLS and headers on every request, and the backend's answers sorted into what the
portal does with them (`errors.py`)."""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson
import urllib3
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from prometheus_client import Histogram
from urllib3.util import Retry, Timeout

from metrics.backends.errors import BackendQueryError, BackendUnavailable

# A connection the backend closed while idle is reconnected once; a request it received is
# never sent twice by the pool (a read timeout is an answer: the backend is too slow).
_RETRY = Retry(total=1, connect=1, read=0, redirect=0, status=0, other=0, raise_on_status=False)
_MAX_ERROR_TEXT = 1_000
REQUESTS = Histogram(
    "coe_portal_metrics_backend_request_seconds",
    "Requests to the external metrics backend, by kind (query, write) and outcome (the HTTP "
    "status class, timeout or unreachable).",
    ["kind", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
# The errorType values of Prometheus's API, which clients such as Grafana know.
PROMETHEUS_ERROR_TYPES = frozenset(
    {"bad_data", "execution", "timeout", "canceled", "internal", "unavailable", "not_found"}
)


def parse_headers(raw: str) -> dict[str, str]:
    """`Name=value;Other=value` from METRICS_BACKEND_HEADERS."""
    headers: dict[str, str] = {}
    for part in raw.split(";"):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise ImproperlyConfigured(
                f"METRICS_BACKEND_HEADERS: {part.strip()!r} is not Name=value "
                "(pairs are separated by ';')"
            )
        headers[name.strip()] = value.strip()
    return headers


@dataclass
class Response:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    def text(self) -> str:
        return self.body[:_MAX_ERROR_TEXT].decode("utf-8", errors="replace").strip()


class Client:
    def __init__(
        self,
        *,
        headers: Mapping[str, str],
        tls_verify: str,
        connect_timeout: float,
        pool_size: int,
    ) -> None:
        self.headers = dict(headers)
        self.connect_timeout = connect_timeout
        verify = tls_verify.strip()
        tls: dict[str, Any] = {}
        if verify.lower() in {"false", "0", "no", "off"}:
            tls = {"cert_reqs": "CERT_NONE", "assert_hostname": False}
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        elif verify.lower() not in {"true", "1", "yes", "on", ""}:
            tls = {"cert_reqs": "CERT_REQUIRED", "ca_certs": verify}
        self.pool = urllib3.PoolManager(num_pools=4, maxsize=pool_size, retries=_RETRY, **tls)

    @classmethod
    def from_settings(cls) -> Client:
        headers = parse_headers(settings.METRICS_BACKEND_HEADERS)
        if settings.METRICS_BACKEND_BEARER_TOKEN:
            headers["Authorization"] = f"Bearer {settings.METRICS_BACKEND_BEARER_TOKEN}"
        elif settings.METRICS_BACKEND_USERNAME:
            pair = f"{settings.METRICS_BACKEND_USERNAME}:{settings.METRICS_BACKEND_PASSWORD}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        # One connection per web thread and a few for the evaluation pass's parallel reads.
        return cls(
            headers=headers,
            tls_verify=settings.METRICS_BACKEND_TLS_VERIFY,
            connect_timeout=settings.METRICS_BACKEND_CONNECT_TIMEOUT_SECONDS,
            pool_size=max(8, settings.WEB_THREADS + 4),
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        timeout: float,
        fields: Sequence[tuple[str, str]] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request; a backend that cannot be reached or does not answer in time
        raises BackendUnavailable. Any HTTP answer is returned for the caller to judge."""
        sent = {**self.headers, **(headers or {})}
        kind = "write" if body is not None else "query"
        limits = Timeout(connect=self.connect_timeout, read=timeout)
        started = time.monotonic()
        try:
            if fields is not None:
                answer = self.pool.request_encode_body(
                    method, url, fields=list(fields), encode_multipart=False, headers=sent,
                    timeout=limits,  # type: ignore[arg-type]
                )  # fmt: skip
            else:
                answer = self.pool.request(method, url, body=body, headers=sent, timeout=limits)
        except urllib3.exceptions.TimeoutError:
            REQUESTS.labels(kind, "timeout").observe(time.monotonic() - started)
            raise BackendUnavailable(f"no answer from {_where(url)} within {timeout:g} s") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            REQUESTS.labels(kind, "unreachable").observe(time.monotonic() - started)
            raise BackendUnavailable(f"cannot reach {_where(url)}: {_reason(exc)}") from None
        REQUESTS.labels(kind, f"{answer.status // 100}xx").observe(time.monotonic() - started)
        return Response(answer.status, answer.data, answer.headers)

    def api(
        self, url: str, fields: Sequence[tuple[str, str]], *, timeout: float, method: str = "POST"
    ) -> Any:
        """A Prometheus HTTP API call: the `data` of a success, else the backend's error sorted
        into the user's (400/422) and the backend's (anything else)."""
        if method == "GET":
            response = self.request(
                "GET", f"{url}?{urlencode(list(fields))}" if fields else url, timeout=timeout
            )
        else:
            response = self.request("POST", url, fields=fields, timeout=timeout)
        document = _json(response.body)
        if 200 <= response.status < 300:
            if isinstance(document, dict) and document.get("status") == "success":
                return document.get("data")
            raise BackendUnavailable(
                f"{_where(url)} answered HTTP {response.status} without a Prometheus API "
                "success: is METRICS_QUERY_URL the root of a Prometheus HTTP API?"
            )
        message = (
            str(document.get("error") or "")
            if isinstance(document, dict)
            else response.text() or f"HTTP {response.status}"
        )
        if response.status in (400, 422):
            error_type = document.get("errorType") if isinstance(document, dict) else None
            if error_type not in PROMETHEUS_ERROR_TYPES:  # VictoriaMetrics says "422"
                error_type = "bad_data" if response.status == 400 else "execution"
            raise BackendQueryError(
                message or f"HTTP {response.status}",
                status=response.status,
                error_type=str(error_type),
            )
        raise BackendUnavailable(describe_failure(url, response.status, message))


def describe_failure(url: str, status: int, message: str) -> str:
    hint = {
        401: " (check METRICS_BACKEND_USERNAME/PASSWORD or METRICS_BACKEND_BEARER_TOKEN)",
        403: " (the credentials may not read or write this tenant)",
        404: " (check the URL: METRICS_QUERY_URL is the API root, without /api/v1)",
    }.get(status, "")
    detail = f": {message}" if message else ""
    return f"{_where(url)} answered HTTP {status}{hint}{detail}"


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _where(url: str) -> str:
    """The backend's address without credentials or query string, for messages."""
    parsed = urllib3.util.parse_url(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path or ''}"


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "reason", None) or exc)
    marker = "Failed to establish a new connection: "
    return text.split(marker, 1)[1] if marker in text else text
