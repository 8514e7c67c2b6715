"""The maker's executor: quote targets in, post-only orders moved to them (shadow, paper, live).

Implements ``kbot.execution.Executor`` for the executor actor. A ``QuoteTarget`` (from the maker
actor) replaces the market's previous one and is applied at once: ``quote_intents`` compares it
with the maker's orders in that market (the order manager's view), ``QuoteThrottle`` admits the
intents (rate limit, max open orders), and the admitted ones go through the execution package:
``TradingExecutor.place`` (a post-only good-till-canceled buy of the side, guarded like a TAKE:
kill switch, reconciliation, halts, close cutoff), ``amend`` (cancel/replace in one request)
and ``cancel``. What had to wait is applied again at ``tick`` when a token is due or the
order it waited on is acknowledged.

- shadow: nothing is sent; the actions are recorded as if every request succeeded at once
  (``QuoteAction`` with mode ``shadow``), so the record shows what the maker would do.
- paper: the paper venue (``kbot.execution.paper``) fills the quotes from the queue model.
- live: Kalshi's V2 order endpoints, after the same double opt-in as the taker path.

Hard limits checked here as well as in the plan (the ledger's positions the plan used lag the
fills by a message): no YES bid that would take the market's net position past
``quote.max_position`` counting the fills the order manager has applied, and no NO bid either way.

Every place, replace, cancel, refusal, deferral and fill of a quote is a ``QuoteAction``
(recorded in ``maker_actions``). Decisions (TAKEs) are ignored: in maker mode there are none.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from decimal import Decimal
from typing import Any

from loguru import logger

from kbot.execution.orders import OrderSpec, OrderState
from kbot.execution.trading import TradingExecutor
from kbot.messages import Decision, Fill, Mode, OrderEvent, QuoteAction, QuoteTarget, Side
from kbot.strategy.maker import SIDES, Intent, MakerSettings, QuoteThrottle, Resting, quote_intents

ZERO = Decimal(0)
REFUSED_RETRY_S = 5.0  # a refused quote is tried again after this (clock s)
ORDER_RETRY_S = 1.0  # a target waiting on an unacknowledged order is tried again after this (clock s)
tape = logger.bind(event="tape")


def quote_key(ticker: str, side: Side, now: float, n: int) -> str:
    """The id of one maker order (in place of a decision id): unique across runs (the clock
    moves on) and the same in every replay of the same inputs."""
    return f"mq{int(now * 1000)}.{n}-{side[0]}-{ticker}"


class MakerExecutor:
    def __init__(self, mode: Mode, settings: MakerSettings, inner: TradingExecutor | None = None,
                 pending: deque[Any] | None = None) -> None:
        if mode != "shadow" and inner is None:
            raise ValueError("paper and live maker execution need the trading executor")
        self.mode: Mode = mode
        self.s = settings
        self.inner = inner
        self.pending: deque[Any] = inner.pending if inner is not None else (pending if pending is not None else deque())
        self.throttle = QuoteThrottle(settings)
        self.targets: dict[str, QuoteTarget] = {}
        # markets whose target is not fully applied yet -> when to try again (a token is due, or
        # an order it waits on may be acknowledged by then; an order event for it brings it forward)
        self.dirty: dict[str, float] = {}
        self.quotes: dict[tuple[str, Side], str] = {}  # (ticker, side) -> client order id of the maker's order
        self.shadow: dict[tuple[str, Side], Resting] = {}
        self._n = itertools.count(1)
        self.counts: dict[str, int] = {}
        self._next_prune = -math.inf

    # ------------------------------------------------------------------ the executor interface

    async def execute(self, decision: Decision, now: float) -> list[Any]:
        return []  # maker mode makes no TAKEs

    async def on_input(self, msg: Any, now: float) -> list[Any]:
        if isinstance(msg, QuoteTarget):
            self.targets[msg.ticker] = msg
            return await self._apply(msg.ticker, now)
        if self.inner is None:
            return []
        n0 = len(self.pending)
        out = await self.inner.on_input(msg, now)
        self._observe(n0, now)
        return out

    async def tick(self, now: float) -> list[Any]:
        out: list[Any] = []
        if self.inner is not None:
            n0 = len(self.pending)
            out += await self.inner.tick(now)
            self._observe(n0, now)
        for t in sorted(t for t, due in self.dirty.items() if due <= now):
            out += await self._apply(t, now)
        if now >= self._next_prune:
            self._next_prune = now + 60.0
            self.prune(now)
        return out

    def prune(self, now: float, keep_s: float = 3600.0) -> None:
        """Forget the targets of markets closed more than ``keep_s`` ago with nothing resting
        (markets come and go all day: memory stays bounded)."""
        for t in [t for t, q in self.targets.items() if q.close_ts is not None and q.close_ts < now - keep_s
                  and all(self.resting(t, side) is None for side in SIDES)]:
            del self.targets[t]
            self.dirty.pop(t, None)

    def next_wake(self, now: float) -> float | None:
        times: list[float] = []
        if self.inner is not None:
            times.append(self.inner.next_wake(now))
        if self.dirty:
            times.append(min(self.dirty.values()))
        return min(times) if times else None

    async def stop(self, now: float) -> list[Any]:
        if self.inner is None:
            return []
        n0 = len(self.pending)
        out = await self.inner.stop(now)
        self._observe(n0, now)
        return out

    def sent(self, msg: Any, now: float) -> None:
        if self.inner is not None:
            self.inner.sent(msg, now)

    # ------------------------------------------------------------------ applying targets

    def resting(self, ticker: str, side: Side) -> Resting | None:
        """The maker's order on that side, or None when there is none open."""
        key = (ticker, side)
        if self.inner is None:
            return self.shadow.get(key)
        cid = self.quotes.get(key)
        o = self.inner.manager.get(cid) if cid is not None else None
        if o is None or not o.is_open:
            self.quotes.pop(key, None)
            return None
        changeable = (o.order_id is not None and not o.unknown and not o.cancel_requested
                      and o.state in (OrderState.RESTING, OrderState.PARTIALLY_FILLED))
        return Resting(cid=o.client_order_id, price=o.price, remaining=o.count - o.filled, changeable=changeable)

    def open_orders(self) -> int:
        if self.inner is None:
            return len(self.shadow)
        return sum(1 for key in list(self.quotes) if self.resting(*key) is not None)

    def _record(self, t: QuoteTarget, side: Side, action: str, reason: str, now: float, *, cid: str | None = None,
                price: Decimal | None = None, prev: Decimal | None = None, count: Decimal | None = None) -> None:
        self.counts[action] = self.counts.get(action, 0) + 1
        self.pending.append(QuoteAction(ts=now, ticker=t.ticker, side=side, action=action, client_order_id=cid,
                                        price=price, prev_price=prev, count=t.size if count is None else count,
                                        reason=reason, mode=self.mode, fair=t.fair))

    def _position_allows(self, t: QuoteTarget, side: Side) -> bool:
        if self.inner is None:
            return True
        pos = self.inner.manager.positions.get(t.ticker, ZERO)
        cap = self.s.quote.max_position
        return (pos + t.size <= cap) if side == "yes" else (-pos + t.size <= cap)

    async def _apply(self, ticker: str, now: float) -> list[Any]:
        t = self.targets.get(ticker)
        self.dirty.pop(ticker, None)
        if t is None:
            return []
        resting = {side: self.resting(ticker, side) for side in SIDES}
        intents = quote_intents(t, resting, self.s.quote)
        retry: float | None = now + ORDER_RETRY_S if any(r is not None and not r.changeable
                                                           for r in resting.values()) else None
        out: list[Any] = []
        for it in intents:
            if it.kind != "cancel" and not self._position_allows(t, it.side):
                if it.kind == "replace" and it.cid is not None:
                    out += await self._cancel(t, it, "max_position", now)
                continue
            why = self.throttle.admit(it, self.open_orders(), now)
            if why == "rate_limited":
                due = self.throttle.next_token(now)
                retry = due if retry is None else min(retry, due)
                continue
            if why is not None:
                self._record(t, it.side, "refused", why, now, price=it.price)
                continue
            if it.kind == "place":
                out += await self._place(t, it, now)
            elif it.kind == "replace":
                out += await self._replace(t, it, now)
            else:
                out += await self._cancel(t, it, it.reason, now)
        if retry is not None:
            self.dirty[ticker] = min(self.dirty.get(ticker, math.inf), max(retry, now + 1e-6))
        return out

    async def _place(self, t: QuoteTarget, it: Intent, now: float) -> list[Any]:
        assert it.price is not None
        key = quote_key(t.ticker, it.side, now, next(self._n))
        if self.inner is None:
            self.shadow[(t.ticker, it.side)] = Resting(cid=key, price=it.price, remaining=t.size, changeable=True)
            self._record(t, it.side, "place", it.reason, now, cid=key, price=it.price)
            return []
        spec = OrderSpec(ticker=t.ticker, side=it.side, count=t.size, price=it.price,
                         time_in_force="good_till_canceled", post_only=True, close_ts=t.close_ts)
        n0 = len(self.pending)
        o, out = await self.inner.place(key, spec, now)
        self._observe(n0, now)
        if o is None:
            return out
        if o.state is OrderState.REJECTED:
            # refused (post only cross: the book moved since the plan; a guard: not reconciled
            # yet...): the target is tried again later, not only when it changes
            self._record(t, it.side, "refused", o.reason or "rejected", now, cid=o.client_order_id, price=it.price)
            self.dirty[t.ticker] = min(self.dirty.get(t.ticker, math.inf), now + REFUSED_RETRY_S)
        else:
            self.quotes[(t.ticker, it.side)] = o.client_order_id
            self._record(t, it.side, "place", it.reason, now, cid=o.client_order_id, price=it.price)
        return out

    async def _replace(self, t: QuoteTarget, it: Intent, now: float) -> list[Any]:
        assert it.price is not None and it.cid is not None
        if self.inner is None:
            self.shadow[(t.ticker, it.side)] = Resting(cid=it.cid, price=it.price, remaining=t.size, changeable=True)
            self._record(t, it.side, "replace", it.reason, now, cid=it.cid, price=it.price, prev=it.prev_price)
            return []
        o = self.inner.manager.get(it.cid)
        if o is None:
            return []
        n0 = len(self.pending)
        out = await self.inner.amend(it.cid, price=it.price, count=o.filled + t.size, now=now)
        self._observe(n0, now)
        if o.price == it.price:
            self._record(t, it.side, "replace", it.reason, now, cid=it.cid, price=it.price, prev=it.prev_price)
        elif o.is_open:  # the venue refused the amend: take the order down, a new one follows
            out += await self._cancel(t, it, "amend_refused", now)
        return out

    async def _cancel(self, t: QuoteTarget, it: Intent, reason: str, now: float) -> list[Any]:
        assert it.cid is not None
        if self.inner is None:
            self.shadow.pop((t.ticker, it.side), None)
            self._record(t, it.side, "cancel", reason, now, cid=it.cid, prev=it.prev_price)
            return []
        n0 = len(self.pending)
        out = await self.inner.cancel(it.cid, now, f"maker: {reason}")
        self._record(t, it.side, "cancel", reason, now, cid=it.cid, prev=it.prev_price)
        self._observe(n0, now)
        return out

    def _observe(self, n0: int, now: float) -> None:
        """Record a ``fill`` action for every maker fill among the outputs just produced."""
        if self.inner is None or len(self.pending) <= n0:
            return
        mine = set(self.quotes.values())
        produced = list(itertools.islice(self.pending, n0, None))
        for ev in produced:
            if not isinstance(ev, OrderEvent):
                continue
            if ev.status == "rejected" and ev.client_order_id in mine:
                # refused by the venue after it took the request (paper: at arrival; post only
                # cross: the book moved since the plan): recorded, tried again later
                t = self.targets.get(ev.ticker)
                self.counts["refused"] = self.counts.get("refused", 0) + 1
                self.pending.append(QuoteAction(ts=ev.ts, ticker=ev.ticker, side=ev.side, action="refused",
                                                client_order_id=ev.client_order_id, price=ev.price, prev_price=None,
                                                count=ev.count, reason=ev.reason or "rejected", mode=self.mode,
                                                fair=t.fair if t is not None else None))
                self.dirty[ev.ticker] = min(self.dirty.get(ev.ticker, math.inf), now + REFUSED_RETRY_S)
            elif ev.ticker in self.dirty and ev.status != "rejected":
                self.dirty[ev.ticker] = now  # an order the maker waits on moved on: try again now
        for f in (m for m in produced if isinstance(m, Fill)):  # the order manager lets each fill through once
            o = self.inner.manager.by_venue_id(f.order_id)
            if o is None or (o.client_order_id not in mine and not (o.decision_id or "").startswith("mq")):
                continue
            t = self.targets.get(f.ticker)
            self.counts["fill"] = self.counts.get("fill", 0) + 1
            self.pending.append(QuoteAction(ts=f.ts, ticker=f.ticker, side=f.side, action="fill",
                                            client_order_id=o.client_order_id, price=f.price, prev_price=None,
                                            count=f.count, reason="taker_hit" if not f.is_taker else "crossed",
                                            mode=self.mode, fair=t.fair if t is not None else None))
            tape.info("MAKER FILL {} {} {} @ {} fee={} [{}]", f.ticker, f.side.upper(), f.count, f.price, f.fee,
                      o.client_order_id)
            # the position moved: the maker actor re-plans on its next portfolio; the limits
            # here are checked against the order manager's position at the next apply
            self.dirty[f.ticker] = now


__all__ = ["MakerExecutor", "quote_key"]
