"""Kalshi trading fees (pure, exact decimal arithmetic).

Fee model (Kalshi fee schedule effective July 7 2026, as quoted in the reference notes):

    taker fee = round_up(M * 0.07   * C * P * (1 - P))
    maker fee = round_up(M * 0.0175 * C * P * (1 - P))   (only where the series/event has maker fees)

with ``M`` the series ``fee_multiplier`` (or the event override), ``C`` contracts and ``P`` the
price in dollars (P(1-P) is symmetric, so YES and NO prices give the same fee).

Two roundings, selectable:

- ``FeeRounding.CENTICENT`` (current, default): each fill's fee is rounded *up* to $0.0001.
  Kalshi then applies the balance change ``revenue - fee`` floored to the member's balance
  precision ($0.0001 for direct members, $0.01 otherwise); the floored remainder is a
  "rounding fee" collected in a per-order accumulator that pays back $0.01 each time it
  reaches $0.01 (``OrderFeeAccumulator``).
- ``FeeRounding.CENT`` (classic, pre-2026): the order's fee rounded up to the next whole cent.
"""

from __future__ import annotations

import enum
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import attrs

TAKER_RATE = Decimal("0.07")
MAKER_RATE = Decimal("0.0175")
CENTICENT = Decimal("0.0001")
CENT = Decimal("0.01")
ONE = Decimal(1)
ZERO = Decimal(0)


class FeeRounding(enum.Enum):
    CENTICENT = "centicent"
    CENT = "cent"


def _d(x: Decimal | int | str) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(x)


def raw_fee(count: Decimal, price: Decimal, *, multiplier: Decimal = ONE, maker: bool = False) -> Decimal:
    """The unrounded fee model ``rate * M * C * P * (1-P)``."""
    count, price, multiplier = _d(count), _d(price), _d(multiplier)
    if count < 0:
        raise ValueError(f"fee count must be >= 0, got {count}")
    if not ZERO <= price <= ONE:
        raise ValueError(f"fee price must be in [0, 1] dollars, got {price}")
    rate = MAKER_RATE if maker else TAKER_RATE
    return rate * multiplier * count * price * (ONE - price)


def trade_fee(
    count: Decimal,
    price: Decimal,
    *,
    multiplier: Decimal = ONE,
    maker: bool = False,
    rounding: FeeRounding = FeeRounding.CENTICENT,
) -> Decimal:
    """Fee in dollars for one fill (CENTICENT) or one order (CENT) of ``count`` at ``price``."""
    raw = raw_fee(count, price, multiplier=multiplier, maker=maker)
    step = CENTICENT if rounding is FeeRounding.CENTICENT else CENT
    return raw.quantize(step, rounding=ROUND_CEILING)


def maker_fees_apply(fee_type: str | None) -> bool:
    """Whether a series/event fee type charges makers (``quadratic_with_maker_fees``)."""
    return fee_type is not None and "maker" in fee_type


@attrs.frozen(slots=True)
class FillCash:
    balance_change: Decimal  # what the balance moves by (floored to the member precision)
    trade_fee: Decimal
    rounding_fee: Decimal
    rebate: Decimal


@attrs.define
class OrderFeeAccumulator:
    """Kalshi's per-order rounding mechanics (shared by taker and maker fills of one order).

    ``precision``: $0.0001 for direct members (the default), $0.01 for others. Rounding fees
    accumulate; whenever the accumulated amount reaches $0.01, a $0.01 rebate is paid back.
    The net fee of an order (trade fees + rounding - rebates) is therefore never negative.
    """

    precision: Decimal = CENTICENT
    accumulated: Decimal = ZERO

    def apply_fill(self, revenue: Decimal, fee: Decimal) -> FillCash:
        """``revenue``: signed cash of the fill before fees (negative when buying)."""
        change = _d(revenue) - _d(fee)
        applied = change.quantize(self.precision, rounding=ROUND_FLOOR)
        rounding_fee = change - applied
        self.accumulated += rounding_fee
        rebate = ZERO
        while self.accumulated >= CENT:
            self.accumulated -= CENT
            rebate += CENT
        return FillCash(balance_change=applied + rebate, trade_fee=_d(fee), rounding_fee=rounding_fee, rebate=rebate)
