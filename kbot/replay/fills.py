"""Taker fills against a recorded order book (pure).

A TAKE in a replay is a marketable limit order (IOC): it buys ``count`` contracts of one side at
prices up to its ``limit`` (the ask the decision saw), taking the book's ask levels best first
as they stood when the order arrived. It fills partially when the depth up to the limit runs
out, and not at all when the best ask moved above the limit. Each level taken is one fill whose
fee is Kalshi's taker fee for that fill (``kbot.fees.trade_fee``). A price the book did not show
is never used.

``FillModel`` is the narrow interface a replay's executor calls; ``BookWalk`` is this module's
implementation, on the one taker walk of ``kbot.execution.fills`` (``walk_levels``, which paper
mode uses too), with the reasons a replay reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol

import attrs

from kbot.execution.fills import taker_fees, walk_levels
from kbot.fees import FeeRounding

ZERO = Decimal(0)
ONE = Decimal(1)


@attrs.frozen(kw_only=True)
class TakerOrder:
    ticker: str
    side: str  # yes | no: the side bought
    count: Decimal
    limit: Decimal | None  # highest price paid per contract (None: any price the book shows)
    fee_multiplier: Decimal = ONE


@attrs.frozen(kw_only=True)
class LevelFill:
    price: Decimal
    count: Decimal
    fee: Decimal


@attrs.frozen(kw_only=True)
class TakerResult:
    fills: tuple[LevelFill, ...]
    filled: Decimal
    unfilled: Decimal
    reason: str | None = None  # why not (fully) filled: no_book | above_limit | depth

    @property
    def cost(self) -> Decimal:
        return sum((f.price * f.count for f in self.fills), ZERO)

    @property
    def fees(self) -> Decimal:
        return sum((f.fee for f in self.fills), ZERO)


class FillModel(Protocol):
    def take(self, order: TakerOrder, asks: Sequence[tuple[Decimal, Decimal]] | None) -> TakerResult:
        """Fill ``order`` against ``asks`` (the side's ask levels, cheapest first; None: no book)."""
        ...


def walk(order: TakerOrder, asks: Sequence[tuple[Decimal, Decimal]] | None, *,
         rounding: FeeRounding = FeeRounding.CENTICENT) -> TakerResult:
    """Take ``order.count`` from ``asks`` best first, never above ``order.limit``."""
    if asks is None:
        return TakerResult(fills=(), filled=ZERO, unfilled=order.count, reason="no_book")
    w = walk_levels(asks, order.count, order.limit)
    fees = taker_fees(w.fills, multiplier=order.fee_multiplier, rounding=rounding)
    fills = tuple(LevelFill(price=p, count=n, fee=fee) for (p, n), fee in zip(w.fills, fees, strict=True))
    left = w.remaining
    reason = None
    if left > 0:
        if not fills:
            best = next((p for p, s in asks if s > 0), None)
            reason = "above_limit" if best is not None else "no_book"
        else:
            reason = "depth"
    return TakerResult(fills=fills, filled=order.count - left, unfilled=left, reason=reason)


@attrs.frozen
class BookWalk:
    """``FillModel``: ``walk`` with the configured fee rounding."""

    rounding: FeeRounding = FeeRounding.CENTICENT

    def take(self, order: TakerOrder, asks: Sequence[tuple[Decimal, Decimal]] | None) -> TakerResult:
        return walk(order, asks, rounding=self.rounding)
