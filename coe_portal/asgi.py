"""ASGI entry point."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coe_portal.settings")

from coe_portal.observability.tracing import configure_tracing

configure_tracing()
application = get_asgi_application()
