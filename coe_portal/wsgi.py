"""WSGI entry point (gunicorn `coe_portal.wsgi`)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coe_portal.settings")

# Tracing must hook into Django before the middleware chain is built.
from coe_portal.observability.tracing import configure_tracing

configure_tracing()
application = get_wsgi_application()
