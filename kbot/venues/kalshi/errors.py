"""Kalshi API errors: one typed exception for every error body shape seen on the wire.

Shapes parsed by ``parse_error_body``:
- spec-flat ``{"code": "...", "message": "...", "details": "..."}`` (OpenAPI ``ErrorResponse``);
- nested ``{"error": {"code": "...", "message": "...", "details": "..."}}`` (seen live);
- the plain-string 429 body ``{"error": "too many requests"}``;
- anything else (HTML from a proxy, empty body): code ``""`` and the text as message.

``KalshiAuthError`` (401/403) is fatal for the caller: no retry loop can fix a wrong key,
a restricted key or a missing scope; its message says what to check.
"""

from __future__ import annotations

from typing import Any

from kbot.text import clean_text, short
from kbot.venues.wire import WireError, loads


class KalshiError(Exception):
    """Base of every Kalshi client error."""


class KalshiApiError(KalshiError):
    """The API answered with an error status (or a per-item error inside a batch)."""

    def __init__(self, status: int, code: str = "", message: str = "", details: str = "", *, path: str = "") -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.path = path
        text = f"Kalshi API error {status}" + (f" on {path}" if path else "")
        if code:
            text += f" [{code}]"
        if message:
            text += f": {message}"
        if details:
            text += f" ({details})"
        super().__init__(text)

    @property
    def retryable(self) -> bool:
        return self.status == 429 or self.status >= 500


class KalshiAuthError(KalshiApiError):
    """401/403: fatal, no retry."""

    def __str__(self) -> str:
        base = super().__str__()
        if self.status == 401:
            return (
                f"{base}. Kalshi rejected the credentials: check that KALSHI_API_KEY_ID matches the key in "
                "KALSHI_PRIVATE_KEY_PATH, that the key belongs to this environment (demo keys work only on demo, "
                "production keys only on production) and that the system clock is NTP-synced"
            )
        return (
            f"{base}. Kalshi refused this key for this request: check the key's scopes (read/write) and "
            "whether it is restricted to a subaccount"
        )


class IncompleteListing(KalshiError):
    """A paginated listing could not be read whole (``paginate(strict=True)``): nothing may be
    concluded from what is missing in it (reconciliation never infers "flat" from a short page)."""

    def __init__(self, path: str, why: str) -> None:
        self.path = path
        self.why = why
        super().__init__(f"{path}: listing incomplete ({why})")


class KalshiRetriesExhausted(KalshiError):
    """A retryable failure (429, 5xx, transport error) persisted past the retry limit."""

    def __init__(self, path: str, attempts: int, last: BaseException | str) -> None:
        self.path = path
        self.attempts = attempts
        self.last = last
        super().__init__(f"{path}: giving up after {attempts} attempts; last error: {last}")


def _text(v: Any) -> str:
    """A field of an error body as bounded, storable text (whatever its JSON type)."""
    if v is None:
        return ""
    return clean_text(v if isinstance(v, str) else short(v))[:500]


def parse_error_body(body: Any) -> tuple[str, str, str]:
    """(code, message, details) from a decoded JSON body or raw text. Never raises."""
    if isinstance(body, (bytes, str)):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        try:
            body = loads(text)
        except WireError:
            return "", _text(text.strip()), ""
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict):
            body = inner
        elif isinstance(inner, str):
            code = body.get("code") if isinstance(body.get("code"), str) else ""
            return _text(code), _text(inner), _text(body.get("details") or "")
        message = body.get("message") if body.get("message") is not None else body.get("msg")
        return _text(body.get("code")), _text(message), _text(body.get("details"))
    return "", _text(body), ""


def error_from_response(status: int, body: Any, path: str = "") -> KalshiApiError:
    code, message, details = parse_error_body(body)
    cls = KalshiAuthError if status in (401, 403) else KalshiApiError
    return cls(status, code, message, details, path=path)
