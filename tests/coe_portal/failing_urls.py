"""URLs for the error-page test: the real ones plus a view that fails."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from coe_portal.urls import handler404, handler500
from coe_portal.urls import urlpatterns as portal_urlpatterns


def boom(request: HttpRequest) -> HttpResponse:
    raise ZeroDivisionError("deliberate failure")


urlpatterns = [path("boom/", boom), *portal_urlpatterns]

__all__ = ["handler404", "handler500", "urlpatterns"]
