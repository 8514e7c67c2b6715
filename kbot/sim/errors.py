"""The one error type of the simulated venue: a Kalshi error response in waiting."""

from __future__ import annotations


class KalshiError(Exception):
    """A request the venue refuses: HTTP ``status`` with Kalshi error ``code``, ``message`` and
    ``details`` (raised by the pure core, turned into a response body at the HTTP edge)."""

    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
