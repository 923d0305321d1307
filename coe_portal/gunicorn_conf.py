"""gunicorn settings for `make run` and production (override with GUNICORN_CMD_ARGS)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# prometheus_client reads this at import, before any worker loads the app.
_metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", str(Path(os.environ.get("DATA_DIR", "var")) / "prometheus")
)
Path(_metrics_dir).mkdir(parents=True, exist_ok=True)

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "8"))
timeout = 60
graceful_timeout = 20
accesslog = "-"
# The runtime control socket is one per user by default: two portals on one host would clash.
control_socket_disable = True
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker: Any) -> None:
    """The app is loaded: move its objects out of the garbage collector's sight, so that the
    collections a request's allocations trigger never walk them (gc.freeze's intended use)."""
    import gc

    gc.collect()
    gc.freeze()


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
