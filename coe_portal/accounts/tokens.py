"""API token format and hashing (pure functions, no database).

A token is `coe_` followed by 43 URL-safe characters (256 random bits). It is shown once; only its
SHA-256 is stored. A fast hash is enough here because the secret is random, not a password, and it
lets a request find its token with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "coe_"  # noqa: S105 (a marker, not a secret)
DISPLAY_PREFIX_LENGTH = 12


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def display_prefix(token: str) -> str:
    return token[:DISPLAY_PREFIX_LENGTH]
