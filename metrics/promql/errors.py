from __future__ import annotations


class PromQLError(Exception):
    """A query the engine refuses; `error_type` follows Prometheus's API (bad_data, execution)."""

    error_type = "bad_data"


class ParseError(PromQLError):
    pass


class ExecutionError(PromQLError):
    error_type = "execution"


class BadDataError(PromQLError):
    """A query the API refuses before running it (Prometheus answers these 400 bad_data): a
    range query of a range vector, too many points, a bad step."""
