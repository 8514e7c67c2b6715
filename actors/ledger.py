"""Ledger actor: positions, fees, realized/unrealized PnL, settlements, equity over time.

Receives: ``Fill``, ``OrderEvent``, ``MarketSettled`` and ``LedgerAdjustment`` (reconciliation
          adopting the venue's view) (bounded, lossless mailbox) and
          ``Quote`` for marking (conflating mailbox keyed by ticker).
Applies:  ``kbot.ledger.Book`` (pure, exact Decimal accounting; idempotent by fill id and by
          settled ticker, so a settlement closes a position exactly once).
Sends:    ``LedgerUpdate`` (a fill's or settlement's entries and the position after, one record
          so they are committed together) and the starting ``LedgerEntry`` deposit to ``out``
          (the recorder), and ``PortfolioState``
          (balance, exposure, today's realized PnL, open orders, equity) to ``out`` and to
          ``portfolio_out`` (the decision actor's risk and sizing input) when it changes, and at
          least every ``publish_every_s``.
Opens:    the run's book once (the first incarnation, when ``opening`` is given): the open
          positions and cash carried from the previous run of the same mode and venue
          (``load_carry``), else the starting deposit (``open_book``).
Stops:    ``final_drain`` (called after the tree stopped) applies what the inbox still holds
          and hands every output to the recorder, so a stop never leaves a fill without its
          ledger entries.
Fails:    a malformed fill is counted and logged, never applied. State (the book, open orders
          and not-yet-delivered outputs) lives in a ``LedgerState`` owned by the tree, so a
          restarted ledger neither loses nor duplicates anything: outputs are queued before
          they are sent and delivered at least once (their ids make re-delivery idempotent).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import deque
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import attrs
import trio
from loguru import logger

from kbot.actorkit import ActorStats, BadInputLog, Outbox, deliver
from kbot.clock import Clock
from kbot.execution.reconcile import LedgerAdjustment
from kbot.ledger import Book
from kbot.messages import Fill, LedgerUpdate, MarketSettled, OrderEvent, PortfolioState, Position, Quote
from kbot.wakes import Wakes, announcer, marks_of, next_mark, take
from storage import queries
from supervision import LatestMailbox, Mailbox

OPEN_ORDER_STATUSES = ("pending", "new", "resting", "partially_filled")  # "new": records before pending


def utc_day(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).date().isoformat()


@attrs.define
class LedgerState:
    book: Book
    open_orders: dict[str, set[str]] = attrs.field(factory=dict)  # ticker -> order ids
    pending: deque[tuple[str, Any]] = attrs.field(factory=deque)  # ("out"|"portfolio", msg)
    last_portfolio: PortfolioState | None = None
    last_publish: float = float("-inf")
    opened: bool = False  # the run's opening entries (carry or deposit) are made

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
            open_positions=len(exposure), positions=tuple(sorted(b.signed_positions().items())),
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
        if res.entries:
            state.pending.append(("out", LedgerUpdate(ts=msg.ts, entries=res.entries, position=res.position)))
    elif isinstance(msg, OrderEvent):
        ids = state.open_orders.setdefault(msg.ticker, set())
        if msg.status in OPEN_ORDER_STATUSES:
            ids.add(msg.order_id)
        else:
            ids.discard(msg.order_id)
    elif isinstance(msg, MarketSettled):
        res = book.settle(msg, utc_day(msg.ts))
        if res.entries:
            state.pending.append(("out", LedgerUpdate(ts=msg.ts, entries=res.entries, position=res.position)))
        state.open_orders.pop(msg.ticker, None)
    elif isinstance(msg, LedgerAdjustment):
        if msg.mode != book.mode:
            bad.record("wrong_mode", msg)
            return
        try:
            if msg.kind == "cash":
                state.pending.append(("out", book.adjust_cash(msg.change, msg.ts, msg.ref, note=msg.reason)))
            elif msg.kind == "position" and msg.ticker:
                res = book.adjust_position(msg.ticker, msg.change, msg.ts, msg.ref, note=msg.reason)
                state.pending.extend(("out", e) for e in res.entries)
                if res.position is not None:
                    state.pending.append(("out", res.position))
            else:
                bad.record("invalid_adjustment", msg)
        except ValueError as exc:
            bad.record("invalid_adjustment", msg, str(exc))
    else:
        bad.record("unexpected_message", msg)


# ----------------------------------------------------------------------------- opening the run


@attrs.frozen(kw_only=True)
class Carry:
    """What a new run adopts from the previous run of the same mode and venue."""

    run_id: str
    positions: tuple[Position, ...]
    cash: Decimal
    applied_fills: frozenset[str] = frozenset()  # the fills behind the carried positions: never again


def load_carry(engine: Any, *, mode: str, venue: str, exclude_run: str) -> Carry | None:
    """The previous run's open positions and cash (blocking database read), or None."""
    with engine.connect() as conn:
        prev = queries.latest_run(conn, mode=mode, venue=venue, exclude=exclude_run)
        if prev is None:
            return None
        # its books as settled at start (kbot.runlife): cash = its cash entries only
        books = queries.recorded_books(conn, prev)
    positions = tuple(p for p in books.positions if p.status == "open")
    return Carry(run_id=prev.run_id, positions=positions, cash=books.cash, applied_fills=books.applied_fills)


