"""Demo SLOs over the shop traffic that `manage.py loadgen` sends (used by `manage.py demo`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from coe_portal.accounts.models import Service
from metrics.slo.models import SLO

REQUESTS = "http_server_requests_total"


def _availability(service: str) -> dict[str, Any]:
    selector = f'service="{service}"'
    return {
        "sli_kind": SLO.SLIKind.RATIO,
        "bad_query": (
            f'sum(rate({REQUESTS}{{{selector},http_response_status_code=~"5.."}}[{{{{window}}}}]))'
        ),
        "total_query": f"sum(rate({REQUESTS}{{{selector}}}[{{{{window}}}}]))",
    }


DEMO_SLOS: list[dict[str, Any]] = [
    {
        "name": "checkout-availability",
        "service": "checkout",
        "description": "Checkouts that do not fail with a server error.",
        "objective_percent": Decimal("99.9"),
        "window": "30d",
        "min_events": 50,
        **_availability("checkout"),
    },
    {
        "name": "payments-availability",
        "service": "payments",
        "description": "Payment authorisations that do not fail with a server error.",
        "objective_percent": Decimal("99.95"),
        "window": "28d",
        "min_events": 50,
        **_availability("payments"),
    },
    {
        "name": "search-latency",
        "service": "search",
        "description": "Searches answered within 500 ms.",
        "objective_percent": Decimal("99"),
        "window": "7d",
        "sli_kind": SLO.SLIKind.LATENCY,
        "latency_histogram": "http_server_request_duration_seconds",
        "latency_threshold_seconds": Decimal("0.5"),
        "latency_matchers": 'service="search"',
        "min_events": 50,
    },
]


def ensure_demo_slos() -> int:
    """Create the demo SLOs that do not exist yet; returns how many were created."""
    created = 0
    for definition in DEMO_SLOS:
        fields = dict(definition)
        service = Service.objects.get(name=fields.pop("service"))
        _, was_created = SLO.objects.get_or_create(
            service=service, name=fields.pop("name"), defaults={"team": service.team, **fields}
        )
        created += was_created
    return created
