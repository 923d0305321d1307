"""The shop's traces through the OpenTelemetry SDK: one TracerProvider per service (each its own
resource, with a BatchSpanProcessor on its own exporter), planned spans started and ended at
their simulated times, and the trace context handed from a client span to the next service's
server span in a real W3C `traceparent` header (a dict carrier; the services share a process,
so no HTTP between them). Never touches the global tracer provider or context."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from metrics.loadgen.journeys import Conditions, PlannedSpan, plan_trace, traced_requests
from metrics.loadgen.shop import SERVICES, Incident

SCOPE = "coe-portal.loadgen"
KINDS = {"server": SpanKind.SERVER, "client": SpanKind.CLIENT}


class ShopTracing:
    def __init__(self, exporter_factory: Callable[[], SpanExporter]) -> None:
        self.propagator = TraceContextTextMapPropagator()
        self.providers: dict[str, TracerProvider] = {}
        self.tracers: dict[str, trace.Tracer] = {}
        for service in SERVICES:
            provider = TracerProvider(
                resource=Resource.create(
                    {"service.name": service, "service.instance.id": f"{service}-1"}
                )
            )
            provider.add_span_processor(BatchSpanProcessor(exporter_factory()))
            self.providers[service] = provider
            self.tracers[service] = provider.get_tracer(SCOPE, "1.0")

    def send(self, root: PlannedSpan) -> None:
        """Starts and ends the spans of one planned trace (a new trace: its root has no parent)."""
        self._send(root, Context())

    def send_traffic(
        self,
        seconds: float,
        start_ms: int,
        *,
        trace_rate: float,
        incidents: list[Incident],
        rng: np.random.Generator,
    ) -> int:
        """Traces of the requests sampled from `seconds` of traffic from `start_ms`; returns
        how many traces were sent."""
        conditions = Conditions.at(start_ms, incidents)
        requests = traced_requests(seconds, start_ms, trace_rate, rng)
        for journey, offset in requests:
            start_ns = start_ms * 1_000_000 + int(offset * 1e9)
            self.send(plan_trace(journey, start_ns, conditions, rng))
        return len(requests)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return all(p.force_flush(timeout_millis) for p in self.providers.values())

    def shutdown(self) -> None:
        for provider in self.providers.values():
            provider.shutdown()

    def _send(self, planned: PlannedSpan, parent: Context) -> None:
        span = self.tracers[planned.service].start_span(
            planned.name,
            context=parent,
            kind=KINDS[planned.kind],
            attributes=planned.attributes,
            start_time=planned.start_ns,
        )
        if planned.failure is not None:
            span.record_exception(
                planned.failure.error, timestamp=planned.failure.at_ns, escaped=True
            )
        if planned.error:
            span.set_status(Status(StatusCode.ERROR, planned.error))
        inside = trace.set_span_in_context(span, Context())
        for child in planned.children:
            if child.service == planned.service:
                self._send(child, inside)
            else:
                # Over the wire: the caller injects `traceparent`, the callee extracts it.
                headers: dict[str, str] = {}
                self.propagator.inject(headers, context=inside)
                self._send(child, self.propagator.extract(headers))
        span.end(end_time=planned.end_ns)
