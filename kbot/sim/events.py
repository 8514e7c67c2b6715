"""What happens inside the simulated exchange, as plain records (no wire format).

The matching engine and the exchange append these to a list; the WebSocket hub turns them
into Kalshi messages, tests read them directly.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from kbot.sim.book import Order


@attrs.frozen(kw_only=True)
class BookDelta:
    """The aggregated size at one YES-leg price level of one book side changed by ``delta`` (c2)."""

    ticker: str
    side: str  # bid | ask (YES leg); on the wire bid -> "yes", ask -> "no"
    price: int  # p4, YES leg
    delta: int  # c2, signed
    ts: float
    order: Order | None = None  # the order that caused it (owner attribution)


@attrs.frozen(kw_only=True)
class Match:
    """One execution between a taker and a resting maker, at the maker's price."""

    ticker: str
    trade_id: str
    price: int  # p4, YES leg
    count: int  # c2
    taker: Order
    maker: Order
    ts: float


@attrs.frozen(kw_only=True)
class OrderUpdate:
    """An order was created, changed size, filled or ended (``user_orders``)."""

    order: Order
    ts: float
    reason: str | None = None  # Kalshi last_update_reason (Trade, SelfTradeCancel, ...)


@attrs.frozen(kw_only=True)
class TradeEvent:
    ticker: str
    trade_id: str
    price: int
    count: int
    taker_side: str  # book side of the taker: bid | ask
    ts: float


@attrs.frozen(kw_only=True)
class FillEvent:
    """One side of a match as its owner sees it (``fill`` channel / ``GET /portfolio/fills``)."""

    user_id: str
    fill_id: str
    trade_id: str
    order: Order
    ticker: str
    side: str  # the owner's order book side
    price: int  # p4 YES leg
    count: int  # c2
    is_taker: bool
    fee: Decimal
    post_position: int  # c2 signed
    exchange_index: int
    ts: float


@attrs.frozen(kw_only=True)
class PositionEvent:
    user_id: str
    ticker: str
    ts: float


@attrs.frozen(kw_only=True)
class TickerEvent:
    ticker: str
    ts: float


@attrs.frozen(kw_only=True)
class LifecycleEvent:
    """``market_lifecycle_v2``: ``event_type`` and the wire ``msg`` fields (already formatted)."""

    ticker: str
    event_type: str
    fields: dict[str, Any]
    ts: float


@attrs.frozen(kw_only=True)
class EventCreated:
    """``event_lifecycle`` on the ``market_lifecycle_v2`` channel."""

    event_ticker: str
    fields: dict[str, Any]
    ts: float


@attrs.frozen(kw_only=True)
class IndexTick:
    """One BRTI-like index value at whole second ``second`` (and its Kalshi averages)."""

    second: int
    cents: int
    received_at_ms: int
    avg_60s: tuple[str, int, int, int]  # value, window_size, window_start_ms, window_end_ms_exclusive
    avg_15min: tuple[str, int, int, int] | None
