"""A page that reads metrics while the external backend is down answers 503 with a clear
message, never a 500. Pages that draw charts catch the error themselves and show it in place
of the chart; this is the net under every other reader."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from coe_portal.db import RETRY_AFTER_SECONDS
from metrics.backends.errors import BackendUnavailable

logger = logging.getLogger(__name__)


class BackendUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not isinstance(exc, BackendUnavailable):
            return None
        logger.warning("%s: %s", request.path, exc)
        response: HttpResponse
        if request.path.startswith("/api/"):
            response = JsonResponse(
                {"status": "error", "errorType": "unavailable", "error": str(exc)}, status=503
            )
        else:
            response = render(
                request, "metrics/backend_unavailable.html", {"reason": exc.reason}, status=503
            )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
