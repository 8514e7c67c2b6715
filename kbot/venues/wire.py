"""Strict, exact field readers shared by every wire parser in ``kbot.venues``.

Every parse function turns one wire message (already decoded by ``loads``) into typed values or
raises ``WireError(kind, detail)``; nothing else escapes, whatever the input (deep nesting, huge
numbers, wrong types, truncation, unicode: ``tests/venues/test_fuzz.py`` holds the parsers to
that). The caller (a feed) counts the error by ``f"{message_type}:{kind}"`` in a ``BadInputLog``
and drops the message: garbage never passes on.

Kinds: ``bad_json``, ``not_object``, ``unknown_type``, ``missing_field``, ``wrong_type``,
``bad_value`` (unparsable number/time/text, unknown enum value), ``out_of_range`` (a value outside
its domain's range, below).

Money and counts are read exactly as ``Decimal``: from strings (the 2026 Kalshi wire form) and,
where Kalshi is known to send them, from JSON numbers (ints exactly; floats through ``repr`` so
``0.45`` becomes ``Decimal("0.45")``, never the binary expansion). Booleans are never numbers.

Ranges checked here, at the edge, because only here is the raw value still at hand and every
later stage may then trust it:

- numbers: finite; decimals below 1e16 in magnitude and, when not zero, at least 1e-15 (a finite
  ``Decimal("1E+999999999")`` would overflow the first arithmetic on it); integers within +-2**53
  (they are stored in SQLite INTEGER columns); numeric strings at most 64 characters;
- times: epoch seconds between 2000-01-01 and 2200-01-01 (``EPOCH_MIN``/``EPOCH_MAX``); the event
  time of live data (quotes, deltas, trades, lifecycle events, spot ticks) at most
  ``LIVE_PAST_S`` before and ``LIVE_LEAD_S`` after its receipt (``live_ts``): a feed replaying old
  data or a clock running ahead cannot stamp the present (the past bound is generous because a
  sped-up simulated clock turns a second of scheduling lag into a minute of event time; whether a
  plausible time is fresh enough is judged downstream by the pricers' staleness checks);
- contract prices in [0, 1], counts >= 0, quotes uncrossed (``check_uncrossed``);
- BTC prices (spot, index, strikes) positive; spot prices between ``SPOT_MIN`` and ``SPOT_MAX``
  (``spot_price``). Whether a spot price agrees with the *other* sources is not a wire fact: the
  spot index judges that (``kbot.model.index``, where all sources meet);
- market results from ``RESULTS``;
- text that can be stored and logged (valid Unicode: no lone surrogates from ``\\ud800`` escapes).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from kbot.text import short

ZERO = Decimal(0)
ONE = Decimal(1)

EPOCH_MIN = 946_684_800.0  # 2000-01-01T00:00:00Z
EPOCH_MAX = 7_258_118_400.0  # 2200-01-01T00:00:00Z
LIVE_PAST_S = 86_400.0  # live event time at most this long before its receipt...
LIVE_LEAD_S = 300.0  # ...and at most this long after it (clock skew, a followed sim clock)
SPOT_MIN = 100.0  # BTC-USD, dollars
SPOT_MAX = 10_000_000.0
SPOT_RANGE = (SPOT_MIN, SPOT_MAX)  # the spot protocols take another range for another product
RESULTS = frozenset({"yes", "no", "scalar", "void"})  # a determined market's result
DECIMAL_MAX_ADJUSTED = 15  # |x| < 1e16
DECIMAL_MIN_ADJUSTED = -15  # |x| >= 1e-15 unless zero
INT_LIMIT = 2**53
MAX_NUMBER_CHARS = 64

class WireError(ValueError):
    """One wire message could not be used. ``kind`` is the counter key, ``detail`` the reason."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def loads(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise WireError("bad_json", "nested too deep") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError("bad_json", str(exc)[:120]) from None


def obj(value: Any, what: str = "message") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WireError("not_object", f"{what} is {type(value).__name__}, not an object")
    return value


