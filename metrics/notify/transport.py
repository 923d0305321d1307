"""Sending one delivery: an HTTP POST (webhook, Slack, Alertmanager format) or an email.

Failures say whether a retry can help: timeouts, connection errors, 429 and 5xx are transient;
other 4xx answers and bad addresses are permanent and are not retried.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.core.mail import send_mail

TIMEOUT_SECONDS = 10


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool, status_code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status_code = status_code


def post_json(url: str, payload: dict[str, Any], idempotency_key: str) -> int:
    if not url.startswith(("http://", "https://")):
        raise DeliveryError(f"not an http(s) URL: {url!r}", permanent=True)
    request = urllib.request.Request(  # noqa: S310 (http and https only, checked above)
        url,
        data=json.dumps(payload).encode(),
        headers={
            "Content-Type": "application/json",
            "User-Agent": "coe-portal-notifier/1",
            # Receivers can drop a repeat: the same key is never sent for another event.
            "Idempotency-Key": idempotency_key,
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        transient = exc.code == 429 or exc.code >= 500
        raise DeliveryError(
            f"HTTP {exc.code} from {url}", permanent=not transient, status_code=exc.code
        ) from None
    except (ValueError, http.client.InvalidURL) as exc:
        raise DeliveryError(f"unusable URL {url!r}: {exc}", permanent=True) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"cannot reach {url}: {reason}", permanent=False) from None


def send_email(addresses: str, payload: dict[str, Any]) -> int:
    recipients = [address.strip() for address in addresses.split(",") if address.strip()]
    if not recipients:
        raise DeliveryError("no email address to send to", permanent=True)
    try:
        send_mail(
            payload["subject"], payload["body"], settings.DEFAULT_FROM_EMAIL, recipients,
            fail_silently=False,
        )  # fmt: skip
    except OSError as exc:
        raise DeliveryError(f"email not sent: {exc}", permanent=False) from None
    return 250


def send(kind: str, target: str, payload: dict[str, Any], idempotency_key: str) -> int:
    if kind == "email":
        return send_email(target, payload)
    return post_json(target, payload, idempotency_key)
