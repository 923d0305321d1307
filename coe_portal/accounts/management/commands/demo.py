"""`manage.py demo`: demo teams, services and a user. Idempotent: a second run changes nothing."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from coe_portal.accounts.models import Membership, Service, Team
from incidents.demo import ensure_demo_incidents
from metrics.demo import ensure_demo_slos
from metrics.models import ScrapeTarget

DEMO_USERNAME = "demo"
DEMO_TEAMS: dict[str, dict[str, Any]] = {
    "platform": {
        "display_name": "Platform",
        "description": "Shared infrastructure: the edge, identity and the portal itself.",
        "services": [
            ("frontend", 1, "The shop's web front end."),
            ("api-gateway", 1, "Edge proxy in front of every public API."),
            ("identity", 1, "Sign-in, sessions and tokens for customers."),
            ("coe-portal", 2, "This portal: telemetry, SLOs, incidents and COEs."),
        ],
    },
    "checkout": {
        "display_name": "Checkout",
        "description": "Cart, payment and order placement.",
        "services": [
            ("cart", 1, "Shopping cart API."),
            ("checkout", 1, "Order placement: turns a cart into an order."),
            ("payments", 1, "Card and wallet payments through the payment provider."),
        ],
    },
    "search": {
        "display_name": "Search",
        "description": "Product search and ranking.",
        "services": [
            ("search", 1, "Query API behind the search box."),
            ("indexer", 3, "Builds the product index from catalogue changes."),
        ],
    },
}
# The demo user leads platform and is a member of checkout; search has no demo member.
DEMO_ROLES = {"platform": Membership.Role.LEAD, "checkout": Membership.Role.MEMBER}


class Command(BaseCommand):
    help = "Load demo teams, services and a demo user (safe to run again)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get("DEMO_PASSWORD", "demo")
        created = 0
        for team_name, spec in DEMO_TEAMS.items():
            team, team_created = Team.objects.get_or_create(
                name=team_name,
                defaults={"display_name": spec["display_name"], "description": spec["description"]},
            )
            created += team_created
            for service_name, tier, description in spec["services"]:
                _, service_created = Service.objects.get_or_create(
                    name=service_name,
                    defaults={
                        "team": team,
                        "tier": tier,
                        "description": description,
                        "runbook_url": f"https://runbooks.example.com/{service_name}",
                    },
                )
                created += service_created

        user_model = get_user_model()
        user = user_model.objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            user = user_model.objects.create_user(
                username=DEMO_USERNAME,
                email="demo@example.com",
                password=password,
                first_name="Demo",
                last_name="User",
                is_staff=True,
                is_superuser=True,
            )
            created += 1
        for team_name, role in DEMO_ROLES.items():
            _, membership_created = Membership.objects.get_or_create(
                team=Team.objects.get(name=team_name), user=user, defaults={"role": role}
            )
            created += membership_created

        # The portal scrapes its own /metrics, like any other service's.
        _, target_created = ScrapeTarget.objects.get_or_create(
            url=f"{settings.SITE_URL}/metrics",
            defaults={
                "service": Service.objects.get(name="coe-portal"),
                "job": "coe-portal",
                "interval_seconds": 15,
            },
        )
        created += target_created
        created += ensure_demo_slos()
        created += ensure_demo_incidents()

        self.stdout.write(
            f"Demo data ready ({created} new objects). "
            f"Log in as '{DEMO_USERNAME}' with password '{password}'."
        )
