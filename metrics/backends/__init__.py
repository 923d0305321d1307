"""Where the portal's metrics live: its embedded store, or an existing Prometheus-compatible
store (Prometheus, Thanos, Mimir, VictoriaMetrics) reached over the Prometheus HTTP API and
remote write. `remote()` is the configured external backend, or None for the embedded store.

Nothing above `metrics.promql.engine` (queries) and `metrics.storage.writer` (writes) asks
which one it is: both seams call in here when METRICS_BACKEND=prometheus.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.signals import setting_changed

if TYPE_CHECKING:
    from metrics.backends.prometheus import PrometheusBackend

_lock = threading.Lock()
_backend: PrometheusBackend | None = None

SETTINGS = (
    "METRICS_BACKEND",
    "METRICS_QUERY_URL",
    "METRICS_REMOTE_WRITE_URL",
    "METRICS_BACKEND_USERNAME",
    "METRICS_BACKEND_PASSWORD",
    "METRICS_BACKEND_BEARER_TOKEN",
    "METRICS_BACKEND_TLS_VERIFY",
    "METRICS_BACKEND_HEADERS",
    "METRICS_BACKEND_CONNECT_TIMEOUT_SECONDS",
    "METRICS_QUERY_TIMEOUT_SECONDS",
    "METRICS_REMOTE_WRITE_TIMEOUT_SECONDS",
    "METRICS_REMOTE_WRITE_MAX_SAMPLES_PER_SEND",
)


def remote() -> PrometheusBackend | None:
    """The external backend (one per process: its connection pool is shared by all threads),
    or None when metrics live in the embedded store."""
    global _backend
    if settings.METRICS_BACKEND != "prometheus":
        return None
    if _backend is None:
        from metrics.backends.prometheus import PrometheusBackend

        with _lock:
            if _backend is None:
                _backend = PrometheusBackend.from_settings()
    return _backend


def is_read_only() -> bool:
    """True when the portal reads an external store it has no remote-write URL for."""
    backend = remote()
    return backend is not None and not backend.write_url


def _reset(*, setting: str, **_: Any) -> None:
    """Settings only change in tests (override_settings): the next call builds a new one."""
    global _backend
    if setting in SETTINGS:
        _backend = None


setting_changed.connect(_reset)
