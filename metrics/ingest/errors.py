from __future__ import annotations


class IngestError(Exception):
    """A request the intake refuses; status and message go back to the client as they are."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def malformed(message: str) -> IngestError:
    return IngestError(400, message)
