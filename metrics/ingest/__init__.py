"""Telemetry intake, one module per protocol; all of them end in `storage.writer`."""
