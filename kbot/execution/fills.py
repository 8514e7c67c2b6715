"""Fill models: how an order would fill against a market's displayed book and its trades.

Pure (no I/O, no clock): a book and trades in, fills out. Paper mode (``kbot.execution.paper``)
runs them against the live venue's public data; replay/backtest and a maker strategy can run
the same functions on recorded data.

Conventions
-----------
- Prices are dollars of the side traded (a YES price for YES, a NO price for NO), ``Decimal``;
  counts are ``Decimal`` contracts. ``Side`` is ``"yes"`` or ``"no"``.
- ``BookView``: one market's book as kbot's local order book publishes it in
  ``Quote.yes_asks`` / ``Quote.no_asks`` (ask ladders of both sides, best first). Kalshi keeps
  one book of bids: a YES ask at p is a NO bid at 1 - p, so the bids of a side are the other
  side's asks mirrored (``BookView.bids``). ``BookView.from_quote(q)`` builds it.
- Trades are ``kbot.messages.Trade``: ``yes_price`` and ``taker_side``, the side the taker
  *bought* (a YES taker lifted a YES ask, i.e. hit a NO bid).

Taker orders
------------
``walk(book, side, count, limit)`` takes the asks of ``side`` from the best while the price is
at or under ``limit``; it stops when the size is filled or the depth (within the limit) runs
out: a partial fill. ``Walk.fills`` is one ``(price, count)`` per level touched (Kalshi fills
and charges each level separately); ``Walk.remaining`` is what was not filled. Fill-or-kill:
``walk`` first, and take nothing unless ``Walk.remaining`` is 0. ``taker_fees`` prices each
level with ``kbot.fees.trade_fee``.

Resting orders (the queue-position model)
-----------------------------------------
``QueuePosition``: a resting buy of ``side`` at ``price`` joins the queue behind
``queue_ahead`` = the size displayed at that price when it arrived (``displayed_at``). Then:

- ``on_trade(trade)`` -> contracts filled: only trades whose taker bought the *other* side
  reach our bid. A trade at our price first eats the queue ahead of us; only the excess fills
  us. A trade at a price better for its taker than ours (through our level) means everything
  at our price traded first: it fills us directly, up to its size.
- An order placed with no book known joins an unknown queue (``queue_ahead`` infinite): the
  first book sets it; until then only trades through its price fill it.
- ``on_book(displayed)``: when the size displayed at our price falls below ``queue_ahead``,
  the queue ahead shrinks to it (cancellations ahead of us; the usual optimistic assumption,
  as in NautilusTrader's and prediction-market-backtesting's queue models). Off with
  ``shrink=False``.

Trades inferred from the ticker channel
---------------------------------------
Where no trade channel was recorded (the organics KXBTC15M captures), ``TradeInference`` makes
trades out of the ticker channel's cumulative ``volume``: the volume added between two ticker
messages of a market is one trade of that many contracts at the later message's last trade
price (``Quote.last_price``), its taker side read against the earlier message's top of book: a
price at or under the bid was a seller (the taker bought NO), at or over the ask a buyer (the
taker bought YES), strictly inside the nearer touch decides, and a price exactly at the mid is
not used (counted: ``unclassified``). Volume that traded at several prices within one interval
is all put at the last one; a volume that goes down (a new subscription) restarts the count. A
market that has real trades (``Trade`` messages) is never inferred.

A book built from the ticker channel only knows the top of book (``BookView.top_only``): the
size displayed below the best bid is unknown, so a bid placed there joins an unknown queue
(``queue_ahead`` infinite) and fills only from trades through its price.

``crosses(book, side, price)``: whether a buy of ``side`` at ``price`` would trade at once (a
post-only order that would is rejected, as the venue does). Maker fills are charged the maker
fee where the series charges makers (``kbot.fees.maker_fees_apply``), else nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import attrs

from kbot.fees import FeeRounding, trade_fee
from kbot.messages import Levels, Quote, Side, Trade

ZERO = Decimal(0)
ONE = Decimal(1)
UNKNOWN = Decimal("Infinity")  # a queue of unknown length


def other(side: Side) -> Side:
    return "no" if side == "yes" else "yes"


@attrs.frozen(kw_only=True)
class BookView:
    """The displayed book of one market: ask ladders of both sides, best (lowest) first."""

    ticker: str
    yes_asks: Levels = ()
    no_asks: Levels = ()
    ts: float = 0.0
    top_only: bool = False  # only the top of book is known (a ticker-channel book): deeper sizes unknown

    @classmethod
    def from_quote(cls, q: Quote) -> BookView:
        return cls(ticker=q.ticker, yes_asks=q.yes_asks, no_asks=q.no_asks, ts=q.ts)

    def asks(self, side: Side) -> Levels:
        return self.yes_asks if side == "yes" else self.no_asks

    def bids(self, side: Side) -> Levels:
        """Bids of ``side``, best (highest) first: the other side's asks mirrored."""
        return tuple((ONE - p, n) for p, n in self.asks(other(side)))

    def best_ask(self, side: Side) -> Decimal | None:
        asks = self.asks(side)
        return asks[0][0] if asks else None

    def displayed_bid(self, side: Side, price: Decimal) -> Decimal:
        """Size displayed on the bid of ``side`` at exactly ``price`` (infinite: unknown, a price
        under the best bid of a top-only book)."""
        bids = self.bids(side)
        for p, n in bids:
            if p == price:
                return n
        if self.top_only and (not bids or price < bids[0][0]):
            return UNKNOWN
        return ZERO


