"""Paper mode's venue: kbot's orders simulated against the live venue's public book and trades,
never sent anywhere. Pure: books, trades, market terms, settlements and time in; the venue's
answers out. The fill logic is ``kbot.execution.fills``.

- An order meets the book ``latency_s`` after it was submitted (``step`` processes it then):
  taker orders (IOC, FOK) walk the book as it stands at that moment, less what earlier paper
  orders took from it since the book last changed; partial fills when the depth runs out; an
  IOC's remainder is canceled; a FOK takes nothing unless it fills whole; taker fees per level.
- good_till_canceled: the crossing part (if any) takes liquidity as a taker; the rest joins the
  queue at its price (``QueuePosition``) and fills only from trades beyond the queue ahead of
  it, paying the maker fee where the series charges makers. Post-only orders that would cross
  are rejected ("post only cross"), as the venue does.
- Cancels and amends take effect after the latency too, so a fill can land first (as live).
- ``expires_ts`` expires a resting order; the market's close cancels what rests there and
  rejects what arrives later (``market_closed``).
- Its account (a ``kbot.ledger.Book`` of mode ``paper``: cash, netted positions, settlements)
  is "the venue's view" that reconciliation compares the ledger with.

Answers: ``OrderEvent`` (the venue's view of the order: ``resting``, ``filled``, ``canceled``,
``expired``, ``rejected``, with ``filled_count``) and ``Fill`` (mode ``paper``, id
``<order_id>:<n>``), in the order they happened.
"""

from __future__ import annotations

import datetime as dt
import heapq
from decimal import Decimal
from typing import Any

import attrs

from kbot.execution.fills import BookView, QueuePosition, TradeInference, crosses, maker_fee, taker_fees, walk
from kbot.execution.orders import ManagedOrder, OrderSpec
from kbot.execution.reconcile import VenueSnapshot
from kbot.execution.trading import Reply
from kbot.fees import FeeRounding, maker_fees_apply
from kbot.ledger import Book
from kbot.messages import Fill, MarketInfo, MarketSettled, OrderEvent, Quote, Trade, VenueSettlement

ZERO = Decimal(0)
ONE = Decimal(1)
UNKNOWN_QUEUE = Decimal("Infinity")  # a resting order placed before any book was seen


def _day(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).date().isoformat()


@attrs.frozen(kw_only=True)
class MarketTerms:
    fee_multiplier: Decimal = ONE
    maker_fees: bool = False
    close_ts: float | None = None


@attrs.define(kw_only=True)
class _Order:
    order_id: str
    cid: str
    spec: OrderSpec
    count: Decimal
    price: Decimal
    created_ts: float
    status: str = "pending"  # pending (before the latency) | resting | done
    filled: Decimal = ZERO
    n_fills: int = 0
    queue: QueuePosition | None = None
    expires_ts: float | None = None
    done_ts: float | None = None


@attrs.frozen(kw_only=True, order=True)
class _Due:
    ts: float
    seq: int
    kind: str = attrs.field(order=False)  # arrive | cancel | amend
    order_id: str = attrs.field(order=False)
    price: Decimal | None = attrs.field(default=None, order=False)
    count: Decimal | None = attrs.field(default=None, order=False)


