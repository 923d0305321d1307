"""OpenTelemetry tracing of the portal's own requests, off unless an OTLP endpoint is set.

Configured only through the standard OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT,
OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME, ...). Call once per process, after any fork.
"""

from __future__ import annotations

import os

_configured = False


def tracing_enabled() -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure_tracing() -> bool:
    """Install a tracer provider exporting over OTLP/HTTP; True when tracing is on."""
    global _configured
    if _configured or not tracing_enabled():
        return _configured
    os.environ.setdefault("OTEL_SERVICE_NAME", "coe-portal")
    # Probes and scrapes would drown the interesting spans (read when the instrumentation loads).
    os.environ.setdefault("OTEL_PYTHON_DJANGO_EXCLUDED_URLS", "healthz,readyz,metrics")

    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument()
    _configured = True
    return True
