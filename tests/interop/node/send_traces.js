// Exports a small trace (a server span and its client child) to the portal with the JavaScript
// OTLP/JSON trace exporter, configured only by OTEL_EXPORTER_OTLP_ENDPOINT and
// OTEL_EXPORTER_OTLP_HEADERS. It sends a chunked body, and ids as hex strings.
"use strict";
const { BasicTracerProvider, BatchSpanProcessor } = require("@opentelemetry/sdk-trace-base");
const { OTLPTraceExporter } = require("@opentelemetry/exporter-trace-otlp-http");
const { resourceFromAttributes } = require("@opentelemetry/resources");
const api = require("@opentelemetry/api");

async function main() {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "web-frontend" }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  const tracer = provider.getTracer("interop");
  const parent = tracer.startSpan("GET /home", { kind: api.SpanKind.SERVER });
  const context = api.trace.setSpan(api.context.active(), parent);
  const child = tracer.startSpan("GET /api/cart", { kind: api.SpanKind.CLIENT }, context);
  child.setAttribute("http.response.status_code", 503);
  child.setStatus({ code: api.SpanStatusCode.ERROR, message: "cart unavailable" });
  child.end();
  parent.end();
  await provider.forceFlush();
  await provider.shutdown();
  console.log(parent.spanContext().traceId);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
