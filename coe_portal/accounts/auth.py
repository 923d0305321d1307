"""`Authorization: Bearer <token>` for the API and ingest endpoints (RFC 6750 error answers).

A missing, unknown or revoked token is a 401 with a JSON body naming the problem and a
`WWW-Authenticate` challenge; a valid token without the needed scope is a 403.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import User
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from coe_portal.accounts.models import ApiToken
from coe_portal.accounts.tokens import hash_token

# Recording every use would turn each ingest request into a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)
REALM = "coe-portal"


class AuthenticationFailed(Exception):
    def __init__(self, status: int, error: str, message: str, scope: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.scope = scope

    def response(self) -> JsonResponse:
        response = JsonResponse({"error": self.error, "message": self.message}, status=self.status)
        challenge = f'Bearer realm="{REALM}", error="{self.error}"'
        if self.scope:
            challenge += f', scope="{self.scope}"'
        response["WWW-Authenticate"] = challenge
        return response


class BearerTokenAuthentication:
    """Finds the team token a request carries; `authenticate` raises AuthenticationFailed."""

    keyword = "bearer"

    def authenticate(self, request: HttpRequest) -> ApiToken:
        header = request.headers.get("Authorization", "")
        if not header:
            raise AuthenticationFailed(
                401, "invalid_request", "Missing Authorization header: send 'Bearer <token>'."
            )
        keyword, _, secret = header.strip().partition(" ")
        secret = secret.strip()
        if keyword.lower() != self.keyword or not secret:
            raise AuthenticationFailed(
                401, "invalid_request", "Authorization header must be 'Bearer <token>'."
            )
        token = (
            ApiToken.objects.select_related("team").filter(token_hash=hash_token(secret)).first()
        )
        if token is None:
            raise AuthenticationFailed(401, "invalid_token", "Unknown API token.")
        if token.revoked_at is not None:
            raise AuthenticationFailed(401, "invalid_token", "This API token has been revoked.")
        self._touch(token)
        return token

    @staticmethod
    def _touch(token: ApiToken) -> None:
        now = timezone.now()
        if token.last_used_at is not None and token.last_used_at >= now - LAST_USED_RESOLUTION:
            return  # as read with the token: recent enough, no statement needed
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        if ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=now):
            token.last_used_at = now


def check_scope(token: ApiToken, scope: str) -> None:
    if not token.has_scope(scope):
        raise AuthenticationFailed(
            403,
            "insufficient_scope",
            f"This token lacks the '{scope}' scope (it has: {', '.join(token.scopes) or 'none'}).",
            scope=scope,
        )


ViewFunc = Callable[..., HttpResponse]


def token_required(scope: str) -> Callable[[ViewFunc], ViewFunc]:
    """Protect an API view: sets `request.api_token` (and its team) or answers 401/403."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                token = BearerTokenAuthentication().authenticate(request)
                check_scope(token, scope)
            except AuthenticationFailed as failure:
                return failure.response()
            request.api_token = token  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        # Bearer tokens are not ambient credentials, so CSRF does not apply; sessions do not either.
        return login_not_required(csrf_exempt(wrapped))

    return decorator


def request_user(request: HttpRequest) -> User:
    """The logged-in user of a page request (every page but login needs a login)."""
    assert isinstance(request.user, User)
    return request.user
