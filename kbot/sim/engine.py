"""The matching engine of one market: Kalshi V2 order semantics on one YES-leg book (pure).

What it does, given ``now`` and an ``out`` list it appends events to (``kbot.sim.events``):

- ``submit``: match an incoming order against the opposite side at the makers' prices, best
  price first, then oldest first (price-time priority); then by time in force:
  ``good_till_canceled`` rests the remainder, ``immediate_or_cancel`` cancels it,
  ``fill_or_kill`` executes only if the whole count can fill now (checked before anything
  trades), else cancels it untouched.
- ``post_only``: an order that would cross is rejected (400 ``invalid_order`` / ``post only
  cross``), nothing changes.
- Self-trade prevention when the taker meets its owner's resting order:
  ``taker_at_cross`` cancels the taker's remainder and stops (fills already made stand);
  ``maker`` cancels the resting order and keeps matching; a remainder left after such a
  match is cancelled rather than rested (Kalshi's V2 text).
- ``cancel``, ``decrease`` (keeps queue priority), ``amend`` (count = new total; a size-down
  keeps priority, a price change or size-up goes to the back and may trade), ``expire``
  (``good_till_canceled`` with ``expiration_time`` reached), ``cancel_all`` (market close).

Validation of prices, counts, balances and market state is the exchange's job; the engine
only enforces what depends on the book.
"""

from __future__ import annotations

import uuid

from kbot.sim.book import (
    ASK,
    BID,
    CANCELED,
    EXECUTED,
    FOK,
    IOC,
    RESTING,
    STP_TAKER,
    Order,
    OrderBook,
)
from kbot.sim.errors import KalshiError
from kbot.sim.events import BookDelta, Match, OrderUpdate

OrderRejected = KalshiError  # what the engine and the exchange raise for a refused order


def _updated(out: list, order: Order, now: float, reason: str | None) -> None:
    """An ``OrderUpdate`` for the order's owner; none for the simulated participants (nobody
    subscribes to their ``user_orders``, and they make most of the book's traffic)."""
    if not order.is_agent:
        out.append(OrderUpdate(order=order, ts=now, reason=reason))


def _crosses(side: str, price: int, opposite_best: int | None) -> bool:
    if opposite_best is None:
        return False
    return price >= opposite_best if side == BID else price <= opposite_best


