"""Venue-level records of the Kalshi REST client that are not actor messages: a parsed market
(reference data + its quote), exchange status, V2 order requests and acknowledgements.

V2 orders speak one YES book: ``side`` is ``bid`` (buy YES) or ``ask`` (sell YES) and ``price`` is
always the YES-leg price. ``OrderRequest.for_outcome`` converts the familiar (action, side, price of
that side) form:

    buy yes @p  -> bid @p        sell no @q -> bid @1-q
    buy no  @q  -> ask @1-q      sell yes @p -> ask @p
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, Literal

import attrs

from kbot.messages import MarketInfo, Quote
from kbot.venues.wire import fmt_count, fmt_dollars

BookSide = Literal["bid", "ask"]
TimeInForce = Literal["fill_or_kill", "good_till_canceled", "immediate_or_cancel"]
Stp = Literal["taker_at_cross", "maker"]

ONE = Decimal(1)


@attrs.frozen(kw_only=True)
class ParsedMarket:
    """One Market object: its reference data and the quote it carries."""

    info: MarketInfo
    quote: Quote


@attrs.frozen(kw_only=True)
class ExchangeStatus:
    exchange_active: bool
    trading_active: bool
    estimated_resume_ts: float | None = None
    index_statuses: tuple[tuple[int, bool, bool], ...] = ()  # (exchange_index, exchange_active, trading_active)


def _put_set(body: dict[str, Any], obj: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    """Add the optional fields of ``obj`` that are set (Kalshi treats absent and null differently)."""
    for key in keys:
        v = getattr(obj, key)
        if v is not None:
            body[key] = v
    return body


def _valid_price(_inst: Any, attribute: attrs.Attribute, value: Decimal) -> None:
    if not (Decimal(0) < value < ONE):
        raise ValueError(f"{attribute.name} must be strictly between 0 and 1 dollars, got {value}")
    fmt_dollars(value)


def _valid_count(_inst: Any, attribute: attrs.Attribute, value: Decimal) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value}")
    fmt_count(value)


@attrs.frozen(kw_only=True)
class OrderRequest:
    """A V2 create-order request (``POST /portfolio/events/orders``)."""

    ticker: str
    side: BookSide
    count: Decimal = attrs.field(validator=_valid_count)
    price: Decimal = attrs.field(validator=_valid_price)  # YES-leg dollars
    time_in_force: TimeInForce = "good_till_canceled"
    self_trade_prevention_type: Stp = "taker_at_cross"
    client_order_id: str = attrs.field(factory=lambda: str(uuid.uuid4()))  # idempotency key (409 on reuse)
    post_only: bool = False
    reduce_only: bool = False
    cancel_order_on_pause: bool = False
    expiration_time: int | None = None  # unix seconds; only with good_till_canceled
    exchange_index: int | None = None  # omitted: auto-route by ticker
    subaccount: int | None = None
    order_group_id: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.side not in ("bid", "ask"):
            raise ValueError(f"side must be 'bid' or 'ask', not {self.side!r}")
        if self.expiration_time is not None and self.time_in_force == "immediate_or_cancel":
            raise ValueError("immediate_or_cancel cannot be combined with an expiration_time")

    @classmethod
    def for_outcome(
        cls, ticker: str, action: Literal["buy", "sell"], outcome: Literal["yes", "no"], count: Decimal, price: Decimal, **kw: Any
    ) -> OrderRequest:
        """From (action, outcome side, price of that side) to the V2 YES-book form."""
        if action not in ("buy", "sell") or outcome not in ("yes", "no"):
            raise ValueError(f"bad action/outcome {action!r}/{outcome!r}")
        buys_yes_exposure = (action == "buy") == (outcome == "yes")
        yes_price = price if outcome == "yes" else ONE - price
        return cls(ticker=ticker, side="bid" if buys_yes_exposure else "ask", count=count, price=yes_price, **kw)

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ticker": self.ticker,
            "client_order_id": self.client_order_id,
            "side": self.side,
            "count": fmt_count(self.count),
            "price": fmt_dollars(self.price),
            "time_in_force": self.time_in_force,
            "self_trade_prevention_type": self.self_trade_prevention_type,
            "post_only": self.post_only,
            "reduce_only": self.reduce_only,
            "cancel_order_on_pause": self.cancel_order_on_pause,
        }
        return _put_set(body, self, ("expiration_time", "exchange_index", "subaccount", "order_group_id"))


@attrs.frozen(kw_only=True)
class AmendRequest:
    """``POST /portfolio/events/orders/{order_id}/amend``: ``count`` is the new *total*
    (already filled + desired remaining)."""

    ticker: str
    side: BookSide
    price: Decimal = attrs.field(validator=_valid_price)
    count: Decimal = attrs.field(validator=_valid_count)
    client_order_id: str | None = None
    updated_client_order_id: str | None = None
    expiration_time: int | None = None  # 0 removes the expiry
    exchange_index: int | None = None

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ticker": self.ticker,
            "side": self.side,
            "price": fmt_dollars(self.price),
            "count": fmt_count(self.count),
        }
        return _put_set(body, self, ("client_order_id", "updated_client_order_id", "expiration_time", "exchange_index"))


@attrs.frozen(kw_only=True)
class CancelItem:
    order_id: str
    market_ticker: str | None = None  # lets Kalshi route to the right shard
    exchange_index: int | None = None
    subaccount: int | None = None

    def to_wire(self) -> dict[str, Any]:
        return _put_set({"order_id": self.order_id}, self, ("market_ticker", "exchange_index", "subaccount"))


@attrs.frozen(kw_only=True)
class OrderAck:
    """Create/amend response: what the matching engine did at once."""

    order_id: str
    client_order_id: str | None
    fill_count: Decimal | None
    remaining_count: Decimal | None
    average_fill_price: Decimal | None = None  # YES-leg dollars
    average_fee_paid: Decimal | None = None  # dollars per contract
    ts: float | None = None  # matching-engine time


@attrs.frozen(kw_only=True)
class CancelAck:
    order_id: str
    client_order_id: str | None
    reduced_by: Decimal  # "0.00": it had already filled or been cancelled
    ts: float | None = None


@attrs.frozen(kw_only=True)
class DecreaseAck:
    order_id: str
    client_order_id: str | None
    remaining_count: Decimal
    ts: float | None = None
