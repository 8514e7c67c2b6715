"""Orders and the one-sided-per-leg order book of a market (pure data structure).

Kalshi's V2 order book is **one book in YES-leg prices**: ``bid`` = buy YES at ``price``,
``ask`` = sell YES at ``price`` (economically, buy NO at ``1 - price``). Prices are integers in
$0.0001 (p4) and counts in 0.01 contracts (c2), see ``kbot.sim.wire``.

``OrderBook`` keeps price-time priority: per price level a FIFO of orders, and the sorted price
lists of both sides. Reducing an order's size in place keeps its queue position; anything else
(price change, size increase) is a remove + add at the back.
"""

from __future__ import annotations

import bisect
from collections import deque
from decimal import Decimal

import attrs

from kbot.fees import OrderFeeAccumulator

BID = "bid"
ASK = "ask"

RESTING = "resting"
CANCELED = "canceled"
EXECUTED = "executed"

GTC = "good_till_canceled"
IOC = "immediate_or_cancel"
FOK = "fill_or_kill"
TIME_IN_FORCE = (GTC, IOC, FOK)

STP_TAKER = "taker_at_cross"
STP_MAKER = "maker"
STP_TYPES = (STP_TAKER, STP_MAKER)


@attrs.define(slots=True, eq=False)
class Order:
    order_id: str
    user_id: str
    ticker: str
    side: str  # bid | ask (YES leg)
    price: int  # p4, YES leg
    initial: int  # c2
    tif: str = GTC
    post_only: bool = False
    stp: str = STP_TAKER
    client_order_id: str = ""
    expiration_ts: int | None = None
    reduce_only: bool = False
    exchange_index: int = 0
    subaccount: int = 0
    order_group_id: str | None = None
    cancel_order_on_pause: bool = False
    created_ts: float = 0.0
    updated_ts: float = 0.0
    remaining: int = 0
    filled: int = 0
    status: str = RESTING
    last_update_reason: str | None = None
    taker_cost_u6: int = 0  # dollars * 1e6 of the side bought, taker fills
    maker_cost_u6: int = 0
    taker_fees: Decimal = Decimal(0)
    maker_fees: Decimal = Decimal(0)
    fee_acc: OrderFeeAccumulator = attrs.field(factory=OrderFeeAccumulator)
    reserved_u6: int = 0  # collateral held for the resting part (the exchange's bookkeeping)
    in_book: bool = False
    is_agent: bool = False  # simulated market participants (not an API user)

    def __attrs_post_init__(self) -> None:
        if self.remaining == 0 and self.filled == 0:
            self.remaining = self.initial

    @property
    def outcome_side(self) -> str:
        return "yes" if self.side == BID else "no"

    @property
    def unit_cost_p4(self) -> int:
        """What one contract of this order costs (YES at price for a bid, NO at 1-price for an ask)."""
        return self.price if self.side == BID else 10_000 - self.price

    @property
    def done(self) -> bool:
        return self.status != RESTING


class OrderBook:
    """Bids and asks of one market with price-time priority and aggregated level sizes."""

    __slots__ = ("_levels", "_prices", "_sizes")

    def __init__(self) -> None:
        self._levels: dict[str, dict[int, deque[Order]]] = {BID: {}, ASK: {}}
        self._prices: dict[str, list[int]] = {BID: [], ASK: []}  # ascending
        self._sizes: dict[str, dict[int, int]] = {BID: {}, ASK: {}}

    # ------------------------------------------------------------------ mutation
    def add(self, order: Order) -> None:
        side = order.side
        levels = self._levels[side]
        q = levels.get(order.price)
        if q is None:
            q = levels[order.price] = deque()
            bisect.insort(self._prices[side], order.price)
            self._sizes[side][order.price] = 0
        q.append(order)
        self._sizes[side][order.price] += order.remaining
        order.in_book = True

    def remove(self, order: Order) -> None:
        """Take a resting order out of the book (its current ``remaining`` leaves the level)."""
        side = order.side
        q = self._levels[side][order.price]
        q.remove(order)
        self._sizes[side][order.price] -= order.remaining
        order.in_book = False
        if not q:
            self._drop_level(side, order.price)

    def reduce(self, order: Order, by: int) -> None:
        """Reduce a resting order in place (fills, decreases): keeps queue priority."""
        self._sizes[order.side][order.price] -= by
        order.remaining -= by
        if order.remaining == 0:
            q = self._levels[order.side][order.price]
            q.remove(order)
            order.in_book = False
            if not q:
                self._drop_level(order.side, order.price)

    def _drop_level(self, side: str, price: int) -> None:
        del self._levels[side][price]
        del self._sizes[side][price]
        prices = self._prices[side]
        del prices[bisect.bisect_left(prices, price)]

    # ------------------------------------------------------------------ queries
    def best(self, side: str) -> int | None:
        prices = self._prices[side]
        if not prices:
            return None
        return prices[-1] if side == BID else prices[0]

    def best_bid(self) -> int | None:
        return self.best(BID)

    def best_ask(self) -> int | None:
        return self.best(ASK)

    def size_at(self, side: str, price: int) -> int:
        return self._sizes[side].get(price, 0)

    def queue(self, side: str, price: int) -> deque[Order]:
        return self._levels[side].get(price, deque())

    def levels(self, side: str) -> list[tuple[int, int]]:
        """``[(price, size), ...]`` ascending by price."""
        sizes = self._sizes[side]
        return [(p, sizes[p]) for p in self._prices[side]]

    def crossing_prices(self, taker_side: str, limit: int) -> list[int]:
        """Opposite-side prices a taker at ``limit`` may trade with, best first."""
        if taker_side == BID:
            asks = self._prices[ASK]
            return asks[: bisect.bisect_right(asks, limit)]
        bids = self._prices[BID]
        return bids[bisect.bisect_left(bids, limit) :][::-1]

    def orders(self) -> list[Order]:
        return [o for side in (BID, ASK) for q in self._levels[side].values() for o in q]

    def crossed(self) -> bool:
        b, a = self.best_bid(), self.best_ask()
        return b is not None and a is not None and b >= a

    def total(self, side: str) -> int:
        return sum(self._sizes[side].values())
