"""Small HTTP helpers for the sim's Kalshi REST surface: error bodies, query parsing, cursors."""

from __future__ import annotations

import base64
import builtins
import json
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import Response

from kbot.sim.errors import KalshiError

TOO_MANY = b'{"error":"too many requests"}'


ApiError = KalshiError  # an error response: HTTP status, Kalshi code, message, details


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(dumps(obj), status_code=status, media_type="application/json")


def error_body(code: str, message: str, details: str = "", *, style: str = "nested") -> dict[str, Any]:
    """Kalshi error shapes: the nested form seen live ``{"error": {code, message, details}}``
    (default) or the flat OpenAPI ``ErrorResponse`` ``{code, message, details}``."""
    inner = {"code": code, "message": message, "details": details}
    return {"error": inner} if style == "nested" else inner


def error_response(err: ApiError, style: str) -> Response:
    if err.status == 429:
        return Response(TOO_MANY, status_code=429, media_type="application/json")
    return json_response(error_body(err.code, err.message, err.details, style=style), err.status)


class Query:
    """Typed access to query parameters; bad values are 400 ``invalid_parameters``."""

    def __init__(self, params: Mapping[str, str], multi: Mapping[str, Sequence[str]] | None = None) -> None:
        self.params = params
        self.multi = multi or {}

    # The accessors are named after the types they return (``q.int("limit")``), which shadows the
    # builtins inside this class body: the annotations below spell them ``builtins.*``.
    def str(self, name: str) -> str | None:
        v = self.params.get(name)
        return v if v not in (None, "") else None

    def int(
        self, name: builtins.str, *, lo: builtins.int | None = None, hi: builtins.int | None = None,
        default: builtins.int | None = None,
    ) -> builtins.int | None:
        raw = self.params.get(name)
        if raw in (None, ""):
            return default
        try:
            v = int(raw)
        except ValueError as exc:
            raise ApiError(400, "invalid_parameters", f"{name} must be an integer, got {raw!r}") from exc
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ApiError(400, "invalid_parameters", f"{name} must be within {lo}..{hi}, got {v}")
        return v

    def bool(self, name: builtins.str, default: builtins.bool = False) -> builtins.bool:
        raw = self.params.get(name)
        if raw in (None, ""):
            return default
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise ApiError(400, "invalid_parameters", f"{name} must be true or false, got {raw!r}")

    def one_of(self, name: builtins.str, allowed: Sequence[builtins.str]) -> builtins.str | None:
        v = self.str(name)
        if v is None:
            return None
        if v not in allowed:
            raise ApiError(
                400, "invalid_parameters", f"invalid {name} {v!r}: expected one of {', '.join(allowed)} (one value)"
            )
        return v

    def csv(self, name: builtins.str) -> list[builtins.str]:
        v = self.str(name)
        return [x for x in (v or "").split(",") if x]

    def all(self, name: builtins.str) -> list[builtins.str]:
        return [x for x in self.multi.get(name, []) if x]


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, _, n = raw.partition(":")
        if tag != "o":
            raise ValueError
        return max(0, int(n))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_parameters", "invalid cursor") from exc


def page(items: Sequence[Any], cursor: str | None, limit: int) -> tuple[list[Any], str]:
    """A page of ``items`` and the next cursor (``""`` on the last page)."""
    start = decode_cursor(cursor)
    chunk = list(items[start : start + limit])
    nxt = start + limit
    return chunk, (encode_cursor(nxt) if nxt < len(items) else "")
