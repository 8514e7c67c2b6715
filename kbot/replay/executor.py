"""The replay's executor: a TAKE fills as a taker against the recorded book ``latency_s`` after
the decision (``kbot.replay.fills``), on the replay's virtual clock.

Implements ``actors.executor.Executor``. Decisions reach it in time order, so waiting for each
one's fill time in turn is exact: a later decision's fill time is never earlier. Order and fill
ids derive from the decision id (``replay-<decision id>``, ``:<n>`` per level taken), so a
replay's records are the same on every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol

from kbot.clock import Clock
from kbot.execution.shadow import Hypothetical
from kbot.messages import Decision, Fill, Mode, OrderEvent, Side
from kbot.replay.fills import FillModel, TakerOrder

ONE = Decimal(1)
ZERO = Decimal(0)


class BookSource(Protocol):
    def asks(self, ticker: str, side: str) -> tuple[Sequence[tuple[Decimal, Decimal]], str] | None:
        """The side's ask levels (cheapest first) and where they came from, or None."""
        ...


class ReplayTakerExecutor(Hypothetical):
    def __init__(self, books: BookSource, clock: Clock, model: FillModel, *, latency_s: float, mode: Mode = "shadow") -> None:
        self.books = books
        self.clock = clock
        self.model = model
        self.latency_s = latency_s
        self.mode: Mode = mode
        self.unfilled: dict[str, str] = {}  # decision id -> why it did not (fully) fill

    async def execute(self, decision: Decision, now: float) -> list[OrderEvent | Fill]:
        d = decision
        if d.action != "TAKE" or d.side is None or d.count <= 0:
            return []
        at = d.ts + self.latency_s
        if at > self.clock.now():
            await self.clock.sleep_until(at)
        ts = max(at, d.ts)  # the order's arrival time (event time, not a clock read)
        got = self.books.asks(d.ticker, d.side)
        asks = got[0] if got is not None else None
        mult = d.edge.fee_multiplier if d.edge.fee_multiplier is not None else ONE
        res = self.model.take(TakerOrder(ticker=d.ticker, side=d.side, count=d.count, limit=d.limit_price,
                                         fee_multiplier=mult), asks)
        order_id = f"replay-{d.decision_id}"
        side: Side = d.side
        price = d.limit_price or ONE

        def event(status: str, filled: Decimal = ZERO, reason: str | None = None) -> OrderEvent:
            return OrderEvent(ts=ts, order_id=order_id, client_order_id=d.decision_id, decision_id=d.decision_id,
                              ticker=d.ticker, side=side, action="buy", count=d.count, price=price, status=status,
                              mode=self.mode, filled_count=filled, reason=reason)

        out: list[OrderEvent | Fill] = [event("new")]
        for i, f in enumerate(res.fills, 1):
            out.append(Fill(fill_id=f"{order_id}:{i}", order_id=order_id, ts=ts, ticker=d.ticker, side=side,
                            action="buy", count=f.count, price=f.price, fee=f.fee, is_taker=True, mode=self.mode,
                            decision_id=d.decision_id))
        if res.unfilled > 0:
            self.unfilled[d.decision_id] = res.reason or "unfilled"
            out.append(event("canceled", res.filled, f"IOC remainder {res.unfilled}: {res.reason}"))
        else:
            out.append(event("filled", res.filled))
        return out
