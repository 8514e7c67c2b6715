"""Fee-aware expected value per contract (pure).

A contract pays $1 if its side wins. Buying ``count`` contracts of a side at ``price``
(dollars) with the model probability ``q`` of that side winning:

    EV per contract = q - price - fee(count, price) / count

with ``fee`` Kalshi's taker fee for the whole fill/order (``kbot.fees.trade_fee``: per-fill
centicent rounding by default, classic per-order cent rounding selectable). The fee is
rounded up on the whole order, so the per-contract fee, and the EV, depend on the size:
EV is computed "for the intended size". YES is bought at the YES ask with q = p; NO at the NO
ask with q = 1 - p; each side independently (a NO ask is a YES bid at 1 - price, so the
sides can disagree when the book is wide).

Maker: resting a buy at ``price`` that gets filled earns q - price - maker fee / count, with
the maker fee only where the series/event charges makers (``fee_type`` with maker fees,
``kbot.fees.maker_fees_apply``). This is the EV *given a fill* and ignores adverse selection
(fills are likelier when the market moves against the resting order): an upper bound for
paper/live quoting, not a reason to quote.
"""

from __future__ import annotations

import functools
from decimal import Decimal

import attrs

from kbot.fees import FeeRounding, maker_fees_apply, trade_fee

ONE = Decimal(1)
ZERO = Decimal(0)


@attrs.frozen(slots=True)
class SideEV:
    side: str  # yes | no
    price: Decimal  # dollars per contract of ``side``
    count: Decimal
    prob: float  # probability that ``side`` wins
    fee: Decimal  # total fee for ``count`` at ``price``
    fee_per_contract: float
    ev: float  # dollars per contract after fees

    @property
    def cost_per_contract(self) -> float:
        """Price plus fee per contract: the effective price Kelly sizes against."""
        return float(self.price) + self.fee_per_contract


@functools.lru_cache(maxsize=65536)
def _fee(
    count: Decimal, price: Decimal, multiplier: Decimal, maker: bool, rounding: FeeRounding
) -> tuple[Decimal, float]:
    """(total fee, fee per contract): a pure function of cent prices and whole counts, cached
    because the pricers and the decision ask for the same few hundred combinations all day."""
    fee = trade_fee(count, price, multiplier=multiplier, maker=maker, rounding=rounding)
    return fee, float(fee / count)


def side_ev(
    side: str,
    prob_side: float,
    price: Decimal,
    count: Decimal,
    *,
    multiplier: Decimal | None = None,
    rounding: FeeRounding = FeeRounding.CENTICENT,
    maker: bool = False,
) -> SideEV:
    """EV per contract of buying ``count`` of ``side`` at ``price`` (``prob_side`` = P(side wins))."""
    if count <= 0:
        raise ValueError(f"count must be > 0, got {count}")
    fee, fpc = _fee(count, price, ONE if multiplier is None else multiplier, maker, rounding)
    return SideEV(side, price, count, prob_side, fee, fpc, prob_side - float(price) - fpc)


def taker_evs(
    prob_yes: float,
    yes_ask: Decimal | None,
    no_ask: Decimal | None,
    count: Decimal,
    *,
    multiplier: Decimal | None = None,
    rounding: FeeRounding = FeeRounding.CENTICENT,
) -> tuple[SideEV | None, SideEV | None]:
    """``(yes, no)``: EV of buying YES at the YES ask and NO at the NO ask, independently;
    None for a side without a usable ask (missing, or not strictly inside (0, 1))."""

    def one(side: str, q: float, ask: Decimal | None) -> SideEV | None:
        if ask is None or not ZERO < ask < ONE:
            return None
        return side_ev(side, q, ask, count, multiplier=multiplier, rounding=rounding)

    return one("yes", prob_yes, yes_ask), one("no", 1.0 - prob_yes, no_ask)


def taker_ev_values(
    prob_yes: float,
    yes_ask: Decimal | None,
    no_ask: Decimal | None,
    count: Decimal,
    multiplier: Decimal | None,
    rounding: FeeRounding,
) -> tuple[float | None, float | None, float | None, float | None]:
    """``(ev_yes, fee_yes, ev_no, fee_no)`` per contract: the ``ev`` and ``fee_per_contract`` of
    ``taker_evs`` (same arithmetic, same None for a side without a usable ask) without building
    the ``SideEV`` records (every edge a pricer builds)."""
    if count <= 0:
        raise ValueError(f"count must be > 0, got {count}")
    mult = ONE if multiplier is None else multiplier
    ev_yes = fee_yes = ev_no = fee_no = None
    if yes_ask is not None and ZERO < yes_ask < ONE:
        fee_yes = _fee(count, yes_ask, mult, False, rounding)[1]
        ev_yes = prob_yes - float(yes_ask) - fee_yes
    if no_ask is not None and ZERO < no_ask < ONE:
        fee_no = _fee(count, no_ask, mult, False, rounding)[1]
        ev_no = (1.0 - prob_yes) - float(no_ask) - fee_no
    return ev_yes, fee_yes, ev_no, fee_no


def maker_ev(
    side: str,
    prob_side: float,
    price: Decimal,
    count: Decimal,
    *,
    fee_type: str | None,
    multiplier: Decimal | None = None,
    rounding: FeeRounding = FeeRounding.CENTICENT,
) -> SideEV:
    """EV per contract of a resting buy of ``side`` at ``price``, given that it fills."""
    if not maker_fees_apply(fee_type):
        return SideEV(side, price, count, prob_side, ZERO, 0.0, prob_side - float(price))
    return side_ev(side, prob_side, price, count, multiplier=multiplier, rounding=rounding, maker=True)
