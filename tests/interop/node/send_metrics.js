// Exports one counter and one histogram to the portal with the JavaScript OTLP/JSON exporter,
// configured only by OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_HEADERS.
"use strict";
const { MeterProvider, PeriodicExportingMetricReader } = require("@opentelemetry/sdk-metrics");
const { OTLPMetricExporter } = require("@opentelemetry/exporter-metrics-otlp-http");
const { resourceFromAttributes } = require("@opentelemetry/resources");

async function main() {
  const exporter = new OTLPMetricExporter();
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3600000 });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ "service.name": "web-frontend", "service.instance.id": "web-1" }),
    readers: [reader],
  });
  const meter = provider.getMeter("interop");
  meter.createCounter("page.loads").add(5, { page: "/home" });
  meter.createHistogram("page.render.duration", { unit: "ms" }).record(120, { page: "/home" });
  await provider.shutdown();
  console.log("exported");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
