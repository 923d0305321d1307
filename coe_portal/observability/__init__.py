"""The portal watching itself: Prometheus metrics and OpenTelemetry traces of its own work."""
