"""`manage.py create_token --team NAME --scopes ingest,read [--name LABEL]`: print a new token."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from coe_portal.accounts.models import Team
from coe_portal.accounts.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token for a team and print it on stdout (it is not shown again)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--team", required=True, help="Team name, e.g. checkout.")
        parser.add_argument(
            "--scopes", required=True, help="Comma-separated scopes: ingest, read, write."
        )
        parser.add_argument("--name", default="cli", help="Label saying what uses the token.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            team = Team.objects.get(name=options["team"])
        except Team.DoesNotExist:
            known = ", ".join(Team.objects.values_list("name", flat=True)) or "none yet"
            raise CommandError(f"No team named {options['team']!r} (teams: {known}).") from None
        try:
            issued = api_token_create(
                team=team, name=options["name"], scopes=options["scopes"].split(",")
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        # Only the secret goes to stdout so scripts can capture it with $(...).
        self.stdout.write(issued.secret)
        self.stderr.write(
            f"Created token {issued.token.prefix}… for team {team.name} "
            f"with scopes {','.join(issued.token.scopes)}."
        )