class MatchingEngine:
    def __init__(self, ticker: str, ids: object | None = None) -> None:
        self.ticker = ticker
        self.book = OrderBook()
        self.resting: dict[str, Order] = {}
        self._ids = ids  # an object with .new_id(); default uuid4

    def _new_id(self) -> str:
        if self._ids is not None:
            return self._ids.new_id()  # type: ignore[attr-defined]
        return str(uuid.uuid4())

    # ------------------------------------------------------------------ submit
    def submit(self, order: Order, now: float, out: list) -> list[Match]:
        """Match ``order`` (already validated) and rest/cancel the remainder per its TIF."""
        opposite = ASK if order.side == BID else BID
        if order.post_only and _crosses(order.side, order.price, self.book.best(opposite)):
            raise OrderRejected(400, "invalid_order", "post only cross", "post only cross")
        order.created_ts = order.created_ts or now
        order.updated_ts = now
        if order.tif == FOK and self.fillable(order) < order.remaining:
            order.status = CANCELED
            order.remaining = 0
            order.last_update_reason = None
            _updated(out, order, now, None)
            return []
        matches, self_cancelled, stopped = self._match(order, now, out)
        if order.remaining > 0:
            if order.tif in (IOC, FOK) or stopped or self_cancelled:
                reason = "SelfTradeCancel" if (stopped or self_cancelled) else None
                self._finish(order, now, reason)
                _updated(out, order, now, reason)
            else:
                self._rest(order, now, out)
                _updated(out, order, now, "Trade" if matches else None)
        else:
            order.status = EXECUTED
            _updated(out, order, now, "Trade")
        return matches

    def fillable(self, order: Order) -> int:
        """How much of ``order`` could execute right now under its STP rule."""
        total = 0
        for price in self.book.crossing_prices(order.side, order.price):
            for maker in self.book.queue(ASK if order.side == BID else BID, price):
                if maker.user_id == order.user_id:
                    if order.stp == STP_TAKER:
                        return total
                    continue
                total += maker.remaining
                if total >= order.remaining:
                    return total
        return total

    def _match(self, taker: Order, now: float, out: list) -> tuple[list[Match], bool, bool]:
        book = self.book
        opposite = ASK if taker.side == BID else BID
        matches: list[Match] = []
        self_cancelled = False
        while taker.remaining > 0:
            best = book.best(opposite)
            if not _crosses(taker.side, taker.price, best):
                break
            assert best is not None
            maker = book.queue(opposite, best)[0]
            if maker.user_id == taker.user_id:
                if taker.stp == STP_TAKER:
                    return matches, self_cancelled, True
                # STP maker: cancel the resting order, keep matching
                self._cancel_resting(maker, now, "SelfTradeCancel", out)
                self_cancelled = True
                continue
            q = min(taker.remaining, maker.remaining)
            book.reduce(maker, q)
            maker.filled += q
            maker.updated_ts = now
            out.append(BookDelta(ticker=self.ticker, side=opposite, price=best, delta=-q, ts=now, order=maker))
            taker.remaining -= q
            taker.filled += q
            m = Match(ticker=self.ticker, trade_id=self._new_id(), price=best, count=q, taker=taker, maker=maker, ts=now)
            matches.append(m)
            out.append(m)
            if maker.remaining == 0:
                maker.status = EXECUTED
                self.resting.pop(maker.order_id, None)
            maker.last_update_reason = "Trade"
            _updated(out, maker, now, "Trade")
        return matches, self_cancelled, False

    def _rest(self, order: Order, now: float, out: list) -> None:
        order.status = RESTING
        order.updated_ts = now
        self.book.add(order)
        self.resting[order.order_id] = order
        out.append(BookDelta(ticker=self.ticker, side=order.side, price=order.price, delta=order.remaining, ts=now, order=order))

    def _finish(self, order: Order, now: float, reason: str | None) -> None:
        """End an order that is not in the book (its remainder is cancelled)."""
        order.remaining = 0
        order.status = CANCELED
        order.updated_ts = now
        order.last_update_reason = reason

    def _cancel_resting(self, order: Order, now: float, reason: str | None, out: list) -> int:
        left = order.remaining
        self.book.remove(order)
        self.resting.pop(order.order_id, None)
        out.append(BookDelta(ticker=self.ticker, side=order.side, price=order.price, delta=-left, ts=now, order=order))
        order.remaining = 0
        order.status = CANCELED
        order.updated_ts = now
        order.last_update_reason = reason
        _updated(out, order, now, reason)
        return left

    # ------------------------------------------------------------------ changes
    def cancel(self, order: Order, now: float, out: list, reason: str | None = None) -> int:
        """Cancel a resting order; returns ``reduced_by`` (0 when it had already ended)."""
        if order.status != RESTING or order.order_id not in self.resting:
            return 0
        return self._cancel_resting(order, now, reason, out)

    def decrease(self, order: Order, new_remaining: int, now: float, out: list) -> None:
        """Reduce a resting order to ``new_remaining`` (0 cancels it); keeps queue priority."""
        if order.status != RESTING or order.order_id not in self.resting:
            raise OrderRejected(400, "invalid_order", "order is not resting")
        if new_remaining < 0 or new_remaining >= order.remaining:
            raise OrderRejected(400, "invalid_parameters", "decrease must reduce the remaining count")
        by = order.remaining - new_remaining
        self.book.reduce(order, by)
        out.append(BookDelta(ticker=self.ticker, side=order.side, price=order.price, delta=-by, ts=now, order=order))
        order.updated_ts = now
        order.last_update_reason = "Decrease"
        if order.remaining == 0:
            order.status = CANCELED
            self.resting.pop(order.order_id, None)
        _updated(out, order, now, "Decrease")

    def amend(
        self, order: Order, price: int, new_total: int, now: float, out: list, expiration_ts: int | None = None
    ) -> list[Match]:
        """Amend price and/or total count (``new_total`` = filled + desired remaining)."""
        if order.status != RESTING or order.order_id not in self.resting:
            raise OrderRejected(400, "invalid_order", "order is not resting")
        new_remaining = new_total - order.filled
        if new_remaining <= 0:
            raise OrderRejected(400, "invalid_parameters", "amended count must exceed the filled count")
        if expiration_ts is not None:
            order.expiration_ts = expiration_ts
        if price == order.price and new_remaining <= order.remaining:
            if new_remaining < order.remaining:
                by = order.remaining - new_remaining
                self.book.reduce(order, by)
                out.append(BookDelta(ticker=self.ticker, side=order.side, price=order.price, delta=-by, ts=now, order=order))
            order.updated_ts = now
            order.last_update_reason = "Amend"
            _updated(out, order, now, "Amend")
            return []
        # loses priority: out of the book, then in again as a new arrival (may trade)
        opposite = ASK if order.side == BID else BID
        if order.post_only and _crosses(order.side, price, self.book.best(opposite)):
            raise OrderRejected(400, "invalid_order", "post only cross", "post only cross")
        left = order.remaining
        self.book.remove(order)
        self.resting.pop(order.order_id, None)
        out.append(BookDelta(ticker=self.ticker, side=order.side, price=order.price, delta=-left, ts=now, order=order))
        order.price = price
        order.remaining = new_remaining
        order.initial = new_total
        order.last_update_reason = "Amend"
        matches, self_cancelled, stopped = self._match(order, now, out)
        if order.remaining > 0 and not (stopped or self_cancelled):
            self._rest(order, now, out)
        elif order.remaining > 0:
            self._finish(order, now, "SelfTradeCancel")
        else:
            order.status = EXECUTED
        _updated(out, order, now, "Amend")
        return matches

    def expire(self, now: float, out: list) -> list[Order]:
        """Cancel resting orders whose ``expiration_time`` has come."""
        due = [o for o in self.resting.values() if o.expiration_ts is not None and o.expiration_ts <= now]
        for o in due:
            self._cancel_resting(o, now, "ExpiryCancel", out)
        return due

    def cancel_all(self, now: float, reason: str, out: list) -> list[Order]:
        orders = list(self.resting.values())
        for o in orders:
            self._cancel_resting(o, now, reason, out)
        return orders