class PaperVenue:
    def __init__(self, *, latency_s: float = 0.25, shrink_queue: bool = True,
                 rounding: FeeRounding = FeeRounding.CENTICENT, infer_trades: bool = False) -> None:
        self.latency_s = latency_s
        self.shrink_queue = shrink_queue
        self.infer_trades = infer_trades
        self.inference = TradeInference()
        self.rounding = rounding
        self.books: dict[str, BookView] = {}
        self._depth_seen: set[str] = set()
        self.consumed: dict[str, dict[tuple[str, Decimal], Decimal]] = {}
        self.terms: dict[str, MarketTerms] = {}
        self.orders: dict[str, _Order] = {}
        self._due: list[_Due] = []
        self._seq = 0
        self.account = Book("paper")
        self.settlements: dict[str, VenueSettlement] = {}
        self.closed: set[str] = set()

    # ------------------------------------------------------------------ market data

    def on_quote(self, q: Quote) -> list[Any]:
        """A book from the live venue. Depth (``source="book"``) is used when there is any;
        a top-of-book quote stands in only for markets without depth. Markets without a trade
        channel get trades inferred from the ticker channel's volume (``infer_trades``;
        ``kbot.execution.fills.TradeInference``), applied after the book they came with."""
        t = q.ticker
        inferred = self.inference.on_quote(q) if self.infer_trades else None
        if q.stale:
            self.books.pop(t, None)
            return []
        if q.yes_asks or q.no_asks:
            self._depth_seen.add(t)
            book = BookView.from_quote(q)
        elif t in self._depth_seen:
            return self.on_trade(inferred) if inferred is not None else []
        else:
            yes = ((q.yes_ask, q.yes_ask_size),) if q.yes_ask is not None and q.yes_ask_size else ()
            no_size = q.yes_bid_size
            no = ((q.no_ask, no_size),) if q.no_ask is not None and no_size else ()
            book = BookView(ticker=t, yes_asks=yes, no_asks=no, ts=q.ts, top_only=True)
        self.books[t] = book
        self.consumed.pop(t, None)
        for o in self.orders.values():
            if o.status == "resting" and o.spec.ticker == t and o.queue is not None:
                o.queue.on_book(book)
        return self.on_trade(inferred) if inferred is not None else []

    def on_market(self, m: MarketInfo) -> None:
        self.terms[m.ticker] = MarketTerms(fee_multiplier=m.fee_multiplier or ONE,
                                           maker_fees=maker_fees_apply(m.fee_type), close_ts=m.close_ts)

    def on_trade(self, tr: Trade) -> list[Any]:
        self.inference.on_trade(tr)
        out: list[Any] = []
        for o in list(self.orders.values()):
            if o.status != "resting" or o.spec.ticker != tr.ticker or o.queue is None:
                continue
            n = o.queue.on_trade(tr)
            if n > ZERO:
                terms = self.terms.get(o.spec.ticker, MarketTerms())
                fee = maker_fee(o.price, n, charged=terms.maker_fees, multiplier=terms.fee_multiplier,
                                rounding=self.rounding)
                out.append(self._fill(o, o.price, n, fee, taker=False, ts=tr.ts))
                if o.filled >= o.count:
                    o.status = "done"
                    out.append(self._event(o, "filled", tr.ts))
        return out

    def on_settled(self, s: MarketSettled) -> list[Any]:
        """The market's outcome: what rests there is canceled, the account's position paid out."""
        out = self._close(s.ticker, s.ts, "market_settled")
        self.closed.add(s.ticker)
        self.inference.forget(s.ticker)
        p = self.account.position(s.ticker)
        if s.ticker not in self.settlements and p is not None and p.status == "open":
            res = self.account.settle(s, _day(s.ts))
            revenue = sum((e.amount for e in res.entries if e.kind == "settlement"), ZERO)
            yes, no = (p.count, ZERO) if p.side == "yes" else (ZERO, p.count)
            self.settlements[s.ticker] = VenueSettlement(
                ts=s.ts, ticker=s.ticker, event_ticker=None, result=s.result, yes_count=yes, no_count=no,
                yes_cost=p.cost if p.side == "yes" else ZERO, no_cost=p.cost if p.side == "no" else ZERO,
                revenue=revenue, fee=ZERO, value=s.settlement_value)
        return out

    # ------------------------------------------------------------------ orders

    def _push(self, ts: float, kind: str, order_id: str, price: Decimal | None = None, count: Decimal | None = None) -> None:
        self._seq += 1
        heapq.heappush(self._due, _Due(ts=ts, seq=self._seq, kind=kind, order_id=order_id, price=price, count=count))

    def submit(self, cid: str, spec: OrderSpec, now: float) -> str:
        """Accept an order; it meets the book after the latency. Returns its venue id."""
        if spec.action != "buy":
            raise ValueError("paper orders are buys of a side (a sale of YES is a buy of NO)")
        order_id = f"paper-{cid}"
        if order_id in self.orders:
            raise ValueError(f"duplicate client order id {cid}")
        self.orders[order_id] = _Order(order_id=order_id, cid=cid, spec=spec, count=spec.count, price=spec.price,
                                       created_ts=now, expires_ts=spec.expires_ts)
        self._push(now + self.latency_s, "arrive", order_id)
        return order_id

    def cancel(self, order_id: str, now: float) -> bool:
        o = self.orders.get(order_id)
        if o is None or o.status == "done":
            return False
        self._push(now + self.latency_s, "cancel", order_id)
        return True

    def amend(self, order_id: str, *, price: Decimal, count: Decimal, now: float) -> bool:
        """New limit price and new *total* size (filled + remaining), as Kalshi's amend."""
        o = self.orders.get(order_id)
        if o is None or o.status == "done" or count <= o.filled:
            return False
        self._push(now + self.latency_s, "amend", order_id, price=price, count=count)
        return True

    def next_due(self) -> float | None:
        times = [self._due[0].ts] if self._due else []
        for o in self.orders.values():
            if o.status == "resting" and o.expires_ts is not None:
                times.append(o.expires_ts)
        for t, terms in self.terms.items():
            if terms.close_ts is not None and t not in self.closed and self._rests_in(t):
                times.append(terms.close_ts)
        return min(times) if times else None

    def _rests_in(self, ticker: str) -> bool:
        return any(o.status == "resting" and o.spec.ticker == ticker for o in self.orders.values())

    def step(self, now: float) -> list[Any]:
        """Everything due by ``now``, in time order."""
        out: list[Any] = []
        while self._due and self._due[0].ts <= now:
            d = heapq.heappop(self._due)
            o = self.orders.get(d.order_id)
            if o is None or o.status == "done":
                continue
            if d.kind == "arrive":
                out.extend(self._arrive(o, d.ts))
            elif d.kind == "cancel":
                out.extend(self._end(o, "canceled", d.ts, "canceled"))
            elif d.kind == "amend" and d.price is not None and d.count is not None:
                out.extend(self._amend(o, d.price, d.count, d.ts))
        for o in list(self.orders.values()):
            if o.status == "resting" and o.expires_ts is not None and o.expires_ts <= now:
                out.extend(self._end(o, "expired", o.expires_ts, "expired"))
        for t, terms in self.terms.items():
            if terms.close_ts is not None and terms.close_ts <= now and t not in self.closed:
                self.closed.add(t)
                out.extend(self._close(t, terms.close_ts, "market_closed"))
        return out

    def _close(self, ticker: str, ts: float, reason: str) -> list[Any]:
        out: list[Any] = []
        for o in list(self.orders.values()):
            if o.spec.ticker == ticker and o.status != "done":
                out.extend(self._end(o, "canceled", ts, reason))
        return out

    def _arrive(self, o: _Order, ts: float) -> list[Any]:
        t = o.spec.ticker
        terms = self.terms.get(t, MarketTerms())
        if t in self.closed or (terms.close_ts is not None and ts >= terms.close_ts):
            return self._end(o, "rejected", ts, "market_closed")
        book = self.books.get(t)
        tif = o.spec.time_in_force
        if tif == "good_till_canceled":
            if book is not None and o.spec.post_only and crosses(book, o.spec.side, o.price):
                return self._end(o, "rejected", ts, "post only cross")
            out = self._take(o, book, ts) if book is not None else []
            if o.filled < o.count:
                o.status = "resting"
                queue = QueuePosition(side=o.spec.side, price=o.price, remaining=o.count - o.filled,
                                      queue_ahead=book.displayed_bid(o.spec.side, o.price) if book else UNKNOWN_QUEUE,
                                      shrink=self.shrink_queue)
                o.queue = queue
                out.append(self._event(o, "resting", ts))
            else:
                o.status = "done"
                out.append(self._event(o, "filled", ts))
            return out
        if book is None:
            return self._end(o, "canceled", ts, "no_book")
        if tif == "fill_or_kill":
            w = walk(book, o.spec.side, o.count, o.price, self._consumed(t, o.spec.side))
            if w.remaining > ZERO:
                return self._end(o, "canceled", ts, "fill_or_kill: not enough depth")
        out = self._take(o, book, ts)
        if o.filled >= o.count:
            o.status = "done"
            out.append(self._event(o, "filled", ts))
        else:
            out.extend(self._end(o, "canceled", ts, "immediate_or_cancel remainder"))
        return out

    def _consumed(self, ticker: str, side: str) -> dict[Decimal, Decimal]:
        c = self.consumed.get(ticker, {})
        return {p: n for (s, p), n in c.items() if s == side}

    def _take(self, o: _Order, book: BookView, ts: float) -> list[Any]:
        side = o.spec.side
        w = walk(book, side, o.count - o.filled, o.price, self._consumed(o.spec.ticker, side))
        terms = self.terms.get(o.spec.ticker, MarketTerms())
        fees = taker_fees(w.fills, multiplier=terms.fee_multiplier, rounding=self.rounding)
        used = self.consumed.setdefault(o.spec.ticker, {})
        out: list[Any] = []
        for (price, n), fee in zip(w.fills, fees, strict=True):
            used[(side, price)] = used.get((side, price), ZERO) + n
            out.append(self._fill(o, price, n, fee, taker=True, ts=ts))
        return out

    def _amend(self, o: _Order, price: Decimal, count: Decimal, ts: float) -> list[Any]:
        if count <= o.filled:
            return []
        o.price, o.count = price, count
        book = self.books.get(o.spec.ticker)
        out: list[Any] = []
        if o.status == "resting":
            if book is not None and crosses(book, o.spec.side, price):
                if o.spec.post_only:
                    return self._end(o, "canceled", ts, "post only cross")
                out.extend(self._take(o, book, ts))
            if o.filled >= o.count:
                o.status = "done"
                out.append(self._event(o, "filled", ts))
                return out
            if o.queue is not None:
                o.queue.amend(book, price=price, remaining=o.count - o.filled)
        out.append(self._event(o, o.status if o.status != "pending" else "resting", ts))
        return out

    def _end(self, o: _Order, status: str, ts: float, reason: str) -> list[Any]:
        o.status = "done"
        o.done_ts = ts
        o.queue = None
        return [self._event(o, status, ts, reason)]

    def _fill(self, o: _Order, price: Decimal, n: Decimal, fee: Decimal, *, taker: bool, ts: float) -> Fill:
        o.n_fills += 1
        o.filled += n
        if o.queue is not None:
            o.queue.remaining = o.count - o.filled
        f = Fill(fill_id=f"{o.order_id}:{o.n_fills}", order_id=o.order_id, ts=ts, ticker=o.spec.ticker,
                 side=o.spec.side, action="buy", count=n, price=price, fee=fee, is_taker=taker, mode="paper")
        self.account.apply_fill(f, _day(ts))
        return f

    def event_of(self, order_id: str, status: str, ts: float) -> OrderEvent | None:
        o = self.orders.get(order_id)
        return self._event(o, status, ts) if o is not None else None

    def _event(self, o: _Order, status: str, ts: float, reason: str | None = None) -> OrderEvent:
        return OrderEvent(ts=ts, order_id=o.order_id, client_order_id=o.cid, decision_id=None, ticker=o.spec.ticker,
                          side=o.spec.side, action="buy", count=o.count, price=o.price, status=status, mode="paper",
                          filled_count=o.filled, reason=reason)

    # ------------------------------------------------------------------ the account

    def seed(self, positions: dict[str, Decimal], cash: Decimal, ts: float) -> None:
        """Start the account where the ledger is (carried positions and cash)."""
        self.account.adjust_cash(cash - self.account.cash, ts, "seed")
        held = self.account.signed_positions()
        for t, yes in positions.items():
            if yes != held.get(t, ZERO):
                self.account.adjust_position(t, yes - held.get(t, ZERO), ts, "seed")

    def resting(self) -> dict[str, OrderEvent]:
        return {o.order_id: self._event(o, "resting", o.created_ts) for o in self.orders.values() if o.status == "resting"}

    def forget_finished(self, before: float) -> None:
        """Drop orders finished before ``before`` (memory stays bounded)."""
        for oid in [oid for oid, o in self.orders.items() if o.status == "done" and (o.done_ts or o.created_ts) < before]:
            del self.orders[oid]