def opt_list(d: dict[str, Any], key: str) -> list[Any]:
    """A list field; absent or null is empty."""
    v = d.get(key)
    if v is None:
        return []
    if not isinstance(v, list):
        raise WireError("wrong_type", f"{key} is {type(v).__name__}, expected a list")
    return v


def req(d: dict[str, Any], key: str) -> Any:
    try:
        v = d[key]
    except KeyError:
        raise WireError("missing_field", key) from None
    if v is None:
        raise WireError("missing_field", f"{key} is null")
    return v


def check_text(v: str, key: str) -> str:
    """Reject text that cannot be stored or logged (lone surrogates)."""
    if not v.isascii():
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise WireError("bad_value", f"{key} is not valid unicode: {short(v)}") from None
    return v


def loose_str(v: Any) -> str | None:
    """An optional informational string (``client_order_id``): ``v`` when it is usable text,
    else None (never an error: the message does not depend on it)."""
    if isinstance(v, str) and v:
        try:
            return check_text(v, "text")
        except WireError:
            return None
    return None


def req_str(d: dict[str, Any], key: str) -> str:
    v = req(d, key)
    if not isinstance(v, str):
        raise WireError("wrong_type", f"{key} is {type(v).__name__}, expected string")
    if not v:
        raise WireError("bad_value", f"{key} is empty")
    return check_text(v, key)


def opt_str(d: dict[str, Any], key: str) -> str | None:
    v = d.get(key)
    if v is None or v == "":
        return None
    if not isinstance(v, str):
        raise WireError("wrong_type", f"{key} is {type(v).__name__}, expected string")
    return check_text(v, key)


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
    if not -INT_LIMIT < v < INT_LIMIT:
        raise WireError("out_of_range", f"{key} is an integer beyond 2**53")
    return v


def req_int(d: dict[str, Any], key: str) -> int:
    v = opt_int(d, key)
    if v is None:
        raise WireError("missing_field", key)
    return v


def check_decimal(d: Decimal, key: str) -> Decimal:
    """Finite and of a magnitude every later computation can take (module docstring)."""
    if not d.is_finite():
        raise WireError("bad_value", f"{key}={d} is not finite")
    if d and not DECIMAL_MIN_ADJUSTED <= d.adjusted() <= DECIMAL_MAX_ADJUSTED:
        raise WireError("out_of_range", f"{key} is too {'large' if d.adjusted() > 0 else 'small'} ({short(str(d))})")
    return d


def to_decimal(v: Any, key: str, *, allow_number: bool = True) -> Decimal:
    """Exact Decimal from a wire string (or a JSON number when ``allow_number``)."""
    if isinstance(v, str):
        if len(v) > MAX_NUMBER_CHARS:
            raise WireError("bad_value", f"{key} is {len(v)} characters long, not a number")
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
    return check_decimal(d, key)


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


def check_uncrossed(bid: Decimal | None, ask: Decimal | None, what: str) -> None:
    """A quote's bid must not exceed its ask (a crossed top of book is not a market state)."""
    if bid is not None and ask is not None and bid > ask:
        raise WireError("out_of_range", f"crossed {what} quote: bid {bid} > ask {ask}")


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
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise WireError("wrong_type", f"{key} is {type(v).__name__}, expected a number")
    if isinstance(v, str) and len(v) > MAX_NUMBER_CHARS:
        raise WireError("bad_value", f"{key} is {len(v)} characters long, not a number")
    try:
        f = float(v)
    except OverflowError:
        raise WireError("out_of_range", f"{key} is too large for a float") from None
    except ValueError:
        raise WireError("bad_value", f"{key}={short(v)} is not a number") from None
    if not math.isfinite(f):
        raise WireError("bad_value", f"{key}={short(v)} is not finite")
    return f


def opt_float(d: dict[str, Any], key: str) -> float | None:
    v = d.get(key)
    if v is None or v == "":
        return None
    return to_float(v, key)


def req_float(d: dict[str, Any], key: str) -> float:
    return to_float(req(d, key), key)


