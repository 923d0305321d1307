"""Request counting and latency for `/metrics`, labelled by view name (bounded cardinality)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from coe_portal.observability.prometheus import HTTP_REQUEST_DURATION, HTTP_REQUESTS


def _view_label(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        # Unknown paths share one label so scanners cannot grow the series count.
        return "<unresolved>"
    return match.view_name or match._func_path


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        view = _view_label(request)
        HTTP_REQUEST_DURATION.labels(view, request.method).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(view, request.method, str(response.status_code)).inc()
        return response
