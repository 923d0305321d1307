"""Placeholder until the analytics page lands (replaced by the real views)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse


def analytics_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Analytics are being built.", content_type="text/plain")


def analytics_csv(request: HttpRequest, chart: str) -> HttpResponse:
    return HttpResponse("", content_type="text/csv")
