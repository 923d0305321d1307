"""COE Portal project package: settings, root URLs, the Celery app and shared accounts."""

from __future__ import annotations

from .celery import app as celery_app

__all__ = ("celery_app",)