def spot_price(v: Any, key: str, price_range: tuple[float, float] = SPOT_RANGE) -> float:
    """A spot price from an exchange or an index: within ``price_range`` (default the sane
    BTC-USD range ``SPOT_MIN``..``SPOT_MAX``)."""
    f = to_float(v, key)
    if not price_range[0] <= f <= price_range[1]:
        raise WireError("out_of_range", f"{key}={f} outside the sane price range {price_range[0]:g}..{price_range[1]:g}")
    return f


def opt_strike(d: dict[str, Any], key: str) -> float | None:
    """A market's strike (``floor_strike``/``cap_strike``): a positive finite number or absent."""
    f = opt_float(d, key)
    if f is not None and f <= 0:
        raise WireError("out_of_range", f"{key}={f} is not positive")
    return f


def check_strikes(floor: float | None, cap: float | None) -> None:
    if floor is not None and cap is not None and floor > cap:
        raise WireError("out_of_range", f"floor_strike {floor} above cap_strike {cap}")


def opt_result(d: dict[str, Any], key: str) -> str | None:
    """A market result: one of ``RESULTS``, or None while undetermined (absent or "")."""
    v = opt_str(d, key)
    if v is not None and v not in RESULTS:
        raise WireError("bad_value", f"{key}={short(v)} is not a known result")
    return v


def check_epoch(ts: float, key: str) -> float:
    if not EPOCH_MIN <= ts <= EPOCH_MAX:
        raise WireError("out_of_range", f"{key}={ts:.0f} is not a time between 2000 and 2200")
    return ts


def live_ts(ts: float, recv_ts: float, key: str = "ts") -> float:
    """The event time of live data: within ``LIVE_PAST_S`` before / ``LIVE_LEAD_S`` after its
    receipt (see the module docstring)."""
    if not recv_ts - LIVE_PAST_S <= ts <= recv_ts + LIVE_LEAD_S:
        raise WireError("out_of_range", f"{key} is {ts - recv_ts:+.0f}s from its receipt")
    return ts


def iso_ts(v: Any, key: str) -> float:
    """RFC 3339 / ISO 8601 (``Z`` or offset, up to ns fraction) -> epoch seconds. A naive
    time is taken as UTC (Kalshi and the exchanges only send UTC)."""
    if not isinstance(v, str):
        raise WireError("wrong_type", f"{key} is {type(v).__name__}, expected an RFC 3339 string")
    if len(v) > MAX_NUMBER_CHARS:
        raise WireError("bad_value", f"{key} is {len(v)} characters long, not a time")
    try:
        dt = datetime.fromisoformat(v.strip())
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        ts = dt.timestamp()
    except (ValueError, OverflowError, OSError):
        raise WireError("bad_value", f"{key}={short(v)} is not an RFC 3339 time") from None
    return check_epoch(ts, key)


def opt_iso_ts(d: dict[str, Any], key: str) -> float | None:
    v = d.get(key)
    if v is None or v == "":
        return None
    return iso_ts(v, key)


def _number(v: Any, key: str, unit: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise WireError("wrong_type", f"{key} is {type(v).__name__}, expected unix {unit}")
    try:
        f = float(v)
    except OverflowError:
        raise WireError("out_of_range", f"{key} is too large for a time") from None
    if not math.isfinite(f):
        raise WireError("bad_value", f"{key} is not finite")
    return f


def ms_ts(v: Any, key: str) -> float:
    """Unix milliseconds (int) -> epoch seconds."""
    return check_epoch(_number(v, key, "milliseconds") / 1000.0, key)


def opt_ms_ts(d: dict[str, Any], key: str) -> float | None:
    v = d.get(key)
    return None if v is None else ms_ts(v, key)


def s_ts(v: Any, key: str) -> float:
    """Unix seconds (int) -> epoch seconds."""
    return check_epoch(_number(v, key, "seconds"), key)


def opt_s_ts(d: dict[str, Any], key: str) -> float | None:
    """Unix seconds (int) -> float, or None."""
    v = d.get(key)
    return None if v is None else s_ts(v, key)


def any_ts(v: Any, key: str) -> float:
    """A time Kalshi sends either as RFC 3339 or as unix seconds (``strike_date``, legacy ``ts``)."""
    return iso_ts(v, key) if isinstance(v, str) else s_ts(v, key)


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