@attrs.frozen(kw_only=True)
class Walk:
    fills: tuple[tuple[Decimal, Decimal], ...]  # (price, count) per level touched, best first
    remaining: Decimal

    @property
    def filled(self) -> Decimal:
        return sum((n for _, n in self.fills), ZERO)


def walk_levels(asks: Iterable[tuple[Decimal, Decimal]], count: Decimal, limit: Decimal | None,
                consumed: dict[Decimal, Decimal] | None = None) -> Walk:
    """A taker buy of ``count`` contracts from ``asks`` (one side's ask levels, best first) at up
    to ``limit`` (None: any price shown). ``consumed``: size already taken from a level by earlier
    simulated orders (the displayed book does not know them); it is read, not changed. Levels
    with no size or a price outside (0, 1) are skipped: a price the book did not really show is
    never used. The one taker walk of kbot: paper mode, replay fills and strategies use it."""
    left = count
    out: list[tuple[Decimal, Decimal]] = []
    for price, size in asks:
        if left <= ZERO or (limit is not None and price > limit):
            break
        if not ZERO < price < ONE:
            continue
        avail = size - (consumed.get(price, ZERO) if consumed else ZERO)
        if avail <= ZERO:
            continue
        take = min(left, avail)
        out.append((price, take))
        left -= take
    return Walk(fills=tuple(out), remaining=left)


def walk(book: BookView, side: Side, count: Decimal, limit: Decimal,
         consumed: dict[Decimal, Decimal] | None = None) -> Walk:
    """A taker buy of ``count`` contracts of ``side`` at up to ``limit`` (``walk_levels`` on the
    side's asks)."""
    return walk_levels(book.asks(side), count, limit, consumed)


def taker_fees(fills: Iterable[tuple[Decimal, Decimal]], *, multiplier: Decimal = ONE,
               rounding: FeeRounding = FeeRounding.CENTICENT) -> tuple[Decimal, ...]:
    """The taker fee of each ``(price, count)`` fill."""
    return tuple(trade_fee(n, p, multiplier=multiplier, rounding=rounding) for p, n in fills)


def maker_fee(price: Decimal, count: Decimal, *, charged: bool, multiplier: Decimal = ONE,
              rounding: FeeRounding = FeeRounding.CENTICENT) -> Decimal:
    """A maker fill's fee: the maker fee where the series charges makers, else nothing."""
    return trade_fee(count, price, multiplier=multiplier, maker=True, rounding=rounding) if charged else ZERO


def crosses(book: BookView, side: Side, price: Decimal) -> bool:
    """Would a buy of ``side`` at ``price`` trade at once (an ask at or under it)?"""
    best = book.best_ask(side)
    return best is not None and best <= price


def trade_price(trade: Trade, side: Side) -> Decimal:
    """A trade's price in ``side``'s terms."""
    return trade.yes_price if side == "yes" else ONE - trade.yes_price


