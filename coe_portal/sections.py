"""Navigation sections whose features are not built yet: an honest page, not a broken link."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


def section_page(title: str, what: str) -> Callable[[HttpRequest], HttpResponse]:
    @require_GET
    def view(request: HttpRequest) -> HttpResponse:
        return render(request, "section_unavailable.html", {"title": title, "what": what})

    view.__name__ = f"{title.lower().replace(' ', '_')}_section"
    return view
