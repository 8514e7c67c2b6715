"""Kalshi wire formats for the simulated venue (pure).

Inside the sim, contract prices are integers in units of $0.0001 ("p4": 0..10000) and counts
are integers in hundredths of a contract ("c2"), so the matching engine and the ledger work
in exact integer arithmetic. This module converts them to and from Kalshi's late-2026 wire
forms: ``*_dollars`` fixed-point strings (4 decimals for prices and balances, 6 for costs and
fees, as the real API emits) and ``*_fp`` counts with 2 decimals; times as RFC 3339 UTC
strings, Unix seconds or milliseconds depending on the field.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

PRICE_SCALE = 10_000  # p4 units per dollar
COUNT_SCALE = 100  # c2 units per contract
ONE_DOLLAR = PRICE_SCALE

_Q4 = Decimal("0.0001")
_Q6 = Decimal("0.000001")
_Q2 = Decimal("0.01")


class WireError(ValueError):
    """A request field is malformed (bad type, too many decimals, out of range)."""


def p4_to_decimal(p4: int) -> Decimal:
    return Decimal(p4).scaleb(-4)


def c2_to_decimal(c2: int) -> Decimal:
    return Decimal(c2).scaleb(-2)


def dollars(x: Decimal | int, dp: int = 4) -> str:
    """Decimal dollars -> ``"0.5600"`` (``dp`` 4) or ``"0.010000"`` (``dp`` 6)."""
    d = x if isinstance(x, Decimal) else Decimal(x)
    return str(d.quantize(_Q6 if dp == 6 else _Q4))


def price_str(p4: int) -> str:
    """A p4 price as a dollar string with 4 decimals."""
    return dollars(p4_to_decimal(p4))


def count_str(c2: int) -> str:
    """A c2 count as a fixed-point count string with 2 decimals."""
    return str(c2_to_decimal(c2).quantize(_Q2))


def iso(ts: float) -> str:
    """Epoch seconds -> RFC 3339 UTC (``2026-08-23T21:00:00Z``, microseconds when fractional)."""
    d = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    if d.microsecond:
        return d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def ms(ts: float) -> int:
    return int(round(ts * 1000))


def _decimal(value: object, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        # Kalshi's V2 requests take strings; integers are tolerated, floats are refused
        raise WireError(f"{field} must be a fixed-point string")
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise WireError(f"{field} is not a number: {value!r}") from exc
    if not d.is_finite():
        raise WireError(f"{field} is not a finite number: {value!r}")
    return d


def parse_price(value: object, field: str = "price") -> int:
    """A request price in dollars (2-4 decimals) -> p4. Range checks are the caller's."""
    d = _decimal(value, field)
    if d.as_tuple().exponent < -4:  # type: ignore[operator]
        raise WireError(f"{field} has more than 4 decimal places: {value!r}")
    return int(d * PRICE_SCALE)


def parse_count(value: object, field: str = "count") -> int:
    """A request count (0-2 decimals) -> c2."""
    d = _decimal(value, field)
    if d.as_tuple().exponent < -2:  # type: ignore[operator]
        raise WireError(f"{field} has more than 2 decimal places: {value!r}")
    return int(d * COUNT_SCALE)


def cost_decimal(p4: int, c2: int) -> Decimal:
    """Exact dollars of ``c2`` contracts at ``p4``."""
    return Decimal(p4 * c2).scaleb(-6)