def carry_loader(engine: Any, *, mode: str, venue: str, run_id: str, carry: bool) -> Callable[[], Awaitable[Carry | None]]:
    """``run_ledger``'s ``opening``: with ``carry`` (a venue whose world outlives the run), a new
    run adopts the open positions and cash of the previous run of the same mode and venue, so
    they are still followed and settled; otherwise it opens with the starting deposit."""

    async def load() -> Carry | None:
        if not carry:
            return None
        return await trio.to_thread.run_sync(functools.partial(
            load_carry, engine, mode=mode, venue=venue, exclude_run=run_id))

    return load


def open_book(state: LedgerState, carry: Carry | None, now: float) -> None:
    """The run's opening entries: the carried cash and positions, else the starting deposit."""
    book = state.book
    if carry is not None:
        entry = book.deposit(now, amount=carry.cash, ref=f"carry:{carry.run_id}")
        book.restore(carry.positions, book.cash, applied_fills=carry.applied_fills)
        state.pending.append(("out", entry))
        state.pending.extend(("out", p) for p in carry.positions)
        logger.info("carried {} open positions and ${} cash from run {}", len(carry.positions), carry.cash,
                    carry.run_id)
    else:
        state.pending.append(("out", book.deposit(now)))
    state.opened = True


async def final_drain(state: LedgerState, inbox: Mailbox[Any], out: Outbox, now: float, *,
                      force_portfolio: bool = False) -> None:
    """After the tree stopped: apply what the inbox still holds, then hand every output
    (entries, positions, a last portfolio snapshot when anything changed) to ``out``."""
    bad = BadInputLog("ledger")
    for msg in inbox.take_ready():
        apply(state, msg, bad)
    if state.pending or force_portfolio:
        state.pending.append(("out", state.portfolio(now)))
    while state.pending:
        where, msg = state.pending.popleft()
        if where == "out":
            await deliver(out, msg)


# ----------------------------------------------------------------------------- the actor


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
    opening: Callable[[], Awaitable[Carry | None]] | None = None,
    wakes: Wakes | None = None,
) -> None:
    """``opening``: where the run's book opens from (``carry_loader``); None leaves the book
    as the caller set it up. ``wakes``: wake marks (``kbot.wakes``): recording, each wake-up is
    announced with the number of inbox messages taken; a replay following them wakes exactly
    there and takes as many."""
    bad = BadInputLog("ledger")
    stats.state = state.book.mode
    if opening is not None and not state.opened:
        open_book(state, await opening(), clock.now())
    await _deliver(state, out, portfolio_out, stats)  # what a crashed incarnation left
    # The decision actor needs a portfolio before its first candidate: publish one right away.
    pf = state.portfolio(clock.now())
    state.pending.append(("portfolio", pf))
    await _deliver(state, out, portfolio_out, stats)
    follow = marks_of(wakes, "ledger")
    wake_mark = announcer(wakes)
    while True:
        batch: list[Any] = []
        if follow is not None:  # a replay of wake marks: wake where the live actor did, take what it took
            _, took = await next_mark(follow)
            batch = take(inbox, took)
        else:
            with trio.move_on_after(publish_every_s / clock.speed):
                batch = await inbox.receive_batch()
        now = clock.now()
        if wake_mark is not None:
            wake_mark("ledger", "", now, str(len(batch)))
        if batch:
            stats.msgs_in += len(batch)
            stats.last_msg_ts = now
        with inbox.processing(batch) as work:  # a failure hands the unapplied rest on, none is lost
            for msg in work:
                apply(state, msg, bad)
        if len(marks):
            # Marks change equity; positions are recorded with the periodic snapshot, not per quote.
            # (Taken without a scheduler pass: what this wake-up sends depends on nothing later.)
            for q in marks.take_ready():
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
