"""Pages of a long list, 50 rows each; `?page=N` picks one (out of range: the last)."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

PER_PAGE = 50


def paginate(request: HttpRequest, rows: Any, per_page: int = PER_PAGE) -> Page[Any]:
    return Paginator(rows, per_page).get_page(request.GET.get("page"))
