"""Demo traffic: a small shop's services, instrumented with the OpenTelemetry SDK."""
