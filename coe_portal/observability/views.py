"""`/metrics`: the portal's own metrics in Prometheus text format."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from coe_portal.observability.prometheus import exposition


@require_GET
@login_not_required
def metrics_view(request: HttpRequest) -> HttpResponse:
    body, content_type = exposition(request.headers.get("Accept", ""))
    return HttpResponse(body, content_type=content_type)
