"""Strict, exact field readers shared by every wire parser in ``kbot.venues``.

Every parse function turns one wire message (already ``json.loads``-ed) into typed values or
raises ``WireError(kind, detail)``. The caller (a feed) counts the error by
``f"{message_type}:{kind}"`` in a ``BadInputLog`` and drops the message: garbage never passes on.

Kinds: ``bad_json``, ``not_object``, ``unknown_type``, ``missing_field``, ``wrong_type``,
``bad_value`` (unparsable number/time), ``out_of_range`` (e.g. a contract price outside [0, 1]).

Money and counts are read exactly as ``Decimal``: from strings (the 2026 Kalshi wire form) and,
where Kalshi is known to send them, from JSON numbers (ints exactly; floats through ``repr`` so
``0.45`` becomes ``Decimal("0.45")``, never the binary expansion). Booleans are never numbers.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

ZERO = Decimal(0)
ONE = Decimal(1)


class WireError(ValueError):
    """One wire message could not be used. ``kind`` is the counter key, ``detail`` the reason."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def loads(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError("bad_json", str(exc)[:120]) from None


def obj(value: Any, what: str = "message") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WireError("not_object", f"{what} is {type(value).__name__}, not an object")
    return value


def req(d: dict[str, Any], key: str) -> Any:
    try:
        v = d[key]
    except KeyError:
        raise WireError("missing_field", key) from None
    if v is None:
        raise WireError("missing_field", f"{key} is null")
    return v


def req_str(d: dict[str, Any], key: str) -> str:
    v = req(d, key)
    if not isinstance(v, str):
        raise WireError("wrong_type", f"{key} is {type(v).__name__}, expected string")
    if not v:
        raise WireError("bad_value", f"{key} is empty")
    return v


def opt_str(d: dict[str, Any], key: str) -> str | None:
    v = d.get(key)
    if v is None or v == "":
        return None
    if not isinstance(v, str):
        raise WireError("wrong_type", f"{key} is {type(v).__name__}, expected string")
    return v


def opt_bool(d: dict[str, Any], key: str) -> bool | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, bool):
        raise WireError("wrong_type", f"{key} is {type(v).__name__}, expected boolean")
    return v


def opt_int(d: dict[str, Any], key: str) -> int | None:
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise WireError("wrong_type", f"{key} is {type(v).__name__}, expected integer")
    return v


def req_int(d: dict[str, Any], key: str) -> int:
    v = opt_int(d, key)
    if v is None:
        raise WireError("missing_field", key)
    return v


def to_decimal(v: Any, key: str, *, allow_number: bool = True) -> Decimal:
    """Exact Decimal from a wire string (or a JSON number when ``allow_number``)."""
    if isinstance(v, str):
        try:
            d = Decimal(v.strip())
        except InvalidOperation:
            raise WireError("bad_value", f"{key}={v[:40]!r} is not a number") from None
    elif isinstance(v, bool):
        raise WireError("wrong_type", f"{key} is a boolean, expected a decimal string")
    elif isinstance(v, int) and allow_number:
        d = Decimal(v)
    elif isinstance(v, float) and allow_number:
        if not math.isfinite(v):
            raise WireError("bad_value", f"{key}={v!r} is not finite")
        d = Decimal(repr(v))
    elif isinstance(v, (int, float)):
        raise WireError("wrong_type", f"{key} is a JSON number, expected a decimal string")
    else:
        raise WireError("wrong_type", f"{key} is {type(v).__name__}, expected a decimal string")
    if not d.is_finite():
        raise WireError("bad_value", f"{key}={v!r} is not finite")
    return d


def req_dec(d: dict[str, Any], key: str) -> Decimal:
    return to_decimal(req(d, key), key)


def opt_dec(d: dict[str, Any], key: str) -> Decimal | None:
    v = d.get(key)
    if v is None or v == "":
        return None
    return to_decimal(v, key)


def check_price(p: Decimal, key: str) -> Decimal:
    """A contract price in dollars must lie in [0, 1]."""
    if p < ZERO or p > ONE:
        raise WireError("out_of_range", f"{key}={p} outside [0, 1]")
    return p


