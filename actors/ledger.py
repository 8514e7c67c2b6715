"""Ledger actor: positions, fees, realized/unrealized PnL, settlements, equity over time.

Receives: ``Fill``, ``OrderEvent`` and ``MarketSettled`` (bounded, lossless mailbox) and
          ``Quote`` for marking (conflating mailbox keyed by ticker).
Applies:  ``kbot.ledger.Book`` (pure, exact Decimal accounting; idempotent by fill id and by
          settled ticker, so a settlement closes a position exactly once).
Sends:    ``LedgerEntry`` and ``Position`` to ``out`` (the recorder), and ``PortfolioState``
          (balance, exposure, today's realized PnL, open orders, equity) to ``out`` and to
          ``portfolio_out`` (the decision actor's risk and sizing input) when it changes, and at
          least every ``publish_every_s``.
Fails:    a malformed fill is counted and logged, never applied. State (the book, open orders
          and not-yet-delivered outputs) lives in a ``LedgerState`` owned by the tree, so a
          restarted ledger neither loses nor duplicates anything: outputs are queued before
          they are sent and delivered at least once (their ids make re-delivery idempotent).
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from decimal import Decimal
from typing import Any

import attrs
import trio

from kbot.actorkit import ActorStats, BadInputLog, Outbox
from kbot.clock import Clock
from kbot.ledger import Book
from kbot.messages import Fill, MarketSettled, OrderEvent, PortfolioState, Quote
from supervision import LatestMailbox, Mailbox

OPEN_ORDER_STATUSES = ("new", "resting", "partially_filled")


def utc_day(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).date().isoformat()


@attrs.define
class LedgerState:
    book: Book
    open_orders: dict[str, set[str]] = attrs.field(factory=dict)  # ticker -> order ids
    pending: deque[tuple[str, Any]] = attrs.field(factory=deque)  # ("out"|"portfolio", msg)
    last_portfolio: PortfolioState | None = None
    last_publish: float = float("-inf")

    def portfolio(self, now: float) -> PortfolioState:
        b = self.book
        exposure = b.exposure_by_ticker()
        unreal = [p.unrealized_pnl for p in b.open_positions() if p.unrealized_pnl is not None]
        return PortfolioState(
            ts=now, mode=b.mode, balance=b.cash, exposure=sum(exposure.values(), Decimal(0)),
            exposure_by_ticker=tuple(sorted(exposure.items())),
            daily_realized_pnl=b.daily_realized(utc_day(now)),
            open_orders=tuple(sorted((t, len(ids)) for t, ids in self.open_orders.items() if ids)),
            equity=b.equity(), unrealized_pnl=sum(unreal, Decimal(0)) if unreal else None,
            open_positions=len(exposure),
        )


def _same_portfolio(a: PortfolioState | None, b: PortfolioState) -> bool:
    return a is not None and attrs.evolve(a, ts=b.ts) == b


def apply(state: LedgerState, msg: Any, bad: BadInputLog) -> None:
    """Apply one input to the state, queueing what must be sent. Pure except for ``bad``."""
    book = state.book
    if isinstance(msg, Fill):
        if msg.mode != book.mode:
            bad.record("wrong_mode", msg)
            return
        try:
            res = book.apply_fill(msg, utc_day(msg.ts))
        except ValueError as exc:
            bad.record("invalid_fill", msg, str(exc))
            return
        state.pending.extend(("out", e) for e in res.entries)
        if res.entries and res.position is not None:
            state.pending.append(("out", res.position))
    elif isinstance(msg, OrderEvent):
        ids = state.open_orders.setdefault(msg.ticker, set())
        if msg.status in OPEN_ORDER_STATUSES:
            ids.add(msg.order_id)
        else:
            ids.discard(msg.order_id)
    elif isinstance(msg, MarketSettled):
        res = book.settle(msg, utc_day(msg.ts))
        state.pending.extend(("out", e) for e in res.entries)
        if res.position is not None and res.entries:
            state.pending.append(("out", res.position))
        state.open_orders.pop(msg.ticker, None)
    else:
        bad.record("unexpected_message", msg)


async def _deliver(state: LedgerState, out: Outbox, portfolio_out: Outbox, stats: ActorStats) -> None:
    while state.pending:
        where, msg = state.pending[0]
        if where == "portfolio":
            portfolio_out.send_nowait(msg)  # conflating: never blocks
        else:
            await out.send(msg)
        state.pending.popleft()
        stats.msgs_out += 1


async def run_ledger(
    inbox: Mailbox[Any],
    marks: LatestMailbox[Quote],
    out: Outbox,
    portfolio_out: Outbox,
    state: LedgerState,
    *,
    clock: Clock,
    stats: ActorStats,
    publish_every_s: float = 10.0,
) -> None:
    bad = BadInputLog("ledger")
    stats.state = state.book.mode
    await _deliver(state, out, portfolio_out, stats)  # what a crashed incarnation left
    # The decision actor needs a portfolio before its first candidate: publish one right away.
    pf = state.portfolio(clock.now())
    state.pending.append(("portfolio", pf))
    await _deliver(state, out, portfolio_out, stats)
    while True:
        batch: list[Any] = []
        with trio.move_on_after(publish_every_s / clock.speed):
            batch = await inbox.receive_batch()
        now = clock.now()
        if batch:
            stats.msgs_in += len(batch)
            stats.last_msg_ts = now
        with inbox.processing(batch) as work:  # a failure hands the unapplied rest on, none is lost
            for msg in work:
                apply(state, msg, bad)
        if len(marks):
            # Marks change equity; positions are recorded with the periodic snapshot, not per quote.
            for q in await marks.receive_batch():
                if not q.stale:
                    state.book.mark(q.ticker, q.yes_bid, q.no_bid, q.ts)
        stats.errors = bad.total
        pf = state.portfolio(now)
        due = now - state.last_publish >= publish_every_s
        if due or not _same_portfolio(state.last_portfolio, pf):
            state.pending.append(("portfolio", pf))
            state.pending.append(("out", pf))
            if due:
                state.pending.extend(("out", p) for p in state.book.open_positions())
            state.last_portfolio = pf
            state.last_publish = now
        await _deliver(state, out, portfolio_out, stats)
