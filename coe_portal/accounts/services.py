"""Writes for teams, memberships and API tokens."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from coe_portal.accounts.models import ApiToken, Team
from coe_portal.accounts.tokens import display_prefix, generate_token, hash_token

VALID_SCOPES = frozenset(ApiToken.Scope.values)


@dataclass(frozen=True)
class IssuedToken:
    """A new token and its secret; the secret exists only here, never in the database."""

    token: ApiToken
    secret: str


def parse_scopes(scopes: Iterable[str]) -> list[str]:
    """Validate and normalise scope names, keeping the canonical order ingest, read, write."""
    requested = {scope.strip() for scope in scopes if scope.strip()}
    if not requested:
        raise ValidationError("Give at least one scope (ingest, read, write).")
    unknown = sorted(requested - VALID_SCOPES)
    if unknown:
        raise ValidationError(
            f"Unknown scope(s): {', '.join(unknown)}. Valid scopes: ingest, read, write."
        )
    return [scope for scope in ApiToken.Scope.values if scope in requested]


@transaction.atomic
def api_token_create(
    *, team: Team, name: str, scopes: Iterable[str], created_by: User | None = None
) -> IssuedToken:
    name = name.strip()
    if not name:
        raise ValidationError("Give the token a name that says what uses it.")
    secret = generate_token()
    token = ApiToken.objects.create(
        team=team,
        name=name,
        scopes=parse_scopes(scopes),
        prefix=display_prefix(secret),
        token_hash=hash_token(secret),
        created_by=created_by,
    )
    return IssuedToken(token=token, secret=secret)


@transaction.atomic
def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke a token; revoking twice keeps the first revocation time."""
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db(fields=["revoked_at"])
    return token