@attrs.define(kw_only=True)
class QueuePosition:
    """A resting buy of ``side`` at ``price`` for ``remaining`` contracts, behind ``queue_ahead``."""

    side: Side
    price: Decimal
    remaining: Decimal
    queue_ahead: Decimal
    shrink: bool = True

    @classmethod
    def join(cls, book: BookView, side: Side, price: Decimal, count: Decimal, *, shrink: bool = True) -> QueuePosition:
        """Join at the back of the displayed queue at ``price``."""
        return cls(side=side, price=price, remaining=count, queue_ahead=book.displayed_bid(side, price), shrink=shrink)

    def on_trade(self, trade: Trade) -> Decimal:
        """Contracts of ours this trade filled (0 when it did not reach us)."""
        if self.remaining <= ZERO or trade.count <= ZERO or trade.taker_side != other(self.side):
            return ZERO
        # the taker bought the other side: in our side's terms it sold to the best bid
        p = trade_price(trade, self.side)
        if p > self.price:
            return ZERO  # a better bid than ours traded
        size = trade.count
        if p == self.price:
            eaten = min(size, self.queue_ahead)
            self.queue_ahead -= eaten
            size -= eaten
        else:
            self.queue_ahead = ZERO  # traded through our level: everything at our price went first
        filled = min(size, self.remaining)
        self.remaining -= filled
        return filled

    def on_book(self, book: BookView) -> None:
        # joined without a book (queue unknown: infinite), the first book sets it
        if self.shrink or self.queue_ahead.is_infinite():
            self.queue_ahead = min(self.queue_ahead, book.displayed_bid(self.side, self.price))

    def amend(self, book: BookView | None, *, price: Decimal, remaining: Decimal) -> None:
        """A size-down at the same price keeps the place in the queue; a new price, or more
        size, goes to the back of the queue at the new price."""
        if price == self.price and remaining <= self.remaining:
            self.remaining = remaining
            return
        self.price = price
        self.remaining = remaining
        self.queue_ahead = book.displayed_bid(self.side, price) if book is not None else ZERO


def infer_trade(ticker: str, prev_volume: Decimal, prev_bid: Decimal | None, prev_ask: Decimal | None,
                q: Quote) -> Trade | str | None:
    """The trade the ticker message ``q`` implies after a message with ``prev_volume`` and top
    of book ``prev_bid``/``prev_ask`` (module docstring): a ``Trade``, None (no volume added),
    or why a volume could not be used (``no_price``, ``unclassified``)."""
    if q.volume is None or q.volume <= prev_volume:
        return None
    price = q.last_price
    if price is None or not ZERO < price < ONE:
        return "no_price"
    taker: str | None = None
    if prev_bid is not None and price <= prev_bid:
        taker = "no"  # sold YES into the bids
    elif prev_ask is not None and price >= prev_ask:
        taker = "yes"
    elif prev_bid is not None and prev_ask is not None:
        mid2 = prev_bid + prev_ask
        taker = "yes" if 2 * price > mid2 else "no" if 2 * price < mid2 else None
    if taker is None:
        return "unclassified"
    count = q.volume - prev_volume
    return Trade(ts=q.ts, ticker=ticker, trade_id=f"inferred-{ticker}-{q.volume}", yes_price=price, count=count,
                 taker_side=taker, recv_ts=q.recv_ts)


@attrs.define
class TradeInference:
    """Trades from the ticker channel's volume, per market, for markets without a trade channel."""

    last: dict[str, tuple[Decimal, Decimal | None, Decimal | None]] = attrs.field(factory=dict)
    real: set[str] = attrs.field(factory=set)
    counts: dict[str, int] = attrs.field(factory=dict)

    def on_trade(self, trade: Trade) -> None:
        if not trade.trade_id.startswith("inferred-"):
            self.real.add(trade.ticker)
            self.last.pop(trade.ticker, None)

    def on_quote(self, q: Quote) -> Trade | None:
        if q.source != "ticker" or q.volume is None or q.ticker in self.real:
            return None
        prev = self.last.get(q.ticker)
        self.last[q.ticker] = (q.volume, q.yes_bid, q.yes_ask)
        if prev is None:
            return None
        got = infer_trade(q.ticker, prev[0], prev[1], prev[2], q)
        if isinstance(got, str):
            self.counts[got] = self.counts.get(got, 0) + 1
            return None
        if got is not None:
            self.counts["inferred"] = self.counts.get("inferred", 0) + 1
        return got

    def forget(self, ticker: str) -> None:
        self.last.pop(ticker, None)