class PaperGateway:
    """``PaperVenue`` behind the executor's ``Gateway`` interface."""

    def __init__(self, venue: PaperVenue) -> None:
        self.venue = venue

    async def place(self, cid: str, spec: OrderSpec, now: float) -> Reply:
        return Reply(kind="accepted", order_id=self.venue.submit(cid, spec, now))

    async def cancel(self, orders: list[ManagedOrder], now: float) -> list[Reply]:
        # accepted: takes effect after the latency (the venue's event says when)
        return [Reply(kind="ack") if o.order_id is not None and self.venue.cancel(o.order_id, now)
                else Reply(kind="not_found") for o in orders]

    async def amend(self, o: ManagedOrder, price: Decimal, count: Decimal, now: float) -> Reply:
        ok = o.order_id is not None and self.venue.amend(o.order_id, price=price, count=count, now=now)
        return Reply(kind="ack", order_id=o.order_id) if ok else Reply(kind="rejected", reason="cannot amend")

    async def decrease(self, o: ManagedOrder, to: Decimal, now: float) -> Reply:
        return await self.amend(o, o.price, o.filled + to, now)

    async def query(self, o: ManagedOrder, now: float) -> Reply:
        return await self.lookup(o.order_id or f"paper-{o.client_order_id}", now)

    async def lookup(self, order_id: str, now: float) -> Reply:
        po = self.venue.orders.get(order_id)
        if po is None:
            return Reply(kind="not_found")
        status = {"pending": "pending", "resting": "resting"}.get(po.status, "canceled")
        if po.status == "done" and po.filled >= po.count:
            status = "filled"
        return Reply(kind="ack", order_id=order_id, order=self.venue.event_of(order_id, status, now))

    async def snapshot(self, now: float) -> VenueSnapshot:
        v = self.venue
        v.forget_finished(now - 3600.0)
        return VenueSnapshot(ts=now, positions=v.account.signed_positions(), orders=v.resting(), balance=v.account.cash,
                             settlements=dict(v.settlements))

    async def confirm(self, tickers: list[str], now: float) -> dict[str, Decimal | None]:
        held = self.venue.account.signed_positions()
        return {t: held.get(t, ZERO) if t in self.venue.account.positions else None for t in tickers}

    async def poll_fills(self, since: float, now: float, ticker: str | None = None) -> list[Fill] | None:
        return []  # paper fills arrive as venue events

    async def recent_orders(self, since: float, now: float) -> list[OrderEvent] | None:
        return []  # a paper venue lives only as long as its process

    def on_data(self, msg: Any) -> list[Any]:
        v = self.venue
        if isinstance(msg, Quote):
            return v.on_quote(msg)
        if isinstance(msg, Trade):
            return v.on_trade(msg)
        if isinstance(msg, MarketInfo):
            v.on_market(msg)
            return []
        if isinstance(msg, MarketSettled):
            return v.on_settled(msg)
        return []

    def step(self, now: float) -> list[Any]:
        return self.venue.step(now)

    def next_due(self) -> float | None:
        return self.venue.next_due()

    def seed(self, positions: dict[str, Decimal], cash: Decimal, now: float) -> None:
        self.venue.seed(positions, cash, now)