def req_price(d: dict[str, Any], key: str) -> Decimal:
    return check_price(req_dec(d, key), key)


def opt_price(d: dict[str, Any], key: str) -> Decimal | None:
    p = opt_dec(d, key)
    return None if p is None else check_price(p, key)


def check_count(c: Decimal, key: str) -> Decimal:
    if c < ZERO:
        raise WireError("out_of_range", f"{key}={c} is negative")
    return c


def req_count(d: dict[str, Any], key: str) -> Decimal:
    return check_count(req_dec(d, key), key)


def opt_count(d: dict[str, Any], key: str) -> Decimal | None:
    c = opt_dec(d, key)
    return None if c is None else check_count(c, key)


def cents(v: Any, key: str) -> Decimal:
    """Legacy integer cents (or a cents integer field like balance) -> exact dollars."""
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise WireError("wrong_type", f"{key} is {type(v).__name__}, expected integer cents")
    return to_decimal(v, key) / 100


def to_float(v: Any, key: str) -> float:
    """A model quantity (BTC price, strike) as a finite float, from a number or numeric string."""
    if isinstance(v, bool):
        raise WireError("wrong_type", f"{key} is a boolean, expected a number")
    if isinstance(v, (int, float)):
        f = float(v)
    elif isinstance(v, str):
        try:
            f = float(v)
        except ValueError:
            raise WireError("bad_value", f"{key}={v[:40]!r} is not a number") from None
    else:
        raise WireError("wrong_type", f"{key} is {type(v).__name__}, expected a number")
    if not math.isfinite(f):
        raise WireError("bad_value", f"{key}={v!r} is not finite")
    return f


def opt_float(d: dict[str, Any], key: str) -> float | None:
    v = d.get(key)
    if v is None or v == "":
        return None
    return to_float(v, key)


def req_float(d: dict[str, Any], key: str) -> float:
    return to_float(req(d, key), key)


def positive_price(v: Any, key: str) -> float:
    """A BTC price: finite and > 0."""
    f = to_float(v, key)
    if f <= 0:
        raise WireError("out_of_range", f"{key}={f} is not positive")
    return f


def iso_ts(v: Any, key: str) -> float:
    """RFC 3339 / ISO 8601 (``Z`` or offset, up to ns fraction) -> epoch seconds. A naive
    time is taken as UTC (Kalshi and the exchanges only send UTC)."""
    if not isinstance(v, str):
        raise WireError("wrong_type", f"{key} is {type(v).__name__}, expected an RFC 3339 string")
    try:
        dt = datetime.fromisoformat(v.strip())
    except ValueError:
        raise WireError("bad_value", f"{key}={v[:40]!r} is not an RFC 3339 time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def opt_iso_ts(d: dict[str, Any], key: str) -> float | None:
    v = d.get(key)
    if v is None or v == "":
        return None
    return iso_ts(v, key)


def ms_ts(v: Any, key: str) -> float:
    """Unix milliseconds (int) -> epoch seconds."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise WireError("wrong_type", f"{key} is {type(v).__name__}, expected unix milliseconds")
    return float(v) / 1000.0


def opt_ms_ts(d: dict[str, Any], key: str) -> float | None:
    v = d.get(key)
    return None if v is None else ms_ts(v, key)


def opt_s_ts(d: dict[str, Any], key: str) -> float | None:
    """Unix seconds (int) -> float, or None."""
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise WireError("wrong_type", f"{key} is {type(v).__name__}, expected unix seconds")
    return float(v)


def fmt_dollars(p: Decimal) -> str:
    """A request price: 4 dp fixed-point dollars (Kalshi accepts 2-4 dp)."""
    q = p.quantize(Decimal("0.0001"))
    if q != p:
        raise ValueError(f"price {p} has more than 4 decimal places")
    return f"{q:.4f}"


def fmt_count(c: Decimal) -> str:
    """A request count: 2 dp fixed-point contracts."""
    q = c.quantize(Decimal("0.01"))
    if q != c:
        raise ValueError(f"count {c} has more than 2 decimal places")
    return f"{q:.2f}"
