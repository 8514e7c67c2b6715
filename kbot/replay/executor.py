"""The replay's executor: a TAKE fills as a taker against the recorded book ``latency_s`` after
the decision (``kbot.replay.fills``), on the replay's virtual clock.

Implements ``actors.executor.Executor``. Decisions reach it in time order, so waiting for each
one's fill time in turn is exact: a later decision's fill time is never earlier. Order and fill
ids derive from the decision id (``replay-<decision id>``, ``:<n>`` per level taken), so a
replay's records are the same on every run.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from kbot.clock import Clock
from kbot.messages import Decision, Fill, Mode, OrderEvent
from kbot.replay.fills import FillModel, TakerOrder

ONE = Decimal(1)


class BookSource(Protocol):
    def asks(self, ticker: str, side: str) -> tuple[list[tuple[Decimal, Decimal]] | tuple[tuple[Decimal, Decimal], ...], str] | None:
        """The side's ask levels (cheapest first) and where they came from, or None."""
        ...


class ReplayTakerExecutor:
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
        common = dict(order_id=order_id, client_order_id=d.decision_id, decision_id=d.decision_id, ticker=d.ticker,
                      side=d.side, action="buy", count=d.count, price=d.limit_price or ONE, mode=self.mode)
        out: list[OrderEvent | Fill] = [OrderEvent(ts=ts, status="new", **common)]  # type: ignore[arg-type]
        for i, f in enumerate(res.fills, 1):
            out.append(Fill(fill_id=f"{order_id}:{i}", order_id=order_id, ts=ts, ticker=d.ticker, side=d.side,
                            action="buy", count=f.count, price=f.price, fee=f.fee, is_taker=True, mode=self.mode,
                            decision_id=d.decision_id))
        if res.unfilled > 0:
            self.unfilled[d.decision_id] = res.reason or "unfilled"
            out.append(OrderEvent(ts=ts, status="canceled", filled_count=res.filled,  # type: ignore[arg-type]
                                  reason=f"IOC remainder {res.unfilled}: {res.reason}", **common))
        else:
            out.append(OrderEvent(ts=ts, status="filled", filled_count=res.filled, **common))  # type: ignore[arg-type]
        return out
