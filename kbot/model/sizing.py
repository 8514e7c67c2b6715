"""Position sizing: fractional Kelly for a binary contract, then every cap (pure).

A contract of a side costs c (price) plus a fee per contract; it pays 1 with probability p.
Folding the fee into the price, c_eff = price + fee/contract, a stake of f * bankroll buys
f * B / c_eff contracts, and the growth-optimal fraction is

    f* = (p - c_eff) / (1 - c_eff)          (0 when p <= c_eff)

(the binary Kelly bet: odds b = (1 - c_eff)/c_eff, f* = p - (1-p)/b). We bet

    f = kelly_fraction * ramp * f*,   ramp = clamp((ev - min_ev) / (full_kelly_edge - min_ev), 0, 1)

so conviction grows linearly from nothing at the minimum edge to the configured fraction at
``full_kelly_edge``: small edges, where model error dominates, get small sizes. The bankroll
is equity: cash balance plus the cost of open positions.

The Kelly count is then capped, each cap in whole contracts:
``max_order`` (contracts per order), ``risk_market_exposure`` (dollars per market),
``risk_total_exposure`` (dollars in total), ``insufficient_balance`` (cash minus reserve, at
c_eff), ``liquidity`` (a fraction of the displayed depth at or better than the limit price).
Every cap that alone leaves less than one contract is reported as a reason (not only the
first); a Kelly count below one contract despite EV >= min_ev is ``size_zero``.
"""

from __future__ import annotations

import math
from decimal import Decimal

import attrs

from kbot.model.config import SizingConfig

ZERO = Decimal(0)
ONE = Decimal(1)


@attrs.frozen(slots=True)
class SizeResult:
    count: Decimal  # whole contracts, 0 when any cap leaves less than one
    kelly_full: float  # f*
    kelly_applied: float  # f actually bet (fraction of bankroll)
    caps: tuple[tuple[str, Decimal], ...]  # (name, contracts allowed by that cap)
    reasons: tuple[str, ...]


def kelly_full(p: float, c_eff: float) -> float:
    """f* = (p - c_eff) / (1 - c_eff), floored at 0; 0 for a cost outside (0, 1)."""
    if not (0.0 < c_eff < 1.0) or not math.isfinite(p):
        return 0.0
    return max(0.0, (p - c_eff) / (1.0 - c_eff))


def ramp(ev: float, min_ev: float, full_edge: float) -> float:
    if full_edge <= min_ev:
        return 1.0 if ev >= min_ev else 0.0
    return min(1.0, max(0.0, (ev - min_ev) / (full_edge - min_ev)))


def _floor_div(amount: Decimal, unit: Decimal) -> Decimal:
    """Whole contracts of ``unit`` dollars that fit in ``amount`` (0 when nothing fits)."""
    if amount <= 0 or unit <= 0:
        return ZERO
    return amount // unit  # Decimal // truncates: floor for positive operands


def size_order(
    *,
    prob_side: float,
    price: Decimal,
    fee_per_contract: float,
    ev: float,
    min_ev: float,
    balance: Decimal,
    total_exposure: Decimal,
    market_exposure: Decimal,
    depth: Decimal | None,
    liquidity_fraction: float,
    config: SizingConfig,
) -> SizeResult:
    """Contracts to buy of one side. ``depth``: displayed contracts at or better than the
    limit price (None: unknown, which allows nothing). Kelly and liquidity are model
    quantities (floats); the money caps are exact decimal arithmetic."""
    c_eff = float(price) + fee_per_contract
    f_star = kelly_full(prob_side, c_eff)
    f = config.kelly_fraction * ramp(ev, min_ev, config.full_kelly_edge) * f_star
    bankroll = max(0.0, float(balance + total_exposure))
    kelly = Decimal(math.floor(f * bankroll / c_eff)) if c_eff > 0 else ZERO
    caps = (
        ("max_order", _floor_div(config.max_contracts_per_order, ONE)),
        ("risk_market_exposure", _floor_div(config.max_market_exposure - market_exposure, price)),
        ("risk_total_exposure", _floor_div(config.max_total_exposure - total_exposure, price)),
        ("insufficient_balance", _floor_div(balance - config.balance_reserve, Decimal(repr(c_eff)))),
        ("liquidity", ZERO if depth is None else Decimal(math.floor(liquidity_fraction * float(depth)))),
    )
    reasons = [name for name, n in caps if n < 1]
    if kelly < 1 and ev >= min_ev:  # below min_ev the gate ev_below_min already says why
        reasons.insert(0, "size_zero")
    count = min(kelly, *(n for _, n in caps))
    if count < 1:
        count = ZERO
    return SizeResult(count, f_star, f, caps, tuple(reasons))
